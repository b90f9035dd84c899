"""Quarantine: the rejected rows of each input, written for the retailer, and the share a run tolerates.

Rows that break the contract do not stop a night; they are written to ``quarantine/<input>.csv``
(owner-only: they hold customer data) with their reasons. A run fails only when an input is empty,
keeps nothing, or loses more than the job's ``max_quarantine_share``. Lines rejected only for
their size (fuel sold by the litre, a pallet) are still purchases: ``oversized_purchases`` gives
them back to the guards that ask what a customer already bought. The offers the planning sets
aside go to the same folder, in the same way (`write_quarantined`).
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from coupongen.errors import InputError
from coupongen.inputs.contract import REASON_COL, SOURCE_COL, SPECS, Inputs, Loaded
from coupongen.inputs.locations import parquet_schema
from coupongen.inputs.parsing import parse_timestamp
from coupongen.inputs.reading import READ_ERRORS, is_parquet
from coupongen.safecsv import write_csv


def write_quarantine(inputs: Inputs, folder: Path) -> None:
    """Write each input's quarantined rows to ``folder/<input>.csv`` (see `write_quarantined`)."""
    for loaded in inputs.all():
        write_quarantined(loaded.quarantined, folder / f"{loaded.name}.csv")


def write_quarantined(rows: pl.DataFrame, path: Path) -> None:
    """Write rows kept out of the night to ``path``, a CSV readable by the owner only.

    No rows, no file: one left by an earlier run of the night goes.
    """
    if rows.height:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only from the first byte, not after: the rows hold customer data.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        path.chmod(0o600)
        try:
            write_csv(rows, path)
        except BaseException:
            path.unlink(missing_ok=True)  # never half a file (a full disk): the rerun writes it
            raise
    elif path.exists():
        path.unlink()


def _reason_counts(quarantined: pl.DataFrame) -> pl.DataFrame:
    """Each single reason with the number of rows it applies to, most frequent first."""
    return (
        quarantined.select(pl.col(REASON_COL).str.split("; ").explode())
        .group_by(REASON_COL)
        .len()
        .sort(["len", REASON_COL], descending=[True, False])
    )


def check_quarantine_share(inputs: Inputs, max_share: float, quarantine_dir: Path | None) -> None:
    """Fail the run when an input has no rows, kept none, or lost more than ``max_share`` of them.

    The message names the file (or, for several parts, the part with the most rejected rows), the
    share lost and the most common single reason, with a hint when that reason is an unknown id
    that a Parquet file stores as numbers (`_numbers_hint`).
    """
    for loaded in inputs.all():
        counts = loaded.counts
        if len(loaded.files) == 1:
            source = str(loaded.files[0])
        else:
            source = f"{loaded.name} ({len(loaded.files)} files)"
        if counts["read"] == 0:
            single_csv = len(loaded.files) == 1 and not is_parquet(loaded.files[0])
            raise InputError(f"{source}: no data rows{' (only a header)' if single_csv else ''}")
        share = counts["quarantined"] / counts["read"]
        if counts["kept"] and share <= max_share:
            continue
        top, n = _reason_counts(loaded.quarantined).row(0)
        if len(loaded.files) > 1:
            worst = loaded.quarantined[SOURCE_COL].mode().sort()[0]
            source = f"{source}, most in {worst}"
        limit = (
            "no row is usable" if counts["kept"] == 0 else f"more than max_quarantine_share {max_share:.1%}"
        )
        hint = _numbers_hint(loaded, top)
        where = f"; see {quarantine_dir / (loaded.name + '.csv')}" if quarantine_dir else ""
        raise InputError(
            f"{source}: {counts['quarantined']} of {counts['read']} rows rejected "
            f"({share:.1%}, {limit}); "
            f"most common reason: {top} ({n} {'row' if n == 1 else 'rows'}){hint}{where}"
        )


def _numbers_hint(loaded: Loaded, reason: str) -> str:
    """For a reason such as ``customer_id: not in customers``, a hint naming the first Parquet
    file of the input that stores that identifier as numbers: numbers lose an id's leading zeros,
    so such ids cannot match the same ids written as text.
    """
    column, _, what = reason.partition(": ")
    spec = SPECS.get(loaded.name)
    if spec is None or column not in spec.identifiers or not what.startswith("not in "):
        return ""
    for path in filter(is_parquet, loaded.files):
        try:
            dtype = parquet_schema(path).get(column)
        except READ_ERRORS:
            continue  # read a moment ago; no hint rather than a second error
        if dtype is not None and dtype.is_numeric():
            return (
                f"; {column} is stored as numbers in {path.name}, where ids lose their leading zeros "
                "(0007 reads as 7): store identifiers as text"
            )
    return ""


SIZE_REASONS = ("quantity: beyond max_line_quantity", "amount: beyond max_line_amount")


def oversized_purchases(quarantined: pl.DataFrame) -> pl.DataFrame:
    """Transaction lines quarantined for their size alone, as purchases: customer_id, sku, ts.

    Such a line is a real purchase whose quantity or amount is beyond the job's limits; it stays
    out of spend and baskets, but a customer who bought the product must not be offered it as new.
    """
    empty = pl.DataFrame(schema={"customer_id": pl.String, "sku": pl.String, "ts": pl.Datetime("us")})
    if quarantined.is_empty() or not {"customer_id", "sku", "ts"} <= set(quarantined.columns):
        return empty
    parts = pl.col(REASON_COL).str.split("; ")
    size_only = parts.list.eval(
        pl.element().str.starts_with(SIZE_REASONS[0]) | pl.element().str.starts_with(SIZE_REASONS[1])
    ).list.all()
    return (
        quarantined.filter(size_only)
        .select(
            pl.col("customer_id").cast(pl.String).str.strip_chars(),
            pl.col("sku").cast(pl.String).str.strip_chars(),
            parse_timestamp(pl.col("ts").cast(pl.String).str.strip_chars()).alias("ts"),
        )
        .drop_nulls()
    )
