"""Shared pieces of the sample generator's tests: the contract's columns and two datasets made once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache

import numpy as np
import polars as pl

from coupongen.synthetic.sample import SampleData, generate_sample

AS_OF = date(2026, 11, 22)
AS_OF_TS = datetime(2026, 11, 22)

TRANSACTIONS = {
    "receipt_id": pl.String,
    "customer_id": pl.String,
    "ts": pl.Datetime("us"),
    "store_id": pl.String,
    "sku": pl.String,
    "quantity": pl.Float64,
    "amount": pl.Float64,
}
PRODUCTS = {
    "sku": pl.String,
    "name": pl.String,
    "category": pl.String,
    "brand": pl.String,
    "price": pl.Float64,
    "promo_allowed": pl.Boolean,
}
CUSTOMERS = {
    "customer_id": pl.String,
    "card_number": pl.String,
    "first_name": pl.String,
    "locale": pl.String,
    "email": pl.String,
    "phone": pl.String,
    "email_opt_in": pl.Boolean,
    "sms_opt_in": pl.Boolean,
    "push_opt_in": pl.Boolean,
    "birth_date": pl.Date,
    "nps_score": pl.Int64,
}


@cache
def small_sample() -> SampleData:
    return generate_sample(300, seed=7, as_of=AS_OF)


@cache
def medium_sample() -> SampleData:
    """Large enough for the statistical checks to be stable, still well under a second."""
    return generate_sample(2000, seed=11, as_of=AS_OF)


def lines_with_products(data: SampleData) -> pl.DataFrame:
    return data.transactions.join(data.products, on="sku", how="left")


def sales_of_card_holders(data: SampleData) -> pl.DataFrame:
    return data.transactions.filter(pl.col("customer_id").is_not_null() & (pl.col("quantity") > 0))


def whole_cents(values: pl.Series) -> bool:
    cents = values.to_numpy() * 100
    return bool(np.all(np.abs(cents - np.round(cents)) < 1e-6))


def customer_summary(data: SampleData) -> pl.DataFrame:
    t = data.transactions.filter(pl.col("customer_id").is_not_null() & (pl.col("quantity") > 0))
    half = AS_OF_TS - timedelta(days=183)
    return t.group_by("customer_id").agg(
        receipts=pl.col("receipt_id").n_unique(),
        early=pl.col("receipt_id").filter(pl.col("ts") < half).n_unique(),
        late=pl.col("receipt_id").filter(pl.col("ts") >= half).n_unique(),
        spend=pl.col("amount").sum(),
        first_days=(pl.lit(AS_OF_TS) - pl.col("ts").min()).dt.total_days(),
        last_days=(pl.lit(AS_OF_TS) - pl.col("ts").max()).dt.total_days(),
    )
