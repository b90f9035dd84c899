"""The night's analysis on Spark: each stage written under ``<out>/<as-of>/stages/``, read back.

Stages, in order (each a folder of Parquet parts with key.json and _SUCCESS):
``input_transactions``, ``input_products``, ``input_customers`` (the validated inputs the driver
hands over, when Spark did not validate them tonight: see `loading`),
``customer_products``, ``category_spend``, ``customer_features``, ``segments``,
``basket_counts``, ``sku_rules``, ``category_rules``, and ``relevance`` (the collaborative model's
best products per customer, when a cross-sell campaign runs tonight: `spark.relevance`). The driver
reads the outputs back into the same `Analysis` the polars engine gives, cast to the same types and
sorted the same way; planning, codes and the ledger then run on the driver, as on the polars engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from coupongen.analysis import affinity
from coupongen.analysis.item_models import TOP_N
from coupongen.analysis.night import Analysis, analyse
from coupongen.analysis.relevance_hold import scoring_depth
from coupongen.config import Job
from coupongen.engines import stages
from coupongen.engines.spark import features, relevance, rules, segments
from coupongen.engines.spark.session import EngineError, spark_master, spark_session
from coupongen.inputs.contract import Inputs
from coupongen.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

_LEVELS = (("sku", "sku_rules"), ("category", "category_rules"))
VALIDATED = "valid_transactions"  # written by `loading` when Spark validated the lines
TX_COLUMNS = ("line_no", "receipt_id", "customer_id", "ts_us", "sku", "quantity", "amount")


@contextmanager
def spark_stage(stage: str) -> Iterator[None]:
    """The Spark work of one stage: a failure of Spark (a task, the JVM, the cluster) becomes an
    EngineError naming the stage and the failure's class, in one line. Spark's own message is left
    out: it may quote the data's values (personal columns among them); Spark's log has it.
    """
    from py4j.protocol import Py4JError, Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        yield
    except PySparkException as e:
        raise EngineError(f"Spark stage {stage} failed: {e.getCondition() or type(e).__name__}") from None
    except Py4JJavaError as e:
        raise EngineError(f"Spark stage {stage} failed: {_root_cause(e)}") from None
    except Py4JError:
        raise EngineError(f"Spark stage {stage} failed: the Spark driver stopped answering") from None


def _root_cause(error: object) -> str:
    """The class of the innermost Java exception behind a Py4JJavaError (OutOfMemoryError...)."""
    try:
        cause = error.java_exception  # type: ignore[attr-defined]
        while cause.getCause() is not None:
            cause = cause.getCause()
        return str(cause.getClass().getName())
    except Exception:  # the JVM is gone: its classes can't be asked
        return "a Java error"


class _Stages:
    """Writes and reads the stage folders of one night."""

    def __init__(self, spark: SparkSession, run_dir: Path, key: dict[str, str]):
        self.spark, self.run_dir, self.key = spark, run_dir, key

    def folder(self, stage: str) -> Path:
        return stages.stage_dir(self.run_dir, stage)

    def put(self, stage: str, frame: DataFrame) -> DataFrame:
        """Write ``frame`` as the stage, and read it back: later stages start from the files."""
        folder = self.folder(stage)
        stages.begin_stage(folder)
        with spark_stage(stage):
            frame.write.mode("overwrite").parquet(folder.as_posix())
        stages.finish_stage(folder, self.key)
        return self.get(stage, frame.schema)

    def put_local(self, stage: str, frame: pl.DataFrame) -> DataFrame:
        """Write a frame the driver holds as the stage, and read it on Spark."""
        stages.write_frame(frame, self.folder(stage), self.key)
        return self.get(stage, _spark_schema(frame.schema))

    def get(self, stage: str, schema: StructType) -> DataFrame:
        """The stage's parts on Spark; with the schema given, no job reads the files' footers."""
        return self.spark.read.schema(schema).parquet((self.folder(stage) / "part-*.parquet").as_posix())

    def back(self, stage: str, like: pl.DataFrame) -> pl.DataFrame:
        """The stage's parts on the driver, with the columns and types of ``like``."""
        return stages.read_frame(self.folder(stage), like.schema)


