"""The relevance model on Spark gives polars' top-N per customer: the same products, ranks, anchors
and scores, over several partitions and customers split across Arrow batches.

Tiny hand-made purchases with the cases ranking is fragile on: customers with the same basket,
two products bought by the same customers (equal scores: the first sku wins), a product nobody
may promote, purchases outside the look-back window, a customer whose every product is bought.

The check runs inside the Spark night's test (tests/engines/test_spark_equality.py), on its
session: a test of its own could go to the other worker of the suite and start a second JVM.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from coupongen.analysis.item_models import TOP_N, ModelSpec, fit, purchase_matrix
from coupongen.analysis.item_scoring import score_customers
from coupongen.analysis.relevance import recommend
from coupongen.analysis.relevance_hold import scoring_depth
from coupongen.engines.spark.relevance import SCORED_SCHEMA, scored_customers

SKUS = [*(f"P{n:02d}" for n in range(12)), "Q1", "Q2"]
NOT_PROMOTABLE = "P05"


def _bought() -> pl.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for n in range(40):
        # Each customer buys from a "taste" of neighbouring skus, so products go together.
        start = int(rng.integers(0, 10))
        picks = {SKUS[(start + k) % 12] for k in range(4) if rng.random() < 0.7}
        for sku in sorted(picks):
            rows.append((f"C{n:03d}", sku, bool(rng.random() < 0.9), int(rng.integers(0, 300))))
    # Same basket twice; P10 and P11 are always bought together (equal scores for the others).
    for customer in ("C900", "C901"):
        rows += [(customer, "P01", True, 3), (customer, "P02", True, 40)]
    rows += [("C902", "P10", True, 5), ("C902", "P11", True, 5), ("C903", "P10", True, 9)]
    rows += [("C903", "P11", True, 9), ("C903", "P00", True, 1)]
    # Q1 and Q2 bought by the same customers: the same counts, the same scores for everyone else.
    rows += [(f"C91{n}", sku, True, 4) for n in range(3) for sku in ("P01", "Q1", "Q2")]
    rows += [("C904", sku, True, 2) for sku in SKUS]  # bought everything: nothing to recommend
    rows += [("C905", "P03", False, 400)]  # bought outside the window only: not in the matrix
    frame = pl.DataFrame(
        rows, schema=["customer_id", "sku", "in_lookback", "days_since_last"], orient="row"
    ).unique(["customer_id", "sku"], keep="first")
    return frame.with_columns(
        pl.col("days_since_last").cast(pl.Int32), pl.lit(1, dtype=pl.Int64).alias("receipts")
    ).sort("customer_id", "sku")


def _on_polars(bought: pl.DataFrame, spec: ModelSpec, promotable: pl.Series) -> pl.DataFrame:
    purchases = purchase_matrix(bought, weighting=spec.weighting, half_life_days=spec.half_life_days)
    allowed = purchases.items.is_in(promotable.implode()).to_numpy()
    return score_customers(purchases, fit(purchases, spec), allowed=allowed)


def _on_spark(
    spark, bought: pl.DataFrame, spec: ModelSpec, promotable: pl.Series, top_n: int = TOP_N
) -> pl.DataFrame:
    frame = spark.createDataFrame(bought.to_arrow())
    with scored_customers(frame, promotable, spec, top_n=top_n, partitions=3, block_rows=4) as scored:
        got = pl.from_arrow(scored.toArrow())
    return got.cast(SCORED_SCHEMA).sort("customer_id", "rank")  # type: ignore[union-attr]


def check_spark_relevance_equals_polars(spark):
    bought = _bought()
    promotable = pl.Series("sku", [s for s in SKUS if s != NOT_PROMOTABLE])
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "5")  # customers across batches
    try:
        lists = {}
        for spec in (ModelSpec(), ModelSpec(method="knn", neighbours=4)):
            expected = _on_polars(bought, spec, promotable)
            got = lists[spec.method] = _on_spark(spark, bought, spec, promotable)
            assert expected.height > 60 and expected["customer_id"].n_unique() > 30, spec.method
            # Binary weights: every sum is a whole number, so the scores are equal to the bit.
            assert_frame_equal(got, expected, check_exact=True)
            assert NOT_PROMOTABLE not in got["sku"].to_list()
            assert not got.filter(pl.col("customer_id").is_in(["C904", "C905"])).height
        # Same basket, same list; equal scores (item-kNN's whole counts): Q1 ranks right before Q2.
        got = lists["ease"]
        twins = got.filter(pl.col("customer_id").is_in(["C900", "C901"]))
        assert (
            twins.filter(pl.col("customer_id") == "C900")
            .drop("customer_id")
            .equals(twins.filter(pl.col("customer_id") == "C901").drop("customer_id"))
        )
        ties = (
            lists["knn"].filter(pl.col("sku").is_in(["Q1", "Q2"])).filter(pl.len().over("customer_id") == 2)
        )
        assert ties["customer_id"].n_unique() >= 2
        for _, pair in ties.group_by("customer_id"):
            assert pair.sort("rank")["sku"].to_list() == ["Q1", "Q2"]
            assert pair["score"][0] == pair["score"][1] and pair["rank"].diff()[1] == 1
        recency = ModelSpec(weighting="recency", half_life_days=30.0)
        expected = _on_polars(bought, recency, promotable)
        got = _on_spark(spark, bought, recency, promotable)
        # Real-valued sums added in another order: the same lists, scores within rounding.
        assert_frame_equal(got.drop("score"), expected.drop("score"), check_exact=True)
        assert np.allclose(got["score"].to_numpy(), expected["score"].to_numpy(), rtol=1e-9, atol=0)
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")

    # The driver's ranking over the Spark model's lists equals the ranking that fits the model.
    products = pl.DataFrame({"sku": SKUS, "promo_allowed": [s != NOT_PROMOTABLE for s in SKUS]})
    wanted = ["C000", "C900", "C902", "C904", "C905", "C999"]
    spec = ModelSpec()
    assert_frame_equal(
        recommend(bought, products, customers=wanted, spec=spec, scored=lists["ease"]),
        recommend(bought, products, customers=wanted, spec=spec),
        check_exact=True,
    )
    # With substitutes held back (product types from the sku's first two characters), the deeper
    # lists the Spark stage scores for the hold give the driver the offers a model fitted there gives.
    held = ModelSpec(max_substitute_share=0.2)
    typed = products.with_columns(pl.col("sku").str.slice(0, 2).alias("category"))
    deep = _on_spark(spark, bought, held, promotable, top_n=scoring_depth(held, TOP_N))
    expected = recommend(bought, typed, spec=held)
    assert_frame_equal(recommend(bought, typed, spec=held, scored=deep), expected, check_exact=True)
    assert not expected.equals(recommend(bought, typed, spec=spec))
