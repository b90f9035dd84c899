"""A rerun of a night with the same inputs adds nothing and plans every campaign as the first run did."""

from __future__ import annotations

import random
from dataclasses import replace

import polars as pl
import pytest

from coupongen.offers.planning import decided_tonight, plan_offers
from tests.offers.test_offers import bought, campaign, context, customers

PRODUCTS, TYPES = 12, 4
FIGURES = ("candidates", "capped", "within_budget", "treated", "control", "expected_cost")


def night(seed: int):
    """A small random night: customers, what they bought, each one's ranked products and prices."""
    rng = random.Random(seed)
    n = rng.randint(4, 14)
    prices = [rng.choice([1.0, 2.0, 4.0, 9.0, 16.0]) for _ in range(PRODUCTS)]
    products = pl.DataFrame(
        {
            "sku": [f"P{i}" for i in range(PRODUCTS)],
            "name": [f"Product {i}" for i in range(PRODUCTS)],
            "category": [f"t{i % TYPES}" for i in range(PRODUCTS)],
            "brand": ["a"] * PRODUCTS,
            "price": prices,
            "promo_allowed": [True] * PRODUCTS,
        }
    )
    pairs = [(f"C{c}", f"P{p}") for c in range(n) for p in rng.sample(range(PRODUCTS), rng.randint(1, 3))]
    ranked = []
    for c in range(n):
        picks = rng.sample(range(PRODUCTS), rng.randint(1, 6))
        scores = sorted((round(rng.random(), 3) for _ in picks), reverse=True)
        ranked += [(f"C{c}", f"P{p}", k + 1, s) for k, (p, s) in enumerate(zip(picks, scores, strict=True))]
    relevance = pl.DataFrame(
        ranked, schema=["customer_id", "sku", "rank", "score"], orient="row"
    ).with_columns(
        pl.col("rank").cast(pl.Int32),
        pl.lit("ease").alias("source"),
        pl.lit(None, dtype=pl.String).alias("anchor"),
        pl.lit(None, dtype=pl.Float64).alias("lift"),
        pl.lit(None, dtype=pl.Float64).alias("confidence"),
    )
    ctx = replace(
        context(customers(n), bought(pairs)),
        products=products,
        relevance=relevance,
        max_substitute_share=rng.choice([None, 0.2, 0.5]),
    )
    campaigns = tuple(
        campaign(
            name,
            budget=rng.choice([0.2, 0.5, 1.0, 2.0]),
            holdout_share=rng.choice([0.0, 0.3, 0.5]),
            rank_by=rng.choice(["priority", "expected_value"]),
        )
        for name in ("first", "second")
    )
    return ctx, campaigns, rng.choice([1, 2])


@pytest.mark.parametrize("seed", range(60))
def test_a_rerun_with_the_same_inputs_adds_nothing_and_plans_each_campaign_alike(seed):
    ctx, campaigns, most = night(seed)
    first = plan_offers(campaigns, ctx, max_per_customer=most, seed=1)
    again = plan_offers(
        campaigns, ctx, max_per_customer=most, seed=1, decided=decided_tonight(first.offers, first.controls)
    )
    assert again.offers.is_empty() and again.controls.is_empty()
    assert again.funnel.select(FIGURES).equals(first.funnel.select(FIGURES))
