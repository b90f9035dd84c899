"""Tests of the sample's transaction lines: amounts to the cent and returns of earlier purchases."""

from __future__ import annotations

import polars as pl
import pytest

from coupongen.synthetic.sample import SampleData
from tests.synthetic.sample_sets import (
    medium_sample,
    small_sample,
    whole_cents,
)


@pytest.fixture(scope="module")
def small() -> SampleData:
    return small_sample()


@pytest.fixture(scope="module")
def medium() -> SampleData:
    return medium_sample()


def test_amounts_have_two_decimals_and_follow_the_sign_of_quantity(small: SampleData) -> None:
    t = small.transactions
    assert whole_cents(t["amount"])
    assert (t["quantity"] != 0).all()
    assert ((t["quantity"] > 0) == (t["amount"] > 0)).all()


def test_returns_refer_to_earlier_purchases(medium: SampleData) -> None:
    t = medium.transactions
    returns = t.filter(pl.col("quantity") < 0)
    assert 0.005 <= returns.height / t.height <= 0.03
    assert (returns["amount"] < 0).all()
    sales = t.filter(pl.col("quantity") > 0).select("customer_id", "sku", sold=pl.col("ts"))
    card_returns = returns.drop_nulls("customer_id").with_row_index("return")
    matched = card_returns.join(sales, on=["customer_id", "sku"]).filter(pl.col("sold") < pl.col("ts"))
    assert matched["return"].n_unique() == card_returns.height
    sale_receipts = t.filter(pl.col("quantity") > 0)["receipt_id"].implode()
    assert returns["receipt_id"].is_in(sale_receipts).not_().all()
