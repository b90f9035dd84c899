"""Reading the transactions' files on Spark as text, each line with its file and line number.

The same rows `inputs.reading.scan_file` gives on the driver, read by Spark tasks instead: every
contract column as text as written, ``source_file`` (the file's label), ``line`` (the CSV line, the
header being line 1; the Parquet row, from 1) and ``reason`` ("more fields than the header", else
null), plus ``file_index`` (the file's place among the input's files) for ordering.

A CSV file is read one line per row: Spark splits big files between tasks, and a line number is
its split's offset in its file (the lines of the file's splits before it) plus its place in the
split; each row learns its file from Spark's ``_metadata.file_path``. A quoted value
that runs over a line's end cannot be split that way; such a file is refused with the line it
starts on (the polars engine reads it). The whole-file checks (header, missing columns, Parquet
types) run on the driver first, through `scan_file`, with the same one-line errors. Parquet values
that are not text are written out as polars writes them, but for floats in exponent notation
(polars ``1e-05``, Spark ``1.0E-5``): the same number, only a quarantined line's text differs.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from coupongen.engines.spark.session import EngineError
from coupongen.errors import InputError
from coupongen.inputs.contract import LINE_COL, REASON_COL, SOURCE_COL, InputSpec
from coupongen.inputs.reading import LIMITS, ReadLimits, file_labels, is_empty_file, is_parquet, scan_file

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

FILE_INDEX = "file_index"
_MORE = "__more_fields"
_BOM = "\ufeff"


def _f():  # type: ignore[no-untyped-def]
    from pyspark.sql import functions

    return functions


def _header(path: Path, delimiter: str) -> list[str]:
    """The header's names (stripped), once `scan_file` has checked that the header is sound."""
    with path.open("rb") as fh:
        first = fh.readline().removeprefix(_BOM.encode()).decode("utf-8")
    return [n.strip() for n in next(csv.reader([first.rstrip("\r\n")], delimiter=delimiter))]


File = tuple[int, str, Path]  # a file's index among the input's files, its label, its path


def _files_frame(spark: SparkSession, files: list[File]) -> DataFrame:
    """(file_path, file_index, source_file) of ``files``, file_path as Spark's ``_metadata`` has it
    (the qualified URI of the Hadoop file system), for a join that tells each row its file.
    """
    from pyspark.sql import types as T

    jvm, conf = spark._jvm, spark._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
    rows = []
    for index, label, path in files:
        hadoop = jvm.org.apache.hadoop.fs.Path(path.absolute().as_posix())  # type: ignore[union-attr]
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


def _csv_lines(
    spark: SparkSession, files: list[File], header: list[str], delimiter: str, spec: InputSpec
) -> DataFrame:
    """The data lines of CSV files sharing one header: the contract's columns as text, the line
    number, whether the line has a field too many, and the file.
    """
    F = _f()
    W = _window()
    wanted = set(spec.names)
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
    options = {"sep": delimiter, "quote": '"', "escape": '"', "mode": "PERMISSIVE"}
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
        *[(F.col(f"row.`{c}`") if c in present else F.lit(None).cast("string")).alias(c) for c in spec.names],
        F.col(LINE_COL).cast("long").alias(LINE_COL),
        F.col(f"row.`{_MORE}`").isNotNull().alias(_MORE),
        "open_quote",
    )
    return _with_file(spark, lines, files)


def _window():  # type: ignore[no-untyped-def]
    from pyspark.sql import Window

    return Window


# Digits of a second's fraction in polars' text of a date-time, by its time unit.
_FRACTION = {"ms": 3, "us": 6, "ns": 9}


def _parquet_text(column: str, dtype: pl.DataType) -> Column:
    """A Parquet column as the text polars casts it to: date-times with their unit's fraction."""
    F = _f()
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        digits = _FRACTION.get(dtype.time_unit or "us", 6)
        return F.date_format(F.col(column), "yyyy-MM-dd HH:mm:ss." + "S" * digits).alias(column)
    return F.col(column).cast("string").alias(column)


def _parquet_rows(
    spark: SparkSession, files: list[File], schema: dict[str, pl.DataType], spec: InputSpec
) -> DataFrame:
    """The rows of Parquet files whose contract columns have one ``schema``: those columns as
    text, the row number from 1, and the file.
    """
    F = _f()
    frame = spark.read.parquet(*[path.as_posix() for _, _, path in files])
    rows = frame.select(
        F.col("_metadata.file_path").alias("file_path"),
        *[
            _parquet_text(c, schema[c]) if c in schema else F.lit(None).cast("string").alias(c)
            for c in spec.names
        ],
        (F.col("_metadata.row_index") + 1).cast("long").alias(LINE_COL),
        F.lit(False).alias(_MORE),
        F.lit(False).alias("open_quote"),
    )
    return _with_file(spark, rows, files)


def read_text(
    spark: SparkSession,
    files: list[Path],
    spec: InputSpec,
    delimiter: str,
    limits: ReadLimits = LIMITS,
) -> DataFrame:
    """All files of an input (without extra columns) as one Spark frame of text, in file order.

    Columns: the spec's columns, ``source_file``, ``line``, ``reason``, ``file_index`` (see the
    module's docstring). Files of one shape (a CSV header, a Parquet schema of the contract's
    columns) are read by one scan, so a history of many day partitions is one job, not one per
    file. Raises InputError (one line naming the file) for a whole-file problem.
    """
    F = _f()
    if spec.extra_columns:
        raise ValueError(f"{spec.name}: inputs with extra columns are read on the driver")
    csv_groups: dict[tuple[str, ...], list[File]] = {}
    parquet_groups: dict[tuple[tuple[str, str], ...], list[File]] = {}
    schemas: dict[tuple[tuple[str, str], ...], dict[str, pl.DataType]] = {}
    for index, (path, label) in enumerate(zip(files, file_labels(files), strict=True)):
        if len(files) > 1 and not is_parquet(path) and is_empty_file(path):
            continue
        scan_file(path, spec, delimiter, label, limits)  # the header checks, with their messages
        if is_parquet(path):
            found = pl.read_parquet_schema(path)
            schema = {c: found[c] for c in spec.names if c in found}
            shape = tuple((c, str(t)) for c, t in schema.items())
            parquet_groups.setdefault(shape, []).append((index, label, path))
            schemas[shape] = schema
        else:
            csv_groups.setdefault(tuple(_header(path, delimiter)), []).append((index, label, path))
    parts = [_csv_lines(spark, group, list(header), delimiter, spec) for header, group in csv_groups.items()]
    parts += [_parquet_rows(spark, group, schemas[shape], spec) for shape, group in parquet_groups.items()]
    if not parts:
        schema_text = ", ".join(
            [f"`{n}` string" for n in spec.names]
            + [f"{SOURCE_COL} string, {LINE_COL} long, {REASON_COL} string, {FILE_INDEX} int"]
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
    )


def check_lines(rows: DataFrame, files: list[Path], spec: InputSpec, limits: ReadLimits = LIMITS) -> None:
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
