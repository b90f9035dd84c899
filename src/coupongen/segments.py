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
    """1..bins by rank quantile; tied values share a score, so equal customers are never split."""
    n = pl.len()
    return (expr.rank("average") * bins / n).ceil().clip(1, bins).cast(pl.Int8)


def score_rfm(features: pl.DataFrame, *, bins: int = 5) -> pl.DataFrame:
    """Add r_score, f_score, m_score (1..bins, bins = best) to customer features.

    Recency scores high when recent, frequency and monetary when high. Scores are quantiles over the
    customers given, with ties sharing the same score.
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
    """promoter (9-10), passive (7-8), detractor (0-6); null where there is no answer."""
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

    Added columns: r_score, f_score, m_score, rfm_segment, lifecycle, nps_score, nps_class.
    """
    scored = name_segments(score_rfm(features, bins=config.bins), config.rules)
    staged = lifecycle_states(scored, config)
    return staged.join(
        customers.select("customer_id", "nps_score"), on="customer_id", how="left"
    ).with_columns(nps_class(pl.col("nps_score")).alias("nps_class"))


def summarize_segments(segmented: pl.DataFrame) -> pl.DataFrame:
    """Per segment: customers, share of customers, spend share and NPS (% promoters - % detractors).

    Columns: rfm_segment, customers, customer_share, spend_share, nps_answers, nps (null where nobody
    in the segment answered). Sorted by customers, largest first.
    """
    total_spend = segmented["monetary"].clip(lower_bound=0).sum()
    total = segmented.height
    return (
        segmented.group_by("rfm_segment")
        .agg(
            pl.len().alias("customers"),
            pl.col("monetary").clip(lower_bound=0).sum().alias("spend"),
            pl.col("nps_class").is_not_null().sum().alias("nps_answers"),
            (pl.col("nps_class") == "promoter").sum().cast(pl.Int64).alias("promoters"),
            (pl.col("nps_class") == "detractor").sum().cast(pl.Int64).alias("detractors"),
        )
        .with_columns(
            (pl.col("customers") / max(total, 1)).round(4).alias("customer_share"),
            (pl.col("spend") / (total_spend or 1.0)).round(4).alias("spend_share"),
            pl.when(pl.col("nps_answers") > 0)
            .then(((pl.col("promoters") - pl.col("detractors")) * 100 / pl.col("nps_answers")).round(1))
            .otherwise(None)
            .alias("nps"),
        )
        .select("rfm_segment", "customers", "customer_share", "spend_share", "nps_answers", "nps")
        .sort(["customers", "rfm_segment"], descending=[True, False])
    )
