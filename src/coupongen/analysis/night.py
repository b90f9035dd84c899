"""The night's analysis: features, segments and affinity rules of the loaded inputs, as of a date.

Wires the analysis stages to the job's settings. The customer half (features, segments) and the
basket half (rules between products and between categories) can be computed apart, for a command
that needs one only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from coupongen.analysis import affinity, basket_codes, features, segments
from coupongen.config import Job
from coupongen.inputs.contract import Inputs


@dataclass
class Analysis:
    """What the analysis stages found: per-customer facts, segments and rules.

    ``parts`` names what was computed ("customers": segmented, bought, categories; "baskets":
    rules, category_rules, n_baskets); the frames of a part left out are empty, with their columns.
    ``relevance``: the collaborative model's best products per customer when an engine computed
    them with the night (`item_scoring.score_customers`' columns, for `relevance.ranking_spec`'s
    model over ``bought``); None: planning fits the model itself. ``earlier``: the regular rows of
    `features.customer_products` as of each day `analyse` was asked for (``CustomerFacts.earlier``);
    ``adoption``: each sku's owners and first buyers among the customers given per day
    (``CustomerFacts.adoption``).
    """

    segmented: pl.DataFrame
    bought: pl.DataFrame
    categories: pl.DataFrame
    rules: pl.DataFrame
    category_rules: pl.DataFrame
    n_baskets: int
    products: pl.DataFrame
    as_of: date | None = None
    parts: tuple[str, ...] = ("customers", "baskets")
    relevance: pl.DataFrame | None = None
    earlier: dict[date, pl.DataFrame] = field(default_factory=dict)
    adoption: dict[date, pl.DataFrame] = field(default_factory=dict)


def analyse(
    job: Job,
    inputs: Inputs,
    as_of: date,
    *,
    customers: bool = True,
    baskets: bool = True,
    earlier: Sequence[date] = (),
    adopters: Mapping[date, pl.DataFrame] | None = None,
) -> Analysis:
    """Features, segments and affinity rules as of the run date.

    ``customers=False`` skips features and segments, ``baskets=False`` the rules, for a caller that
    needs one half only; the frames left out are empty (see `Analysis`). ``earlier``: days before
    the run date to give the regular products as of, too (`Analysis.earlier`); ``adopters``:
    customers per day to count each sku's owners and first buyers among (`Analysis.adoption`).
    """
    seg_cfg = job.config.segments
    tx = inputs.transactions.kept
    products = inputs.products.kept
    aff = job.config.affinity
    window = pl.col("ts").is_between(
        pl.lit(as_of - timedelta(days=seg_cfg.lookback_days)).cast(pl.Datetime("us")),
        pl.lit(as_of).cast(pl.Datetime("us")),
        closed="left",
    )
    # The baskets first: only their rules outlive them, so their peak is not on top of the
    # customer facts. Lazy: both levels read the window's lines from the loaded frame, no copy.
    # Computed on no lines at all, the stages give the empty frames a skipped part stands for.
    history = (tx if baskets else tx.head(0)).lazy().filter(window)
    sku_baskets = affinity.build_baskets(history, products, level="sku")
    n_baskets = basket_codes.count_baskets(sku_baskets["receipt_id"])
    rules = _mine(sku_baskets, aff.min_support, job)
    # The category baskets come from the sku baskets, not from the lines again.
    category_baskets = affinity.level_lines(sku_baskets, products, level="category")
    del sku_baskets
    category_rules = _mine(category_baskets, aff.category_min_support, job)
    del category_baskets
    facts = features.describe_customers(
        tx if customers else tx.head(0),
        products,
        as_of=as_of,
        lookback_days=seg_cfg.lookback_days,
        earlier=earlier,
        adopters=adopters,
    )
    segmented = segments.segment_customers(facts.features, inputs.customers.kept, seg_cfg).join(
        inputs.customers.kept.drop("nps_score"), on="customer_id", how="left", maintain_order="left"
    )
    return Analysis(
        segmented=segmented,
        bought=facts.products,
        categories=facts.categories,
        rules=rules,
        category_rules=category_rules,
        n_baskets=n_baskets,
        products=products,
        as_of=as_of,
        parts=tuple(part for part, done in (("customers", customers), ("baskets", baskets)) if done),
        earlier=facts.earlier,
        adoption=facts.adoption,
    )


def _mine(baskets: pl.DataFrame, min_support: float, job: Job) -> pl.DataFrame:
    aff = job.config.affinity
    return affinity.mine_rules(
        baskets,
        min_support=min_support,
        min_confidence=aff.min_confidence,
        min_lift=aff.min_lift,
        max_len=aff.max_len,
    )
