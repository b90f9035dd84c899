"""The input data contract: schemas, loading, row validation and quarantine.

A retailer exports three inputs (transactions, products, customers) as CSV or Parquet, each a file,
a folder of parts or a glob. Whole-file problems (missing file or column, unreadable file) raise
InputError with one line naming the file and column; row-level problems send the row to a quarantine
frame with a ``reason``, so that for every input read = kept + quarantined. ``docs/data.md`` is the
contract as the retailer's IT team reads it.
"""

from __future__ import annotations

import csv
import glob as globlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from coupongen.errors import InputError

TRUE_WORDS = ("true", "1", "yes", "y", "t")
FALSE_WORDS = ("false", "0", "no", "n", "f")
SOURCE_COL = "source_file"
LINE_COL = "line"
REASON_COL = "reason"
DATA_SUFFIXES = (".csv", ".parquet")

# ISO-8601 as retail systems write it: a date, optionally a time (minutes, seconds, a fraction with
# '.' or ',') and an offset. The offset is accepted and dropped (see _parse_timestamp).
_ISO_TIMESTAMP = (
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$"
)
_UTF8_BOM = b"\xef\xbb\xbf"
# First bytes of files that are often exported by mistake in place of CSV text.
_NOT_CSV = (
    (b"PAR1", "a Parquet file; give it the .parquet extension"),
    (b"\x1f\x8b", "gzip-compressed; unpack it first"),
    (b"PK\x03\x04", "a zip archive or an Excel workbook; export the sheet as CSV (UTF-8)"),
    (b"\xff\xfe", "UTF-16 text; save it as UTF-8"),
    (b"\xfe\xff", "UTF-16 text; save it as UTF-8"),
)
# What reading a user's file may raise. Polars panics (rather than raising) on some damaged Parquet
# files; that is still a problem with the file, so it gets the same one-line message.
_READ_ERRORS = (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError)
# Internal columns of the raw frame; never part of the kept or quarantined output.
_MORE_FIELDS = "__more_fields"
_IGNORED = "__ignored_"


@dataclass(frozen=True)
class Column:
    """One column of an input: its name, type, and whether the file must have it."""

    name: str
    dtype: str  # one of: str, datetime, date, float, int, bool
    required: bool = True


@dataclass(frozen=True)
class InputSpec:
    """The columns an input must or may carry."""

    name: str
    columns: tuple[Column, ...]

    @property
    def required(self) -> list[str]:
        """Names of the columns every file of this input must have."""
        return [c.name for c in self.columns if c.required]

    @property
    def names(self) -> list[str]:
        """Names of all the input's columns, in contract order."""
        return [c.name for c in self.columns]


TRANSACTIONS = InputSpec(
    "transactions",
    (
        Column("receipt_id", "str"),
        Column("customer_id", "str"),
        Column("ts", "datetime"),
        Column("store_id", "str"),
        Column("sku", "str"),
        Column("quantity", "float"),
        Column("amount", "float"),
    ),
)
PRODUCTS = InputSpec(
    "products",
    (
        Column("sku", "str"),
        Column("name", "str"),
        Column("category", "str"),
        Column("brand", "str", required=False),
        Column("price", "float", required=False),
        Column("promo_allowed", "bool", required=False),
    ),
)
CUSTOMERS = InputSpec(
    "customers",
    (
        Column("customer_id", "str"),
        Column("card_number", "str"),
        Column("email", "str"),
        Column("phone", "str"),
        Column("email_opt_in", "bool"),
        Column("sms_opt_in", "bool"),
        Column("push_opt_in", "bool", required=False),
        Column("birth_date", "date", required=False),
        Column("nps_score", "int", required=False),
        Column("first_name", "str", required=False),
        Column("locale", "str", required=False),
    ),
)
SPECS = {s.name: s for s in (TRANSACTIONS, PRODUCTS, CUSTOMERS)}

_POLARS_TYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "datetime": pl.Datetime("us"),
    "date": pl.Date(),
    "float": pl.Float64(),
    "int": pl.Int64(),
    "bool": pl.Boolean(),
}


