"""File names for values that come from the data: never a path, never a hidden or special name.

A customer id names that customer's e-mail file. An id made only of letters, digits, ``_`` and ``-``
(starting with a letter or digit, at most 64 characters) is used as it is; any other id (one with
``/``, ``..``, spaces, control characters, non-ASCII letters, or a very long one) gets ``_`` and
the first 32 hex digits of its SHA-256 instead. Safe names never start with ``_``, so the two kinds
cannot collide, and the same id always gets the same name.
"""

from __future__ import annotations

import hashlib
import re

import polars as pl

SAFE_STEM = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_SAFE = re.compile(SAFE_STEM)


def safe_stem(value: str) -> str:
    """A file name stem for ``value``: itself when it is safe, else ``_`` and a hash of it."""
    if _SAFE.fullmatch(value):
        return value
    return "_" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def safe_stems(values: pl.Series) -> pl.Series:
    """``safe_stem`` of every value of a string column, in order."""
    return pl.Series(values.name, [safe_stem(v) for v in values.to_list()], dtype=pl.String)
