"""Reading the transactions' files on Spark as text, each line with its file and line number.

The same rows `inputs.reading.scan_file` gives on the driver, read by Spark tasks instead: every
contract column as text as written, ``source_file`` (the file's label), ``line`` (the CSV line, the
header being line 1; the Parquet row, from 1) and ``reason`` ("more fields than the header", else
null), plus ``file_index`` (the file's place among the input's files) for ordering. An input
with extra columns (customers) also carries each file's columns beyond the contract, as text, named
by `extra_name` (absent from a file: null), as `inputs.reading.read_input` reads them.

A CSV file is read one line per row: Spark splits big files between tasks, and a line number is
its split's offset in its file (the lines of the file's splits before it) plus its place in the
split; each row learns its file from Spark's ``_metadata.file_path``. A quoted value
that runs over a line's end cannot be split that way; such a file is refused with the line it
starts on (the polars engine reads it). The whole-file checks (header, missing columns, Parquet
types, float identifiers) run on the driver first, through `scan_file`, with the same one-line
errors. Parquet values that are not text are written out as polars writes them (an identifier
stored as floating point as its digits), but for floats in exponent notation (polars ``1e-05``,
Spark ``1.0E-5``): the same number, only a quarantined line's text differs.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from coupongen.engines.spark.session import EngineError
from coupongen.errors import InputError
from coupongen.inputs.contract import LINE_COL, REASON_COL, SOURCE_COL, InputSpec
from coupongen.inputs.locations import InputFile, open_file, parquet_schema
from coupongen.inputs.reading import (
    LIMITS,
    ReadLimits,
    extra_names,
    file_labels,
    is_empty_file,
    is_parquet,
    scan_file,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

FILE_INDEX = "file_index"
EXTRA_PREFIX = "__extra_"
_MORE = "__more_fields"
_BOM = "\ufeff"


def _f():  # type: ignore[no-untyped-def]
    from pyspark.sql import functions

    return functions


def _header(path: InputFile, delimiter: str) -> list[str]:
    """The header's names (stripped), once `scan_file` has checked that the header is sound."""
    with open_file(path) as fh:
        first = fh.readline().removeprefix(_BOM.encode()).decode("utf-8")
    return [n.strip() for n in next(csv.reader([first.rstrip("\r\n")], delimiter=delimiter))]


File = tuple[int, str, InputFile]  # a file's index among the input's files, its label, its path


def _files_frame(spark: SparkSession, files: list[File]) -> DataFrame:
    """(file_path, file_index, source_file) of ``files``, file_path as Spark's ``_metadata`` has it
    (the qualified URI of the Hadoop file system), for a join that tells each row its file.
    """
    from pyspark.sql import types as T

    jvm, conf = spark._jvm, spark._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
    rows = []
    for index, label, path in files:
        name = path.absolute().as_posix() if isinstance(path, Path) else path.uri
        hadoop = jvm.org.apache.hadoop.fs.Path(name)  # type: ignore[union-attr]
        uri = str(hadoop.getFileSystem(conf).makeQualified(hadoop).toUri().toString())
        if uri.startswith("file:///"):  # Spark names local files without the empty authority
            uri = "file:/" + uri.removeprefix("file:///")
        rows.append((uri, index, label))
    schema = T.StructType(
        [
            T.StructField("file_path", T.StringType()),
            T.StructField(FILE_INDEX, T.IntegerType()),
            T.StructField(SOURCE_COL, T.StringType()),
        ]
    )
    return spark.createDataFrame(rows, schema)


def _with_file(spark: SparkSession, rows: DataFrame, files: list[File]) -> DataFrame:
    """``rows`` (with ``file_path``) with their file's index and label instead of its path."""
    F = _f()
    # A left join: a row whose path matched no listed file keeps a null index (see check_lines).
    return rows.join(F.broadcast(_files_frame(spark, files)), "file_path", "left").drop("file_path")


def extra_name(column: str) -> str:
    """The name a file's extra column (beyond the contract) has in the rows `read_text` gives."""
    return EXTRA_PREFIX + column


