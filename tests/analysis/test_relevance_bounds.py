"""Upper bounds of each customer's cross-sell priority: never below the score of their best pick."""

from __future__ import annotations

import polars as pl
import pytest

from coupongen.analysis.item_models import ModelSpec
from coupongen.analysis.relevance import Ranker
from coupongen.analysis.relevance_bounds import priority_bounds
from tests.analysis.test_relevance import AB, BASKETS, BC, CD, KNN, RULES, bought, products


def _bounds(ranker: Ranker, customers: list[str]) -> dict[str, float]:
    found = priority_bounds(ranker, pl.Series(customers))
    assert found is not None
    return dict(zip(found["customer_id"], found["bound"], strict=True))


def test_knn_bounds_computed_by_hand():
    # item-kNN (3 neighbours, no discount): A's best weight towards an offered product is AB, B's
    # AB, C's BC (D may not be promoted), D's CD, E has no neighbour; the rule B -> C (0.4) fires
    # for U1, E -> B (0.3) for U5; the most bought offered products are B and C (3 of 5).
    facts = bought({**BASKETS, "U5": "E"})
    ranker = Ranker(facts, products(restricted="D"), rules=RULES, top_n=2, spec=KNN)
    got = _bounds(ranker, ["U1", "U2", "U3", "U4", "U5", "nobody"])
    expected = {"U1": 2 * AB, "U2": 2 * AB + BC, "U3": AB + BC, "U4": BC + CD, "U5": 0.6, "nobody": 0.6}
    assert got == pytest.approx(expected, rel=1e-6)
    assert all(got[c] >= expected[c] for c in expected)


@pytest.mark.parametrize("spec", [ModelSpec(), KNN, ModelSpec(weighting="recency")])
def test_no_customer_is_ranked_above_their_bound(spec):
    facts = bought({**BASKETS, "U5": "E", "U6": "ABE", "U7": "DE"}, old={"U4": "A"})
    ranker = Ranker(facts, products(restricted="D"), rules=RULES, top_n=3, spec=spec)
    customers = ["U1", "U2", "U3", "U4", "U5", "U6", "U7", "nobody"]
    best = ranker.rank(customers).filter(pl.col("rank") == 1)
    bounds = _bounds(ranker, customers)
    assert best.height == len(customers)
    for customer, score in best.select("customer_id", "score").iter_rows():
        assert score <= bounds[customer]


def test_a_customer_who_bought_every_offered_product_may_get_no_pick():
    facts = bought({"U1": "AB", "U2": "A"})
    ranker = Ranker(facts, products("ABC", restricted="C"), spec=KNN)
    found = priority_bounds(ranker, pl.Series(["U1", "U2"]))
    assert found is not None
    assert found["listed"].to_list() == [False, True]
    assert ranker.rank(["U1"]).is_empty()


def test_scores_computed_elsewhere_have_no_bounds():
    facts = bought(BASKETS)
    scored = Ranker(facts, products()).rank()
    assert priority_bounds(Ranker(facts, products(), scored=scored), pl.Series(["U1"])) is None
