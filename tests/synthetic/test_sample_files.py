"""Tests of writing the sample files: CSV as the export writes it, Parquet, byte-identical reruns."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.synthetic.sample import SampleData, generate_sample, write_sample
from tests.synthetic.sample_sets import (
    AS_OF,
    CUSTOMERS,
    PRODUCTS,
    TRANSACTIONS,
    small_sample,
)


@pytest.fixture(scope="module")
def small() -> SampleData:
    return small_sample()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_data_gives_byte_identical_files(small: SampleData, tmp_path: Path, fmt: str) -> None:
    bad = 6 if fmt == "csv" else 0
    first = write_sample(small, tmp_path / "a", fmt=fmt, bad_rows=bad)
    second = write_sample(generate_sample(300, seed=7, as_of=AS_OF), tmp_path / "b", fmt=fmt, bad_rows=bad)
    assert set(first) == {"transactions", "products", "customers"}
    for name, path in first.items():
        assert path.name == f"{name}.{fmt}"
        assert path.read_bytes() == second[name].read_bytes()


def test_clean_csv_reads_back_to_the_same_frames(small: SampleData, tmp_path: Path) -> None:
    paths = write_sample(small, tmp_path)
    transactions = pl.read_csv(paths["transactions"], schema=TRANSACTIONS | {"ts": pl.String}).with_columns(
        pl.col("ts").str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us")
    )
    assert_frame_equal(transactions, small.transactions)
    assert_frame_equal(pl.read_csv(paths["products"], schema=PRODUCTS), small.products)
    customers = pl.read_csv(paths["customers"], schema=CUSTOMERS | {"birth_date": pl.String})
    customers = customers.with_columns(pl.col("birth_date").str.to_date("%Y-%m-%d"))
    assert_frame_equal(customers, small.customers)


def test_csv_text_follows_the_export_format(small: SampleData, tmp_path: Path) -> None:
    text = write_sample(small, tmp_path)["transactions"].read_text(encoding="utf-8")
    header, first = text.splitlines()[:2]
    assert header == "receipt_id,customer_id,ts,store_id,sku,quantity,amount"
    assert re.fullmatch(r"R\d+,(C\d+)?,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,S\d+,P\d+,[\d.]+,\d+\.\d\d", first), (
        first
    )


def test_parquet_keeps_the_types(small: SampleData, tmp_path: Path) -> None:
    paths = write_sample(small, tmp_path, fmt="parquet")
    assert_frame_equal(pl.read_parquet(paths["transactions"]), small.transactions)
    assert_frame_equal(pl.read_parquet(paths["customers"]), small.customers)


def test_unknown_format_is_refused(small: SampleData, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Unknown format 'xlsx': use one of csv, parquet"):
        write_sample(small, tmp_path, fmt="xlsx")
