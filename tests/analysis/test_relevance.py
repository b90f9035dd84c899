from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.analysis import item_models, relevance
from coupongen.analysis.item_models import ModelSpec, fit_ease, fit_item_knn, purchase_matrix
from coupongen.analysis.item_scoring import score_customers
from coupongen.analysis.relevance import recommend
from coupongen.errors import InputError

# Four products bought by four customers:        A  B  C  D
#   U1 bought A, B                                 1  1  0  0
#   U2 bought A, B, C                              1  1  1  0
#   U3 bought B, C                                 0  1  1  0
#   U4 bought C, D                                 0  0  1  1
# buyers: A 2, B 3, C 3, D 1; bought together: AB 2, AC 1, BC 2, CD 1 (AD and BD never), so the
# cosine similarities are AB 2/sqrt(6), AC 1/sqrt(6), BC 2/3, CD 1/sqrt(3).
BASKETS = {"U1": "AB", "U2": "ABC", "U3": "BC", "U4": "CD"}
AB, AC, BC, CD = 2 / math.sqrt(6), 1 / math.sqrt(6), 2 / 3, 1 / math.sqrt(3)


def bought(
    baskets: Mapping[str, Iterable[str]], *, old: Mapping[str, Iterable[str]] | None = None, receipts: int = 2
) -> pl.DataFrame:
    """customer_products-style rows: in the look-back window, or bought before it (``old``); a
    customer's skus are one character each in a string, or a list.
    """
    rows = [(c, s, receipts, True, 10) for c, skus in baskets.items() for s in skus]
    rows += [(c, s, receipts, False, 400) for c, skus in (old or {}).items() for s in skus]
    return pl.DataFrame(
        rows,
        schema={
            "customer_id": pl.String,
            "sku": pl.String,
            "receipts": pl.Int32,
            "in_lookback": pl.Boolean,
            "days_since_last": pl.Int32,
        },
        orient="row",
    )


def products(skus: str = "ABCDE", restricted: str = "") -> pl.DataFrame:
    return pl.DataFrame({"sku": list(skus), "promo_allowed": [s not in restricted for s in skus]})


