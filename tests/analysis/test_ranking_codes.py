from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from coupongen.analysis import item_models, item_scoring, ranking_codes
from coupongen.analysis.item_models import PurchaseMatrix
from coupongen.analysis.ranking_codes import Part


def part(rows: list[tuple[int, int, float, int]], anchors: list[int] | None = None) -> Part:
    """A source's candidates from (customer, sku, score, rank) rows."""
    customer, sku, score, rank = (np.array(c) for c in zip(*rows, strict=True))
    return Part(
        customer.astype(np.int64),
        sku.astype(np.int64),
        score.astype(np.float64),
        rank.astype(np.int32),
        None if anchors is None else np.array(anchors, np.int64),
    )


def test_the_union_keeps_each_customers_best_pairs_by_best_rank_then_votes_then_sku():
    parts = {
        "a": part([(0, 5, 0.9, 1), (0, 3, 0.8, 2), (1, 4, 0.7, 1)], anchors=[10, 11, 12]),
        "b": part([(0, 3, 0.6, 1), (0, 7, 0.5, 2), (1, 2, 0.4, 1)], anchors=[20, -1, 21]),
    }
    wide = ranking_codes.union(parts, {"a": 2, "b": 2}, cap=2, n_skus=8)
    # customer 0: sku 5 (a's 1st), 3 (a's 2nd, b's 1st) and 7 (b's 2nd); best rank 1 for 5 and 3,
    # and 3 has more votes (1/2 + 1) than 5 (1 + 1/3): both kept, 7 left out
    # customer 1: 4 and 2 both best rank 1 with equal votes: both fit the cap
    assert wide["customer"].tolist() == [0, 0, 1, 1]
    assert wide["sku"].tolist() == [3, 5, 2, 4]
    assert wide["a_rank"].tolist() == [2, 1, 3, 1]
    assert wide["b_rank"].tolist() == [1, 3, 1, 3]
    assert wide["a_score"].tolist() == [0.8, 0.9, 0.0, 0.7]
    assert wide["n_sources"].tolist() == [2, 1, 1, 1]
    assert wide["anchor"].tolist() == [11, 10, 21, 12]
    assert wide["a_rank"].dtype == np.int32 and wide["n_sources"].dtype == np.int32


def test_a_tie_on_rank_and_votes_goes_to_the_first_sku():
    parts = {"a": part([(0, 6, 0.5, 1), (0, 2, 0.5, 1), (0, 4, 0.5, 1)])}
    wide = ranking_codes.union(parts, {"a": 3}, cap=2, n_skus=8)
    assert wide["sku"].tolist() == [2, 4]


def test_the_votes_are_added_as_polars_adds_them():
    # 1/17 + 1/41 + ... in another order can differ in the last bit; the pairs' order must not
    depth = {name: 40 for name in "abcdef"}
    ranks = {"a": (17, 41), "b": (41, 17), "c": (21, 21), "d": (21, 21), "e": (16, 16), "f": (11, 11)}
    parts = {name: part([(0, 1, 1.0, r[0]), (0, 2, 1.0, r[1])]) for name, r in ranks.items()}
    frame = pl.DataFrame({name: list(r) for name, r in ranks.items()}, schema=dict.fromkeys(ranks, pl.Int32))
    votes = frame.select(pl.sum_horizontal([1.0 / pl.col(n) for n in ranks])).to_series().to_list()
    first = 1 if votes[0] > votes[1] else 2 if votes[1] > votes[0] else 1
    wide = ranking_codes.union(parts, depth, cap=1, n_skus=3)
    assert wide["sku"].tolist() == [first]


