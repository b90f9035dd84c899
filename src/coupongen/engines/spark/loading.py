"""Loading a night's inputs on the Spark engine: all three validated by Spark, into stages.

Products first, then customers, then transactions, as on the polars engine: each is read and
validated by Spark tasks (`reading`; `reference` for products and customers, `validation` for the
transactions) and written as two stages under ``<out>/<as-of>/stages/``: ``valid_<input>`` (the
kept rows, typed) and ``quarantine_<input>`` (the rejected rows as read, with their reasons). The
transactions are checked against the products' and customers' stages (kept and quarantined keys),
read by Spark, not handed over by the driver. The driver then reads the stages back: the kept rows
for what runs on it, the quarantined ones for the night's quarantine files, which are the polars
engine's files, row for row. Read = kept + quarantined, as on the polars engine.

The customers' extra columns (beyond the contract) travel as text in ``valid_customers``; their
typing (`inputs.validation.type_extra_columns`: one type per column, from all its values) runs on
the driver over those kept rows, which it holds anyway for the planning.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from coupongen.config import Job
from coupongen.engines import stages
from coupongen.engines.spark import reading, reference, validation
from coupongen.engines.spark.night import spark_stage
from coupongen.engines.spark.session import spark_master, spark_session
from coupongen.inputs.contract import (
    CUSTOMERS,
    LINE_COL,
    POLARS_TYPES,
    PRODUCTS,
    REASON_COL,
    SOURCE_COL,
    TRANSACTIONS,
    Inputs,
    InputSpec,
    Loaded,
)
from coupongen.inputs.locations import InputFile, join, parquet_schema
from coupongen.inputs.partitions import is_partitioned, partition_files
from coupongen.inputs.quarantine import check_quarantine_share, write_quarantine
from coupongen.inputs.reading import is_parquet, resolve_files
from coupongen.inputs.validation import type_extra_columns
from coupongen.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

KEPT_SCHEMA: dict[str, pl.DataType] = {
    "line_no": pl.Int64(),
    "receipt_id": pl.String(),
    "customer_id": pl.String(),
    "ts_us": pl.Int64(),
    "store_id": pl.String(),
    "sku": pl.String(),
    "quantity": pl.Float64(),
    "amount": pl.Float64(),
}


def kept_stage(spec: InputSpec) -> str:
    """The stage of an input's kept rows: ``valid_<input>``."""
    return f"valid_{spec.name}"


def quarantine_stage(spec: InputSpec) -> str:
    """The stage of an input's quarantined rows: ``quarantine_<input>``."""
    return f"quarantine_{spec.name}"


def quarantine_schema(spec: InputSpec) -> dict[str, pl.DataType]:
    """The columns of a ``quarantine_<input>`` stage: the input's columns as read, then where
    each row came from and why it was rejected.
    """
    return dict.fromkeys(spec.names, pl.String()) | {
        SOURCE_COL: pl.String(),
        LINE_COL: pl.Int64(),
        REASON_COL: pl.String(),
        reading.FILE_INDEX: pl.Int32(),
    }


QUARANTINE_SCHEMA = quarantine_schema(TRANSACTIONS)


def _write(frame: DataFrame, folder: Path, key: dict[str, str], stage: str) -> None:
    stages.begin_stage(folder)
    with spark_stage(stage):
        frame.write.mode("overwrite").parquet(folder.as_posix())
    stages.finish_stage(folder, key)


def kept_frame(folder: Path) -> pl.DataFrame:
    """The ``valid_transactions`` stage on the driver: the contract's kept columns, in input order."""
    return as_kept(stages.read_frame(folder, pl.Schema(KEPT_SCHEMA)))


def as_kept(lines: pl.DataFrame) -> pl.DataFrame:
    """Kept lines as Spark wrote them (`KEPT_SCHEMA`) as `Loaded.kept`: ordered, ts a datetime."""
    return lines.sort("line_no").select(
        "receipt_id",
        "customer_id",
        pl.from_epoch("ts_us", time_unit="us").alias("ts"),
        "store_id",
        "sku",
        "quantity",
        "amount",
    )


def quarantined_frame(folder: Path, files: list[InputFile]) -> pl.DataFrame:
    """The ``quarantine_transactions`` stage on the driver: as `Loaded.quarantined`, in input order."""
    return as_quarantined(stages.read_frame(folder, pl.Schema(QUARANTINE_SCHEMA)), files)


