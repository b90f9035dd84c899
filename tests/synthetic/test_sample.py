"""Tests of the sample generator as a whole: the contract, argument checks, determinism and the bundled data."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from coupongen.synthetic.sample import SampleData, generate_sample, write_sample
from tests.synthetic.sample_sets import (
    AS_OF,
    AS_OF_TS,
    CUSTOMERS,
    PRODUCTS,
    TRANSACTIONS,
    small_sample,
)


@pytest.fixture(scope="module")
def small() -> SampleData:
    return small_sample()


def test_frames_follow_the_contract_schema(small: SampleData) -> None:
    assert dict(small.transactions.schema) == TRANSACTIONS
    assert dict(small.products.schema) == PRODUCTS
    assert dict(small.customers.schema) == CUSTOMERS


def test_every_transaction_sku_is_a_product(small: SampleData) -> None:
    unknown = small.transactions.join(small.products, on="sku", how="anti")
    assert unknown.is_empty()


def test_every_card_holder_in_transactions_is_a_customer(small: SampleData) -> None:
    known = small.transactions.drop_nulls("customer_id")
    assert known.join(small.customers, on="customer_id", how="anti").is_empty()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 0}, "customers must be at least 1, got 0"),
        ({"days": 3}, "days must be at least 7, got 3"),
        ({"skus": 5}, "skus must be at least 40 (one per category), got 5"),
        ({"anonymous_share": 1.0}, "anonymous_share must be in [0, 1), got 1.0"),
        ({"lines_per_customer": 0}, "lines_per_customer must be positive, got 0"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, float], message: str) -> None:
    arguments = {"customers": 10, "seed": 1, "as_of": AS_OF} | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_sample(**arguments)


def test_same_seed_gives_identical_frames(small: SampleData) -> None:
    again = generate_sample(300, seed=7, as_of=AS_OF)
    assert_frame_equal(small.transactions, again.transactions)
    assert_frame_equal(small.products, again.products)
    assert_frame_equal(small.customers, again.customers)


def test_another_seed_gives_other_frames(small: SampleData) -> None:
    other = generate_sample(300, seed=8, as_of=AS_OF)
    assert not small.transactions.equals(other.transactions)
    assert not small.products.equals(other.products)
    assert not small.customers.equals(other.customers)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    customers=st.integers(1, 40),
    seed=st.integers(0, 2**32),
    days=st.integers(7, 800),
    share=st.floats(0.0, 0.6),
)
def test_any_small_sample_keeps_the_contract(customers: int, seed: int, days: int, share: float) -> None:
    data = generate_sample(customers, seed=seed, as_of=AS_OF, days=days, anonymous_share=share)
    t = data.transactions
    assert dict(t.schema) == TRANSACTIONS
    assert data.customers.height == customers
    assert t.join(data.products, on="sku", how="anti").is_empty()
    assert t.drop_nulls("customer_id").join(data.customers, on="customer_id", how="anti").is_empty()
    assert t["ts"].min() >= AS_OF_TS - timedelta(days=days)
    assert t["ts"].max() < AS_OF_TS
    assert data.customers["card_number"].is_unique().all()
    assert not t.select("receipt_id", "sku").is_duplicated().any()
    per_receipt = t.group_by("receipt_id").agg(pl.col("customer_id", "ts", "store_id").n_unique())
    assert (per_receipt.select(pl.exclude("receipt_id")) == 1).to_numpy().all()
    assert np.all(np.isfinite(t["amount"].to_numpy()))


BUNDLED = Path(__file__).resolve().parents[2] / "sample_data"


def test_bundled_sample_data_is_what_its_readme_says(tmp_path: Path) -> None:
    """sample_data/ must be regenerated whenever the generator's output changes."""
    data = generate_sample(3000, seed=42, as_of=AS_OF, lines_per_customer=33)
    fresh = write_sample(data, tmp_path, bad_rows=6)
    for name in ("transactions", "products"):
        assert fresh[name].read_bytes() == (BUNDLED / f"{name}.csv").read_bytes(), name
    customers = pl.read_csv(BUNDLED / "customers.csv", infer_schema=False)
    assert customers.columns == list(CUSTOMERS)
    assert customers["customer_id"].to_list() == data.customers["customer_id"].to_list()
    readme = (BUNDLED / "README.md").read_text(encoding="utf-8")
    assert "--customers 3000 --seed 42 --as-of 2026-11-22 --lines-per-customer 33 --out sample_data" in readme
    assert f"{data.transactions.height + 6:,} receipt lines" in readme