def test_lists_skip_what_each_customer_bought_and_rank_the_rest():
    recent = pl.DataFrame({"customer_id": ["c1", "c1", "c2"], "sku": ["p2", "p9", "p1"]})
    purchases = item_models.purchase_matrix(recent.with_columns(pl.lit(True).alias("in_lookback")))
    segments = pl.DataFrame({"customer_id": ["c1"], "segment": ["dairy"]})
    lists = pl.DataFrame({"segment": ["dairy"] * 3, "sku": ["p3", "p2", "p1"], "score": [3.0, 2.0, 1.0]})
    codes = ranking_codes.encode(recent, pl.Series(["p1", "p2", "p3"]), purchases, segments, lists)
    block = ranking_codes.block_of(codes, pl.Series(["c0", "c1", "c2"]))
    assert block.known.tolist() == [-1, 0, 1]
    popular = ranking_codes.listed(codes, block, np.array([0, 1, 2]), np.array([9.0, 8.0, 7.0]), 2)
    # c0 bought nothing: p1, p2; c1 bought p2 (and p9, not promotable): p1, p3; c2 bought p1: p2, p3
    assert list(zip(popular.customer.tolist(), popular.sku.tolist(), popular.rank.tolist(), strict=True)) == [
        (0, 0, 1), (0, 1, 2), (1, 0, 1), (1, 2, 2), (2, 1, 1), (2, 2, 2),
    ]  # fmt: skip
    segment = ranking_codes.segmented(codes, block, 5)
    assert segment.customer.tolist() == [1, 1] and segment.sku.tolist() == [2, 0]
    assert segment.score.tolist() == [3.0, 1.0] and segment.rank.tolist() == [1, 2]


def test_anchors_go_to_the_largest_contribution_then_the_first_item():
    pair = np.array([0, 0, 0, 1, 1, 2])
    items = np.array([5, 2, 7, 3, 1, 4])
    contribution = np.array([1.0, 2.0, 2.0, 0.5, 0.5, -1.0])
    assert item_scoring.best_anchors(pair, items, contribution).tolist() == [2, 1, 4]


@pytest.mark.parametrize("n_cols", [90, 2013])
def test_the_dense_top_k_by_partition_keeps_the_positive_values_of_the_full_selection(n_cols):
    rng = np.random.default_rng(3)
    values = np.round(rng.normal(0.0, 1.0, size=(40, n_cols)), 1)  # rounded: many ties
    values[rng.random(values.shape) < 0.05] = -np.inf
    values[0] = -1.0  # no positive value
    values[1, 7::50] = 0.5  # fewer positive values than k, all tied
    values[1, values[1] != 0.5] = -0.5
    for k in (30, 60):
        rows, cols, vals = item_scoring._top_positive(values.copy(), k)
        full_rows, full_cols, full_vals = item_models.top_by_partition(values.copy(), k)
        keep = full_vals > 0
        assert k > item_models.ARGMAX_TOP
        assert np.array_equal(rows, full_rows[keep]) and np.array_equal(cols, full_cols[keep])
        assert np.array_equal(vals, full_vals[keep])
        assert 1 in rows and 0 not in rows
    # wide rows take the groups' bound, narrow ones the exact k-th value
    assert (n_cols // item_scoring.FLOOR_GROUP > 60) == (n_cols == 2013)


def test_customers_without_a_modelled_purchase_get_no_dense_scores():
    matrix = PurchaseMatrix(
        matrix=sp.csr_matrix(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])),
        customers=pl.Series("customer_id", ["a", "b", "c"]),
        items=pl.Series("sku", ["x", "y", "z"]),
    )
    weights = np.array([[0.0, 0.5, 0.2], [0.4, 0.0, 0.1], [0.3, 0.3, 0.0]])
    model = item_models.ItemModel(method="ease", columns=np.arange(3), weights=weights)
    got = item_scoring.score_customers(matrix, model, top_n=2)
    assert got.select("customer_id", "sku", "rank", "anchor").rows() == [
        ("a", "y", 1, "x"), ("a", "z", 2, "x"), ("c", "x", 1, "y"), ("c", "z", 2, "y"),
    ]  # fmt: skip