@dataclass
class Loaded:
    """An input after validation: the kept rows (typed), the quarantined rows (raw) and counts.

    ``kept`` has the input's contract columns with their types. ``quarantined`` has the same columns
    as the text that was read, then ``source_file`` (file name), ``line`` (line in a CSV file, the
    header being line 1; row number in a Parquet file, from 1) and ``reason`` (``"; "``-separated).
    """

    name: str
    kept: pl.DataFrame
    quarantined: pl.DataFrame
    files: list[Path] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Rows read, kept and quarantined; read is always kept + quarantined."""
        return {
            "read": self.kept.height + self.quarantined.height,
            "kept": self.kept.height,
            "quarantined": self.quarantined.height,
        }


@dataclass
class Inputs:
    """The three validated inputs of a run."""

    transactions: Loaded
    products: Loaded
    customers: Loaded

    def all(self) -> list[Loaded]:
        """The inputs in the order they are validated: products, customers, transactions."""
        return [self.products, self.customers, self.transactions]


# --- locating files -------------------------------------------------------------------------------


def _is_marker(path: Path) -> bool:
    """Hidden files and markers such as _SUCCESS or .part-0.crc written next to data parts."""
    return path.name.startswith((".", "_"))


def resolve_files(location: Path | str) -> list[Path]:
    """The files an input location names: a file, a folder of .csv/.parquet parts, or a glob.

    In a folder, only ``.csv`` and ``.parquet`` files count and sub-folders are not searched; in a
    folder and in a glob's matches, hidden files and markers (names starting with ``.`` or ``_``)
    are skipped. Files come back sorted by path, so that parts are read in a stable order.
    """
    loc = str(location)
    path = Path(loc)
    if not path.exists() and any(ch in loc for ch in "*?["):
        matches = sorted(Path(p) for p in globlib.glob(loc, recursive=True))
        files = [p for p in matches if p.is_file() and not _is_marker(p)]
        if not files:
            raise InputError(f"{loc}: no file matches this pattern")
        return files
    if path.is_dir():
        try:
            entries = list(path.iterdir())
        except OSError as e:
            raise InputError(f"{path}: cannot read the folder: {e.strerror}") from e
        files = sorted(
            p for p in entries if p.is_file() and p.suffix.lower() in DATA_SUFFIXES and not _is_marker(p)
        )
        if not files:
            raise InputError(f"{path}: folder holds no .csv or .parquet file")
        return files
    if not path.exists():
        raise InputError(f"{path}: file not found")
    return [path]


# --- reading one file -----------------------------------------------------------------------------


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() == ".parquet"


def _csv_header(path: Path, delimiter: str) -> list[str]:
    """The header line's column names, after checks that give a clear message for non-CSV files."""
    try:
        with path.open("rb") as fh:
            first = fh.readline(1 << 20)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from e
    if not first:
        raise InputError(f"{path}: file is empty (0 bytes; expected a header line)")
    for magic, what in _NOT_CSV:
        if first.startswith(magic):
            raise InputError(f"{path}: not CSV text: the file is {what}")
    first = first.removeprefix(_UTF8_BOM)
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: {_not_utf8(1, first, e)}") from e
    if not text.strip():
        raise InputError(f"{path}: line 1 is blank (expected a header line)")
    if any(ch < " " and ch not in "\t\r\n" for ch in text):
        raise InputError(f"{path}: not CSV text: line 1 holds control characters (binary data?)")
    names = next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter))
    return [n.strip() for n in names]


def _check_header(path: Path, header: list[str], spec: InputSpec, delimiter: str) -> None:
    """Raise InputError naming the file and column when required columns are missing or doubled."""
    missing = [c for c in spec.required if c not in header]
    if missing:
        what = "column" if len(missing) == 1 else "columns"
        names = ", ".join(repr(m) for m in missing)
        raise InputError(f"{path}: missing required {what} {names}{_header_hint(header, delimiter)}")
    dupes = [c for c in spec.names if header.count(c) > 1]
    if dupes:
        raise InputError(f"{path}: column {dupes[0]!r} appears more than once in the header")


def _header_hint(header: list[str], delimiter: str) -> str:
    if len(header) == 1:
        for other in (";", "\t", "|", ","):
            if other != delimiter and other in header[0]:
                shown = "tab" if other == "\t" else repr(other)
                return f" (the header looks {shown}-delimited; the job expects {delimiter!r})"
    shown = ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")
    return f" (the header has: {shown})"