def as_quarantined(
    lines: pl.DataFrame, files: list[InputFile], spec: InputSpec = TRANSACTIONS
) -> pl.DataFrame:
    """Quarantined rows of ``spec`` as Spark wrote them as `Loaded.quarantined`: in file and line
    order, a Parquet float column's values printed as polars prints them (`polars_floats`).
    """
    printed = polars_floats(lines, files, identifiers=spec.identifiers)
    return printed.sort(reading.FILE_INDEX, LINE_COL).drop(reading.FILE_INDEX)


def polars_floats(
    rows: pl.DataFrame, files: list[InputFile], *, identifiers: Collection[str] = ()
) -> pl.DataFrame:
    """Rows read as text (with ``file_index``) whose values from a Parquet file's float columns are
    printed as the polars engine prints them (``1e+300``, ``inf``, ``123456789.125``) instead of
    Spark's (``1.0E300``, ``Infinity``, ``1.23456789125E8``); the same numbers, parsed back exactly.
    The ``identifiers`` columns were read as their digits on both engines and are left as they are.
    """
    if rows.is_empty():
        return rows
    text = [c for c, t in rows.schema.items() if t == pl.String and c not in identifiers]
    floats: dict[str, dict[pl.DataType, list[int]]] = {}
    for index, path in enumerate(files):
        if is_parquet(path):
            found = parquet_schema(path)
            for column in text:
                if column in found and found[column].is_float():
                    floats.setdefault(column, {}).setdefault(found[column], []).append(index)
    printed = []
    for column, by_type in floats.items():
        value: pl.Expr = pl.col(column)
        for dtype, indices in by_type.items():
            as_polars = pl.col(column).cast(dtype, strict=False).cast(pl.String)
            value = pl.when(pl.col(reading.FILE_INDEX).is_in(indices)).then(as_polars).otherwise(value)
        printed.append(value.alias(column))
    return rows.with_columns(printed)


def reference_loaded(spec: InputSpec, kept_dir: Path, held_dir: Path, files: list[InputFile]) -> Loaded:
    """Products or customers as the driver reads their stages back: `Loaded` as the polars engine
    gives it, the customers' extra columns typed here (see the module).
    """
    found = stages.read_frame(kept_dir)
    extras = [c for c in found.columns if c.startswith(reading.EXTRA_PREFIX)]
    schema = {"line_no": pl.Int64(), **{c.name: POLARS_TYPES[c.dtype] for c in spec.columns}}
    kept = found.select(
        *[pl.col(n).cast(t) for n, t in schema.items()], *[pl.col(c).cast(pl.String) for c in extras]
    ).sort("line_no")
    held = stages.read_frame(held_dir, pl.Schema(quarantine_schema(spec)))
    loaded = Loaded(spec.name, kept.select(spec.names), as_quarantined(held, files, spec), files=files)
    if extras:
        names = [c.removeprefix(reading.EXTRA_PREFIX) for c in extras]
        texts = kept.select("customer_id", *[pl.col(c).alias(n) for c, n in zip(extras, names, strict=True)])
        loaded.extra = type_extra_columns(texts, names)
    return loaded


def _validate(
    spark: SparkSession,
    files: list[InputFile],
    spec: InputSpec,
    delimiter: str,
    check: Callable[[DataFrame], DataFrame],
    split: Split,
    run_dir: Path,
    key: dict[str, str],
) -> tuple[Path, Path]:
    """Read an input's files on Spark, validate them with ``check`` and write its two stages
    (``split``: the kept and the quarantined rows); returns their folders.
    """
    stage = kept_stage(spec)
    with spark_stage(stage):
        rows = reading.read_text(spark, files, spec, delimiter).persist()
    try:
        with spark_stage(stage):
            reading.check_lines(rows, files, spec)
            checked = check(rows).persist()
        try:
            kept_dir = stages.stage_dir(run_dir, stage)
            held_dir = stages.stage_dir(run_dir, quarantine_stage(spec))
            _write(split[0](checked), kept_dir, key, stage)
            _write(split[1](checked), held_dir, key, quarantine_stage(spec))
        finally:
            checked.unpersist()
    finally:
        rows.unpersist()
    return kept_dir, held_dir


