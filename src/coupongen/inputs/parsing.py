"""Parsing input text into the contract's types: numbers, booleans, dates and date-times.

Values arrive as text. Surrounding blanks are dropped and an empty text is a missing value; a text
that does not parse as its column's type becomes null, which validation turns into a reason.
"""

from __future__ import annotations

import re

import polars as pl

from coupongen.inputs.contract import FALSE_WORDS, TRUE_WORDS

# ISO-8601 as retail systems write it: a date, optionally a time (minutes, seconds, a fraction with
# '.' or ',') and an offset. The offset is accepted and dropped (see _parse_timestamp).
_ISO_TIMESTAMP = (
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$"
)


def clean_texts(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """The columns' text without surrounding blanks, null where nothing is left, named by ``_t``."""
    stripped = frame.select(pl.col(n).str.strip_chars().alias(text_name(n)) for n in names)
    # Turning "" into null copies the column again: only done where there is an empty text.
    empty = stripped.select((pl.all() == "").any()).row(0, named=True)
    return stripped.with_columns(
        pl.when(pl.col(n) == "").then(pl.lit(None, dtype=pl.String)).otherwise(pl.col(n)).alias(n)
        for n, has_empty in empty.items()
        if has_empty
    )


def parse_timestamp(text: pl.Expr) -> pl.Expr:
    """ISO-8601 text -> Datetime(us); null where it does not parse.

    An offset (``Z``, ``+02:00``) is dropped: time stamps are read as the store's wall time, which
    is what day-level features need. Accepted: ``YYYY-MM-DD``, then optionally ``T`` or a space,
    ``HH:MM``, ``:SS``, a fraction after ``.`` or ``,`` (digits past microseconds are dropped) and
    an offset. The general (slow) path: see ``parse_timestamps`` for the fast one.
    """
    day = text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)

    def number(start: int, length: int) -> pl.Expr:
        return text.str.slice(start, length).cast(pl.Int64, strict=False).fill_null(0)

    hour, minute = number(11, 2), number(14, 2)
    second = pl.when(text.str.slice(16, 1) == ":").then(number(17, 2)).otherwise(0)
    micro = (
        pl.when(text.str.slice(19, 1).is_in([".", ","]))
        .then(text.str.slice(20, 6).str.extract(r"^(\d+)", 1).str.pad_end(6, "0"))
        .cast(pl.Int64, strict=False)
        .fill_null(0)
    )
    valid = text.str.contains(_ISO_TIMESTAMP) & (hour < 24) & (minute < 60) & (second < 60)
    stamp = day.cast(pl.Datetime("us")) + pl.duration(
        hours=hour, minutes=minute, seconds=second, microseconds=micro
    )
    return pl.when(valid).then(stamp).otherwise(None)


# The shapes nearly every export uses, each parsed by one exact strptime; anything else goes
# through parse_timestamp. The regex guard keeps strptime from accepting "+2026-05-01T10:00:0".
_D, _HMS = r"^\d{4}-\d\d-\d\d", r"\d\d:\d\d:[0-5]\d"
_FAST_TIMESTAMPS = (
    ("%Y-%m-%dT%H:%M:%S", rf"{_D}T{_HMS}$"),
    ("%Y-%m-%d %H:%M:%S", rf"{_D} {_HMS}$"),
    ("%Y-%m-%dT%H:%M:%S%.f", rf"{_D}T{_HMS}\.\d{{1,9}}$"),
    ("%Y-%m-%d %H:%M:%S%.f", rf"{_D} {_HMS}\.\d{{1,9}}$"),  # Parquet time stamps as text
    ("%Y-%m-%d", rf"{_D}$"),
)


def _fast_timestamp(text: pl.Expr, fmt: str, shape: str) -> pl.Expr:
    parsed = text.str.to_datetime(fmt, strict=False, exact=True, cache=False)
    return pl.when(text.str.contains(shape)).then(parsed.dt.cast_time_unit("us"))


def parse_timestamps(frame: pl.DataFrame, name: str) -> pl.Series:
    """The cleaned-text column ``name`` parsed as in ``parse_timestamp``, fast.

    The shape of the first value picks one exact strptime for the whole column; the distinct texts
    it leaves (usually a handful) are parsed the slow way once each and looked up, so that a few
    odd lines do not slow down a big file.
    """
    text = pl.col(name)
    sample = frame[name].drop_nulls().head(1).to_list()
    primary = next((f for f in _FAST_TIMESTAMPS if sample and re.match(f[1], sample[0])), _FAST_TIMESTAMPS[0])
    fast = frame.select(_fast_timestamp(text, *primary)).to_series()
    rest = frame.filter(fast.is_null() & frame[name].is_not_null()).select(text.unique())
    if rest.is_empty():
        return fast.alias(name)
    slow = rest.select(
        text,
        pl.coalesce(*[_fast_timestamp(text, *f) for f in _FAST_TIMESTAMPS], parse_timestamp(text)).alias(
            "value"
        ),
    )
    looked_up = text.replace_strict(slow[name], slow["value"], default=None, return_dtype=pl.Datetime("us"))
    return frame.select(pl.coalesce(pl.lit(fast), looked_up)).to_series().alias(name)


def parse_text(text: pl.Expr, dtype: str) -> pl.Expr:
    """Cleaned text (see _texts) -> typed value; null where the text is null or does not parse."""
    if dtype == "str":
        return text
    if dtype == "float":
        number = text.cast(pl.Float64, strict=False)
        return pl.when(number.is_finite()).then(number).otherwise(None)
    if dtype == "int":
        number = text.cast(pl.Float64, strict=False)
        whole = number.is_finite() & (number == number.round(0))
        return pl.when(whole).then(number.cast(pl.Int64, strict=False)).otherwise(None)
    if dtype == "bool":
        low = text.str.to_lowercase()
        return (
            pl.when(low.is_in(TRUE_WORDS)).then(True).when(low.is_in(FALSE_WORDS)).then(False).otherwise(None)
        )
    if dtype == "date":
        return parse_timestamp(text).dt.date()
    if dtype == "datetime":
        return parse_timestamp(text)
    raise ValueError(f"unknown contract type {dtype!r}")


TYPE_WORDS = {
    "datetime": "not an ISO-8601 date-time",
    "date": "not an ISO-8601 date (YYYY-MM-DD)",
    "float": "not a number",
    "int": "not a whole number",
    "bool": "not true/false",
}


def text_name(name: str) -> str:
    """Name of the cleaned-text copy of a column."""
    return f"__text_{name}"


def value_name(name: str) -> str:
    """Name of the typed copy of a column."""
    return f"__value_{name}"
