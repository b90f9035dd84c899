"""The POS file: every live coupon of the night for the tills, and the codes they must refuse.

The tills poll ``pos/`` and load coupons.csv (layout ``POS_LAYOUT_VERSION``, see docs/pos.md) and
revocations.csv (void coupons still within their validity, from any night). This module is the only
place that writes them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from coupongen.delivery.publish import PRIVATE, ExportModes, publish_folder
from coupongen.safecsv import write_csv

POS_LAYOUT_VERSION = "1.2"

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
    "target_kind",
    "target",
    "min_basket",
    "valid_from",
    "valid_to",
    "max_uses",
    "reward_buy",
    "reward_get",
    "currency",
)
REVOCATION_COLUMNS = ("code", "barcode_value", "symbology", "card_number", "campaign", "valid_to")


def pos_rows(coupons: pl.DataFrame, currency: str) -> pl.DataFrame:
    """The POS layout (version ``POS_LAYOUT_VERSION``): one row per live coupon, in a stable order;
    ``currency`` (ISO 4217) is that of reward_value and min_basket.
    """
    return (
        coupons.filter(pl.col("status") == "issued")
        .with_columns(currency=pl.lit(currency, pl.String))
        .select(POS_COLUMNS)
        .sort("campaign", "customer_id", "code")
    )


def revocation_rows(voided: pl.DataFrame) -> pl.DataFrame:
    """Codes the POS must no longer accept (void, still within validity), in a stable order."""
    return voided.select(REVOCATION_COLUMNS).sort("campaign", "code")


def publish_pos(
    coupons: pl.DataFrame,
    revoked: pl.DataFrame | None,
    run_dir: Path,
    *,
    run_id: int,
    as_of: date,
    currency: str,
    modes: ExportModes = PRIVATE,
) -> dict[str, str]:
    """Publish ``pos/`` atomically with the export ``modes``: the night's live ``coupons`` (money in
    ``currency``) and the ``revoked`` ones (void coupons still within their validity, from any
    night). Returns the coupon file's path under "pos".
    """
    pos = pos_rows(coupons, currency)
    revocations = revocation_rows(revoked if revoked is not None else coupons.head(0))

    def write(folder: Path) -> dict[str, object]:
        write_csv(pos, folder / "coupons.csv")
        write_csv(revocations, folder / "revocations.csv")
        return {
            "layout": "coupongen-pos",
            "layout_version": POS_LAYOUT_VERSION,
            "run_id": run_id,
            "as_of": as_of.isoformat(),
            "currency": currency,
            "rows": {"coupons.csv": pos.height, "revocations.csv": revocations.height},
        }

    publish_folder(run_dir / "pos", write, modes=modes)
    return {"pos": str(run_dir / "pos" / "coupons.csv")}
