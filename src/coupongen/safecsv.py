"""CSV files safe to open in a spreadsheet, for every file a person may open: exports, quarantine.

A text cell that starts with a formula character gets a leading single quote (OWASP "CSV
injection"), so that opening a file never runs what a customer or a till typed into a field.
Writing a frame to a file (CSV or Parquet) that fails for the machine (a full disk) raises an
OSError with its errno and the file's name, as Python's own writes do: polars reports those as an
OSError without either, or, for Parquet, as a ComputeError.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    return frame.with_columns(
        pl.when(formula_like(c)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c) for c in text
    )


def formula_like(column: str) -> pl.Expr:
    """True where the text column's cell would run as a formula in a spreadsheet (see
    `neutralize_formulas`): it starts with ``= + - @``, tab or carriage return and is not a plain
    signed number.
    """
    return pl.col(column).str.contains(_FORMULA_START) & ~pl.col(column).str.contains(_PLAIN_NUMBER)


_OS_ERROR = re.compile(r"(?:IO error: )?(.*?) \(os error (\d+)\)")


@contextmanager
def _io_errors(path: Path) -> Iterator[None]:
    """Re-raise polars' report of a failed write as an OSError with errno and file name."""
    try:
        yield
    except (OSError, pl.exceptions.ComputeError) as e:
        if isinstance(e, OSError) and e.errno is not None:
            raise
        m = _OS_ERROR.search(str(e))
        if m is None:
            raise
        code = int(m[2])
        raise OSError(code, os.strerror(code) if code in errno.errorcode else m[1], str(path)) from e


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    """Write a UTF-8 CSV with a header, formula cells neutralised."""
    with _io_errors(path):
        neutralize_formulas(frame).write_csv(path, float_precision=None)


def parquet_writer(frame: pl.DataFrame) -> Callable[[Path], None]:
    """A function writing ``frame`` as Parquet to the path it is given (see module docstring)."""

    def write(path: Path) -> None:
        with _io_errors(path):
            frame.write_parquet(path)

    return write
