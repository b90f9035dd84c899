"""The learned ranking's inputs: facts of each candidate pair, its product and its customer.

Only first purchase days and the look-back flag of the customer x product facts are read, so facts
cut at an earlier day (`ranking_sources.history_before`) leak nothing from after that day.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from coupongen.analysis.ranking_sources import RECENT_DAYS, SOURCES

FEATURES = (
    *(f"{s}_{part}" for s in SOURCES for part in ("score", "rank")),
    "n_sources",
    "item_buyers",
    "item_new_buyers",
    "item_trend",
    "item_growth",
    "item_age_days",
    "item_price",
    "price_ratio",
    "type_buyers",
    "type_new_buyers",
    "customer_items",
    "customer_types",
    "customer_new_items",
    "customer_days_since_new",
    "category_share",
    "category_spend_share",
    "type_items",
    "type_new",
    "category_new",
    "item_type_first_share",
    "customer_explore_rate",
)
"""The model's inputs, in column order."""


def product_facts(
    bought: pl.DataFrame, types: pl.DataFrame, *, as_of: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The product and product-type columns of `FEATURES`, from every customer's facts.

    Computed once per history and passed to `features` for each block of customers.
    """
    facts = _facts(bought, types)
    window = facts.filter(pl.col("in_lookback"))
    new, earlier = _new(as_of), _earlier(as_of)
    items = (
        window.group_by("sku")
        .agg(pl.len().alias("item_buyers"))
        .join(
            facts.group_by("sku").agg(
                new.sum().alias("item_new_buyers"),
                earlier.sum().alias("item_earlier_buyers"),
                (pl.lit(as_of) - pl.col("first_day").min()).dt.total_days().alias("item_age_days"),
            ),
            on="sku",
            how="full",
            coalesce=True,
        )
    )
    kinds = (
        window.group_by("type")
        .agg(pl.col("customer_id").n_unique().alias("type_buyers"))
        .join(
            facts.filter(new == 1)
            .group_by("type")
            .agg(
                pl.col("customer_id").n_unique().alias("type_new_buyers"),
                pl.len().alias("type_first_purchases"),
            ),
            on="type",
            how="full",
            coalesce=True,
        )
    )
    return items, kinds


def features(
    pool: pl.DataFrame,
    bought: pl.DataFrame,
    types: pl.DataFrame,
    *,
    as_of: date,
    products: tuple[pl.DataFrame, pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """The candidates with every column of `FEATURES` plus `substitute`, `type` and `price`.

    Product facts: buyers in the window, first-time buyers in the recent weeks, their ratio (the
    trend), the growth of first-time buyers from the weeks before to the recent weeks, the days
    since anyone first bought it (a product new in the catalogue is young), its share of its
    type's first purchases in the recent weeks (which product people pick when they start buying
    the type), its list price and that price against the mean list price of the customer's
    products. Customer facts: their products, types and recent first purchases, and those first
    purchases per product they buy (how much they explore). Pair facts: the share of the customer's products
    and of their spend at list price that falls in the candidate's category, the products they buy
    of its type, and whether they ever bought its type or category.

    `products` (from `product_facts` on the same history) saves recomputing the product columns
    for each block of customers; the customer columns read only the pool's customers' facts.
    """
    items, kinds = products if products is not None else product_facts(bought, types, as_of=as_of)
    mine = bought.join(pool.select("customer_id").unique(), on="customer_id", how="semi")
    facts = _facts(mine, types)
    window = facts.filter(pl.col("in_lookback"))
    new = _new(as_of)
    valued = window.with_columns(pl.col("price").fill_null(0.0).clip(lower_bound=0.0).alias("value"))
    people = facts.group_by("customer_id").agg(
        pl.col("in_lookback").sum().alias("customer_items"),
        pl.col("type").filter(pl.col("in_lookback")).n_unique().alias("customer_types"),
        new.sum().alias("customer_new_items"),
        (pl.lit(as_of) - pl.col("first_day").max()).dt.total_days().alias("customer_days_since_new"),
    )
    spend = valued.group_by("customer_id").agg(
        pl.col("value").sum().alias("customer_value"), pl.col("price").mean().alias("customer_mean_price")
    )
    in_category = valued.group_by("customer_id", "category").agg(
        pl.len().alias("category_items"), pl.col("value").sum().alias("category_value")
    )
    in_type = window.group_by("customer_id", "type").agg(pl.len().alias("type_items"))
    ever_type = facts.select("customer_id", "type").unique().with_columns(pl.lit(0).alias("type_new"))
    ever_category = (
        facts.select("customer_id", "category").unique().with_columns(pl.lit(0).alias("category_new"))
    )
    return (
        pool.join(types, on="sku", how="left")
        .join(items, on="sku", how="left")
        .join(kinds, on="type", how="left")
        .join(people, on="customer_id", how="left")
        .join(spend, on="customer_id", how="left")
        .join(in_category, on=["customer_id", "category"], how="left")
        .join(in_type, on=["customer_id", "type"], how="left")
        .join(ever_type, on=["customer_id", "type"], how="left")
        .join(ever_category, on=["customer_id", "category"], how="left")
        .with_columns(
            pl.col("item_buyers", "item_new_buyers", "item_earlier_buyers", "type_buyers").fill_null(0),
            pl.col("type_new_buyers", "customer_items", "customer_types", "customer_new_items").fill_null(0),
            pl.col("type_first_purchases").fill_null(0),
            pl.col("category_items", "type_items").fill_null(0),
            pl.col("category_value", "customer_value").fill_null(0.0),
            pl.col("type_new", "category_new").fill_null(1),
        )
        .with_columns(
            (pl.col("item_new_buyers") / (pl.col("item_buyers") + 1)).alias("item_trend"),
            ((pl.col("item_new_buyers") + 1) / (pl.col("item_earlier_buyers") + 1)).alias("item_growth"),
            pl.col("price").cast(pl.Float64).alias("item_price"),
            (pl.col("price") / pl.col("customer_mean_price")).alias("price_ratio"),
            (pl.col("category_items") / pl.max_horizontal(pl.col("customer_items"), 1)).alias(
                "category_share"
            ),
            pl.when(pl.col("customer_value") > 0)
            .then(pl.col("category_value") / pl.col("customer_value"))
            .otherwise(None)
            .alias("category_spend_share"),
            ((pl.col("item_new_buyers") + 0.5) / (pl.col("type_first_purchases") + 1.0)).alias(
                "item_type_first_share"
            ),
            (pl.col("customer_new_items") / (pl.col("customer_items") + 1.0)).alias("customer_explore_rate"),
            (pl.col("type_items") > 0).alias("substitute"),
        )
        .sort("customer_id", "sku")
    )


def _facts(bought: pl.DataFrame, types: pl.DataFrame) -> pl.DataFrame:
    return bought.select("customer_id", "sku", "first_day", "in_lookback").join(
        types.select("sku", "category", "type", "price"), on="sku", how="left"
    )


def _new(as_of: date) -> pl.Expr:
    """1 for a pair first bought in the recent weeks."""
    return (pl.col("first_day") >= as_of - timedelta(days=RECENT_DAYS)).cast(pl.Int32)


def _earlier(as_of: date) -> pl.Expr:
    """1 for a pair first bought in the weeks before the recent ones."""
    recent_start = as_of - timedelta(days=RECENT_DAYS)
    before_start = recent_start - timedelta(days=RECENT_DAYS)
    return ((pl.col("first_day") >= before_start) & (pl.col("first_day") < recent_start)).cast(pl.Int32)
