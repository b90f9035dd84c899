"""The POS files: every live coupon for the tills, tonight's new ones, and the codes they must refuse.

The tills poll ``pos/`` (layout ``POS_LAYOUT_VERSION``, see docs/pos.md) and load either the full
snapshot, coupons.csv (every coupon they may accept, from any night), or the nightly delta,
new_coupons.csv (tonight's coupons) with revocations.csv (void coupons still within their
validity, from any night). Each coupon row carries the currency of its money values and a short
display text for the till. This module is the only place that writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import polars as pl

from coupongen.delivery.publish import PRIVATE, ExportModes, publish_folder
from coupongen.safecsv import write_csv

POS_LAYOUT_VERSION = "2.0"
SNAPSHOT_FILE = "coupons.csv"
DELTA_FILE = "new_coupons.csv"
REVOCATIONS_FILE = "revocations.csv"
DISPLAY_TEXT_MAX = 40  # characters a till's customer display and receipt line take

POS_COLUMNS = (
    "code",
    "kind",
    "barcode_value",
    "symbology",
    "card_number",
    "customer_id",
    "campaign",
    "offer_type",
    "reward_type",
    "reward_value",
    "currency",
    "target_kind",
    "target",
    "min_basket",
    "valid_from",
    "valid_to",
    "max_uses",
    "reward_buy",
    "reward_get",
    "display_text",
)
REVOCATION_COLUMNS = ("code", "barcode_value", "symbology", "card_number", "campaign", "valid_to")


def _figure(column: str) -> pl.Expr:
    """A money or points value as the till shows it: ``15``, ``150.5``."""
    value = pl.col(column)
    return (
        pl.when(value == value.round(0))
        .then(value.cast(pl.Int64).cast(pl.String))
        .otherwise(value.round(2).cast(pl.String))
    )


def display_text(currency: str, target_names: Mapping[str, str]) -> pl.Expr:
    """The till's short text of a coupon, at most ``DISPLAY_TEXT_MAX`` characters, in figures and
    names only: ``15% OFF Spaghetti 500 g``, ``300 RUB OFF basket >= 1000``, ``200 PTS dairy``,
    ``x2 PTS basket``. It never starts with a sign, so no spreadsheet guard alters it.
    """
    kind = pl.col("reward_type")
    reward = (
        pl.when(kind == "percent")
        .then(pl.concat_str(_figure("reward_value"), pl.lit("% OFF")))
        .when(kind == "amount")
        .then(pl.concat_str(_figure("reward_value"), pl.lit(f" {currency} OFF")))
        .when(kind == "points")
        .then(pl.concat_str(_figure("reward_value"), pl.lit(" PTS")))
        .when(kind == "free_product")
        .then(pl.concat_str(pl.col("reward_get").cast(pl.String), pl.lit(" FREE")))
        .when(kind == "buy_x_get_y")
        .then(
            pl.concat_str(
                pl.lit("BUY "),
                pl.col("reward_buy").cast(pl.String),
                pl.lit(" GET "),
                pl.col("reward_get").cast(pl.String),
            )
        )
        .when(kind == "cheapest_free")
        .then(
            pl.concat_str(
                pl.lit("CHEAPEST "),
                pl.col("reward_get").cast(pl.String),
                pl.lit(" OF "),
                pl.col("reward_buy").cast(pl.String),
                pl.lit(" FREE"),
            )
        )
        .otherwise(pl.concat_str(pl.lit("x"), _figure("reward_value"), pl.lit(" PTS")))
    )
    target_col = pl.col("target")
    name = target_col.replace_strict(dict(target_names), default=target_col, return_dtype=pl.String)
    target = (
        pl.when(pl.col("target_kind") == "basket")
        .then(
            pl.when(pl.col("min_basket") > 0)
            .then(pl.concat_str(pl.lit("basket >= "), _figure("min_basket")))
            .otherwise(pl.lit("basket"))
        )
        .otherwise(name.str.replace_all("_", " "))
    )
    text = pl.concat_str(reward, pl.lit(" "), target.fill_null(""))
    return (
        pl.when(text.str.len_chars() > DISPLAY_TEXT_MAX)
        .then(text.str.slice(0, DISPLAY_TEXT_MAX - 3) + pl.lit("..."))
        .otherwise(text)
        .str.strip_chars()
    )


def pos_rows(
    coupons: pl.DataFrame, *, currency: str, target_names: Mapping[str, str] | None = None
) -> pl.DataFrame:
    """The POS layout (version ``POS_LAYOUT_VERSION``): one row per live coupon, in a stable order.

    ``target_names`` names the targets (sku -> product name) in the display text.
    """
    return (
        coupons.filter(pl.col("status") == "issued")
        .with_columns(
            pl.lit(currency).alias("currency"),
            display_text(currency, target_names or {}).alias("display_text"),
        )
        .select(POS_COLUMNS)
        .sort("campaign", "customer_id", "code")
    )


def revocation_rows(voided: pl.DataFrame) -> pl.DataFrame:
    """Codes the POS must no longer accept (void, still within validity), in a stable order."""
    return voided.select(REVOCATION_COLUMNS).sort("campaign", "code")


def publish_pos(
    tonight: pl.DataFrame,
    live: pl.DataFrame,
    revoked: pl.DataFrame,
    run_dir: Path,
    *,
    run_id: int,
    as_of: date,
    currency: str,
    target_names: Mapping[str, str] | None = None,
    modes: ExportModes = PRIVATE,
) -> dict[str, str]:
    """Publish ``pos/`` atomically with the export ``modes``: the snapshot of every ``live`` coupon,
    the delta of ``tonight``'s live coupons, and the ``revoked`` ones (void, still within validity,
    from any night); money in ``currency``. Returns the snapshot's path under "pos".
    """
    snapshot = pos_rows(live, currency=currency, target_names=target_names)
    delta = pos_rows(tonight, currency=currency, target_names=target_names)
    revocations = revocation_rows(revoked)

    def write(folder: Path) -> dict[str, object]:
        write_csv(snapshot, folder / SNAPSHOT_FILE)
        write_csv(delta, folder / DELTA_FILE)
        write_csv(revocations, folder / REVOCATIONS_FILE)
        return {
            "layout": "coupongen-pos",
            "layout_version": POS_LAYOUT_VERSION,
            "run_id": run_id,
            "as_of": as_of.isoformat(),
            "currency": currency,
            "rows": {
                SNAPSHOT_FILE: snapshot.height,
                DELTA_FILE: delta.height,
                REVOCATIONS_FILE: revocations.height,
            },
        }

    publish_folder(run_dir / "pos", write, modes=modes)
    return {"pos": str(run_dir / "pos" / SNAPSHOT_FILE)}
