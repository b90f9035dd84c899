"""Tests of the product affinity stage: baskets, association rules and their wording."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlxtend.frequent_patterns import association_rules, fpgrowth
from polars.testing import assert_frame_equal

from coupongen.analysis import affinity
from coupongen.analysis.affinity import (
    RULES_SCHEMA,
    build_baskets,
    describe_rule,
    level_baskets,
    level_lines,
    mine_rules,
)
from coupongen.errors import InputError
from coupongen.inputs.loading import load_inputs

INF = math.inf
BASKETS_SCHEMA = {"receipt_id": pl.String, "item": pl.String}
PRODUCTS = pl.DataFrame(
    {
        "sku": ["A", "B", "C", "D", "E"],
        "name": ["Spaghetti 500g", "Penne 500g", "Tomato sauce", "Red wine", "Parmesan"],
        "category": ["pasta", "pasta", "sauce", "wine", None],
        "brand": ["Nonna", "Nonna", "Rosso", "Vino", "Casa"],
        "price": [1.2, 1.3, 2.5, 7.9, 4.5],
        "promo_allowed": [True, True, True, False, True],
    }
)


def _transactions(rows: list[tuple[str, str | None, str, float]]) -> pl.DataFrame:
    """Receipt lines from (receipt_id, customer_id, sku, quantity); other columns filled in."""
    schema = {"receipt_id": pl.String, "customer_id": pl.String, "sku": pl.String}
    lines = pl.DataFrame(rows, schema=schema | {"quantity": pl.Float64}, orient="row")
    return lines.select(
        "receipt_id",
        "customer_id",
        pl.lit(datetime(2024, 5, 1, 10, 0)).alias("ts"),
        pl.lit("S1").alias("store_id"),
        "sku",
        "quantity",
        (pl.col("quantity") * 2.0).alias("amount"),
    )


TRANSACTIONS = _transactions(
    [
        ("r1", "c1", "A", 1.0),
        ("r1", "c1", "B", 2.0),
        ("r1", "c1", "B", -2.0),  # returned on the same receipt: not bought
        ("r2", None, "A", 1.0),  # anonymous customer: still a basket
        ("r2", None, "A", 1.0),
        ("r2", None, "C", 1.0),
        ("r3", "c2", "D", -1.0),  # a receipt of returns only: no basket
        ("r4", "c3", "E", 1.0),  # E has no category
        ("r4", "c3", "Z", 1.0),  # Z is not in the product master
        ("r5", "c1", "A", 1.0),  # exchange of B for A within the category
        ("r5", "c1", "B", -1.0),
    ]
)


def _baskets(baskets: dict[str, list[str]]) -> pl.DataFrame:
    rows = [(receipt, item) for receipt, items in baskets.items() for item in items]
    return pl.DataFrame(rows, schema=BASKETS_SCHEMA, orient="row")


# Five hand-checked baskets: pasta 3, sauce 3, cheese 2, bread 1; pasta+sauce 2, pasta+cheese 2,
# cheese+sauce 1, cheese+pasta+sauce 1.
FIVE_BASKETS = _baskets(
    {
        "b1": ["pasta", "sauce", "cheese"],
        "b2": ["pasta", "sauce"],
        "b3": ["pasta", "cheese"],
        "b4": ["sauce"],
        "b5": ["bread"],
    }
)


def _rules(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=RULES_SCHEMA, orient="row")


def _assert_same_rules(left: pl.DataFrame, right: pl.DataFrame) -> None:
    assert_frame_equal(left, right, check_exact=False, rel_tol=0, abs_tol=1e-12)


def _random_baskets(seed: int, n_baskets: int = 400, n_items: int = 25) -> pl.DataFrame:
    """Baskets with Zipf-like item popularity and two planted affinities."""
    rng = np.random.default_rng(seed)
    popularity = 1 / np.arange(1, n_items + 1)
    popularity /= popularity.sum()
    rows = []
    for receipt in range(n_baskets):
        items = set(rng.choice(n_items, size=int(rng.integers(1, 8)), p=popularity).tolist())
        if 0 in items and rng.random() < 0.6:
            items.add(7)
        if {1, 2} <= items and rng.random() < 0.8:
            items.add(11)
        rows += [(f"r{receipt:04d}", f"sku{item:02d}") for item in items]
    return pl.DataFrame(rows, schema=BASKETS_SCHEMA, orient="row")


# build_baskets


def test_sku_baskets_keep_items_with_positive_net_quantity() -> None:
    expected = pl.DataFrame(
        {
            "receipt_id": ["r1", "r2", "r2", "r4", "r4", "r5"],
            "item": ["A", "A", "C", "E", "Z", "A"],
        }
    )
    assert_frame_equal(build_baskets(TRANSACTIONS, PRODUCTS), expected)


def test_category_baskets_map_bought_skus_to_their_category() -> None:
    # r4 bought only E (no category) and Z (unknown sku): no category basket. r5 exchanged B for
    # A: pasta was bought although the category's net quantity is zero.
    expected = pl.DataFrame(
        {
            "receipt_id": ["r1", "r2", "r2", "r5"],
            "item": ["pasta", "pasta", "sauce", "pasta"],
        }
    )
    assert_frame_equal(build_baskets(TRANSACTIONS, PRODUCTS, level="category"), expected)


def test_category_baskets_accept_a_categorical_category_column() -> None:
    products = PRODUCTS.with_columns(pl.col("category").cast(pl.Categorical))
    baskets = build_baskets(TRANSACTIONS, products, level="category")
    assert baskets.schema == pl.Schema(BASKETS_SCHEMA)
    assert baskets["item"].to_list() == ["pasta", "pasta", "sauce", "pasta"]


def test_baskets_from_a_lazy_frame_equal_those_from_a_data_frame() -> None:
    assert_frame_equal(
        build_baskets(TRANSACTIONS.lazy(), PRODUCTS, level="category"),
        build_baskets(TRANSACTIONS, PRODUCTS, level="category"),
    )


def test_unknown_basket_level_names_the_allowed_levels() -> None:
    with pytest.raises(ValueError, match=r"^Unknown basket level 'brand'; allowed: category, sku$"):
        build_baskets(TRANSACTIONS, PRODUCTS, level="brand")


def test_missing_transaction_columns_are_named_sorted() -> None:
    with pytest.raises(InputError) as raised:
        build_baskets(TRANSACTIONS.drop("sku", "quantity"), PRODUCTS)
    assert str(raised.value) == "transactions frame: missing required columns 'quantity', 'sku'"


def test_category_level_needs_the_category_column() -> None:
    with pytest.raises(InputError, match=r"^products frame: missing required column 'category'$"):
        build_baskets(TRANSACTIONS, PRODUCTS.drop("category"), level="category")


def test_sku_level_does_not_read_products() -> None:
    assert build_baskets(TRANSACTIONS, PRODUCTS.drop("category")).height == 6


# mine_rules: known answers


@pytest.mark.parametrize("method", ["pairs", "mlxtend"])
def test_pair_rules_of_five_baskets_match_hand_computed_metrics(method: str) -> None:
    # support(pasta) = support(sauce) = 3/5, support(cheese) = 2/5; the cheese+sauce pair (1/5)
    # and bread (1/5) are below min_support 2/5.
    expected = _rules(
        [
            # antecedent, consequent, supp(A), supp(B), supp(AB), confidence, lift, leverage,
            # conviction, counts A, B, AB, N
            (["cheese"], ["pasta"], 2 / 5, 3 / 5, 2 / 5, 1.0, 5 / 3, 4 / 25, INF, 2, 3, 2, 5),
            # lift (2/3)/(2/5); leverage 2/5 - 6/25; conviction (3/5)/(1/3)
            (["pasta"], ["cheese"], 3 / 5, 2 / 5, 2 / 5, 2 / 3, 5 / 3, 4 / 25, 9 / 5, 3, 2, 2, 5),
            # lift (2/3)/(3/5); leverage 2/5 - 9/25; conviction (2/5)/(1/3)
            (["pasta"], ["sauce"], 3 / 5, 3 / 5, 2 / 5, 2 / 3, 10 / 9, 1 / 25, 6 / 5, 3, 3, 2, 5),
            (["sauce"], ["pasta"], 3 / 5, 3 / 5, 2 / 5, 2 / 3, 10 / 9, 1 / 25, 6 / 5, 3, 3, 2, 5),
        ]
    )
    rules = mine_rules(FIVE_BASKETS, min_support=0.4, min_confidence=0.5, method=method)
    assert_frame_equal(rules, expected, check_exact=True)


@pytest.mark.parametrize("method", ["pairs", "mlxtend"])
def test_confidence_and_lift_thresholds_drop_weaker_rules(method: str) -> None:
    by_lift = mine_rules(FIVE_BASKETS, min_support=0.4, min_confidence=0.5, min_lift=1.5, method=method)
    assert by_lift["antecedent"].to_list() == [["cheese"], ["pasta"]]
    by_confidence = mine_rules(FIVE_BASKETS, min_support=0.4, min_confidence=0.7, method=method)
    assert by_confidence.select("antecedent", "consequent").rows() == [(["cheese"], ["pasta"])]


def test_three_item_rule_matches_hand_computed_metrics() -> None:
    rules = mine_rules(
        FIVE_BASKETS, min_support=0.2, min_confidence=0.0, min_lift=0.0, max_len=3, method="mlxtend"
    )
    # cheese+pasta in b1, b3; with sauce in b1 only: confidence 1/2, lift (1/2)/(3/5),
    # leverage 1/5 - (2/5)(3/5), conviction (2/5)/(1/2).
    rule = (["cheese", "pasta"], ["sauce"])
    metrics = (2 / 5, 3 / 5, 1 / 5, 1 / 2, 5 / 6, -1 / 25, 4 / 5)
    expected = _rules([(*rule, *metrics, 2, 3, 1, 5)])
    row = rules.filter(pl.col("antecedent") == ["cheese", "pasta"], pl.col("consequent") == ["sauce"])
    assert_frame_equal(row, expected, check_exact=True)
    assert rules.height == 12  # 6 rules from the three pairs, 6 from cheese+pasta+sauce


def test_auto_mines_pairs_for_two_items_and_uses_mlxtend_beyond() -> None:
    pairs = mine_rules(FIVE_BASKETS, min_support=0.2, min_confidence=0.0, min_lift=0.0)
    assert pairs["antecedent"].list.len().max() == 1
    assert pairs["consequent"].list.len().max() == 1
    triples = mine_rules(FIVE_BASKETS, min_support=0.2, min_confidence=0.0, min_lift=0.0, max_len=3)
    _assert_same_rules(
        triples.filter(pl.col("antecedent").list.len() + pl.col("consequent").list.len() == 2),
        pairs,
    )


@pytest.mark.parametrize("method", ["pairs", "mlxtend"])
@pytest.mark.parametrize("filler", ["rare items", "a lone frequent item"])
def test_support_counts_every_basket_and_min_support_is_exact(method: str, filler: str) -> None:
    # 25 baskets: a+b in 7, a alone in 1, and 17 fillers. Fillers of rare items leave mlxtend's
    # one-hot table but must stay in every denominator. min_support 0.28 is 7 baskets although
    # 0.28 * 25 is 7.000000000000001 in floats.
    fillers = {f"b{i:02d}": [f"rare{i}"] if filler == "rare items" else ["c"] for i in range(9, 26)}
    baskets = _baskets({f"b{i:02d}": ["a", "b"] for i in range(1, 8)} | {"b08": ["a"]} | fillers)
    expected = _rules(
        [
            # lift 1/(8/25); leverage 7/25 - (7/25)(8/25)
            (["b"], ["a"], 7 / 25, 8 / 25, 7 / 25, 1.0, 25 / 8, 119 / 625, INF, 7, 8, 7, 25),
            # lift (7/8)/(7/25); conviction (1 - 7/25)/(1 - 7/8)
            (["a"], ["b"], 8 / 25, 7 / 25, 7 / 25, 7 / 8, 25 / 8, 119 / 625, 144 / 25, 8, 7, 7, 25),
        ]
    )
    rules = mine_rules(baskets, min_support=0.28, min_confidence=0.5, method=method)
    assert_frame_equal(rules, expected, check_exact=True)


def test_mlxtend_sees_only_frequent_items_and_the_baskets_holding_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Guards memory: mlxtend 0.25 densifies its input, so it must never get all items x baskets.
    seen: list[pd.DataFrame] = []

    def spying_fpgrowth(onehot: pd.DataFrame, **options: object) -> pd.DataFrame:
        seen.append(onehot)
        return fpgrowth(onehot, **options)

    import mlxtend.frequent_patterns

    monkeypatch.setattr(mlxtend.frequent_patterns, "fpgrowth", spying_fpgrowth)
    baskets = _baskets({"b1": ["a", "b", "x"], "b2": ["a", "b"], "b3": ["a", "y"], "b4": ["z"], "b5": ["w"]})
    rules = mine_rules(baskets, min_support=0.4, min_confidence=0.0, method="mlxtend")
    (onehot,) = seen
    assert list(onehot.columns) == ["a", "b"]
    assert onehot.shape == (3, 2)
    assert all(isinstance(dtype, pd.SparseDtype) for dtype in onehot.dtypes)
    assert rules["n_baskets"].to_list() == [5, 5]


@pytest.mark.parametrize("method", ["pairs", "mlxtend"])
def test_no_baskets_give_an_empty_frame_with_the_rules_schema(method: str) -> None:
    empty = pl.DataFrame(schema=BASKETS_SCHEMA)
    rules = mine_rules(empty, min_support=0.1, min_confidence=0.1, method=method)
    assert_frame_equal(rules, pl.DataFrame(schema=RULES_SCHEMA))


@pytest.mark.parametrize("method", ["pairs", "mlxtend"])
@pytest.mark.parametrize("min_support", [0.6, 1.0])
def test_no_frequent_pair_gives_an_empty_frame_with_the_rules_schema(method: str, min_support: float) -> None:
    # 0.6: pasta and sauce are frequent alone but not together; 1.0: nothing is frequent.
    rules = mine_rules(FIVE_BASKETS, min_support=min_support, min_confidence=0.0, method=method)
    assert_frame_equal(rules, pl.DataFrame(schema=RULES_SCHEMA))


@pytest.mark.parametrize("method", ["pairs", "mlxtend"])
def test_repeated_and_null_rows_and_row_order_do_not_change_the_rules(method: str) -> None:
    messy = pl.concat(
        [FIVE_BASKETS, FIVE_BASKETS.head(3), pl.DataFrame({"receipt_id": ["b2"], "item": [None]})],
        how="vertical",
    ).sample(fraction=1.0, shuffle=True, seed=7)
    options: dict[str, Any] = {
        "min_support": 0.2,
        "min_confidence": 0.0,
        "min_lift": 0.0,
        "method": method,
    }
    assert_frame_equal(mine_rules(messy, **options), mine_rules(FIVE_BASKETS, **options))


# mine_rules: the two methods agree


@pytest.mark.parametrize(
    ("min_support", "min_confidence", "min_lift"),
    [(0.2, 0.0, 0.0), (0.2, 0.5, 1.0), (0.4, 2 / 3, 1.0), (0.4, 0.0, 10 / 9)],
)
def test_pairs_and_mlxtend_agree_on_five_baskets(
    min_support: float, min_confidence: float, min_lift: float
) -> None:
    options: dict[str, Any] = {
        "min_support": min_support,
        "min_confidence": min_confidence,
        "min_lift": min_lift,
    }
    _assert_same_rules(
        mine_rules(FIVE_BASKETS, method="pairs", **options),
        mine_rules(FIVE_BASKETS, method="mlxtend", **options),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    ("min_support", "min_confidence", "min_lift"),
    [(0.01, 0.0, 0.0), (0.02, 0.1, 1.0), (0.05, 0.3, 1.2)],
)
def test_pairs_and_mlxtend_agree_on_random_baskets(
    seed: int, min_support: float, min_confidence: float, min_lift: float
) -> None:
    baskets = _random_baskets(seed)
    options: dict[str, Any] = {
        "min_support": min_support,
        "min_confidence": min_confidence,
        "min_lift": min_lift,
    }
    by_pairs = mine_rules(baskets, method="pairs", **options)
    _assert_same_rules(by_pairs, mine_rules(baskets, method="mlxtend", **options))
    assert by_pairs.height >= 4


@settings(max_examples=60, deadline=None)
@given(
    baskets=st.lists(st.sets(st.sampled_from("abcdefg"), min_size=1, max_size=5), max_size=40),
    min_support=st.floats(0.01, 1.0),
    min_confidence=st.floats(0.0, 1.0),
    min_lift=st.floats(0.0, 3.0),
)
def test_pairs_and_mlxtend_agree_on_any_baskets(
    baskets: list[set[str]], min_support: float, min_confidence: float, min_lift: float
) -> None:
    frame = _baskets({f"r{i}": sorted(items) for i, items in enumerate(baskets)})
    options: dict[str, Any] = {
        "min_support": min_support,
        "min_confidence": min_confidence,
        "min_lift": min_lift,
    }
    _assert_same_rules(
        mine_rules(frame, method="pairs", **options),
        mine_rules(frame, method="mlxtend", **options),
    )


@pytest.mark.parametrize("max_len", [2, 3])
def test_metrics_match_mlxtend_on_a_dense_one_hot_table(max_len: int) -> None:
    # An independent reference: mlxtend used the textbook way, on every item and every basket.
    baskets = _random_baskets(seed=4, n_baskets=300)
    n_baskets = baskets["receipt_id"].n_unique()
    onehot = baskets.with_columns(pl.lit(True).alias("bought")).pivot(
        on="item", index="receipt_id", values="bought"
    )
    dense = onehot.drop("receipt_id").fill_null(False).to_pandas()
    # Thresholds between attainable values, so float rounding cannot decide a borderline rule.
    min_support, min_confidence = 4.5 / n_baskets, 0.2345
    frequent = fpgrowth(dense, min_support=min_support, use_colnames=True, max_len=max_len)
    reference = association_rules(
        frequent, num_itemsets=n_baskets, metric="confidence", min_threshold=min_confidence
    )
    expected = (
        pl.DataFrame(
            {
                "antecedent": [sorted(items) for items in reference["antecedents"]],
                "consequent": [sorted(items) for items in reference["consequents"]],
            }
            | {
                name.replace(" ", "_"): reference[name].to_numpy()
                for name in [
                    "antecedent support",
                    "consequent support",
                    "support",
                    "confidence",
                    "lift",
                    "leverage",
                    "conviction",
                ]
            }
        )
        .with_columns(
            key=pl.concat_str(pl.col("antecedent").list.join(","), pl.col("consequent").list.join(","))
        )
        .sort("key")
        .drop("key")
    )
    rules = mine_rules(
        baskets,
        min_support=min_support,
        min_confidence=min_confidence,
        min_lift=0.0,
        max_len=max_len,
    )
    actual = (
        rules.with_columns(
            key=pl.concat_str(pl.col("antecedent").list.join(","), pl.col("consequent").list.join(","))
        )
        .sort("key")
        .select(expected.columns)
    )
    assert actual.height > 20
    _assert_same_rules(actual, expected)


# mine_rules: options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"method": "apriori"},
            "Unknown rule mining method 'apriori'; allowed: auto, mlxtend, pairs",
        ),
        (
            {"method": "pairs", "max_len": 3},
            "Method 'pairs' mines two-item rules only (max_len=2), got 3",
        ),
        ({"max_len": 1}, "max_len must be >= 2 (a rule has two items at least), got 1"),
        ({"min_support": 0.0}, "min_support must be in (0, 1], got 0.0"),
        ({"min_support": 1.5}, "min_support must be in (0, 1], got 1.5"),
        ({"min_confidence": -0.1}, "min_confidence must be in [0, 1], got -0.1"),
        ({"min_lift": -1.0}, "min_lift must be >= 0, got -1.0"),
    ],
)
def test_bad_options_are_rejected_with_the_allowed_values(options: dict, message: str) -> None:
    arguments = {"min_support": 0.1, "min_confidence": 0.1} | options
    with pytest.raises(ValueError) as raised:
        mine_rules(FIVE_BASKETS, **arguments)
    assert str(raised.value) == message


def test_baskets_without_the_item_column_are_rejected() -> None:
    with pytest.raises(InputError, match=r"^baskets frame: missing required column 'item'$"):
        mine_rules(FIVE_BASKETS.rename({"item": "sku"}), min_support=0.1, min_confidence=0.1)


# describe_rule


def test_describe_rule_uses_product_names_and_rounds_the_metrics() -> None:
    rule = {"antecedent": ["S1"], "consequent": ["S2"], "lift": 3.2149, "confidence": 0.4132}
    names = {"S1": "pasta", "S2": "pasta sauce"}
    assert describe_rule(rule, names) == "pasta -> pasta sauce: lift 3.2, confidence 41%"


def test_describe_rule_joins_several_antecedents_with_plus() -> None:
    rules = mine_rules(
        FIVE_BASKETS, min_support=0.2, min_confidence=0.0, min_lift=0.0, max_len=3, method="mlxtend"
    )
    rule = rules.filter(pl.col("antecedent") == ["cheese", "pasta"], pl.col("consequent") == ["sauce"])
    names = {"cheese": "parmesan", "pasta": "spaghetti", "sauce": "pasta sauce"}
    assert (
        describe_rule(rule.row(0, named=True), names)
        == "parmesan + spaghetti -> pasta sauce: lift 0.8, confidence 50%"
    )


def test_describe_rule_shows_items_without_a_name_as_they_are() -> None:
    rule = {"antecedent": ["S1", "S9"], "consequent": ["S2"], "lift": 12.0, "confidence": 1.0}
    assert describe_rule(rule, {"S1": "pasta"}) == "pasta + S9 -> S2: lift 12.0, confidence 100%"
    assert describe_rule(rule) == "S1 + S9 -> S2: lift 12.0, confidence 100%"


def test_describe_rule_names_missing_keys() -> None:
    with pytest.raises(ValueError, match=r"^Rule is missing required keys: \['confidence', 'lift'\]$"):
        describe_rule({"antecedent": ["a"], "consequent": ["b"]})


def test_describe_rule_tells_two_skus_of_the_same_name_apart() -> None:
    rule = {"antecedent": ["S1"], "consequent": ["S2"], "lift": 34.3, "confidence": 0.35}
    names = {"S1": "SOFT DRINKS 12 OZ", "S2": "SOFT DRINKS 12 OZ"}
    assert describe_rule(rule, names) == (
        "SOFT DRINKS 12 OZ [S1] -> SOFT DRINKS 12 OZ [S2]: lift 34.3, confidence 35%"
    )


def test_category_baskets_from_the_sku_baskets_equal_those_from_the_lines() -> None:
    skus = build_baskets(TRANSACTIONS, PRODUCTS)
    assert_frame_equal(
        level_baskets(skus, PRODUCTS, level="category"),
        build_baskets(TRANSACTIONS, PRODUCTS, level="category"),
    )
    assert level_baskets(skus, PRODUCTS, level="sku") is skus


def test_category_rules_from_the_sku_lines_equal_those_from_the_category_baskets() -> None:
    # Two skus of one category in a receipt: the category repeats in level_lines, once in the baskets.
    sample = Path(__file__).resolve().parents[2] / "sample_data"
    inputs = load_inputs(sample / "transactions.csv", sample / "products.csv", sample / "customers.csv")
    lines, products = inputs.transactions.kept, inputs.products.kept
    skus = build_baskets(lines, products)
    repeated = level_lines(skus, products, level="category")
    baskets = level_baskets(skus, products, level="category")
    assert repeated.height > baskets.height
    assert_frame_equal(repeated.unique().sort("receipt_id", "item"), baskets)
    for support in (0.001, 0.01):
        expected = mine_rules(baskets, min_support=support, min_confidence=0.05, min_lift=1.0)
        assert expected.height > 5
        assert_frame_equal(
            mine_rules(repeated, min_support=support, min_confidence=0.05, min_lift=1.0), expected
        )
    assert level_lines(skus, products, level="sku") is skus
    with pytest.raises(ValueError, match="Unknown basket level 'brand'"):
        level_lines(skus, products, level="brand")


@pytest.mark.parametrize("level", ["sku", "category"])
def test_baskets_built_by_blocks_of_receipts_are_the_same(
    level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = build_baskets(TRANSACTIONS, PRODUCTS, level=level)
    monkeypatch.setattr(affinity, "BLOCK_LINES", 2)
    assert len(affinity._receipt_slices(build_baskets(TRANSACTIONS, PRODUCTS), 2)) > 2
    assert_frame_equal(build_baskets(TRANSACTIONS, PRODUCTS, level=level), whole)
