"""CSV files as every output writes them: UTF-8 with a header, safe to open in a spreadsheet.

A text cell that starts with a formula character gets a leading single quote (OWASP "CSV
injection"), so a customer's name or a product's cannot run as a formula on a colleague's machine.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

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
