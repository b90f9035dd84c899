"""Loading a night's inputs on the Spark engine: transactions validated by Spark, into stages.

Products and customers are validated on the driver, as on the polars engine (they are read whole
and their keys are what the lines are checked against). The transactions are read and validated
by Spark tasks (`reading`, `validation`) and written as two stages under ``<out>/<as-of>/stages/``:
``valid_transactions`` (the kept lines, typed) and ``quarantine_transactions`` (the rejected lines
as read, with their reasons). The driver then reads both back: the kept lines for the stages that
run on it, the quarantined ones for the night's quarantine file, which is the polars engine's
file, row for row. Read = kept + quarantined, as on the polars engine.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from coupongen.config import Job
from coupongen.engines import stages
from coupongen.engines.spark import reading, validation
from coupongen.engines.spark.night import spark_stage
from coupongen.engines.spark.session import spark_master, spark_session
from coupongen.inputs.contract import (
    CUSTOMERS,
    LINE_COL,
    PRODUCTS,
    REASON_COL,
    SOURCE_COL,
    TRANSACTIONS,
    Inputs,
    Loaded,
)
from coupongen.inputs.partitions import is_partitioned, partition_files
from coupongen.inputs.quarantine import check_quarantine_share, write_quarantine
from coupongen.inputs.reading import read_input, resolve_files
from coupongen.inputs.validation import validate_customers, validate_products
from coupongen.settings import Settings

KEPT_STAGE = "valid_transactions"
QUARANTINE_STAGE = "quarantine_transactions"

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
QUARANTINE_SCHEMA: dict[str, pl.DataType] = dict.fromkeys(TRANSACTIONS.names, pl.String()) | {
    SOURCE_COL: pl.String(),
    LINE_COL: pl.Int64(),
    REASON_COL: pl.String(),
    reading.FILE_INDEX: pl.Int32(),
}


def _write(frame, folder: Path, key: dict[str, str], stage: str) -> None:  # type: ignore[no-untyped-def]
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


def quarantined_frame(folder: Path) -> pl.DataFrame:
    """The ``quarantine_transactions`` stage on the driver: as `Loaded.quarantined`, in input order."""
    return as_quarantined(stages.read_frame(folder, pl.Schema(QUARANTINE_SCHEMA)))


def as_quarantined(lines: pl.DataFrame) -> pl.DataFrame:
    """Quarantined lines as Spark wrote them as `Loaded.quarantined`: in file and line order."""
    return lines.sort(reading.FILE_INDEX, LINE_COL).drop(reading.FILE_INDEX)


def load_inputs_on_spark(
    job: Job,
    settings: Settings,
    *,
    quarantine_dir: Path | None = None,
    window: tuple[date, date] | None = None,
) -> Inputs:
    """`inputs.loading.load_job_inputs` with the transactions validated on Spark (see the module).

    The stages are written under ``settings.run_dir``; the quarantine files under
    ``quarantine_dir`` when given. InputError as on the polars engine for a whole-file problem or
    too many rejected rows.
    """
    data_dir, run_dir = settings.data_dir, settings.run_dir
    config = job.config.inputs
    p_files = resolve_files(data_dir / config.products)
    c_files = resolve_files(data_dir / config.customers)
    location = data_dir / config.transactions
    if config.format == "parquet" and is_partitioned(location):
        t_files = partition_files(location, window)
    else:
        t_files = resolve_files(location)
    products = validate_products(read_input(p_files, PRODUCTS, config.delimiter))
    products.files = p_files
    customers = validate_customers(read_input(c_files, CUSTOMERS, config.delimiter))
    customers.files = c_files
    empty = pl.DataFrame(schema=QUARANTINE_SCHEMA)
    pending = Inputs(Loaded("transactions", empty, empty, files=t_files), products, customers)
    key = stages.stage_key(job, pending, settings.as_of)
    spark = spark_session(spark_master(job.config.spark.master))
    with spark_stage(KEPT_STAGE):
        rows = reading.read_text(spark, t_files, TRANSACTIONS, config.delimiter).persist()
    try:
        with spark_stage(KEPT_STAGE):
            reading.check_lines(rows, t_files, TRANSACTIONS)
            checked = validation.validate_transactions(
                spark,
                rows,
                skus=products.kept["sku"].to_list(),
                customer_ids=customers.kept["customer_id"].to_list(),
                quarantined_skus=_stripped(products.quarantined["sku"]),
                quarantined_customer_ids=_stripped(customers.quarantined["customer_id"]),
                max_amount=config.max_line_amount,
                max_quantity=config.max_line_quantity,
            ).persist()
        try:
            kept_dir = stages.stage_dir(run_dir, KEPT_STAGE)
            held_dir = stages.stage_dir(run_dir, QUARANTINE_STAGE)
            _write(validation.kept_lines(checked), kept_dir, key, KEPT_STAGE)
            _write(validation.quarantined_lines(checked), held_dir, key, QUARANTINE_STAGE)
        finally:
            checked.unpersist()
    finally:
        rows.unpersist()
    tx = Loaded("transactions", kept_frame(kept_dir), quarantined_frame(held_dir), files=t_files)
    inputs = Inputs(transactions=tx, products=products, customers=customers)
    if quarantine_dir is not None:
        write_quarantine(inputs, quarantine_dir)
    check_quarantine_share(inputs, config.max_quarantine_share, quarantine_dir)
    return inputs


def _stripped(values: pl.Series) -> list[str]:
    return values.cast(pl.String).str.strip_chars().drop_nulls().to_list()