def _spark_schema(schema: pl.Schema) -> StructType:
    """The Spark schema of a frame the driver writes (text, whole numbers, floats)."""
    from pyspark.sql import types as T

    kinds = {pl.String: T.StringType(), pl.Int64: T.LongType(), pl.Float64: T.DoubleType()}
    return T.StructType([T.StructField(name, kinds[dtype.base_type()]) for name, dtype in schema.items()])


def _hand_over(store: _Stages, inputs: Inputs) -> tuple[DataFrame, DataFrame, DataFrame]:
    """The validated inputs as stages: transactions (line numbered, time in microseconds),
    products (sku, category), customers (customer_id, nps_score).
    """
    validated = store.folder(VALIDATED)
    if stages.is_complete(validated, store.key):
        # Validated on Spark tonight (`loading`): the kept lines are already a stage.
        from pyspark.sql import functions as F

        lines = store.spark.read.parquet((validated / "part-*.parquet").as_posix())
        tx = lines.select(*TX_COLUMNS).withColumn("line_no", F.col("line_no").cast("long"))
    else:
        tx = store.put_local("input_transactions", _local_lines(inputs))
    return (
        tx,
        _validated_or_local(store, "products", inputs.products.kept.select("sku", "category")),
        _validated_or_local(store, "customers", inputs.customers.kept.select("customer_id", "nps_score")),
    )


def _validated_or_local(store: _Stages, name: str, kept: pl.DataFrame) -> DataFrame:
    """The columns of ``kept`` from the ``valid_<name>`` stage when Spark validated the input
    tonight (`loading`); else the driver's rows handed over as ``input_<name>``.
    """
    validated = store.folder(f"valid_{name}")
    if stages.is_complete(validated, store.key):
        stages.begin_stage(store.folder(f"input_{name}"))  # none left from an earlier run
        return store.spark.read.parquet((validated / "part-*.parquet").as_posix()).select(*kept.columns)
    return store.put_local(f"input_{name}", kept)


def _local_lines(inputs: Inputs) -> pl.DataFrame:
    """The driver's kept lines as the analysis reads them, numbered in input order."""
    return inputs.transactions.kept.with_row_index("line_no").select(
        pl.col("line_no").cast(pl.Int64),
        "receipt_id",
        "customer_id",
        pl.col("ts").dt.cast_time_unit("us").dt.epoch("us").alias("ts_us"),
        "sku",
        "quantity",
        "amount",
    )


def _customer_half(
    store: _Stages, tx: DataFrame, products: DataFrame, customers: DataFrame, job: Job, as_of: date
) -> DataFrame:
    """Features and segments: customer_products, category_spend, customer_features, segments.
    Returns the customer_products stage.
    """
    lookback = job.config.segments.lookback_days
    lines = features.history_lines(tx, as_of)
    pairs = features.customer_pairs(lines).persist()
    try:
        bought = store.put("customer_products", features.customer_products(pairs, as_of, lookback))
        categories = store.put("category_spend", features.category_spend(pairs, products))
    finally:
        pairs.unpersist()
    facts = features.customer_features(lines, bought, categories, as_of, lookback)
    store.put(
        "segments",
        segments.segment_customers(store.put("customer_features", facts), customers, job.config.segments),
    )
    return bought


def _relevance(
    store: _Stages, bought: DataFrame, products: pl.DataFrame, job: Job, as_of: date
) -> pl.DataFrame | None:
    """The relevance stage for tonight's cross-sell model, read back; None when there is none
    (and an earlier run's stage of the night is removed).
    """
    spec = relevance.night_model(job, as_of)
    if spec is None:
        stages.begin_stage(store.folder(relevance.STAGE))
        return None
    promotable = products.filter(pl.col("promo_allowed"))["sku"]
    depth = scoring_depth(spec, TOP_N)
    with (
        spark_stage(relevance.STAGE),
        relevance.scored_customers(bought, promotable, spec, top_n=depth) as scored,
    ):
        store.put(relevance.STAGE, scored)
    like = pl.DataFrame(schema=relevance.SCORED_SCHEMA)
    return store.back(relevance.STAGE, like).sort("customer_id", "rank")


