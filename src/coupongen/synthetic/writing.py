"""Writing a sample dataset to files, CSV the way the loyalty export writes it or Parquet, and the
receipt lines of a simulation in the same CSV layout.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from coupongen.progress import SILENT, Clock, Progress
from coupongen.synthetic.bad_rows import make_bad_rows
from coupongen.synthetic.export_format import TRANSACTION_SCHEMA, SampleData, money_text, transactions_text

FORMATS = ("csv", "parquet")

_CHUNK = 500_000  # lines turned into text at a time, which bounds the memory of a large file


def write_sample(
    data: SampleData, out_dir: Path, *, fmt: str = "csv", bad_rows: int = 0, progress: Progress = SILENT
) -> dict[str, Path]:
    """Write the three tables to `out_dir` as transactions/products/customers .csv or .parquet.

    `bad_rows` (CSV only) plants that many broken transaction lines among the good ones, of the
    kinds in BAD_ROW_KINDS. Returns the written paths by table name. ``progress`` hears the
    stage ``write`` advance by the transaction lines written (in slices of half a million).
    """
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if bad_rows < 0:
        raise ValueError(f"bad_rows must be 0 or more, got {bad_rows}")
    if bad_rows and fmt != "csv":
        raise ValueError("bad_rows can only be planted in CSV files (fmt='csv')")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {"transactions": data.transactions, "products": data.products, "customers": data.customers}
    paths = {name: out_dir / f"{name}.{fmt}" for name in tables}
    clock = Clock(progress)
    clock.start("write", data.transactions.height if fmt == "csv" else None)
    if fmt == "parquet":
        for name, frame in tables.items():
            frame.write_parquet(paths[name])
    else:
        places, bad = make_bad_rows(data, bad_rows)
        _write_transactions_csv(
            data.transactions, paths["transactions"], places, bad, lambda n: clock.advance("write", n)
        )
        data.products.with_columns(price=money_text(pl.col("price"))).write_csv(paths["products"])
        data.customers.write_csv(paths["customers"])
    clock.done("write", f"{len(paths)} {fmt.upper()} files")
    return paths


def write_transactions(frame: pl.DataFrame, path: Path) -> Path:
    """Write receipt lines (the transactions contract's columns) as CSV, the way `write_sample`
    writes them: ISO time stamps, amounts to the cent, whole quantities without a decimal point.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = frame.select(list(TRANSACTION_SCHEMA))
    if lines.is_empty():
        transactions_text(lines).write_csv(path)
    else:
        _write_transactions_csv(lines, path, np.zeros(0, dtype=np.int64), lines.head(0))
    return path


def _write_transactions_csv(
    frame: pl.DataFrame,
    path: Path,
    places: np.ndarray,
    bad: pl.DataFrame,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Write in slices, each bad row going in before the good line at its place; ``on_progress``
    hears the good lines of each slice once written.
    """
    cuts = [*places.tolist(), frame.height]
    with path.open("wb") as handle:
        start = 0
        for i, cut in enumerate(cuts):
            for lo in range(start, cut, _CHUNK):
                chunk = transactions_text(frame.slice(lo, min(_CHUNK, cut - lo)))
                chunk.write_csv(handle, include_header=handle.tell() == 0)
                if on_progress is not None:
                    on_progress(chunk.height)
            if i < len(places):
                bad.slice(i, 1).write_csv(handle, include_header=handle.tell() == 0)
            start = cut