Split = tuple[Callable[["DataFrame"], "DataFrame"], Callable[["DataFrame"], "DataFrame"]]


def _reference_split(spec: InputSpec) -> Split:
    """The kept and the quarantined rows of products or customers validated on Spark."""

    def kept(checked: DataFrame) -> DataFrame:
        return reference.kept_rows(checked, spec)

    def held(checked: DataFrame) -> DataFrame:
        return reference.quarantined_rows(checked, spec)

    return kept, held


def load_reference(
    spark: SparkSession,
    spec: InputSpec,
    files: list[InputFile],
    delimiter: str,
    run_dir: Path,
    key: dict[str, str],
) -> Loaded:
    """Products or customers (``spec``) read and validated on Spark into their two stages under
    ``run_dir``, read back on the driver as the polars engine's `Loaded` (see the module).
    """
    judge = reference.validate_products if spec is PRODUCTS else reference.validate_customers
    folders = _validate(spark, files, spec, delimiter, judge, _reference_split(spec), run_dir, key)
    return reference_loaded(spec, *folders, files=files)


def load_inputs_on_spark(
    job: Job,
    settings: Settings,
    *,
    quarantine_dir: Path | None = None,
    window: tuple[date, date] | None = None,
) -> Inputs:
    """`inputs.loading.load_job_inputs` with every input validated on Spark (see the module).

    The stages are written under ``settings.run_dir``; the quarantine files under
    ``quarantine_dir`` when given. InputError as on the polars engine for a whole-file problem or
    too many rejected rows.
    """
    data_dir, run_dir = settings.data_dir, settings.run_dir
    config = job.config.inputs
    p_files = resolve_files(join(data_dir, config.products))
    c_files = resolve_files(join(data_dir, config.customers))
    location = join(data_dir, config.transactions)
    t_files: list[InputFile]
    if config.format == "parquet" and is_partitioned(location):
        t_files = partition_files(location, window)
    else:
        t_files = resolve_files(location)
    empty = pl.DataFrame(schema=QUARANTINE_SCHEMA)
    pending = Inputs(
        Loaded("transactions", empty, empty, files=t_files),
        Loaded("products", empty, empty, files=p_files),
        Loaded("customers", empty, empty, files=c_files),
    )
    key = stages.stage_key(job, pending, settings.as_of)
    spark = spark_session(spark_master(job.config.spark.master))
    products = load_reference(spark, PRODUCTS, p_files, config.delimiter, run_dir, key)
    customers = load_reference(spark, CUSTOMERS, c_files, config.delimiter, run_dir, key)

    def keys(spec: InputSpec, column: str) -> tuple[DataFrame, DataFrame]:
        kept_dir = stages.stage_dir(run_dir, kept_stage(spec))
        held_dir = stages.stage_dir(run_dir, quarantine_stage(spec))
        kept = spark.read.parquet((kept_dir / "part-*.parquet").as_posix()).select(column)
        held = spark.read.parquet((held_dir / "part-*.parquet").as_posix())
        return kept, held.select(validation.clean(held[column]).alias(column))

    def check(rows: DataFrame) -> DataFrame:
        skus, held_skus = keys(PRODUCTS, "sku")
        customer_ids, held_customer_ids = keys(CUSTOMERS, "customer_id")
        return validation.validate_transactions(
            spark,
            rows,
            skus=skus,
            customer_ids=customer_ids,
            quarantined_skus=held_skus,
            quarantined_customer_ids=held_customer_ids,
            max_amount=config.max_line_amount,
            max_quantity=config.max_line_quantity,
        )

    lines = (validation.kept_lines, validation.quarantined_lines)
    kept_dir, held_dir = _validate(spark, t_files, TRANSACTIONS, config.delimiter, check, lines, run_dir, key)
    tx = Loaded("transactions", kept_frame(kept_dir), quarantined_frame(held_dir, t_files), files=t_files)
    inputs = Inputs(
        transactions=tx,
        products=products,
        customers=customers,
    )
    if quarantine_dir is not None:
        write_quarantine(inputs, quarantine_dir)
    check_quarantine_share(inputs, config.max_quarantine_share, quarantine_dir)
    return inputs
