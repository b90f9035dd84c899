"""The loyalty export the sample data imitates: its three tables, their columns and types, the shape
of its ids (C0000001, R00000001, S001) and how its CSV files write values as text.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

TRANSACTION_SCHEMA = {
    "receipt_id": pl.String,
    "customer_id": pl.String,
    "ts": pl.Datetime("us"),
    "store_id": pl.String,
    "sku": pl.String,
    "quantity": pl.Float64,
    "amount": pl.Float64,
}


PRODUCT_SCHEMA = {
    "sku": pl.String,
    "name": pl.String,
    "category": pl.String,
    "brand": pl.String,
    "price": pl.Float64,
    "promo_allowed": pl.Boolean,
}


CUSTOMER_SCHEMA = {
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


@dataclass(frozen=True)
class SampleData:
    """One generated dataset, typed as the data contract says.

    transactions: receipt_id, customer_id (null = anonymous), ts (Datetime), store_id, sku,
        quantity (Float64, negative = return), amount (Float64, net paid, negative = refund).
    products: sku, name, category, brand, price (Float64), promo_allowed (Boolean).
    customers: customer_id, card_number, first_name, locale, email, phone, email_opt_in,
        sms_opt_in, push_opt_in, birth_date (Date), nps_score (Int64, 0-10).
    """

    transactions: pl.DataFrame
    products: pl.DataFrame
    customers: pl.DataFrame


def format_id(prefix: str, number: pl.Expr, width: int) -> pl.Expr:
    """An id as the export writes it: a letter and the number zero-padded to `width` digits."""
    return pl.concat_str([pl.lit(prefix), number.cast(pl.String).str.zfill(width)])


def id_width(customers: int) -> int:
    """Digits in a customer id: seven, more when the customer count needs them."""
    return max(7, len(str(customers)))


def transactions_text(frame: pl.DataFrame) -> pl.DataFrame:
    """The transactions as the strings a CSV export holds: ISO timestamps, amounts to the cent,
    whole quantities without a decimal point.
    """
    whole = pl.col("quantity") == pl.col("quantity").round(0)
    return frame.with_columns(
        ts=pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S"),
        quantity=pl.when(whole)
        .then(pl.col("quantity").cast(pl.Int64).cast(pl.String))
        .otherwise(pl.col("quantity").round(3).cast(pl.String)),
        amount=money_text(pl.col("amount")),
    )


def money_text(value: pl.Expr) -> pl.Expr:
    """An amount as text to the cent, with a point and a leading minus for a refund."""
    cents = (value * 100).round(0).cast(pl.Int64)
    sign = pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (cents.abs() // 100).cast(pl.String)
    fraction = (cents.abs() % 100).cast(pl.String).str.zfill(2)
    return pl.concat_str([sign, whole, pl.lit("."), fraction])
