"""Tests of the broken lines planted in a sample CSV: their kinds, counts and places."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from coupongen.synthetic.sample import SampleData, write_sample
from tests.synthetic.sample_sets import (
    TRANSACTIONS,
    small_sample,
)


@pytest.fixture(scope="module")
def small() -> SampleData:
    return small_sample()


def test_bad_rows_only_go_into_csv(small: SampleData, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bad_rows can only be planted in CSV files"):
        write_sample(small, tmp_path, fmt="parquet", bad_rows=3)


def problems(raw: pl.DataFrame, data: SampleData) -> dict[str, int]:
    """Count each kind of broken line in transactions read as strings."""
    skus = data.products["sku"]
    customers = data.customers["customer_id"]
    return {
        "bad_date": raw.filter(
            pl.col("ts").str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False).is_null()
        ).height,
        "empty_sku": raw.filter(pl.col("sku").is_null()).height,
        "unknown_sku": raw.filter(pl.col("sku").is_not_null() & ~pl.col("sku").is_in(skus.implode())).height,
        "bad_amount": raw.filter(pl.col("amount").cast(pl.Float64, strict=False).is_null()).height,
        "duplicate": raw.filter(raw.is_duplicated()).height // 2,
        "unknown_customer": raw.filter(
            pl.col("customer_id").is_not_null() & ~pl.col("customer_id").is_in(customers.implode())
        ).height,
    }


def test_bad_rows_are_planted_and_the_file_stays_valid_csv(small: SampleData, tmp_path: Path) -> None:
    path = write_sample(small, tmp_path, bad_rows=12)["transactions"]
    raw = pl.read_csv(path, infer_schema=False)
    assert raw.columns == list(TRANSACTIONS)
    assert all(dtype == pl.String for dtype in raw.dtypes)
    assert raw.height == small.transactions.height + 12
    assert problems(raw, small) == {
        "bad_date": 2,
        "empty_sku": 2,
        "unknown_sku": 2,
        "bad_amount": 2,
        "duplicate": 2,
        "unknown_customer": 2,
    }


def test_bad_rows_are_spread_over_the_file(small: SampleData, tmp_path: Path) -> None:
    path = write_sample(small, tmp_path, bad_rows=6)["transactions"]
    raw = pl.read_csv(path, infer_schema=False).with_row_index()
    bad = raw.filter(pl.col("sku").is_null() | pl.col("amount").str.contains(","))
    assert bad.height == 2
    assert bad["index"].max() - bad["index"].min() > 10


def test_a_clean_file_has_no_problems(small: SampleData, tmp_path: Path) -> None:
    raw = pl.read_csv(write_sample(small, tmp_path)["transactions"], infer_schema=False)
    assert set(problems(raw, small).values()) == {0}
