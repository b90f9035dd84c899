"""Reading an input's files: a file, a folder of parts or a glob, in CSV or Parquet, as text.

Every value is read as text with the file and line it came from, so that validation can quarantine
a row as it was written. Whole-file problems (missing file or column, unreadable file) raise
InputError with one line naming the file and, where it applies, the column.
"""

from __future__ import annotations

import csv
import glob as globlib
import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from coupongen.errors import InputError
from coupongen.inputs import locations
from coupongen.inputs.contract import LINE_COL, REASON_COL, SOURCE_COL, InputSpec, require_columns
from coupongen.inputs.locations import InputFile, Location, RemoteFile, is_uri, open_file

DATA_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class ReadLimits:
    """Sizes past which a file is refused rather than read: a header line of ``header_bytes``, a
    CSV header of ``columns`` names, one value of ``value_bytes``. Real exports stay far below;
    past them lies a wrong file or a double quote left open, which would swallow the lines after it.
    """

    header_bytes: int = 128 * 1024
    columns: int = 1_000
    value_bytes: int = 64 * 1024


LIMITS = ReadLimits()

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
READ_ERRORS = (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError)
# Internal columns of the raw frame; never part of the kept or quarantined output.
_MORE_FIELDS = "__more_fields"
_IGNORED = "__ignored_"


# --- locating files -------------------------------------------------------------------------------


def _is_marker(path: Path) -> bool:
    """Hidden files and markers such as _SUCCESS or .part-0.crc written next to data parts."""
    return path.name.startswith((".", "_"))


def resolve_files(location: Location) -> list[InputFile]:
    """The files an input location names: a file, a folder of .csv/.parquet parts, or a glob.

    In a folder, only ``.csv`` and ``.parquet`` files count and sub-folders are not searched; in a
    folder and in a glob's matches, hidden files and markers (names starting with ``.`` or ``_``)
    are skipped. Files come back sorted by path, so that parts are read in a stable order. A
    location with a scheme (``s3://bucket/exports/*.csv``) is listed through `locations`.
    """
    loc = str(location)
    if is_uri(loc):
        return list(locations.resolve_uri_files(loc, DATA_SUFFIXES))
    path = Path(loc)
    if not path.exists() and any(ch in loc for ch in "*?["):
        matches = sorted(Path(p) for p in globlib.glob(loc, recursive=True))
        files: list[InputFile] = [p for p in matches if p.is_file() and not _is_marker(p)]
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
    if not path.is_file():  # a FIFO, socket or device: reading it could block for good
        raise InputError(f"{path}: not a regular file (a pipe, socket or device); export to a file")
    return [path]


# --- reading one file -----------------------------------------------------------------------------


def is_parquet(path: InputFile) -> bool:
    """True for a file read as Parquet (by its extension); any other file is read as CSV."""
    return path.suffix.lower() == ".parquet"


def _csv_header(path: InputFile, delimiter: str, limits: ReadLimits = LIMITS) -> list[str]:
    """The header line's column names, after checks that give a clear message for non-CSV files.

    Reads at most ``limits.header_bytes`` (plus one) bytes, whatever the file holds.
    """
    try:
        with open_file(path) as fh:
            first = fh.readline(limits.header_bytes + 1)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {locations.reason(e)}") from e
    if not first:
        raise InputError(f"{path}: file is empty (0 bytes; expected a header line)")
    if len(first) > limits.header_bytes:
        raise InputError(
            f"{path}: line 1 (the header) is longer than {_size(limits.header_bytes)}; "
            "expected a line of column names: is this the right file?"
        )
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
    if len(names) > limits.columns:
        raise InputError(
            f"{path}: the header has {len(names):,} columns, more than {limits.columns:,}; "
            "export only the columns the job reads (see docs/data.md)"
        )
    return [n.strip() for n in names]


def _size(n: int) -> str:
    return f"{n // 1024:,} KB" if n >= 1024 and n % 1024 == 0 else f"{n:,} bytes"


