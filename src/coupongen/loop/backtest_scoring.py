"""Scoring a backtest's offers: the history seen at one level, and hits on later purchases.

An offer is a hit when the customer bought its target in the days after the cutoff, and new when
the customer had never bought it before; at level "category" every item is a category. A category
target at sku level (win-back's favourite category) is a hit when the customer bought any product
of it; a whole-basket target (second purchase, VIP...) when the customer came back at all. Each
target also has a product type (its subcategory where the products file has one, else its
category): an offer is a substitute when the customer bought that type in the look-back window,
and a new-type hit when the customer had never bought the type and bought any product of it in
the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import polars as pl

from coupongen.analysis import features
from coupongen.analysis.night import Analysis
from coupongen.analysis.ranking_sources import product_types
from coupongen.config import CampaignConfig
from coupongen.inputs.contract import Inputs
from coupongen.offers.eligibility import restricted_categories

METRICS_SCHEMA = pl.Schema(
    {
        "campaign": pl.String(),
        "offer_type": pl.String(),
        "method": pl.String(),
        "level": pl.String(),
        "active": pl.Int64(),
        "customers": pl.Int64(),
        "covered": pl.Int64(),
        "coverage": pl.Float64(),
        "active_coverage": pl.Float64(),
        "offers": pl.Int64(),
        "hits": pl.Int64(),
        "hit_rate": pl.Float64(),
        "new_offers": pl.Int64(),
        "new_hits": pl.Int64(),
        "new_item_hit_rate": pl.Float64(),
        "customer_new_hit_rate": pl.Float64(),
        "new_type_hit_rate": pl.Float64(),
        "substitute_share": pl.Float64(),
        "distinct_targets": pl.Int64(),
        "came_back_rate": pl.Float64(),
        "expected_rate": pl.Float64(),
    }
)
"""Columns and dtypes of the metrics frame `backtest.backtest` returns."""

OFFERS_SCHEMA = pl.Schema(
    {
        "campaign": pl.String(),
        "offer_type": pl.String(),
        "method": pl.String(),
        "customer_id": pl.String(),
        "target_kind": pl.String(),
        "target": pl.String(),
        "rank": pl.Int32(),
        "reason": pl.String(),
        "hit": pl.Boolean(),
        "new_item": pl.Boolean(),
        "substitute": pl.Boolean(),
        "new_type_hit": pl.Boolean(),
        "came_back": pl.Boolean(),
        "chance": pl.Float64(),
    }
)
"""Columns and dtypes of the offers frame `backtest.backtest` returns."""


@dataclass(frozen=True)
class LevelView:
    """The history seen at one level: items are skus or categories.

    bought: customer_products with items as skus; products: the items (sku, name, category, price,
    promo_allowed); later: (customer_id, target) bought in the scoring window; types: (target,
    type) of every item. level: "sku" or "category".
    """

    bought: pl.DataFrame
    products: pl.DataFrame
    rules: pl.DataFrame
    later: pl.DataFrame  # customer_id, target: bought in the scoring window
    types: pl.DataFrame  # target, type
    level: str = "sku"

    def as_categories(self) -> LevelView:
        """The same history with categories as items (for category targets at sku level)."""
        if self.level == "category":
            return self
        category = self.products.select(pl.col("sku").alias("target"), "category")
        bought = (
            self.bought.join(category.rename({"target": "sku"}), on="sku")
            .group_by("customer_id", "category")
            .agg(pl.col("in_lookback").any())
            .rename({"category": "sku"})
        )
        later = self.later.join(category, on="target").select(
            "customer_id", pl.col("category").alias("target")
        )
        types = category.select(pl.col("category").alias("target"), pl.col("category").alias("type")).unique()
        return LevelView(
            bought=bought,
            products=self.products,
            rules=self.rules,
            later=later.unique(),
            types=types,
            level="category",
        )


def score_offers(made: pl.DataFrame, view: LevelView) -> pl.DataFrame:
    """Mark each offer bought in the window (hit), never bought before the cutoff (new_item), a
    substitute, a new-type hit, and whether its customer bought anything in the window (came_back).

    Offers without a target (or ``target_kind`` "basket": a reward on the whole basket) are a hit
    when the customer came back; a "category" target at sku level when the customer bought any
    product of the category.
    """
    if "target_kind" not in made.columns:
        made = made.with_columns(pl.lit("sku").alias("target_kind"))
    if "chance" not in made.columns:
        made = made.with_columns(pl.lit(None, dtype=pl.Float64).alias("chance"))
    made = made.cast({"rank": pl.Int32, "reason": pl.String, "target_kind": pl.String})
    basket = pl.col("target").is_null() | (pl.col("target_kind") == "basket")
    by_category = ~basket & (pl.col("target_kind") == "category") & pl.lit(view.level == "sku")
    parts = [
        _score_items(made.filter(~basket & ~by_category), view),
        _score_items(made.filter(by_category), view.as_categories())
        if not made.filter(by_category).is_empty()
        else None,
        made.filter(basket).with_columns(
            pl.lit(None, dtype=pl.Boolean).alias("hit"),
            pl.lit(False).alias("new_item"),
            pl.lit(False).alias("substitute"),
            pl.lit(False).alias("new_type_hit"),
        ),
    ]
    visitors = view.later.select("customer_id").unique().with_columns(pl.lit(True).alias("came_back"))
    return (
        pl.concat(
            [
                p.select(*made.columns, "hit", "new_item", "substitute", "new_type_hit")
                for p in parts
                if p is not None
            ]
        )
        .join(visitors, on="customer_id", how="left")
        .with_columns(pl.col("came_back").fill_null(False))
        .with_columns(pl.col("hit").fill_null(pl.col("came_back")))
        .select(OFFERS_SCHEMA.names())
        .cast(OFFERS_SCHEMA)
    )


def _score_items(made: pl.DataFrame, view: LevelView) -> pl.DataFrame:
    """Offers whose target is an item of ``view``: hit, new_item, substitute, new_type_hit."""
    ever = view.bought.select("customer_id", pl.col("sku").alias("target")).unique()
    later = view.later.with_columns(pl.lit(True).alias("hit"))
    typed = view.bought.select("customer_id", pl.col("sku").alias("target"), "in_lookback").join(
        view.types, on="target"
    )
    ever_type = typed.select("customer_id", "type").unique().with_columns(pl.lit(False).alias("new_type"))
    window_type = (
        typed.filter(pl.col("in_lookback"))
        .select("customer_id", "type")
        .unique()
        .with_columns(pl.lit(True).alias("substitute"))
    )
    later_type = (
        view.later.join(view.types, on="target")
        .select("customer_id", "type")
        .unique()
        .with_columns(pl.lit(True).alias("type_bought"))
    )
    return (
        made.join(later, on=["customer_id", "target"], how="left")
        .join(
            ever.with_columns(pl.lit(False).alias("new_item")),
            on=["customer_id", "target"],
            how="left",
        )
        .join(view.types, on="target", how="left")
        .join(window_type, on=["customer_id", "type"], how="left")
        .join(ever_type, on=["customer_id", "type"], how="left")
        .join(later_type, on=["customer_id", "type"], how="left")
        .with_columns(
            pl.col("hit").fill_null(False),
            pl.col("new_item").fill_null(True),
            pl.col("substitute").fill_null(False),
            (pl.col("new_type").fill_null(True) & pl.col("type_bought").fill_null(False)).alias(
                "new_type_hit"
            ),
        )
    )


def campaign_metrics(
    scored: pl.DataFrame,
    campaign: CampaignConfig,
    method: str,
    admitted: pl.DataFrame,
    *,
    active: int,
    level: str,
    label: str | None = None,
) -> pl.DataFrame:
    """One metrics row: the offers of `campaign` ranked by `method`, on the admitted customers.

    Only offers to the admitted customers count (a sub-group of a campaign's customers is scored by
    passing it as ``admitted``); ``label`` names the row's method (default ``method``).
    """
    mine = scored.filter((pl.col("campaign") == campaign.name) & (pl.col("method") == method)).join(
        admitted.select("customer_id"), on="customer_id", how="semi"
    )
    n = mine.height
    hits = int(mine["hit"].sum())
    new_offers = int(mine["new_item"].sum())
    new_hits = int((mine["hit"] & mine["new_item"]).sum())
    covered = mine["customer_id"].n_unique()
    new_hit_customers = mine.filter(pl.col("hit") & pl.col("new_item"))["customer_id"].n_unique()
    new_type_customers = mine.filter(pl.col("new_type_hit"))["customer_id"].n_unique()
    came_back = mine.filter(pl.col("came_back"))["customer_id"].n_unique()
    customers = admitted.height
    return pl.DataFrame(
        {
            "campaign": [campaign.name],
            "offer_type": [campaign.type],
            "method": [label or method],
            "level": [level],
            "active": [active],
            "customers": [customers],
            "covered": [covered],
            "coverage": [covered / customers if customers else None],
            "active_coverage": [covered / active if active else None],
            "offers": [n],
            "hits": [hits],
            "hit_rate": [hits / n if n else None],
            "new_offers": [new_offers],
            "new_hits": [new_hits],
            "new_item_hit_rate": [new_hits / n if n else None],
            "customer_new_hit_rate": [new_hit_customers / customers if customers else None],
            "new_type_hit_rate": [new_type_customers / customers if customers else None],
            "substitute_share": [int(mine["substitute"].sum()) / n if n else None],
            "distinct_targets": [mine["target"].drop_nulls().n_unique()],
            "came_back_rate": [came_back / covered if covered else None],
            "expected_rate": [mine["chance"].mean() if n else None],
        },
        schema=METRICS_SCHEMA,
    )


def level_view(
    level: str,
    analysis: Analysis,
    inputs: Inputs,
    *,
    cutoff: date,
    days: int,
    lookback: int,
) -> LevelView:
    """Purchases, products, rules and the window's purchases with skus or categories as items."""
    tx = inputs.transactions.kept
    products = inputs.products.kept
    if level == "sku":
        bought, items, rules = analysis.bought, products, analysis.rules
        types = product_types(products).select(pl.col("sku").alias("target"), "type")
    else:
        tx = tx.join(products.select("sku", "category"), on="sku").with_columns(
            pl.col("category").alias("sku")
        )
        bought = features.customer_products(tx, as_of=cutoff, lookback_days=lookback)
        banned = restricted_categories(products)
        items = (
            products.select(pl.col("category").alias("sku"))
            .unique()
            .sort("sku")
            .with_columns(
                pl.col("sku").alias("name"),
                pl.col("sku").alias("category"),
                pl.lit(None, dtype=pl.Float64).alias("price"),
                ~pl.col("sku").is_in(banned.implode()).alias("promo_allowed"),
            )
        )
        rules = analysis.category_rules
        types = items.select(pl.col("sku").alias("target"), pl.col("sku").alias("type"))
    start = datetime.combine(cutoff, time())
    later = (
        tx.filter(
            (pl.col("ts") >= start)
            & (pl.col("ts") < start + timedelta(days=days))
            & pl.col("customer_id").is_not_null()
            & (pl.col("quantity") > 0)
        )
        .select("customer_id", pl.col("sku").alias("target"))
        .unique()
    )
    return LevelView(bought=bought, products=items, rules=rules, later=later, types=types, level=level)
