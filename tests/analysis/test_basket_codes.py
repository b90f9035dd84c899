"""Tests of the integer coding of baskets that rule mining counts on."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal, assert_series_equal

from coupongen.analysis.affinity import mine_rules
from coupongen.analysis.basket_codes import CODED_SCHEMA, count_baskets, encode_baskets


def _frame(rows: list[tuple[str | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"receipt_id": pl.String, "item": pl.String}, orient="row")


def test_sorted_baskets_are_numbered_by_runs_and_items_by_name() -> None:
    coded = encode_baskets(_frame([("r1", "b"), ("r1", "c"), ("r2", "a"), ("r2", "b"), ("r3", "c")]))
    assert coded.n_baskets == 3
    assert_series_equal(coded.items, pl.Series("item", ["a", "b", "c"]))
    assert coded.item_counts.tolist() == [1, 2, 2]
    expected = pl.DataFrame({"basket": [0, 0, 1, 1, 2], "item": [1, 2, 0, 1, 2]}, schema=CODED_SCHEMA)
    assert_frame_equal(coded.lines, expected)  # the order kept: these lines needed no deduplication


def test_a_line_repeated_within_a_sorted_receipt_counts_once() -> None:
    coded = encode_baskets(_frame([("r1", "b"), ("r1", "b"), ("r1", "a"), ("r2", "a")]))
    assert coded.item_counts.tolist() == [2, 1]
    assert sorted(coded.lines.rows()) == [(0, 0), (0, 1), (1, 0)]


def test_unsorted_repeated_and_null_lines_count_once_and_rare_items_go() -> None:
    rows = [("r2", "b"), ("r1", "c"), ("r2", "b"), (None, "a"), ("r1", None), ("r3", "a"), ("r1", "b")]
    coded = encode_baskets(_frame(rows), lambda n_baskets: 2)
    assert coded.n_baskets == 3  # r1, r2 and r3; the null receipt is no basket
    assert_series_equal(coded.items, pl.Series("item", ["b"]))  # a and c are in one basket each
    assert coded.item_counts.tolist() == [2]
    assert sorted(coded.lines.rows()) == [(0, 0), (1, 0)]


def test_no_lines_give_no_baskets() -> None:
    coded = encode_baskets(_frame([(None, "a")]))
    assert (coded.n_baskets, coded.lines.height, len(coded.items)) == (0, 0, 0)


def test_count_baskets_sorted_or_not() -> None:
    assert count_baskets(pl.Series(["r1", "r1", "r2", None])) == 2
    assert count_baskets(pl.Series(["r2", "r1", "r2"])) == 2
    assert count_baskets(pl.Series([], dtype=pl.String)) == 0


@settings(max_examples=40, deadline=None)
@given(
    baskets=st.lists(st.sets(st.sampled_from("abcdef"), min_size=1, max_size=4), min_size=1, max_size=30),
    seed=st.integers(0, 2**16),
)
def test_rules_do_not_depend_on_row_order_or_repeated_lines(baskets: list[set[str]], seed: int) -> None:
    rows = [(f"r{i:03d}", item) for i, items in enumerate(baskets) for item in sorted(items)]
    shuffled = rows + rows[: len(rows) // 2]
    random.Random(seed).shuffle(shuffled)
    for method in ("pairs", "mlxtend"):
        options = {"min_support": 0.05, "min_confidence": 0.0, "min_lift": 0.0, "method": method}
        assert_frame_equal(mine_rules(_frame(rows), **options), mine_rules(_frame(shuffled), **options))


def test_integer_receipt_ids_are_baskets_too() -> None:
    frame = pl.DataFrame({"receipt_id": [7, 3, 7, 3, 9], "item": ["a", "a", "b", "b", "a"]})
    coded = encode_baskets(frame)
    assert coded.n_baskets == 3
    assert np.array_equal(coded.item_counts, [3, 2])
