"""Tests of the sample's shoppers and visits: history window, volume, kinds of customer, when and where they shop."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from coupongen.synthetic.sample import SampleData, generate_sample
from tests.synthetic.sample_sets import (
    AS_OF,
    AS_OF_TS,
    customer_summary,
    medium_sample,
    small_sample,
)


@pytest.fixture(scope="module")
def small() -> SampleData:
    return small_sample()


@pytest.fixture(scope="module")
def medium() -> SampleData:
    return medium_sample()


def test_history_covers_the_days_before_as_of(small: SampleData) -> None:
    ts = small.transactions["ts"]
    assert ts.min() >= AS_OF_TS - timedelta(days=365)
    assert ts.max() < AS_OF_TS
    assert ts.max() >= AS_OF_TS - timedelta(days=3)


def test_short_history_stays_inside_its_window() -> None:
    data = generate_sample(40, seed=3, as_of=AS_OF, days=14)
    assert data.transactions["ts"].min() >= AS_OF_TS - timedelta(days=14)
    assert data.transactions["ts"].max() < AS_OF_TS


def test_about_ten_lines_per_customer_a_year(medium: SampleData) -> None:
    assert 8.5 <= medium.transactions.height / medium.customers.height <= 11.5


def test_lines_per_customer_sets_the_volume() -> None:
    rich = generate_sample(500, seed=2, as_of=AS_OF, lines_per_customer=30)
    assert 25 <= rich.transactions.height / 500 <= 35


def test_anonymous_share_of_receipts(medium: SampleData) -> None:
    receipts = medium.transactions.filter(pl.col("quantity") > 0).unique("receipt_id")
    share = receipts["customer_id"].is_null().mean()
    assert share is not None
    assert 0.11 <= share <= 0.19


def test_no_anonymous_receipts_when_share_is_zero() -> None:
    data = generate_sample(100, seed=5, as_of=AS_OF, anonymous_share=0.0)
    assert data.transactions["customer_id"].null_count() == 0


def test_every_kind_of_customer_shows_up(medium: SampleData) -> None:
    s = customer_summary(medium)
    median_spend = s["spend"].median()
    assert median_spend is not None
    kinds = {
        "new": s.filter(pl.col("first_days") <= 42),
        "occasional": s.filter(pl.col("receipts") <= 2, pl.col("first_days") > 60),
        "regular": s.filter(pl.col("receipts") >= 8, pl.col("last_days") <= 45),
        "big_spender": s.filter(pl.col("spend") >= 8 * median_spend),
        "lapsing": s.filter(
            pl.col("early") >= 3 * pl.col("late"), pl.col("late") >= 1, pl.col("last_days") <= 70
        ),
        "lapsed": s.filter(pl.col("receipts") >= 2, pl.col("last_days").is_between(60, 200)),
    }
    sizes = {name: frame.height for name, frame in kinds.items()}
    assert all(size >= 10 for size in sizes.values()), sizes
    assert s.height >= 0.97 * medium.customers.height


def test_weekends_are_busier(medium: SampleData) -> None:
    per_day = medium.transactions.unique("receipt_id").group_by(weekday=pl.col("ts").dt.weekday()).len()
    counts = dict(per_day.iter_rows())
    assert counts[6] > 1.25 * counts[2]
    assert counts[7] > 1.1 * counts[1]


def test_several_stores_and_opening_hours(medium: SampleData) -> None:
    t = medium.transactions
    assert t["store_id"].n_unique() >= 4
    hours = t["ts"].dt.hour()
    assert hours.min() >= 7
    assert hours.max() <= 22