def _basket_half(store: _Stages, tx: DataFrame, products: DataFrame, job: Job, as_of: date) -> None:
    """Rules at both levels: basket_counts, sku_rules, category_rules."""
    from pyspark.sql import functions as F

    aff = job.config.affinity
    start = as_of - timedelta(days=job.config.segments.lookback_days)
    window = (F.col("ts_us") >= F.lit(features.micros(start))) & (
        F.col("ts_us") < F.lit(features.micros(as_of))
    )
    history = tx.where(window)
    counts = []
    for level, stage in _LEVELS:
        baskets = rules.build_baskets(history, products, level=level).persist()
        try:
            with spark_stage(stage):
                n_baskets = baskets.select("receipt_id").distinct().count()
            counts.append({"level": level, "n_baskets": n_baskets})
            min_support = aff.min_support if level == "sku" else aff.category_min_support
            if n_baskets == 0 or aff.max_len > 2:
                # No baskets, or itemsets beyond pairs (mlxtend): mined on the driver.
                with spark_stage(stage):
                    local = (
                        pl.from_arrow(baskets.toArrow())
                        if n_baskets
                        else pl.DataFrame(schema={"receipt_id": pl.String, "item": pl.String})
                    )
                found = affinity.mine_rules(
                    local,  # type: ignore[arg-type]
                    min_support=min_support,
                    min_confidence=aff.min_confidence,
                    min_lift=aff.min_lift,
                    max_len=aff.max_len,
                )
                store.put_local(stage, found)
            else:
                store.put(
                    stage,
                    rules.pair_rules(
                        baskets,
                        n_baskets,
                        min_support=min_support,
                        min_confidence=aff.min_confidence,
                        min_lift=aff.min_lift,
                    ),
                )
        finally:
            baskets.unpersist()
    stages.write_frame(
        pl.DataFrame(counts, schema={"level": pl.String, "n_baskets": pl.Int64}),
        store.folder("basket_counts"),
        store.key,
    )


def analyse_on_spark(
    job: Job,
    inputs: Inputs,
    settings: Settings,
    *,
    customers: bool = True,
    baskets: bool = True,
    ranking: bool = True,
) -> Analysis:
    """`analysis.night.analyse` on a Spark session, the stages' outputs under ``settings.run_dir``.

    The same frames, types and row order as the polars engine gives for the same inputs. With
    ``customers`` and ``ranking``, the cross-sell model's lists too (`Analysis.relevance`), for
    planning to read instead of fitting the model on the driver.
    """
    as_of = settings.as_of
    # The polars stages over no lines give every frame's columns and types, and the parts left out.
    empty = analyse(job, inputs, as_of, customers=False, baskets=False)
    if not (customers or baskets):
        return empty
    spark = spark_session(spark_master(job.config.spark.master))
    store = _Stages(spark, settings.run_dir, stages.stage_key(job, inputs, as_of))
    tx, products, people = _hand_over(store, inputs)
    found: dict[str, object] = {}
    if customers:
        bought = _customer_half(store, tx, products, people, job, as_of)
        if ranking:
            found["relevance"] = _relevance(store, bought, inputs.products.kept, job, as_of)
        customer_frame = inputs.customers.kept
        own = [
            c
            for c in empty.segmented.columns
            if c in ("customer_id", "nps_score") or c not in customer_frame.columns
        ]
        found["segmented"] = (
            store.back("segments", empty.segmented.select(own))
            .sort("customer_id")
            .join(customer_frame.drop("nps_score"), on="customer_id", how="left", maintain_order="left")
            .select(empty.segmented.columns)
        )
        found["bought"] = store.back("customer_products", empty.bought).sort("customer_id", "sku")
        found["categories"] = store.back("category_spend", empty.categories).sort("customer_id", "category")
    if baskets:
        _basket_half(store, tx, products, job, as_of)
        found["rules"] = affinity.order_rules(store.back("sku_rules", empty.rules))
        found["category_rules"] = affinity.order_rules(store.back("category_rules", empty.category_rules))
        counts = stages.read_frame(store.folder("basket_counts"))
        found["n_baskets"] = int(counts.filter(pl.col("level") == "sku")["n_baskets"][0])
    parts = tuple(part for part, done in (("customers", customers), ("baskets", baskets)) if done)
    return replace(empty, parts=parts, **found)  # type: ignore[arg-type]
