"""Tests of the sample catalogue: names, prices, promotion rules, size and popularity."""

from __future__ import annotations

import re

import polars as pl
import pytest

from coupongen.synthetic.sample import SampleData, generate_sample
from tests.synthetic.sample_sets import (
    AS_OF,
    lines_with_products,
    medium_sample,
    small_sample,
    whole_cents,
)

RESTRICTED = {"tobacco", "beer", "wine", "spirits"}


@pytest.fixture(scope="module")
def small() -> SampleData:
    return small_sample()


@pytest.fixture(scope="module")
def lines() -> pl.DataFrame:
    return lines_with_products(medium_sample())


def test_promo_is_barred_exactly_for_tobacco_and_alcohol(small: SampleData) -> None:
    products = small.products
    barred = set(products.filter(~pl.col("promo_allowed"))["category"].unique())
    assert barred == RESTRICTED
    assert products.filter(pl.col("category").is_in(RESTRICTED))["promo_allowed"].not_().all()


def test_catalogue_has_many_categories_and_plausible_names(small: SampleData) -> None:
    products = small.products
    assert 20 <= products["category"].n_unique() <= 45
    assert products["brand"].n_unique() >= 60
    assert products["name"].is_unique().all()
    assert (products["price"] > 0).all()
    assert whole_cents(products["price"])
    for name, brand in products.select("name", "brand").iter_rows():
        assert name.startswith(brand + " ")
        size = r"(\d+(\.\d+)? ?(g|kg|l|l can|ml|pcs|bags|rolls)|per kg)( No\. \d+)?$"
        assert re.search(size, name), name


def test_skus_argument_sets_the_catalogue_size() -> None:
    products = generate_sample(20, seed=1, as_of=AS_OF, skus=20_000).products
    assert products.height == 20_000
    assert products["name"].is_unique().all()
    assert products["sku"].is_unique().all()


def test_default_catalogue_grows_with_the_customer_count() -> None:
    few = generate_sample(50, seed=1, as_of=AS_OF).products.height
    many = generate_sample(3000, seed=1, as_of=AS_OF).products.height
    assert few < many
    assert 200 <= many <= 600


def test_popularity_is_heavy_tailed(lines: pl.DataFrame) -> None:
    counts = lines.group_by("sku").len().sort("len", descending=True)["len"]
    top_tenth = counts.head(max(1, len(counts) // 10)).sum() / counts.sum()
    assert top_tenth >= 0.3
    categories = lines.group_by("category").len()["len"]
    assert categories.max() >= 8 * categories.min()