def _check_parquet_types(path: Path, schema: dict[str, pl.DataType], spec: InputSpec) -> None:
    for c in spec.columns:
        dtype = schema.get(c.name)
        if dtype is not None and (dtype.is_nested() or dtype in (pl.Binary, pl.Object)):
            raise InputError(
                f"{path}: column {c.name!r} has Parquet type {dtype}; "
                "expected text, a number, a date or a boolean"
            )


def _scan_one(path: Path, spec: InputSpec, delimiter: str, label: str) -> pl.LazyFrame:
    """A lazy scan of one file: the contract's columns as text, plus source, line and reason.

    Absent optional columns come back as nulls. A CSV line with more fields than the header gets
    the reason "more fields than the header"; a line with fewer reads the missing fields as empty.
    Lines without any value (blank lines) are skipped and not counted.
    """
    if _is_parquet(path):
        try:
            schema = dict(pl.read_parquet_schema(path))
        except _READ_ERRORS as e:
            raise InputError(f"{path}: {_describe_read_error(path, e, delimiter)}") from e
        _check_header(path, list(schema), spec, delimiter)
        _check_parquet_types(path, schema, spec)
        present = [c for c in spec.names if c in schema]
        lf = (
            pl.scan_parquet(path)
            .select(present)
            .with_row_index(LINE_COL, offset=1)
            .with_columns(pl.lit(False).alias(_MORE_FIELDS))
        )
    else:
        if len(delimiter.encode()) != 1:
            raise InputError(
                f"{path}: cannot split CSV on {delimiter!r}: the delimiter must be one ASCII character"
            )
        header = _csv_header(path, delimiter)
        _check_header(path, header, spec, delimiter)
        wanted = set(spec.names)
        # Columns by position: a header that repeats a name we ignore, or has blank names, is fine.
        names = [h if h in wanted else f"{_IGNORED}{i}" for i, h in enumerate(header)]
        present = [h for h in names if h in wanted]
        # One column more than the header catches lines with too many fields.
        lf = pl.scan_csv(
            path,
            has_header=False,
            skip_rows=1,
            separator=delimiter,
            schema={n: pl.String for n in [*names, _MORE_FIELDS]},
            missing_columns="insert",
            truncate_ragged_lines=True,
            raise_if_empty=False,
        )
        blank = pl.all_horizontal(pl.col(*names, _MORE_FIELDS).is_null())
        lf = (
            lf.with_row_index(LINE_COL, offset=2)
            .filter(~blank)
            .with_columns(pl.col(_MORE_FIELDS).is_not_null())
        )
    return lf.select(
        *[
            pl.col(c).cast(pl.String) if c in present else pl.lit(None, dtype=pl.String).alias(c)
            for c in spec.names
        ],
        pl.lit(label, dtype=pl.String).alias(SOURCE_COL),
        pl.col(LINE_COL).cast(pl.Int64),
        pl.when(pl.col(_MORE_FIELDS))
        .then(pl.lit("more fields than the header"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias(REASON_COL),
    )


def _is_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except OSError:
        return False  # reading it will say what is wrong


def _labels(files: list[Path]) -> list[str]:
    """How quarantine rows name their file: the file name, or a relative path if names clash."""
    if len({p.name for p in files}) == len(files):
        return [p.name for p in files]
    base = Path(os.path.commonpath([p.parent.absolute() for p in files]))
    return [p.absolute().relative_to(base).as_posix() for p in files]


def scan_input(files: list[Path], spec: InputSpec, *, delimiter: str = ",") -> pl.LazyFrame:
    """All files of one input as a single lazy frame of text.

    Columns: the spec's columns (text as read), ``source_file``, ``line`` and ``reason`` (a problem
    found while reading the line, else null). Raises InputError for a whole-file problem found
    before collecting (missing column, unreadable header, corrupt Parquet footer).
    """
    scans = [_scan_one(f, spec, delimiter, label) for f, label in zip(files, _labels(files), strict=True)]
    return pl.concat(scans, how="vertical")


def _read_input(files: list[Path], spec: InputSpec, delimiter: str) -> pl.DataFrame:
    """Collect each file of an input, turning any reading error into one line naming the file.

    Among several parts, an empty (0-byte) CSV part holds no rows: writers produce one for an empty
    partition. A single empty file is an error, as it most likely means a failed export.
    """
    frames = []
    for path, label in zip(files, _labels(files), strict=True):
        if len(files) > 1 and not _is_parquet(path) and _is_empty(path):
            continue
        lf = _scan_one(path, spec, delimiter, label)
        try:
            frames.append(lf.collect())
        except _READ_ERRORS as e:
            raise InputError(f"{path}: {_describe_read_error(path, e, delimiter)}") from e
    if not frames:
        schema = {n: pl.String for n in spec.names}
        return pl.DataFrame(
            schema=schema | {SOURCE_COL: pl.String, LINE_COL: pl.Int64, REASON_COL: pl.String}
        )
    return pl.concat(frames, how="vertical")


# --- diagnosing a file polars could not read ------------------------------------------------------


def _first_line(e: BaseException) -> str:
    text = str(e).strip().split("\n\n")[0]
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:157] + "..."


def _not_utf8(line: int, raw: bytes, e: UnicodeDecodeError) -> str:
    return (
        f"line {line} is not UTF-8 text (byte 0x{raw[e.start]:02X} at position {e.start + 1}); "
        "save the file as UTF-8"
    )


def _describe_read_error(path: Path, e: BaseException, delimiter: str) -> str:
    """The most useful one-line account of why a file could not be read."""
    if isinstance(e, pl.exceptions.PanicException):
        return "cannot be read: the reader failed on damaged data"
    if _is_parquet(path):
        return f"not a readable Parquet file ({_first_line(e)})"
    if isinstance(e, OSError):
        return f"cannot read: {e.strerror}"
    found = _find_csv_problem(path, delimiter)
    return found or f"cannot be read as CSV ({_first_line(e)})"


def _numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        yield from enumerate(fh, start=1)


def _find_csv_problem(path: Path, delimiter: str) -> str | None:
    """Walk the file line by line for bytes that are not UTF-8 or a double quote out of place.

    Only run after polars has failed on the file, so speed matters less than a precise line number.
    """
    d = re.escape(delimiter)
    value = rf'(?:"(?:[^"]|"")*"|[^"{d}\r\n]*)'
    whole = re.compile(rf"(?:{value}{d})*{value}\r?\n?")
    opens = re.compile(rf'(?:{value}{d})*"(?:[^"]|"")*\r?\n?')
    open_since = 0
    for n, raw in _numbered_lines(path):
        try:
            line = raw.removeprefix(_UTF8_BOM).decode("utf-8")
        except UnicodeDecodeError as e:
            return _not_utf8(n, raw, e)
        if open_since:
            if line.count('"') % 2:
                open_since = 0
            continue
        if '"' not in line or whole.fullmatch(line):
            continue
        if opens.fullmatch(line):
            open_since = n
            continue
        return (
            f"line {n} has a double quote inside a value that is not quoted; "
            'enclose the value in double quotes and double the quote inside ("27"" screen")'
        )
    if open_since:
        return f"line {open_since} opens a quoted value that is never closed"
    return None


# --- parsing expressions --------------------------------------------------------------------------


def _texts(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """The columns' text without surrounding blanks, null where nothing is left, named by ``_t``."""
    stripped = frame.select(pl.col(n).str.strip_chars().alias(_t(n)) for n in names)
    # Turning "" into null copies the column again: only done where there is an empty text.
    empty = stripped.select((pl.all() == "").any()).row(0, named=True)
    return stripped.with_columns(
        pl.when(pl.col(n) == "").then(pl.lit(None, dtype=pl.String)).otherwise(pl.col(n)).alias(n)
        for n, has_empty in empty.items()
        if has_empty
    )


def _parse_timestamp(text: pl.Expr) -> pl.Expr:
    """ISO-8601 text -> Datetime(us); null where it does not parse.

    An offset (``Z``, ``+02:00``) is dropped: time stamps are read as the store's wall time, which
    is what day-level features need. Accepted: ``YYYY-MM-DD``, then optionally ``T`` or a space,
    ``HH:MM``, ``:SS``, a fraction after ``.`` or ``,`` (digits past microseconds are dropped) and
    an offset. The general (slow) path: see ``_parse_timestamps`` for the fast one.
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
# through _parse_timestamp. The regex guard keeps strptime from accepting "+2026-05-01T10:00:0".
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


def _parse_timestamps(frame: pl.DataFrame, name: str) -> pl.Series:
    """The cleaned-text column ``name`` parsed as in ``_parse_timestamp``, fast.

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
        pl.coalesce(*[_fast_timestamp(text, *f) for f in _FAST_TIMESTAMPS], _parse_timestamp(text)).alias(
            "value"
        ),
    )
    looked_up = text.replace_strict(slow[name], slow["value"], default=None, return_dtype=pl.Datetime("us"))
    return frame.select(pl.coalesce(pl.lit(fast), looked_up)).to_series().alias(name)


def _parse(text: pl.Expr, dtype: str) -> pl.Expr:
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
        return _parse_timestamp(text).dt.date()
    if dtype == "datetime":
        return _parse_timestamp(text)
    raise ValueError(f"unknown contract type {dtype!r}")


_TYPE_WORDS = {
    "datetime": "not an ISO-8601 date-time",
    "date": "not an ISO-8601 date (YYYY-MM-DD)",
    "float": "not a number",
    "int": "not a whole number",
    "bool": "not true/false",
}


def _t(name: str) -> str:
    """Name of the cleaned-text copy of a column."""
    return f"__text_{name}"


def _v(name: str) -> str:
    """Name of the typed copy of a column."""
    return f"__value_{name}"


def _show(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:g}"


# --- validation -----------------------------------------------------------------------------------

_Check = tuple[pl.Expr, str]  # a row condition that quarantines, and the reason it gives


def _conform(raw: pl.DataFrame, spec: InputSpec) -> pl.DataFrame:
    """The raw frame with every spec column (absent optional ones as null text) and the extras."""
    missing = [c for c in spec.required if c not in raw.columns]
    if missing:
        raise InputError(f"{spec.name}: missing required columns {missing}")
    extra = {
        SOURCE_COL: pl.lit(None, dtype=pl.String),
        LINE_COL: pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        REASON_COL: pl.lit(None, dtype=pl.String),
    }
    return raw.select(
        *[
            pl.col(c.name).cast(pl.String)
            if c.name in raw.columns
            else pl.lit(None, dtype=pl.String).alias(c.name)
            for c in spec.columns
        ],
        *[pl.col(k) if k in raw.columns else e.alias(k) for k, e in extra.items()],
    )


def _prepare(raw: pl.DataFrame, spec: InputSpec) -> pl.DataFrame:
    """Add the cleaned text and the typed value of every column, each computed once."""
    frame = _conform(raw, spec)
    frame = pl.concat([frame, _texts(frame, spec.names)], how="horizontal")
    values = []
    for c in spec.columns:
        if c.dtype in ("datetime", "date"):
            stamp = pl.lit(_parse_timestamps(frame, _t(c.name)))
            values.append(stamp.dt.date() if c.dtype == "date" else stamp)
        else:
            values.append(_parse(pl.col(_t(c.name)), c.dtype))
    return frame.with_columns(v.alias(_v(c.name)) for v, c in zip(values, spec.columns, strict=True))


def _type_checks(spec: InputSpec, required_values: tuple[str, ...]) -> list[_Check]:
    """(condition, reason) pairs for empty required values and values of the wrong type."""
    checks = []
    for c in spec.columns:
        if c.name in required_values:
            checks.append((pl.col(_t(c.name)).is_null(), f"{c.name}: empty"))
        if c.dtype == "int":
            # Judged on the number: 1e30 is out of range for a range check, not "not whole".
            number = _parse(pl.col(_t(c.name)), "float")
            bad = pl.col(_t(c.name)).is_not_null() & ~(number == number.round(0)).fill_null(False)
            checks.append((bad, f"{c.name}: {_TYPE_WORDS[c.dtype]}"))
        elif c.dtype != "str":
            bad = pl.col(_t(c.name)).is_not_null() & pl.col(_v(c.name)).is_null()
            checks.append((bad, f"{c.name}: {_TYPE_WORDS[c.dtype]}"))
    return checks


def _split(name: str, frame: pl.DataFrame, spec: InputSpec, checks: list[_Check]) -> Loaded:
    """Rows that fail no check are kept (typed); the others are quarantined (as read) with reasons.

    Checks are evaluated as booleans over all rows; reason texts are only built for the failing
    rows, which keeps validation fast when nearly every line is good.
    """
    flags = frame.select(cond.fill_null(False).alias(f"c{i}") for i, (cond, _) in enumerate(checks))
    bad = frame[REASON_COL].is_not_null() | flags.select(pl.any_horizontal(pl.all())).to_series()
    values = frame.select(pl.col(_v(c.name)).cast(_POLARS_TYPES[c.dtype]).alias(c.name) for c in spec.columns)
    as_read = frame.select(*spec.names, SOURCE_COL, LINE_COL, REASON_COL)
    if not bad.any():
        return Loaded(name, values, as_read.clear())
    reasons = [pl.col(REASON_COL)] + [
        pl.when(pl.col(f"c{i}")).then(pl.lit(text)) for i, (_, text) in enumerate(checks)
    ]
    quarantined = (
        pl.concat([as_read, flags], how="horizontal")
        .filter(bad)
        .select(
            *spec.names,
            SOURCE_COL,
            LINE_COL,
            pl.concat_str(reasons, separator="; ", ignore_nulls=True).alias(REASON_COL),
        )
    )
    return Loaded(name, values.filter(~bad), quarantined)


def _later_duplicates(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """True for each row equal in ``columns`` to an earlier row (nulls equal each other).

    A 64-bit row hash, sorted, finds repeated hashes fast; rows sharing a hash are then compared
    exactly, so a hash collision never quarantines a line.
    """
    result = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True).alias("duplicate")
    hashes = frame.select(columns).select(pl.struct(columns).hash()).to_series()
    ordered = hashes.sort()
    repeated = ordered.filter(ordered == ordered.shift(1)).unique()
    if repeated.is_empty():
        return result
    rows = hashes.is_in(repeated.implode()).arg_true()
    candidates = frame.select(columns).gather(rows)
    later = ~candidates.select(pl.struct(columns).is_first_distinct()).to_series()
    return result.scatter(rows.filter(later), True)


def validate_products(raw: pl.DataFrame) -> Loaded:
    """Products: sku, name and category present, unique sku; promo_allowed defaults to true.

    ``raw`` holds the columns as text (see ``scan_input``). Kept columns: sku, name, category,
    brand (str), price (f64, not negative), promo_allowed (bool; blank or absent = true).
    """
    frame = _prepare(raw, PRODUCTS)
    sku = pl.col(_t("sku"))
    checks = _type_checks(PRODUCTS, ("sku", "name", "category"))
    checks += [
        (pl.col(_v("price")) < 0, "price: negative"),
        (sku.is_not_null() & ~sku.is_first_distinct(), "sku: duplicate of an earlier product"),
    ]
    loaded = _split("products", frame, PRODUCTS, checks)
    loaded.kept = loaded.kept.with_columns(pl.col("promo_allowed").fill_null(True))
    return loaded


def validate_customers(raw: pl.DataFrame) -> Loaded:
    """Customers: unique customer_id and card_number; consent is false unless stated.

    ``raw`` holds the columns as text (see ``scan_input``). Kept columns: customer_id,
    card_number (null = no card), email, phone (str), email_opt_in, sms_opt_in, push_opt_in (bool;
    blank or absent = false), birth_date (date), nps_score (i64, 0-10), first_name, locale (str).
    """
    frame = _prepare(raw, CUSTOMERS)
    cid, card = pl.col(_t("customer_id")), pl.col(_t("card_number"))
    nps = _parse(pl.col(_t("nps_score")), "float")
    checks = _type_checks(CUSTOMERS, ("customer_id",))
    checks += [
        ((nps < 0) | (nps > 10), "nps_score: outside 0-10"),
        (
            cid.is_not_null() & ~cid.is_first_distinct(),
            "customer_id: duplicate of an earlier customer",
        ),
        (
            card.is_not_null() & ~card.is_first_distinct(),
            "card_number: already used by an earlier customer",
        ),
    ]
    loaded = _split("customers", frame, CUSTOMERS, checks)
    # Consent must be explicit: a blank opt-in is no opt-in.
    loaded.kept = loaded.kept.with_columns(
        pl.col("email_opt_in", "sms_opt_in", "push_opt_in").fill_null(False)
    )
    return loaded


def validate_transactions(
    raw: pl.DataFrame,
    *,
    skus: pl.Series,
    customer_ids: pl.Series,
    max_amount: float = 1_000_000.0,
    max_quantity: float = 10_000.0,
    quarantined_skus: pl.Series | None = None,
    quarantined_customer_ids: pl.Series | None = None,
) -> Loaded:
    """Transactions: typed values, known sku and customer, no exact duplicate line.

    ``skus`` and ``customer_ids`` are the kept products' and customers' keys; a line pointing at a
    product or customer whose own row was quarantined (``quarantined_skus``,
    ``quarantined_customer_ids``) says so. Kept columns: receipt_id, customer_id (null =
    anonymous), ts (datetime, wall time), store_id, sku (str), quantity (f64, negative = return),
    amount (f64, negative = refund).
    """
    frame = _prepare(raw, TRANSACTIONS)
    sku, cid = pl.col(_t("sku")), pl.col(_t("customer_id"))
    known_sku, known_cid = sku.is_in(skus.implode()), cid.is_in(customer_ids.implode())
    held_sku = (
        sku.is_in(quarantined_skus.cast(pl.String).str.strip_chars().implode())
        if quarantined_skus is not None
        else pl.lit(False)
    )
    held_cid = (
        cid.is_in(quarantined_customer_ids.cast(pl.String).str.strip_chars().implode())
        if quarantined_customer_ids is not None
        else pl.lit(False)
    )
    checks = _type_checks(TRANSACTIONS, ("receipt_id", "ts", "sku", "quantity", "amount"))
    checks += [
        (
            pl.col(_v("quantity")).abs() > max_quantity,
            f"quantity: beyond max_line_quantity ({_show(max_quantity)})",
        ),
        (
            pl.col(_v("amount")).abs() > max_amount,
            f"amount: beyond max_line_amount ({_show(max_amount)})",
        ),
        (sku.is_not_null() & ~known_sku & ~held_sku, "sku: not in products"),
        (sku.is_not_null() & ~known_sku & held_sku, "sku: its product row is quarantined"),
        (cid.is_not_null() & ~known_cid & ~held_cid, "customer_id: not in customers"),
        (cid.is_not_null() & ~known_cid & held_cid, "customer_id: its customer row is quarantined"),
        (
            pl.lit(_later_duplicates(frame, TRANSACTIONS.names)),
            "exact duplicate of an earlier line",
        ),
    ]
    return _split("transactions", frame, TRANSACTIONS, checks)


def load_inputs(
    transactions: Path | str,
    products: Path | str,
    customers: Path | str,
    *,
    delimiter: str = ",",
    max_amount: float = 1_000_000.0,
    max_quantity: float = 10_000.0,
) -> Inputs:
    """Read and validate the three inputs: products and customers first, then transactions.

    Raises InputError (one line naming the file and, where it applies, the column) for a missing,
    empty or unreadable file or a missing column. Row-level problems never raise: see ``Loaded``.
    """
    p_files, c_files, t_files = (resolve_files(x) for x in (products, customers, transactions))
    prods = validate_products(_read_input(p_files, PRODUCTS, delimiter))
    prods.files = p_files
    custs = validate_customers(_read_input(c_files, CUSTOMERS, delimiter))
    custs.files = c_files
    tx = validate_transactions(
        _read_input(t_files, TRANSACTIONS, delimiter),
        skus=prods.kept["sku"],
        customer_ids=custs.kept["customer_id"],
        max_amount=max_amount,
        max_quantity=max_quantity,
        quarantined_skus=prods.quarantined["sku"],
        quarantined_customer_ids=custs.quarantined["customer_id"],
    )
    tx.files = t_files
    return Inputs(transactions=tx, products=prods, customers=custs)


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
    share lost and the most common single reason.
    """
    for loaded in inputs.all():
        counts = loaded.counts
        if len(loaded.files) == 1:
            source = str(loaded.files[0])
        else:
            source = f"{loaded.name} ({len(loaded.files)} files)"
        if counts["read"] == 0:
            single_csv = len(loaded.files) == 1 and not _is_parquet(loaded.files[0])
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
        where = f"; see {quarantine_dir / (loaded.name + '.csv')}" if quarantine_dir else ""
        raise InputError(
            f"{source}: {counts['quarantined']} of {counts['read']} rows rejected "
            f"({share:.1%}, {limit}); "
            f"most common reason: {top} ({n} {'row' if n == 1 else 'rows'}){where}"
        )
