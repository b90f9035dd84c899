"""The relevance model on Spark: item x item sums by partition, solved on the driver, scored by partition.

`analysis.item_models` fits the collaborative model on the customer x product matrix of one
machine. Here the same model comes from the same numbers, spread out: the purchases in the
look-back window are partitioned by customer; each partition sums its customers' item x item
products (X'X: EASE's Gram matrix, or item-kNN's co-purchase counts) and Spark adds the partitions'
sums up, each cell's parts in ascending order, so a cell does not depend on the order the parts
arrive in. The driver solves the model with `item_models`' own code, the weights are broadcast, and
every partition scores its customers with `item_scoring.score_customers`: the same products, top-N
selection and tie-breaks (the first product in sku order) as on polars. With binary weights (what a
night uses) every sum is a whole number, so the model and the scores equal polars' to the bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from coupongen.analysis.item_models import (
    TOP_N,
    ItemModel,
    ModelSpec,
    PurchaseMatrix,
    ease_columns,
    ease_from_gram,
    knn_from_counts,
    purchase_matrix,
)
from coupongen.analysis.item_scoring import score_customers
from coupongen.analysis.relevance import ranking_spec
from coupongen.config import Job

if TYPE_CHECKING:
    from datetime import date

    import pyarrow as pa
    from pyspark.sql import DataFrame

STAGE = "relevance"

SCORED_SCHEMA = pl.Schema(
    {"customer_id": pl.String, "sku": pl.String, "rank": pl.Int32, "score": pl.Float64, "anchor": pl.String}
)
"""The stage's columns: `item_scoring.score_customers`' frame."""

_SPARK_SCORED = "customer_id string, sku string, rank int, score double, anchor string"
_SPARK_CELLS = "i int, j int, v double"

BLOCK_ROWS = 200_000
"""Purchases a partition turns into one block of the matrix at a time (whole customers)."""


def night_model(job: Job, as_of: date) -> ModelSpec | None:
    """The collaborative model tonight's cross-sell campaigns rank with, None when no enabled
    cross-sell campaign runs tonight or the job ranks with the learned ranking (which runs on the
    driver, as on polars).
    """
    spec = ranking_spec(job)
    live = any(c.enabled and c.runs_on(as_of) and c.type == "cross_sell" for c in job.campaigns)
    return spec if live and isinstance(spec, ModelSpec) else None


def model_rows(bought: DataFrame, spec: ModelSpec, *, partitions: int | None = None) -> DataFrame:
    """The purchases the matrix is built from (`features.customer_products` rows in the look-back
    window), partitioned by customer and sorted by customer within each partition.
    """
    from pyspark.sql import functions as F

    needed = ["customer_id", "sku", "in_lookback"]
    if _weighting(spec) == "recency":
        needed.append("days_since_last")
    rows = bought.where(F.col("in_lookback")).select(*needed)
    by_customer = (
        rows.repartition(partitions, "customer_id") if partitions else rows.repartition("customer_id")
    )
    return by_customer.sortWithinPartitions("customer_id", "sku")


@contextmanager
def scored_customers(
    bought: DataFrame,
    promotable: pl.Series,
    spec: ModelSpec,
    *,
    top_n: int = TOP_N,
    partitions: int | None = None,
    block_rows: int = BLOCK_ROWS,
) -> Iterator[DataFrame]:
    """The model's best `top_n` promotable products for every customer who bought in the window
    (`score_customers`' columns), as a Spark frame to write while the context is open (the
    model's weights are broadcast until it closes).

    `bought` has `features.customer_products`' columns, one row per customer and sku;
    `promotable` lists the skus an offer may target. Spark actions run here (the item counts,
    the summed item x item matrix).
    """
    spark = bought.sparkSession
    rows = model_rows(bought, spec, partitions=partitions).persist()
    try:
        items, buyers = _item_buyers(rows)
        if items.is_empty():
            yield spark.createDataFrame([], _SPARK_SCORED)
            return
        model = _fit(rows, items, buyers, spec, block_rows)
        allowed = items.is_in(promotable.implode()).to_numpy()
        payload = spark.sparkContext.broadcast((items.to_list(), model, allowed, spec, top_n))
        try:
            score = partial(_score_partition, payload=payload, block_rows=block_rows)
            yield rows.mapInArrow(score, _SPARK_SCORED)
        finally:
            payload.destroy()
    finally:
        rows.unpersist()


def _item_buyers(rows: DataFrame) -> tuple[pl.Series, np.ndarray]:
    """The products bought in the window, in sku order, and the customers who bought each."""
    counts = pl.from_arrow(rows.groupBy("sku").count().toArrow())
    assert isinstance(counts, pl.DataFrame)
    counts = counts.sort("sku")
    return counts["sku"], counts["count"].to_numpy().astype(np.int64)


def _fit(
    rows: DataFrame, items: pl.Series, buyers: np.ndarray, spec: ModelSpec, block_rows: int
) -> ItemModel:
    """The model fitted on the driver from the item x item sums of the partitions."""
    if spec.method == "ease":
        columns = ease_columns(buyers, spec.max_items)
        gram = summed_cells(rows, items, columns, spec, block_rows).toarray()
        return ease_from_gram(gram, columns, lam=spec.ease_lambda)
    everything = np.arange(items.len())
    counts = summed_cells(rows, items, everything, spec, block_rows).tocsr()
    return knn_from_counts(
        lambda start, stop: counts[start:stop].toarray(),
        buyers,
        neighbours=spec.neighbours,
        popularity_discount=spec.popularity_discount,
    )


def summed_cells(
    rows: DataFrame, items: pl.Series, columns: np.ndarray, spec: ModelSpec, block_rows: int = BLOCK_ROWS
) -> sp.coo_matrix:
    """X'X over the matrix `columns` (symmetric, square), summed over the partitions of `rows`.

    Each partition emits the upper triangle of its customers' sum. With binary weights every part
    is a whole number, which doubles add exactly in any order; other weights' parts are added in
    ascending order, so the result does not depend on the order the partitions finish in.
    """
    from pyspark.sql import functions as F

    cells = partial(
        _cells_partition, items=items.to_list(), columns=columns, spec=spec, block_rows=block_rows
    )
    if _weighting(spec) == "binary":
        total = F.sum("v")
    else:
        total = F.aggregate(F.array_sort(F.collect_list("v")), F.lit(0.0), lambda acc, v: acc + v)
    summed = rows.mapInArrow(cells, _SPARK_CELLS).groupBy("i", "j").agg(total.alias("v"))
    found = pl.from_arrow(summed.toArrow())
    assert isinstance(found, pl.DataFrame)
    i, j, v = (found[c].to_numpy() for c in ("i", "j", "v"))
    off = i != j
    size = columns.size
    return sp.coo_matrix(
        (np.concatenate([v, v[off]]), (np.concatenate([i, j[off]]), np.concatenate([j, i[off]]))),
        shape=(size, size),
    )


# --- inside the partitions -------------------------------------------------------------------------


def _customer_blocks(batches: Iterator[pa.RecordBatch], block_rows: int) -> Iterator[pl.DataFrame]:
    """A partition's rows (sorted by customer) in blocks of about `block_rows`, whole customers each."""
    pending: list[pl.DataFrame] = []
    count = 0
    for batch in batches:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        if frame.is_empty():
            continue
        pending.append(frame)
        count += frame.height
        if count >= block_rows:
            block = pl.concat(pending)
            last = pl.col("customer_id") == block["customer_id"][-1]
            done = block.filter(~last)
            if not done.is_empty():
                yield done
            pending = [block.filter(last)]
            count = pending[0].height
    if count:
        yield pl.concat(pending)


def _weighting(spec: ModelSpec) -> str:
    """How a purchase counts in the model's matrix (item-kNN counts buyers: always binary)."""
    return spec.weighting if spec.method == "ease" else "binary"


def _matrix(block: pl.DataFrame, items: pl.Series, spec: ModelSpec) -> PurchaseMatrix:
    return purchase_matrix(block, weighting=_weighting(spec), half_life_days=spec.half_life_days, items=items)


def _cells_partition(
    batches: Iterator[pa.RecordBatch],
    *,
    items: list[str],
    columns: np.ndarray,
    spec: ModelSpec,
    block_rows: int,
) -> Iterator[pa.RecordBatch]:
    """One partition's part of X'X: (i, j, v) for its nonzero cells with i <= j."""
    import pyarrow as pa

    names = pl.Series("sku", items, dtype=pl.String)
    total = sp.csr_matrix((columns.size, columns.size))
    for block in _customer_blocks(batches, block_rows):
        x = _matrix(block, names, spec).matrix[:, columns]
        total = total + (x.T @ x).tocsr()
    upper = sp.triu(total).tocoo()
    yield pa.RecordBatch.from_arrays(
        [
            pa.array(upper.row.astype(np.int32)),
            pa.array(upper.col.astype(np.int32)),
            pa.array(upper.data.astype(np.float64)),
        ],
        names=["i", "j", "v"],
    )


def _score_partition(
    batches: Iterator[pa.RecordBatch], *, payload: Any, block_rows: int
) -> Iterator[pa.RecordBatch]:
    """One partition's customers scored with the broadcast model: `score_customers`' rows."""
    import pyarrow as pa

    items, model, allowed, spec, top_n = payload.value
    names = pl.Series("sku", items, dtype=pl.String)
    schema = pa.schema(
        [
            ("customer_id", pa.string()),
            ("sku", pa.string()),
            ("rank", pa.int32()),
            ("score", pa.float64()),
            ("anchor", pa.string()),
        ]
    )
    for block in _customer_blocks(batches, block_rows):
        scored = score_customers(_matrix(block, names, spec), model, top_n=top_n, allowed=allowed)
        if not scored.is_empty():
            yield from scored.to_arrow().cast(schema).to_batches()
