"""Per-customer and per-product facts as of a run date, net of returns.

Everything is computed from history strictly before ``as_of`` (the run's "today"), so a run for a past
date sees exactly what it would have seen that night. Returns and refunds are netted into spend and
quantities rather than dropped.
"""

from __future__ import annotations

from datetime import date, datetime, time

import polars as pl

MIN_CYCLE_PURCHASES = 3


def _before(transactions: pl.DataFrame | pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    cutoff = datetime.combine(as_of, time())
    return transactions.lazy().filter(pl.col("ts") < cutoff).with_columns(pl.col("ts").dt.date().alias("day"))


def _days_to(as_of: date, col: str) -> pl.Expr:
    return (pl.lit(as_of) - pl.col(col)).dt.total_days().cast(pl.Int32)


def receipts(transactions: pl.DataFrame | pl.LazyFrame, *, as_of: date) -> pl.LazyFrame:
    """One row per receipt before ``as_of``: receipt_id, customer_id, day, amount (net), lines.

    A receipt with a positive net amount is a purchase visit; others are returns or refunds.
    """
    return (
        _before(transactions, as_of)
        .group_by("receipt_id")
        .agg(
            pl.col("customer_id").first(),
            pl.col("day").min(),
            pl.col("amount").sum(),
            pl.len().alias("lines"),
        )
    )


def customer_features(
    transactions: pl.DataFrame | pl.LazyFrame, products: pl.DataFrame, *, as_of: date, lookback_days: int = 365
) -> pl.DataFrame:
    """Facts per known customer with at least one purchase before ``as_of``.

    Columns: customer_id; first_purchase, last_purchase (date of the first/last purchase visit);
    recency_days (as_of - last_purchase); tenure_days (as_of - first_purchase); frequency (purchase
    visits within the look-back window); monetary (net spend in the window, refunds deducted);
    avg_basket (monetary / frequency); visits (purchase visits ever); median_gap_days (median days
    between visit days, null below three visits); favourite_category and favourite_share (the category
    with the highest net spend ever and its share of the customer's spend).
    """
    start = as_of.toordinal() - lookback_days
    window_start = date.fromordinal(start)
    rc = receipts(transactions, as_of=as_of).filter(pl.col("customer_id").is_not_null())
    visits = rc.filter(pl.col("amount") > 0)
    per_customer = visits.group_by("customer_id").agg(
        pl.col("day").min().alias("first_purchase"),
        pl.col("day").max().alias("last_purchase"),
        pl.len().cast(pl.Int32).alias("visits"),
        (pl.col("day") >= window_start).sum().cast(pl.Int32).alias("frequency"),
    )
    spend = rc.group_by("customer_id").agg(
        pl.col("amount").filter(pl.col("day") >= window_start).sum().alias("monetary")
    )
    gaps = (
        visits.select("customer_id", "day")
        .unique()
        .sort("customer_id", "day")
        .with_columns(pl.col("day").diff().over("customer_id").dt.total_days().alias("gap"))
        .group_by("customer_id")
        .agg(
            pl.when(pl.col("gap").count() >= MIN_CYCLE_PURCHASES - 1)
            .then(pl.col("gap").median())
            .otherwise(None)
            .alias("median_gap_days")
        )
    )
    favourite = (
        category_spend(transactions, products, as_of=as_of)
        .sort(["customer_id", "spend", "category"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .agg(
            pl.col("category").first().alias("favourite_category"),
            pl.col("share").first().alias("favourite_share"),
        )
    )
    return (
        per_customer.join(spend, on="customer_id", how="left")
        .join(gaps, on="customer_id", how="left")
        .join(favourite.lazy(), on="customer_id", how="left")
        .with_columns(
            _days_to(as_of, "last_purchase").alias("recency_days"),
            _days_to(as_of, "first_purchase").alias("tenure_days"),
            pl.col("monetary").fill_null(0.0).round(2),
        )
        .with_columns(
            pl.when(pl.col("frequency") > 0)
            .then((pl.col("monetary") / pl.col("frequency")).round(2))
            .otherwise(None)
            .alias("avg_basket")
        )
        .select(
            "customer_id",
            "first_purchase",
            "last_purchase",
            "recency_days",
            "tenure_days",
            "frequency",
            "monetary",
            "avg_basket",
            "visits",
            "median_gap_days",
            "favourite_category",
            "favourite_share",
        )
        .sort("customer_id")
        .collect()
    )


def category_spend(
    transactions: pl.DataFrame | pl.LazyFrame, products: pl.DataFrame, *, as_of: date
) -> pl.DataFrame:
    """Net spend per customer and category before ``as_of``.

    Columns: customer_id, category, spend (net), share (of the customer's positive category spend).
    Categories where returns outweigh purchases are left out.
    """
    return (
        _before(transactions, as_of)
        .filter(pl.col("customer_id").is_not_null())
        .join(products.lazy().select("sku", "category"), on="sku", how="left")
        .group_by("customer_id", "category")
        .agg(pl.col("amount").sum().round(2).alias("spend"))
        .filter(pl.col("spend") > 0)
        .with_columns((pl.col("spend") / pl.col("spend").sum().over("customer_id")).alias("share"))
        .sort("customer_id", "category")
        .collect()
    )


def customer_products(
    transactions: pl.DataFrame | pl.LazyFrame, *, as_of: date, lookback_days: int = 365
) -> pl.DataFrame:
    """What each customer bought, per sku, net of returns, before ``as_of``.

    Columns: customer_id, sku; receipts (purchase receipts holding the sku); quantity and spend (net);
    first_day, last_day; days_since_last (as_of - last_day); cycle_days (median days between the
    days it was bought, null below three purchases); in_lookback (bought within the look-back window).
    Pairs where returns cancel every purchase are left out: the customer does not have the product.
    """
    window_start = date.fromordinal(as_of.toordinal() - lookback_days)
    lines = _before(transactions, as_of).filter(pl.col("customer_id").is_not_null())
    bought = lines.filter(pl.col("quantity") > 0)
    totals = lines.group_by("customer_id", "sku").agg(
        pl.col("quantity").sum().alias("quantity"),
        pl.col("amount").sum().round(2).alias("spend"),
    )
    days = (
        bought.select("customer_id", "sku", "day", "receipt_id")
        .group_by("customer_id", "sku", "day")
        .agg(pl.col("receipt_id").n_unique().alias("n"))
        .sort("customer_id", "sku", "day")
        .group_by("customer_id", "sku", maintain_order=True)
        .agg(
            pl.col("n").sum().cast(pl.Int32).alias("receipts"),
            pl.col("day").min().alias("first_day"),
            pl.col("day").max().alias("last_day"),
            pl.when(pl.len() >= MIN_CYCLE_PURCHASES)
            .then(pl.col("day").diff().dt.total_days().median())
            .otherwise(None)
            .alias("cycle_days"),
        )
    )
    return (
        days.join(totals, on=["customer_id", "sku"], how="inner")
        .filter(pl.col("quantity") > 0)
        .with_columns(
            _days_to(as_of, "last_day").alias("days_since_last"),
            (pl.col("last_day") >= window_start).alias("in_lookback"),
        )
        .select(
            "customer_id",
            "sku",
            "receipts",
            "quantity",
            "spend",
            "first_day",
            "last_day",
            "days_since_last",
            "cycle_days",
            "in_lookback",
        )
        .sort("customer_id", "sku")
        .collect()
    )
