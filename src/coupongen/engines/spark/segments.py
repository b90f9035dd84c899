"""RFM scores, segments, lifecycle and NPS class on Spark: `analysis.segments.segment_customers`.

A score counts the customers with a strictly worse value (the SQL percent_rank, as the polars stage
does), computed over the distinct values and their counts, so that equal customers share a score
whatever partition they are in and no window has to hold every customer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coupongen.analysis.segments import OTHER_SEGMENT
from coupongen.config import SegmentsConfig

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def _f():  # type: ignore[no-untyped-def]
    from pyspark.sql import functions

    return functions


def _scores(features: DataFrame, measure: Column, name: str, bins: int) -> DataFrame:
    """customer_id and the 1..bins score of ``measure`` (high = good), as `_quantile_score`."""
    from pyspark.sql import Window

    F = _f()
    valued = features.select("customer_id", measure.alias("value"))
    everything = Window.partitionBy()
    counts = (
        valued.groupBy("value")
        .agg(F.count("*").alias("k"))
        .withColumn(
            "worse",
            F.coalesce(
                F.sum("k").over(Window.orderBy("value").rowsBetween(Window.unboundedPreceding, -1)),
                F.lit(0),
            ),
        )
        .withColumn("n", F.sum("k").over(everything))
        .withColumn("distinct", F.count("*").over(everything))
    )
    # Integer division, as polars' //: a float quotient could round up to the next whole score.
    ranked = F.least(
        F.greatest(F.expr(f"1 + (worse * {bins}) div greatest(n - 1, 1)"), F.lit(1)), F.lit(bins)
    )
    score = F.when(F.col("distinct") > 1, ranked).otherwise(F.lit((bins + 1) // 2)).cast("byte")
    return valued.join(counts.select("value", score.alias(name)), on="value").drop("value")


def nps_class(score: Column) -> Column:
    """`analysis.segments.nps_class` as a Spark column."""
    F = _f()
    return (
        F.when(score >= 9, F.lit("promoter"))
        .when(score >= 7, F.lit("passive"))
        .when(score >= 0, F.lit("detractor"))
        .otherwise(F.lit(None).cast("string"))
    )


def segment_customers(features: DataFrame, customers: DataFrame, config: SegmentsConfig) -> DataFrame:
    """Features + r/f/m scores, rfm_segment, lifecycle, nps_score and nps_class (unsorted).

    ``customers`` needs customer_id and nps_score.
    """
    F = _f()
    bins = config.bins
    scored = features
    for name, measure in (
        ("r_score", -F.col("recency_days")),
        ("f_score", F.col("frequency")),
        ("m_score", F.col("monetary")),
    ):
        scored = scored.join(_scores(features, measure, name, bins), on="customer_id")
    segment = F.lit(OTHER_SEGMENT)
    for rule in reversed(config.rules):
        holds = (
            F.col("r_score").between(*rule.r)
            & F.col("f_score").between(*rule.f)
            & F.col("m_score").between(*rule.m)
        )
        segment = F.when(holds, F.lit(rule.name)).otherwise(segment)
    gap = F.col("median_gap_days")
    lapsing_after = F.greatest(F.lit(float(config.lapsing_days)), gap * config.lapsing_factor)
    lapsed_after = F.greatest(F.lit(float(config.lapsed_days)), gap * config.lapsed_factor)
    recency = F.col("recency_days")
    lifecycle = (
        F.when(F.col("tenure_days") <= config.new_days, F.lit("new"))
        .when(recency > lapsed_after, F.lit("lapsed"))
        .when(recency > lapsing_after, F.lit("lapsing"))
        .otherwise(F.lit("active"))
    )
    return (
        scored.withColumn("rfm_segment", segment)
        .withColumn("lifecycle", lifecycle)
        .join(customers.select("customer_id", "nps_score"), on="customer_id", how="left")
        .withColumn("nps_class", nps_class(F.col("nps_score")))
    )