def check_value_sizes(frame: pl.DataFrame, path: InputFile, spec: InputSpec, limits: ReadLimits) -> None:
    """InputError naming the first line and column holding a value over ``limits.value_bytes``."""
    first: tuple[int, str] | None = None
    for column in (n for n in spec.names if frame.schema[n] == pl.String):
        too_long = frame[column].str.len_bytes() > limits.value_bytes
        if too_long.any():
            line = int(frame[LINE_COL].filter(too_long)[0])
            first = min(first, (line, column)) if first else (line, column)
    if first is not None:
        line, column = first
        raise InputError(
            f"{path}: line {line}, column {column!r}: a value longer than {_size(limits.value_bytes)}; "
            "is a double quote left open on or before this line?"
        )


def _check_header(path: InputFile, header: list[str], spec: InputSpec, delimiter: str) -> None:
    """Raise InputError naming the file and column when required columns are missing or doubled."""
    require_columns(header, spec.required, source=str(path), hint=_header_hint(header, delimiter, spec))
    dupes = [c for c in spec.names if header.count(c) > 1]
    if dupes:
        raise InputError(f"{path}: column {dupes[0]!r} appears more than once in the header")


_NAME_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_ .-]{0,63}")


def other_delimiter(header: list[str], delimiter: str) -> str | None:
    """The delimiter a CSV header read with ``delimiter`` looks split by instead: the first of
    ``;``, tab, ``|`` and ``,`` found in a header that came out as one name; None otherwise.
    """
    if len(header) == 1:
        for other in (";", "\t", "|", ","):
            if other != delimiter and other in header[0]:
                return other
    return None


def shown_delimiter(delimiter: str) -> str:
    """A delimiter as messages show it: ``';'``, ``tab``."""
    return "tab" if delimiter == "\t" else repr(delimiter)


def sniff_delimiter(path: InputFile, delimiter: str = ",") -> str:
    """The delimiter the header line of CSV file ``path`` is split by: ``delimiter``, unless the
    header only splits by another (see `other_delimiter`). InputError as reading the file would.
    """
    return other_delimiter(_csv_header(path, delimiter), delimiter) or delimiter


def _header_hint(header: list[str], delimiter: str, spec: InputSpec) -> str:
    """What the header holds, for the message; never a value that may be personal data (a file
    without its header line has a customer's card, e-mail and name on line 1).
    """
    other = other_delimiter(header, delimiter)
    if other is not None:
        return f" (the header looks {shown_delimiter(other)}-delimited; the job expects {delimiter!r})"
    names = [h for h in header[:12] if h in spec.names or _NAME_LIKE.fullmatch(h)]
    hidden = len(header[:12]) - len(names)
    if hidden and not set(header) & set(spec.names):
        return " (line 1 names none of the contract's columns: is the header line missing?)"
    shown = ", ".join(names) + (", ..." if len(header) > 12 else "")
    if hidden:
        shown += f" and {hidden} value{'s' if hidden > 1 else ''} not shown"
    return f" (the header has: {shown})"


def _check_parquet_types(path: InputFile, schema: dict[str, pl.DataType], spec: InputSpec) -> None:
    for c in spec.columns:
        dtype = schema.get(c.name)
        if dtype is not None and (dtype.is_nested() or dtype in (pl.Binary, pl.Object)):
            raise InputError(
                f"{path}: column {c.name!r} has Parquet type {dtype}; "
                "expected text, a number, a date or a boolean"
            )


def float_identifiers(schema: dict[str, pl.DataType], spec: InputSpec) -> list[str]:
    """The identifier columns of ``spec`` that a Parquet file's ``schema`` stores as floating point,
    as pandas writes a column of whole numbers with missing values; they are read as their digits.
    """
    return [n for n in spec.identifiers if n in schema and schema[n].is_float()]


