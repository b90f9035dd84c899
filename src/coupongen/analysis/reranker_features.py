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
    "broad_score",
    "broad_rank",
    "broad_z",
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


def product_facts(bought: pl.DataFrame, types: pl.DataFrame, *, as_of: date) -> pl.DataFrame:
    """Every product of `types` with its type's and its own columns of `FEATURES`.

    Computed once per history and passed to `features` for each block of customers: one join on
    the sku brings a candidate every product fact.
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
    return types.join(items, on="sku", how="left").join(kinds, on="type", how="left")


def features(
    pool: pl.DataFrame,
    bought: pl.DataFrame,
    types: pl.DataFrame,
    *,
    as_of: date,
    products: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The candidates with every column of `FEATURES` plus `substitute`, `type` and `price`.

    Product facts: buyers in the window, first-time buyers in the recent weeks, their ratio (the
    trend), the growth of first-time buyers from the weeks before to the recent weeks, the days
    since anyone first bought it (a product new in the catalogue is young), its share of its
    type's first purchases in the recent weeks (which product people pick when they start buying
    the type), its list price and that price against the mean list price of the customer's
    products. Customer facts: their products, types and recent first purchases, and those first
    purchases per product they buy (how much they explore). Pair facts: the broad EASE model's
    rank of the pair among the customer's candidates (its standard score among every product comes
    with the candidates), the share of the customer's products and
    of their spend at list price that falls in the candidate's category, the products they buy of
    its type, and whether they ever bought its type or category.

    `products` (from `product_facts` on the same history) saves recomputing the product columns
    for each block of customers; the customer columns read only the pool's customers' facts.
    """
    catalogue = products if products is not None else product_facts(bought, types, as_of=as_of)
    mine = bought.join(pool.select("customer_id").unique(), on="customer_id", how="semi")
    facts = _facts(mine, types).with_columns(
        pl.col("price").fill_null(0.0).clip(lower_bound=0.0).alias("value")
    )
    in_window = pl.col("in_lookback")
    # one table per key: the customer, the customer and category, the customer and type; a pair
    # bought only before the window counts 0 items there but makes its type and category known
    people = facts.group_by("customer_id").agg(
        in_window.sum().alias("customer_items"),
        pl.col("type").filter(in_window).n_unique().alias("customer_types"),
        _new(as_of).sum().alias("customer_new_items"),
        (pl.lit(as_of) - pl.col("first_day").max()).dt.total_days().alias("customer_days_since_new"),
        pl.col("value").filter(in_window).sum().alias("customer_value"),
        pl.col("price").filter(in_window).mean().alias("customer_mean_price"),
    )
    in_category = facts.group_by("customer_id", "category").agg(
        in_window.sum().alias("category_items"),
        pl.col("value").filter(in_window).sum().alias("category_value"),
        pl.lit(0).alias("category_new"),
    )
    in_type = facts.group_by("customer_id", "type").agg(
        in_window.sum().alias("type_items"), pl.lit(0).alias("type_new")
    )
    return (
        pool.join(catalogue, on="sku", how="left")
        .join(people, on="customer_id", how="left")
        .join(in_category, on=["customer_id", "category"], how="left")
        .join(in_type, on=["customer_id", "type"], how="left")
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
        .with_columns(
            # the broad model's order of the customer's candidates (its scores' scale differs
            # between histories; the order does not)
            pl.col("broad_score").rank("ordinal", descending=True).over("customer_id").alias("broad_rank")
        )
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
