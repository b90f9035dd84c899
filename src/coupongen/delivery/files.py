"""Exports for the delivery channels: the POS coupon file and the CRM team's offer list.

Every CSV is safe to open in a spreadsheet: a text cell that starts with a formula character gets a
leading single quote (OWASP "CSV injection"). Files are written by ``publish`` atomically.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

POS_LAYOUT_VERSION = "1.0"

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
)
CRM_COLUMNS = (
    "code",
    "customer_id",
    "campaign",
    "offer_type",
    "target_kind",
    "target",
    "target_name",
    "reward_type",
    "reward_value",
    "valid_from",
    "valid_to",
    "expected_cost",
    "reason",
)


_FORMULA_START = r"^[=+\-@\t\r]"
# A plain signed number (a refund of -12.50, a phone written +79161234567) is data, not a formula.
_PLAIN_NUMBER = r"^[+\-]?\d+(\.\d+)?$"


def neutralize_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with a single quote.

    Cells starting with ``= + - @``, tab or carriage return are prefixed, except plain signed
    numbers, which a spreadsheet reads as numbers.
    """
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    risky = lambda c: pl.col(c).str.contains(_FORMULA_START) & ~pl.col(c).str.contains(_PLAIN_NUMBER)  # noqa: E731
    return frame.with_columns(
        pl.when(risky(c)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c) for c in text
    )


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    """Write a UTF-8 CSV with a header, formula cells neutralised."""
    neutralize_formulas(frame).write_csv(path, float_precision=None)


def pos_rows(coupons: pl.DataFrame) -> pl.DataFrame:
    """The POS layout (version ``POS_LAYOUT_VERSION``): one row per live coupon, in a stable order."""
    return (
        coupons.filter(pl.col("status") == "issued")
        .select(POS_COLUMNS)
        .sort("campaign", "customer_id", "code")
    )


REVOCATION_COLUMNS = ("code", "barcode_value", "symbology", "card_number", "campaign", "valid_to")


def revocation_rows(voided: pl.DataFrame) -> pl.DataFrame:
    """Codes the POS must no longer accept (void, still within validity), in a stable order."""
    return voided.select(REVOCATION_COLUMNS).sort("campaign", "code")


def crm_rows(coupons: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    """The CRM team's list: each coupon with its target's name and the reason it was chosen."""
    names = pl.concat(
        [
            products.select(pl.col("sku").alias("target"), pl.col("name").alias("target_name")),
            products.select(
                pl.col("category").alias("target"), pl.col("category").alias("target_name")
            ).unique(),
        ]
    ).unique("target", keep="first")
    return (
        coupons.filter(pl.col("status") == "issued")
        .join(names, on="target", how="left")
        .select(CRM_COLUMNS)
        .sort("campaign", "customer_id", "code")
    )