def identifier_digits(column: str) -> pl.Expr:
    """A float identifier column as the digits of its whole numbers (``6036000000000003``, not
    ``6036000000000003.0``); a NaN, pandas' missing value, is null like a missing one.
    """
    return pl.col(column).fill_nan(None).cast(pl.Int64).cast(pl.String)


def _exact_bits(dtype: pl.DataType) -> int:
    """Past 2 to this power, a float of ``dtype`` no longer holds every whole number exactly."""
    return 24 if dtype == pl.Float32 else 53


def _check_float_identifiers(
    path: InputFile, schema: dict[str, pl.DataType], spec: InputSpec, delimiter: str
) -> None:
    """InputError naming the file and the first float identifier column (`float_identifiers`)
    holding a number that is not whole, or one past the whole numbers floating point holds exactly:
    such a float is not the identifier that was written. Reads those columns only; never shows a
    value (ids and card numbers are personal data).
    """
    names = float_identifiers(schema, spec)
    if not names:
        return
    checks = []
    for name in names:
        value = pl.col(name).fill_nan(None)
        checks += [
            (value.is_infinite() | (value != value.round(0))).any().alias(f"{name}:fraction"),
            (value.abs() >= 2 ** _exact_bits(schema[name])).any().alias(f"{name}:large"),
        ]
    try:
        found = locations.scan_parquet(path, names, schema).select(checks).collect().row(0, named=True)
    except READ_ERRORS as e:
        raise InputError(f"{path}: {describe_read_error(path, e, delimiter)}") from e
    for name in names:
        bits = _exact_bits(schema[name])
        if found[f"{name}:fraction"]:
            what = "a number that is not a whole number"
        elif found[f"{name}:large"]:
            what = (
                f"a number of {2**bits:,} (2**{bits}) or more, where floating point no longer holds "
                "every whole number exactly"
            )
        else:
            continue
        raise InputError(
            f"{path}: column {name!r} is stored as floating point and holds {what}; "
            "store identifiers as text or integers"
        )


_EXTRA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_RESERVED = {SOURCE_COL, LINE_COL, REASON_COL}


def extra_names(header: list[str], spec: InputSpec) -> list[str]:
    """The columns of a file beyond the contract that are read (``spec.extra_columns``): names of
    letters, digits and '_' (starting with a letter), once each; others are ignored.
    """
    if not spec.extra_columns:
        return []
    known = set(spec.names) | _RESERVED
    return [
        h
        for h in dict.fromkeys(header)
        if h not in known and header.count(h) == 1 and _EXTRA_NAME.fullmatch(h)
    ]


# Parquet types read as the contract's type without a trip through text: the value is the one its
# text would parse to (floats print and parse back exactly; a time stamp in microseconds without a
# zone prints as the ISO text it parses from), so validation can skip the text for these columns.
_EXACT_TYPES: dict[str, pl.DataType] = {"float": pl.Float64(), "datetime": pl.Datetime("us")}


def exact_typed_columns(files: list[InputFile], spec: InputSpec) -> frozenset[str]:
    """The contract columns of ``spec`` that every one of ``files`` holds as Parquet in the exact
    type validation reads without text (Float64 numbers, time stamps in microseconds without a
    zone); empty unless every file is Parquet. Files whose schema cannot be read give none: their
    scan says why.
    """
    if not files or not all(is_parquet(f) for f in files):
        return frozenset()
    wanted = {c.name: _EXACT_TYPES[c.dtype] for c in spec.columns if c.dtype in _EXACT_TYPES}
    names = set(wanted)
    for path in files:
        try:
            schema = locations.parquet_schema(path)
        except READ_ERRORS:
            return frozenset()
        names = {n for n in names if schema.get(n) == wanted[n]}
    return frozenset(names)


