"""Customer segments: RFM scores and named segments, lifecycle states, NPS classes.

Different groups get different offers: win back the lapsing, reward the best, cross-sell the engaged,
welcome the new. The segment map is configuration (first matching rule wins), not code.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from coupongen.config import DEFAULT_SEGMENTS, SegmentRule, SegmentsConfig

OTHER_SEGMENT = "other"


def _quantile_score(expr: pl.Expr, bins: int) -> pl.Expr:
    """1..bins by the share of customers with a strictly worse value (the SQL percent_rank).

    Equal values share a score, so equal customers are never split, and the worst value always
    scores 1: when 60% of customers came once, they all get F 1 rather than a middling score that
    would leave F 1 empty. With n customers, score = 1 + floor(bins * worse / (n - 1)), at most
    ``bins``, in exact integer arithmetic. A measure on which every customer ties (a single customer
    included) ranks nobody: everyone gets the middle score.
    """
    n = pl.len().cast(pl.Int64)
    worse = expr.rank("min").cast(pl.Int64) - 1
    ranked = (1 + worse * bins // pl.max_horizontal(n - 1, pl.lit(1))).clip(1, bins)
    return pl.when(expr.n_unique() > 1).then(ranked).otherwise(pl.lit((bins + 1) // 2)).cast(pl.Int8)


def score_rfm(features: pl.DataFrame, *, bins: int = 5) -> pl.DataFrame:
    """Add r_score, f_score, m_score (1..bins, bins = best) to customer features.

    Recency scores high when recent, frequency and monetary when high. Scores are quantiles over the
    customers given, by the share of them with a strictly worse value (see `_quantile_score`), so
    ties share a score and the scores do not depend on row order.
    """
    return features.with_columns(
        _quantile_score(-pl.col("recency_days"), bins).alias("r_score"),
        _quantile_score(pl.col("frequency"), bins).alias("f_score"),
        _quantile_score(pl.col("monetary"), bins).alias("m_score"),
    )


def name_segments(scored: pl.DataFrame, rules: Sequence[SegmentRule] = DEFAULT_SEGMENTS) -> pl.DataFrame:
    """Add rfm_segment: the name of the first rule whose score ranges hold, else ``other``."""
    matches = [
        pl.when(
            pl.col("r_score").is_between(*rule.r)
            & pl.col("f_score").is_between(*rule.f)
            & pl.col("m_score").is_between(*rule.m)
        ).then(pl.lit(rule.name))
        for rule in rules
    ]
    return scored.with_columns(pl.coalesce([*matches, pl.lit(OTHER_SEGMENT)]).alias("rfm_segment"))


def lifecycle_states(features: pl.DataFrame, config: SegmentsConfig) -> pl.DataFrame:
    """Add lifecycle: new, active, lapsing or lapsed.

    new: first purchase within ``new_days``. Otherwise judged against the customer's own rhythm where
    there is one (median gap between visits): lapsing past ``lapsing_factor`` gaps, lapsed past
    ``lapsed_factor`` gaps, but never earlier than the fixed ``lapsing_days`` / ``lapsed_days``
    floors, which alone apply to customers without a rhythm.
    """
    gap = pl.col("median_gap_days")
    lapsing_after = pl.max_horizontal(pl.lit(config.lapsing_days), gap * config.lapsing_factor)
    lapsed_after = pl.max_horizontal(pl.lit(config.lapsed_days), gap * config.lapsed_factor)
    recency = pl.col("recency_days")
    return features.with_columns(
        pl.when(pl.col("tenure_days") <= config.new_days)
        .then(pl.lit("new"))
        .when(recency > lapsed_after)
        .then(pl.lit("lapsed"))
        .when(recency > lapsing_after)
        .then(pl.lit("lapsing"))
        .otherwise(pl.lit("active"))
        .alias("lifecycle")
    )


def nps_class(score: pl.Expr) -> pl.Expr:
    """Promoter (9-10), passive (7-8), detractor (0-6); null where there is no answer."""
    return (
        pl.when(score >= 9)
        .then(pl.lit("promoter"))
        .when(score >= 7)
        .then(pl.lit("passive"))
        .when(score >= 0)
        .then(pl.lit("detractor"))
        .otherwise(None)
    )


def segment_customers(
    features: pl.DataFrame, customers: pl.DataFrame, config: SegmentsConfig
) -> pl.DataFrame:
    """Features + RFM scores and segment + lifecycle + NPS class, one row per customer with purchases.

    Added columns: r_score, f_score, m_score, rfm_segment, lifecycle, nps_score, nps_class (null
    for a customer who never answered the survey or is missing from ``customers``). Sorted by
    customer_id.
    """
    scored = name_segments(score_rfm(features, bins=config.bins), config.rules)
    # Sorted before the join, which keeps that order: the features come sorted (`describe_customers`),
    # and sorting the joined frame again would copy a million rows of every column at the night's
    # peak of memory.
    staged = lifecycle_states(scored, config).sort("customer_id")
    return staged.join(
        customers.select("customer_id", "nps_score"), on="customer_id", how="left", maintain_order="left"
    ).with_columns(nps_class(pl.col("nps_score")).alias("nps_class"))


SUMMARY_SCHEMA = pl.Schema(
    {
        "rfm_segment": pl.String(),
        "customers": pl.Int64(),
        "customer_share": pl.Float64(),
        "spend": pl.Float64(),
        "spend_share": pl.Float64(),
        "nps_answers": pl.Int64(),
        "promoters": pl.Int64(),
        "passives": pl.Int64(),
        "detractors": pl.Int64(),
        "nps": pl.Float64(),
    }
)
"""Columns and dtypes of the frame `summarize_segments` returns."""


def summarize_segments(segmented: pl.DataFrame, by: str = "rfm_segment") -> pl.DataFrame:
    """Per segment: its customers, their share of spend, and their NPS.

    Columns (the first named after ``by``): rfm_segment (or ``by``); customers and customer_share
    (of all customers given); spend (the segment's net spend in the look-back window, customers
    whose refunds outweigh their purchases counting as 0) and spend_share (of all such spend);
    nps_answers, promoters, passives, detractors (survey answers in the segment, and how they
    split); nps (% promoters - % detractors, -100..100, null where nobody in the segment answered).
    Counts add up to the input: customers sum to its rows, nps_answers to its answers. Shares are
    rounded to 4 places, spend to the cent, nps to 0.1. Sorted by customers, largest first, then
    name.
    """
    cents = (pl.col("monetary").clip(lower_bound=0) * 100).round(0).cast(pl.Int64)
    answers = pl.col("nps_class")
    grouped = segmented.group_by(by).agg(
        pl.len().cast(pl.Int64).alias("customers"),
        cents.sum().alias("cents"),
        answers.is_not_null().sum().cast(pl.Int64).alias("nps_answers"),
        (answers == "promoter").sum().cast(pl.Int64).alias("promoters"),
        (answers == "passive").sum().cast(pl.Int64).alias("passives"),
        (answers == "detractor").sum().cast(pl.Int64).alias("detractors"),
    )
    total = max(segmented.height, 1)
    total_cents = int(grouped["cents"].sum()) or 1
    return (
        grouped.with_columns(
            (pl.col("customers") / total).round(4).alias("customer_share"),
            (pl.col("cents") / 100).alias("spend"),
            (pl.col("cents") / total_cents).round(4).alias("spend_share"),
            pl.when(pl.col("nps_answers") > 0)
            .then(((pl.col("promoters") - pl.col("detractors")) * 100 / pl.col("nps_answers")).round(1))
            .otherwise(None)
            .alias("nps"),
        )
        .select(by, *SUMMARY_SCHEMA.names()[1:])
        .sort(["customers", by], descending=[True, False])
    )