def scores(rows: list[tuple[str, str, int, float, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "customer_id": pl.String,
            "sku": pl.String,
            "rank": pl.Int32,
            "score": pl.Float64,
            "anchor": pl.String,
        },
        orient="row",
    )


def knn_scores(baskets: dict[str, str], top_n: int = 2, **options) -> pl.DataFrame:
    matrix = purchase_matrix(bought(baskets))
    return score_customers(matrix, fit_item_knn(matrix, **options), top_n=top_n)


# --- the matrix ------------------------------------------------------------------------------------


def test_the_matrix_holds_the_look_back_window_only_binary_or_by_recency():
    facts = bought({"U1": "AB"}, old={"U2": "A"}).with_columns(
        pl.Series("days_since_last", [0, 120, 400], dtype=pl.Int32)
    )
    binary = purchase_matrix(facts)
    assert binary.customers.to_list() == ["U1"] and binary.items.to_list() == ["A", "B"]
    assert binary.matrix.toarray().tolist() == [[1.0, 1.0]]
    recency = purchase_matrix(facts, weighting="recency", half_life_days=120)
    assert recency.matrix.toarray().tolist() == [[1.0, 0.5]]  # bought one half-life ago: half the weight


# --- item-kNN --------------------------------------------------------------------------------------


def test_item_knn_scores_computed_by_hand():
    got = knn_scores(BASKETS, neighbours=3, popularity_discount=0.0)
    expected = scores(
        [
            ("U1", "C", 1, AC + BC, "B"),  # B contributes 2/3, A 1/sqrt(6): B is the anchor
            ("U2", "D", 1, CD, "C"),
            ("U3", "A", 1, AB + AC, "B"),
            ("U3", "D", 2, CD, "C"),
            ("U4", "B", 1, BC, "C"),
            ("U4", "A", 2, AC, "C"),
        ]
    )
    assert_frame_equal(got, expected)


def test_item_knn_keeps_only_the_nearest_neighbours():
    # one neighbour each: A -> B, B -> A, C -> B, D -> C; U1 and U2 own every neighbour they have
    got = knn_scores(BASKETS, neighbours=1, popularity_discount=0.0)
    assert_frame_equal(got, scores([("U3", "A", 1, AB, "B"), ("U4", "B", 1, BC, "C")]))


def test_item_knn_popularity_discount_lifts_the_rarer_product():
    # divided by buyers squared: A (2 buyers) scores 3/sqrt(6) / 4 and falls behind D (1 buyer)
    got = knn_scores({"U3": "BC", **BASKETS}, neighbours=3, popularity_discount=2.0)
    u3 = got.filter(pl.col("customer_id") == "U3")
    assert u3["sku"].to_list() == ["D", "A"]
    assert u3["score"].to_list() == pytest.approx([CD, (AB + AC) / 4])


def test_equal_scores_go_to_the_first_sku():
    got = knn_scores({"U1": "A", "U2": "AC", "U3": "AB"}, neighbours=3, popularity_discount=0.0)
    u1 = got.filter(pl.col("customer_id") == "U1")
    assert u1["sku"].to_list() == ["B", "C"]
    assert u1["score"][0] == u1["score"][1]


# --- EASE ------------------------------------------------------------------------------------------


def test_ease_weights_and_scores_computed_by_hand():
    # Two separate pairs: U1 A+B, U2 A, U3 C+D, U4 C+D, U5 D. With lambda 1, G = X'X + I is
    # [[3, 1], [1, 2]] on A, B (inverse [[2, -1], [-1, 3]] / 5) and [[3, 2], [2, 4]] on C, D
    # (inverse [[4, -2], [-2, 3]] / 8). B[i, j] = -P[i, j] / P[j, j]:
    # A->B (1/5)/(3/5) = 1/3, B->A (1/5)/(2/5) = 1/2, C->D (2/8)/(3/8) = 2/3, D->C (2/8)/(4/8) = 1/2.
    matrix = purchase_matrix(bought({"U1": "AB", "U2": "A", "U3": "CD", "U4": "CD", "U5": "D"}))
    model = fit_ease(matrix, lam=1.0)
    expected = np.array([[0, 1 / 3, 0, 0], [1 / 2, 0, 0, 0], [0, 0, 0, 2 / 3], [0, 0, 1 / 2, 0]])
    np.testing.assert_allclose(model.weights, expected, atol=1e-12)
    got = score_customers(matrix, model, top_n=3)
    assert_frame_equal(got, scores([("U2", "B", 1, 1 / 3, "A"), ("U5", "C", 1, 1 / 2, "D")]))


def test_ease_columns_solve_the_ridge_regression_of_each_product_on_the_others():
    rng = np.random.default_rng(3)
    baskets = {f"U{i}": "".join(s for s in "ABCDEFGH" if rng.random() < 0.4) or "A" for i in range(40)}
    matrix = purchase_matrix(bought(baskets))
    lam = 5.0
    weights = fit_ease(matrix, lam=lam).weights
    x = matrix.matrix.toarray()
    for j in range(x.shape[1]):
        others = [i for i in range(x.shape[1]) if i != j]
        a = x[:, others]
        solution = np.linalg.solve(a.T @ a + lam * np.eye(len(others)), a.T @ x[:, j])
        np.testing.assert_allclose(weights[others, j], solution, atol=1e-10)
        assert weights[j, j] == 0


def test_ease_models_the_most_bought_products_only():
    # buyers: A 2, B 1, C 2, D 3; A and C tie, the first in sku order stays
    matrix = purchase_matrix(bought({"U1": "AB", "U2": "A", "U3": "CD", "U4": "CD", "U5": "D"}))
    model = fit_ease(matrix, max_items=2)
    assert matrix.items.gather(model.columns).to_list() == ["A", "D"]


# --- recommendations -------------------------------------------------------------------------------


RULES = pl.DataFrame(
    {
        "antecedent": [["B"], ["E"]],
        "consequent": [["C"], ["B"]],
        "confidence": [0.4, 0.3],
        "lift": [1.5, 2.0],
    }
)
KNN = ModelSpec(method="knn", neighbours=3, popularity_discount=0.0)


def test_recommend_ranks_explains_and_fills_without_restricted_or_bought_products():
    facts = bought({**BASKETS, "U5": "E"}, old={"U4": "A"})
    got = recommend(facts, products(restricted="D"), rules=RULES, top_n=2, spec=KNN)
    expected = pl.DataFrame(
        [
            # B -> C is a rule: its lift and confidence explain the model's choice
            ("U1", "C", 1, AC + BC, "knn", "B", 1.5, 0.4),
            ("U1", "E", 2, 1 / 5, "popular", None, None, None),  # the only product left to offer
            # D may not be promoted; nothing else links to U2's products: the most bought left
            ("U2", "E", 1, 1 / 5, "popular", None, None, None),
            ("U3", "A", 1, AB + AC, "knn", "B", None, None),
            ("U3", "E", 2, 1 / 5, "popular", None, None, None),
            # U4 bought A before the window: it may be offered again
            ("U4", "B", 1, BC, "knn", "C", None, None),
            ("U4", "A", 2, AC, "knn", "C", None, None),
            # E has no co-buyer: the rule E -> B, then popularity (C: 3 of 5 customers)
            ("U5", "B", 1, 0.3, "rule", "E", 2.0, 0.3),
            ("U5", "C", 2, 3 / 5, "popular", None, None, None),
        ],
        schema=relevance.RECOMMENDATION_SCHEMA,
        orient="row",
    )
    assert_frame_equal(got, expected)


def test_recommend_ranks_the_customers_asked_for_even_without_purchases_in_the_window():
    facts = bought(BASKETS, old={"U9": "B"})
    got = recommend(facts, products(), customers=["U9", "U3", "nobody"], top_n=2, spec=KNN)
    assert got.filter(pl.col("customer_id") == "U3")["sku"].to_list() == ["A", "D"]
    # U9 (and an unknown id) bought nothing in the window: the most bought products, B included
    assert got.filter(pl.col("customer_id") == "U9").select("sku", "source").rows() == [
        ("B", "popular"),
        ("C", "popular"),
    ]
    assert got["customer_id"].unique().sort().to_list() == ["U3", "U9", "nobody"]


def test_recommend_never_offers_restricted_or_already_bought_products_with_either_model():
    facts = bought({**BASKETS, "U5": "AE", "U6": "BD", "U7": "ACE"})
    for spec in (ModelSpec(), ModelSpec(method="knn"), ModelSpec(weighting="recency")):
        got = recommend(facts, products(restricted="C"), rules=RULES, top_n=4, spec=spec)
        assert "C" not in got["sku"].to_list()
        assert got.join(facts, on=["customer_id", "sku"]).is_empty()


def test_recommend_is_deterministic_whatever_the_row_order():
    facts = bought({**BASKETS, "U5": "AE", "U6": "BD", "U7": "ACE", "U8": "BCE"})
    first = recommend(facts, products(), rules=RULES, top_n=3)
    for seed in range(3):
        again = recommend(
            facts.sample(fraction=1.0, shuffle=True, seed=seed), products(), rules=RULES, top_n=3
        )
        assert_frame_equal(again, first)


def test_popular_unbought_and_global_popularity():
    facts = bought(BASKETS)
    unbought = relevance.popular_unbought(facts, products(restricted="B"), ["U1", "U4"], top_n=2)
    # buyers C 3, A 2, D 1 once B is restricted
    assert unbought.select("customer_id", "sku").rows() == [("U1", "C"), ("U1", "D"), ("U4", "A")]
    both = relevance.popular_unbought(facts, products(restricted="B"), ["U1"], top_n=2, exclude_bought=False)
    assert both["sku"].to_list() == ["C", "A"]


def test_large_neighbour_counts_select_the_same_as_small_ones():
    rng = np.random.default_rng(5)
    values = rng.integers(0, 6, size=(50, 40)).astype(float)  # plenty of ties
    values[values == 0] = -np.inf
    small = item_models.top_per_row(values.copy(), 30)
    large = item_models.top_by_partition(values.copy(), 30)
    for a, b in zip(small, large, strict=True):
        np.testing.assert_array_equal(a, b)


def test_unknown_settings_and_missing_columns_are_named():
    with pytest.raises(ValueError, match="Unknown ranking method 'als'; allowed: ease, knn"):
        ModelSpec(method="als")
    with pytest.raises(ValueError, match="Unknown weighting 'log'; allowed: binary, recency"):
        ModelSpec(weighting="log")
    with pytest.raises(
        InputError, match=r"^bought frame: missing required columns 'in_lookback', 'receipts'$"
    ):
        recommend(bought(BASKETS).drop("in_lookback", "receipts"), products())


@pytest.mark.parametrize("weighting", ["binary", "recency"])
def test_the_matrix_of_sorted_facts_is_the_matrix_of_the_same_facts_in_any_order(weighting):
    facts = bought(BASKETS, old={"U5": "A"}).with_columns(
        days_since_last=pl.int_range(pl.len()).cast(pl.Int32) * 7
    )
    in_order = purchase_matrix(facts.sort("customer_id", "sku"), weighting=weighting)
    shuffled = purchase_matrix(facts.reverse(), weighting=weighting)
    assert item_models._coded_in_order(facts.filter("in_lookback").sort("customer_id", "sku")) is not None
    assert item_models._coded_in_order(facts.filter("in_lookback").reverse()) is None
    assert_frame_equal(in_order.customers.to_frame(), shuffled.customers.to_frame())
    assert in_order.items.to_list() == shuffled.items.to_list() == ["A", "B", "C", "D"]
    assert (in_order.matrix != shuffled.matrix).nnz == 0
    np.testing.assert_array_equal(in_order.matrix.indptr, shuffled.matrix.indptr)