def _csv_lines(
    spark: SparkSession,
    files: list[File],
    header: list[str],
    delimiter: str,
    spec: InputSpec,
    extras: list[str],
) -> DataFrame:
    """The data lines of CSV files sharing one header: the contract's columns as text (and the
    input's ``extras``), the line number, whether the line has a field too many, and the file.
    """
    F = _f()
    W = _window()
    mine = set(extra_names(header, spec))
    wanted = set(spec.names) | mine
    names = [h if h in wanted else f"__ignored_{i}" for i, h in enumerate(header)]
    present = [h for h in names if h in wanted]
    schema = ", ".join(f"`{n}` string" for n in [*names, _MORE])
    raw = spark.read.text([path.as_posix() for _, _, path in files]).select(
        "value",
        F.col("_metadata.file_path").alias("file_path"),
        F.col("_metadata.file_block_start").alias("block"),
        F.monotonically_increasing_id().alias("id"),
    )
    # Lines per split, in file order: a line's number is the lines before its split plus its place.
    splits = raw.groupBy("file_path", "block").agg(F.count("*").alias("n"), F.min("id").alias("first"))
    earlier = W.partitionBy("file_path").orderBy("block").rowsBetween(W.unboundedPreceding, -1)
    offsets = splits.select(
        "file_path", "block", "first", F.coalesce(F.sum("n").over(earlier), F.lit(0)).alias("offset")
    )
    numbered = raw.join(F.broadcast(offsets), ["file_path", "block"]).select(
        "file_path", "value", (F.col("offset") + F.col("id") - F.col("first") + 1).alias(LINE_COL)
    )
    # A quoted empty value ("") is empty text, an unquoted one is missing, as polars reads them
    # (the quarantine files write them apart); Spark reads both as null unless told.
    options = {"sep": delimiter, "quote": '"', "escape": '"', "mode": "PERMISSIVE", "emptyValue": _EMPTY}
    fields = numbered.where(F.col(LINE_COL) > 1).select(
        "file_path",
        LINE_COL,
        (F.length(F.regexp_replace("value", '[^"]', "")) % 2 == 1).alias("open_quote"),
        F.from_csv("value", schema, options).alias("row"),
    )
    blank = F.lit(True)
    for name in [*present, _MORE]:
        blank = blank & F.col(f"row.`{name}`").isNull()
    lines = fields.where(~blank).select(
        "file_path",
        *[(_field(c) if c in present else F.lit(None).cast("string")).alias(c) for c in spec.names],
        *[(_field(c) if c in mine else F.lit(None).cast("string")).alias(extra_name(c)) for c in extras],
        F.col(LINE_COL).cast("long").alias(LINE_COL),
        F.col(f"row.`{_MORE}`").isNotNull().alias(_MORE),
        "open_quote",
    )
    return _with_file(spark, lines, files)


_EMPTY = "\u0000coupongen:empty\u0000"  # what Spark reads a quoted empty value as, for a moment


def _field(name: str) -> Column:
    """A field of a parsed CSV line as text: a quoted empty value as empty text."""
    F = _f()
    field = F.col(f"row.`{name}`")
    return F.when(field == _EMPTY, F.lit("")).otherwise(field)


def _window():  # type: ignore[no-untyped-def]
    from pyspark.sql import Window

    return Window


# Digits of a second's fraction in polars' text of a date-time, by its time unit.
_FRACTION = {"ms": 3, "us": 6, "ns": 9}


def _parquet_text(column: str, dtype: pl.DataType, *, identifier: bool = False) -> Column:
    """A Parquet column as the text polars casts it to: date-times with their unit's fraction; an
    identifier stored as floating point as its whole numbers' digits, as `scan_file` reads it (its
    checks refuse a file where such a float is not a whole number it holds exactly).
    """
    F = _f()
    if identifier and dtype.is_float():
        value = F.col(column)
        return F.when(~F.isnan(value), value.cast("long")).cast("string").alias(column)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        digits = _FRACTION.get(dtype.time_unit or "us", 6)
        return F.date_format(F.col(column), "yyyy-MM-dd HH:mm:ss." + "S" * digits).alias(column)
    return F.col(column).cast("string").alias(column)


def _parquet_rows(
    spark: SparkSession, files: list[File], schema: dict[str, pl.DataType], spec: InputSpec, extras: list[str]
) -> DataFrame:
    """The rows of Parquet files whose columns read have one ``schema``: those columns as text
    (the input's ``extras`` too), the row number from 1, and the file.
    """
    F = _f()
    frame = spark.read.parquet(*[path.as_posix() for _, _, path in files])
    rows = frame.select(
        F.col("_metadata.file_path").alias("file_path"),
        *[
            _parquet_text(c, schema[c], identifier=c in spec.identifiers)
            if c in schema
            else F.lit(None).cast("string").alias(c)
            for c in spec.names
        ],
        *[
            (_parquet_text(c, schema[c]) if c in schema else F.lit(None).cast("string")).alias(extra_name(c))
            for c in extras
        ],
        (F.col("_metadata.row_index") + 1).cast("long").alias(LINE_COL),
        F.lit(False).alias(_MORE),
        F.lit(False).alias("open_quote"),
    )
    return _with_file(spark, rows, files)