def scan_file(
    path: InputFile,
    spec: InputSpec,
    delimiter: str,
    label: str,
    limits: ReadLimits = LIMITS,
    *,
    typed: frozenset[str] = frozenset(),
) -> pl.LazyFrame:
    """A lazy scan of one file: the contract's columns as text, plus source, line and reason.

    Absent optional columns come back as nulls; with ``spec.extra_columns`` the file's other
    columns (`extra_names`) follow the contract's, as text. A CSV line with more fields than the
    header gets the reason "more fields than the header"; a line with fewer reads the missing
    fields as empty. Lines without any value in the columns read (blank lines) are skipped and not
    counted. Columns named in ``typed`` (from `exact_typed_columns`, Parquet only) keep their type.
    A Parquet identifier column stored as floating point is read as its whole numbers' digits
    (`float_identifiers`); one holding a number that is not whole, or too large for a float to hold
    exactly, raises InputError naming the file and column.
    """
    if is_parquet(path):
        try:
            schema = dict(locations.parquet_schema(path))
        except READ_ERRORS as e:
            raise InputError(f"{path}: {describe_read_error(path, e, delimiter)}") from e
        _check_header(path, list(schema), spec, delimiter)
        _check_parquet_types(path, schema, spec)
        _check_float_identifiers(path, schema, spec, delimiter)
        digits = set(float_identifiers(schema, spec))
        extras = [
            n
            for n in extra_names(list(schema), spec)
            if not (schema[n].is_nested() or schema[n] in (pl.Binary, pl.Object))
        ]
        present = [c for c in spec.names if c in schema] + extras
        lf = (
            locations.scan_parquet(path, present, schema)
            .with_row_index(LINE_COL, offset=1)
            .with_columns(pl.lit(False).alias(_MORE_FIELDS))
        )
    else:
        digits = set()
        if len(delimiter.encode()) != 1:
            raise InputError(
                f"{path}: cannot split CSV on {delimiter!r}: the delimiter must be one ASCII character"
            )
        header = _csv_header(path, delimiter, limits)
        _check_header(path, header, spec, delimiter)
        extras = extra_names(header, spec)
        wanted = set(spec.names) | set(extras)
        # Columns by position: a header that repeats a name we ignore, or has blank names, is fine.
        names = [h if h in wanted else f"{_IGNORED}{i}" for i, h in enumerate(header)]
        present = [h for h in names if h in wanted]
        # One column more than the header catches lines with too many fields.
        lf = locations.scan_csv(
            path,
            {n: pl.String() for n in [*names, _MORE_FIELDS]},
            has_header=False,
            skip_rows=1,
            separator=delimiter,
            missing_columns="insert",
            truncate_ragged_lines=True,
            raise_if_empty=False,
        )
        # Only the contract's columns are looked at (and so materialised): memory follows the data
        # the job reads, not the width of the export; a line with values only in other columns is
        # kept, and quarantined for its missing values.
        blank = pl.all_horizontal(pl.col(*present, _MORE_FIELDS).is_null())
        lf = (
            lf.with_row_index(LINE_COL, offset=2)
            .filter(~blank)
            .with_columns(pl.col(_MORE_FIELDS).is_not_null())
        )
    return lf.select(
        *[
            _as_read(c, typed, digits) if c in present else pl.lit(None, dtype=pl.String).alias(c)
            for c in spec.names
        ],
        *[pl.col(c).cast(pl.String) for c in extras],
        pl.lit(label, dtype=pl.String).alias(SOURCE_COL),
        pl.col(LINE_COL).cast(pl.Int64),
        pl.when(pl.col(_MORE_FIELDS))
        .then(pl.lit("more fields than the header"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias(REASON_COL),
    )


def _as_read(column: str, typed: frozenset[str], digits: set[str]) -> pl.Expr:
    """A contract column present in a file as `scan_file` gives it: its type (``typed``), its
    whole numbers' digits (``digits``: float identifiers) or its text.
    """
    if column in typed:
        return pl.col(column)
    if column in digits:
        return identifier_digits(column)
    return pl.col(column).cast(pl.String)


def is_empty_file(path: InputFile) -> bool:
    """True for a file of 0 bytes (False when it cannot be looked at: reading it will say why)."""
    try:
        return locations.file_stamp(path)[0] == 0
    except OSError:
        return False  # reading it will say what is wrong


def file_labels(files: list[InputFile]) -> list[str]:
    """How quarantine rows name their file: the file name, or a relative path if names clash."""
    if len({p.name for p in files}) == len(files):
        return [p.name for p in files]
    local = [p for p in files if isinstance(p, Path)]
    if len(local) < len(files):
        return _uri_labels([p for p in files if isinstance(p, RemoteFile)])
    base = Path(os.path.commonpath([p.parent.absolute() for p in local]))
    return [p.absolute().relative_to(base).as_posix() for p in local]


def _uri_labels(files: list[RemoteFile]) -> list[str]:
    """A remote file's path below the folder common to ``files``, as for local files."""
    folders = [posixpath.dirname(p.uri).split("/") for p in files]
    common = 0
    while all(len(f) > common and f[common] == folders[0][common] for f in folders):
        common += 1
    return ["/".join(p.uri.split("/")[common:]) for p in files]


def scan_input(files: list[InputFile], spec: InputSpec, *, delimiter: str = ",") -> pl.LazyFrame:
    """All files of one input as a single lazy frame of text.

    Columns: the spec's columns (text as read), ``source_file``, ``line`` and ``reason`` (a problem
    found while reading the line, else null). Raises InputError for a whole-file problem found
    before collecting (missing column, unreadable header, corrupt Parquet footer).
    """
    scans = [scan_file(f, spec, delimiter, label) for f, label in zip(files, file_labels(files), strict=True)]
    return pl.concat(scans, how="diagonal" if spec.extra_columns else "vertical")


def read_input(
    files: list[InputFile], spec: InputSpec, delimiter: str, limits: ReadLimits = LIMITS
) -> pl.DataFrame:
    """Collect each file of an input, turning any reading error into one line naming the file.

    Among several parts, an empty (0-byte) CSV part holds no rows: writers produce one for an empty
    partition. A single empty file is an error, as it most likely means a failed export. A file
    past ``limits`` (header line, columns, one value) is refused with a line naming the file and
    the line and column, never the value.
    """
    frames = []
    for path, label in zip(files, file_labels(files), strict=True):
        if len(files) > 1 and not is_parquet(path) and is_empty_file(path):
            continue
        lf = scan_file(path, spec, delimiter, label, limits)
        try:
            frame = lf.collect()
        except READ_ERRORS as e:
            raise InputError(f"{path}: {describe_read_error(path, e, delimiter)}") from e
        check_value_sizes(frame, path, spec, limits)
        frames.append(frame)
    if not frames:
        schema = {n: pl.String for n in spec.names}
        return pl.DataFrame(
            schema=schema | {SOURCE_COL: pl.String, LINE_COL: pl.Int64, REASON_COL: pl.String}
        )
    # Parts may add different extra columns: each part's missing ones read as empty.
    joined = pl.concat(frames, how="diagonal" if spec.extra_columns else "vertical")
    return joined.select(
        *spec.names,
        pl.exclude(*spec.names, SOURCE_COL, LINE_COL, REASON_COL),
        SOURCE_COL,
        LINE_COL,
        REASON_COL,
    )


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


def describe_read_error(path: InputFile, e: BaseException, delimiter: str) -> str:
    """The most useful one-line account of why a file could not be read."""
    if isinstance(e, pl.exceptions.PanicException):
        return "cannot be read: the reader failed on damaged data"
    if is_parquet(path):
        return f"not a readable Parquet file ({_first_line(e)})"
    if isinstance(e, OSError):
        return f"cannot read: {locations.reason(e)}"
    found = _find_csv_problem(path, delimiter)
    return found or f"cannot be read as CSV ({_first_line(e)})"


def _numbered_lines(path: InputFile) -> Iterator[tuple[int, bytes]]:
    with open_file(path) as fh:
        yield from enumerate(fh, start=1)


def _find_csv_problem(path: InputFile, delimiter: str) -> str | None:
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
