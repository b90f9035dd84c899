"""The CRM team's offer list: each coupon of the night with what it targets and why it was chosen.

Published atomically in ``crm/offers.csv`` for the CRM team's own follow-up and reporting.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import polars as pl

from coupongen.delivery.publish import PRIVATE, ExportModes, publish_folder
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


def crm_rows(coupons: pl.DataFrame, target_names: Mapping[str, str]) -> pl.DataFrame:
    """The CRM team's list: each live coupon with its target's display name (`names.target_names`)
    and the reason it was chosen.
    """
    return (
        coupons.filter(pl.col("status") == "issued")
        .with_columns(
            pl.col("target")
            .replace_strict(dict(target_names), default=None, return_dtype=pl.String)
            .alias("target_name")
        )
        .select(CRM_COLUMNS)
        .sort("campaign", "customer_id", "code")
    )


def publish_crm(
    coupons: pl.DataFrame,
    target_names: Mapping[str, str],
    run_dir: Path,
    *,
    run_id: int,
    as_of: date,
    modes: ExportModes = PRIVATE,
) -> dict[str, str]:
    """Publish ``crm/`` atomically with the export ``modes``; returns the offer list's path under
    "crm".
    """
    rows = crm_rows(coupons, target_names)

    def write(folder: Path) -> dict[str, object]:
        write_csv(rows, folder / "offers.csv")
        return {"run_id": run_id, "as_of": as_of.isoformat(), "rows": {"offers.csv": rows.height}}

    publish_folder(run_dir / "crm", write, modes=modes)
    return {"crm": str(run_dir / "crm" / "offers.csv")}