def read_text(
    spark: SparkSession,
    files: list[InputFile],
    spec: InputSpec,
    delimiter: str,
    limits: ReadLimits = LIMITS,
) -> DataFrame:
    """All files of an input as one Spark frame of text, in file order.

    Columns: the spec's columns, ``source_file``, ``line``, ``reason``, ``file_index`` (see the
    module's docstring), then the input's extra columns (`read_extras`, named by `extra_name`).
    Files of one shape (a CSV header, a Parquet schema of the columns read) are read by one scan,
    so a history of many day partitions is one job, not one per file. Raises InputError (one line
    naming the file) for a whole-file problem.
    """
    F = _f()
    extras = read_extras(files, spec, delimiter, limits)
    csv_groups: dict[tuple[str, ...], list[File]] = {}
    parquet_groups: dict[tuple[tuple[str, str], ...], list[File]] = {}
    schemas: dict[tuple[tuple[str, str], ...], dict[str, pl.DataType]] = {}
    for index, (path, label) in enumerate(zip(files, file_labels(files), strict=True)):
        if len(files) > 1 and not is_parquet(path) and is_empty_file(path):
            continue
        scan_file(path, spec, delimiter, label, limits)  # the header checks, with their messages
        if is_parquet(path):
            found = parquet_schema(path)
            schema = {c: found[c] for c in spec.names if c in found} | {
                c: found[c] for c in extras if c in found and _scalar(found[c])
            }
            shape = tuple((c, str(t)) for c, t in schema.items())
            parquet_groups.setdefault(shape, []).append((index, label, path))
            schemas[shape] = schema
        else:
            csv_groups.setdefault(tuple(_header(path, delimiter)), []).append((index, label, path))
    parts = [
        _csv_lines(spark, group, list(header), delimiter, spec, extras)
        for header, group in csv_groups.items()
    ]
    parts += [
        _parquet_rows(spark, group, schemas[shape], spec, extras) for shape, group in parquet_groups.items()
    ]
    if not parts:
        schema_text = ", ".join(
            [f"`{n}` string" for n in spec.names]
            + [f"{SOURCE_COL} string, {LINE_COL} long, {REASON_COL} string, {FILE_INDEX} int"]
            + ["open_quote boolean, longest int"]
            + [f"`{extra_name(n)}` string" for n in extras]
        )
        return spark.createDataFrame([], schema_text)
    rows = parts[0]
    for part in parts[1:]:
        rows = rows.unionByName(part)
    return rows.select(
        *spec.names,
        SOURCE_COL,
        LINE_COL,
        F.when(F.col(_MORE), F.lit("more fields than the header")).otherwise(F.lit(None)).alias(REASON_COL),
        FILE_INDEX,
        "open_quote",
        F.greatest(*[F.coalesce(F.octet_length(c), F.lit(0)) for c in spec.names]).alias("longest"),
        *[extra_name(c) for c in extras],
    )


def read_extras(
    files: list[InputFile], spec: InputSpec, delimiter: str, limits: ReadLimits = LIMITS
) -> list[str]:
    """The columns beyond the contract that `inputs.reading.read_input` reads from ``files`` (for
    an input with ``extra_columns``), in the order it gives them: by first appearance, file by file.
    """
    if not spec.extra_columns:
        return []
    found: dict[str, None] = {}
    for path, label in zip(files, file_labels(files), strict=True):
        if len(files) > 1 and not is_parquet(path) and is_empty_file(path):
            continue
        names = scan_file(path, spec, delimiter, label, limits).collect_schema().names()
        found.update(dict.fromkeys(n for n in names if n not in spec.names and n not in _READ_COLUMNS))
    return list(found)


_READ_COLUMNS = (SOURCE_COL, LINE_COL, REASON_COL)


def _scalar(dtype: pl.DataType) -> bool:
    """A Parquet type an extra column is read from (as `scan_file` reads them: not nested or binary)."""
    return not (dtype.is_nested() or dtype in (pl.Binary, pl.Object))


def check_lines(
    rows: DataFrame, files: list[InputFile], spec: InputSpec, limits: ReadLimits = LIMITS
) -> None:
    """InputError for the first line (in file order) holding a value past ``limits.value_bytes``
    (naming the line and column, never the value) or opening a quoted value it does not close;
    EngineError if a line could not be traced to its file.
    """
    F = _f()
    unmatched = F.col(FILE_INDEX).isNull()
    problems = rows.where(unmatched | F.col("open_quote") | (F.col("longest") > limits.value_bytes))
    first = problems.orderBy(F.col(FILE_INDEX).asc_nulls_first(), LINE_COL).limit(1).collect()
    if not first:
        return
    row = first[0]
    if row[FILE_INDEX] is None:
        # Never silently lose lines: Spark named a file by a path the listing does not match.
        raise EngineError(
            f"{spec.name}: Spark read lines of a file it names differently from the input's listing"
        )
    path = files[row[FILE_INDEX]]
    line = row[LINE_COL]
    if row["longest"] > limits.value_bytes:
        column = min(
            c for c in spec.names if row[c] is not None and len(row[c].encode()) > limits.value_bytes
        )
        size = (
            f"{limits.value_bytes // 1024:,} KB"
            if limits.value_bytes % 1024 == 0
            else f"{limits.value_bytes:,} bytes"
        )
        raise InputError(
            f"{path}: line {line}, column {column!r}: a value longer than {size}; "
            "is a double quote left open on or before this line?"
        )
    raise InputError(
        f"{path}: line {line} opens a quoted value it does not close; the Spark engine reads a CSV "
        "line per row: export values without line breaks, or as Parquet"
    )
