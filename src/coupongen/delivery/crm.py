"""The CRM team's offer list: each coupon of the night with what it targets and why it was chosen.

Published atomically in ``crm/offers.csv`` for the CRM team's own follow-up and reporting.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from coupongen.delivery.publish import publish_folder
from coupongen.safecsv import write_csv

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


def crm_rows(coupons: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    """The CRM team's list: each live coupon with its target's name and the reason it was chosen."""
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


def publish_crm(
    coupons: pl.DataFrame, products: pl.DataFrame, run_dir: Path, *, run_id: int, as_of: date
) -> dict[str, str]:
    """Publish ``crm/`` atomically; returns the offer list's path under "crm"."""
    rows = crm_rows(coupons, products)

    def write(folder: Path) -> dict[str, object]:
        write_csv(rows, folder / "offers.csv")
        return {"run_id": run_id, "as_of": as_of.isoformat(), "rows": {"offers.csv": rows.height}}

    publish_folder(run_dir / "crm", write)
    return {"crm": str(run_dir / "crm" / "offers.csv")}
