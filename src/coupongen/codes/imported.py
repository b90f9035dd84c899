"""Pre-printed or partner codes a campaign issues instead of drawing its own: reading their file.

The file is a CSV (UTF-8, one header line) with a ``code`` column; other columns are ignored. Each
code is 4 to 40 letters, digits or '-', not starting with '-', and appears once.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from coupongen.errors import InputError

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{3,39}")


def read_code_file(path: Path) -> list[str]:
    """The codes of an import file in file order; InputError naming the file and line of a bad one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read as CSV: {type(e).__name__}") from e
    if "code" not in [c.strip() for c in frame.columns]:
        raise InputError(f"{path}: missing required column 'code'")
    frame = frame.rename({c: c.strip() for c in frame.columns})
    codes = [(v or "").strip() for v in frame["code"].to_list()]
    seen: dict[str, int] = {}
    for i, code in enumerate(codes):
        line = i + 2
        if not _CODE.fullmatch(code):
            raise InputError(
                f"{path}: line {line}: code must be 4 to 40 letters, digits or '-', not starting with '-'"
            )
        if code in seen:
            raise InputError(f"{path}: line {line}: the same code as line {seen[code]}")
        seen[code] = line
    return codes
