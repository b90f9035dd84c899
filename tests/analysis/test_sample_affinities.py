"""The complements planted in the bundled sample are found, in their direction, above chance."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from coupongen import pipeline
from coupongen.config import load_job
from coupongen.inputs.loading import load_inputs
from coupongen.synthetic.sample import COMPLEMENTS
from tests.conftest import AS_OF, NIGHTLY, SAMPLE

SHARE_KEPT = 0.85
"""Of the lines a planted complement adds, the share that is still its own line in the basket: some
merge with a line of the same category the shopper had picked anyway."""


@pytest.fixture(scope="module")
def analysis() -> pipeline.Analysis:
    """Rules mined from the bundled sample with the nightly job's thresholds."""
    job = load_job(NIGHTLY)
    cfg = job.config.inputs
    inputs = load_inputs(SAMPLE / cfg.transactions, SAMPLE / cfg.products, SAMPLE / cfg.customers)
    return pipeline.analyse(job, inputs, date.fromisoformat(AS_OF), customers=False)


def rule(rules: pl.DataFrame, antecedent: str, consequent: str) -> dict[str, object] | None:
    found = rules.filter((pl.col("antecedent") == [antecedent]) & (pl.col("consequent") == [consequent]))
    return found.row(0, named=True) if found.height else None


@pytest.mark.parametrize(("first", "second", "probability"), COMPLEMENTS)
def test_each_planted_complement_is_a_category_rule(analysis, first, second, probability):
    found = rule(analysis.category_rules, first, second)
    assert found is not None, f"{first} -> {second} not among {analysis.category_rules.height} rules"
    # Each line of the first category brings one of the second with the planted probability, so
    # the share of baskets with the first that also hold the second is at least about that much
    # (some of those lines merge with a line the shopper had picked anyway), and more often than
    # the second category turns up in baskets at large (lift above 1, independence).
    assert found["confidence"] >= SHARE_KEPT * probability
    assert found["lift"] > 1


@pytest.mark.parametrize(("first", "second", "probability"), COMPLEMENTS)
def test_each_planted_complement_links_products_of_the_two_categories(analysis, first, second, probability):
    category = dict(zip(analysis.products["sku"], analysis.products["category"], strict=True))
    linked = analysis.rules.filter(
        pl.col("antecedent").list.first().replace_strict(category) == first,
        pl.col("consequent").list.first().replace_strict(category) == second,
    )
    assert linked.height >= 1
    assert linked["lift"].max() > 1


def test_the_planted_pairs_are_the_strongest_category_rules(analysis):
    planted = [sorted((a, b)) for a, b, _ in COMPLEMENTS]
    rules = analysis.category_rules.with_columns(
        pl.concat_list("antecedent", "consequent").list.sort().alias("pair")
    )
    weakest_planted = rules.filter(pl.col("pair").is_in(planted))["lift"].min()
    others = rules.filter(~pl.col("pair").is_in(planted))
    # Household tastes link some other categories too (beer and tobacco), but more weakly.
    assert others.is_empty() or others["lift"].max() < weakest_planted
