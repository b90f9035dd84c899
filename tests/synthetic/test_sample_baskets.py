"""Tests of the sample's baskets: planted complements, repeat purchases, discovery, staples, household mixes."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from coupongen.synthetic.sample import COMPLEMENTS, SampleData
from tests.synthetic.sample_sets import (
    AS_OF_TS,
    lines_with_products,
    medium_sample,
    sales_of_card_holders,
)


@pytest.fixture(scope="module")
def medium() -> SampleData:
    return medium_sample()


@pytest.fixture(scope="module")
def lines() -> pl.DataFrame:
    return lines_with_products(medium_sample())


@pytest.mark.parametrize(("first", "second", "probability"), COMPLEMENTS)
def test_planted_complements_lift_above_one_and_a_half(
    lines: pl.DataFrame, first: str, second: str, probability: float
) -> None:
    baskets = lines.filter(pl.col("quantity") > 0).select("receipt_id", "category").unique()
    n = baskets["receipt_id"].n_unique()
    with_a = set(baskets.filter(pl.col("category") == first)["receipt_id"])
    with_b = set(baskets.filter(pl.col("category") == second)["receipt_id"])
    assert with_a
    assert with_b
    lift = len(with_a & with_b) * n / (len(with_a) * len(with_b))
    assert lift > 1.5, (first, second, lift)
    assert len(with_a & with_b) / len(with_a) >= 0.6 * probability


def test_an_unrelated_pair_is_not_planted(lines: pl.DataFrame) -> None:
    baskets = lines.filter(pl.col("quantity") > 0).select("receipt_id", "category").unique()
    n = baskets["receipt_id"].n_unique()
    with_a = set(baskets.filter(pl.col("category") == "toothpaste")["receipt_id"])
    with_b = set(baskets.filter(pl.col("category") == "pasta_sauce")["receipt_id"])
    lift = len(with_a & with_b) * n / (len(with_a) * len(with_b))
    assert lift < 1.5


def test_past_purchases_predict_later_ones(medium: SampleData) -> None:
    """A customer's later lines repeat their own earlier products far more than someone else's."""
    t = sales_of_card_holders(medium)
    half = AS_OF_TS - timedelta(days=183)
    early = t.filter(pl.col("ts") < half).select("customer_id", "sku").unique()
    returning = early.select("customer_id").unique()
    late = t.filter(pl.col("ts") >= half).join(returning, on="customer_id")

    def repeat_share(history: pl.DataFrame) -> float:
        seen = history.unique().with_columns(seen=pl.lit(True))
        joined = late.join(seen, on=["customer_id", "sku"], how="left")
        return float(joined["seen"].is_not_null().mean() or 0.0)

    own = repeat_share(early)
    someone_else = repeat_share(early.with_columns(pl.col("customer_id").shuffle(seed=1)))
    assert own > 0.35
    assert own > 3 * someone_else


def purchase_matrix(lines: pl.DataFrame, customers: pl.DataFrame, skus: pl.Series) -> np.ndarray:
    pairs = (
        lines.select("customer_id", "sku")
        .unique()
        .join(customers, on="customer_id")
        .join(skus.to_frame().with_row_index("column"), on="sku")
    )
    matrix = np.zeros((customers.height, len(skus)))
    matrix[pairs["row"].to_numpy(), pairs["column"].to_numpy()] = 1.0
    return matrix


def test_similar_customers_buy_similar_new_products(medium: SampleData) -> None:
    """Item-kNN on co-purchases finds the products customers try next better than popularity."""
    t = sales_of_card_holders(medium)
    cut = AS_OF_TS - timedelta(days=90)
    before = t.filter(pl.col("ts") < cut)
    customers = before.select("customer_id").unique().sort("customer_id").with_row_index("row")
    seen = purchase_matrix(before, customers, medium.products["sku"])
    tried = purchase_matrix(t.filter(pl.col("ts") >= cut), customers, medium.products["sku"])
    tried *= 1 - seen
    co = seen.T @ seen
    norm = np.sqrt(np.diag(co)) + 1e-9
    similarity = co / norm[:, None] / norm[None, :]
    np.fill_diagonal(similarity, 0.0)

    def hits(scores: np.ndarray) -> float:
        top = np.argsort(-np.where(seen > 0, -np.inf, scores), axis=1, kind="stable")[:, :10]
        return float(np.take_along_axis(tried, top, axis=1).sum())

    popularity = np.broadcast_to(seen.sum(axis=0), seen.shape)
    assert tried.sum() >= 1000
    assert hits(seen @ similarity) > 1.15 * hits(popularity)


def test_customers_keep_discovering_new_products(medium: SampleData) -> None:
    t = sales_of_card_holders(medium).with_columns(
        first_time=pl.col("ts") == pl.col("ts").min().over("customer_id", "sku"),
        first_visit=pl.col("ts") == pl.col("ts").min().over("customer_id"),
    )
    share = t.filter(~pl.col("first_visit"))["first_time"].mean()
    assert share is not None
    assert 0.15 <= share <= 0.7


def test_frequent_shoppers_have_staples(medium: SampleData) -> None:
    t = sales_of_card_holders(medium)
    frequent = (
        t.group_by("customer_id")
        .agg(receipts=pl.col("receipt_id").n_unique())
        .filter(pl.col("receipts") >= 6)
    )
    top_item = (
        t.join(frequent, on="customer_id")
        .group_by("customer_id", "sku")
        .agg(pl.col("receipt_id").n_unique().alias("times"), pl.col("receipts").first())
        .group_by("customer_id")
        .agg((pl.col("times") / pl.col("receipts")).max().alias("share"))
    )
    assert frequent.height >= 50
    assert (top_item["share"] >= 0.5).mean() >= 0.6


def test_household_types_shape_category_mix(lines: pl.DataFrame) -> None:
    """Baby products concentrate in few households: a niche, not spread over everyone."""
    card = lines.filter(pl.col("customer_id").is_not_null())
    buyers = card.filter(pl.col("category") == "diapers")["customer_id"].n_unique()
    assert 0 < buyers < 0.3 * card["customer_id"].n_unique()
    per_buyer = card.filter(pl.col("category") == "diapers").height / buyers
    assert per_buyer > 1.5
