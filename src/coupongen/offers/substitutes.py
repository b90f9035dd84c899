"""How many of a night's cross-sell offers are substitutes of what the customer already buys.

A product's type is its subcategory where the products file has one, else its category
(`ranking_sources.product_types`, as the ranking and the backtest read it). An offer is a
substitute when its customer bought a product of the target's type in the look-back window: another
brand of the eggs they buy is a discount on what they would buy anyway. The run's summary and
report give the share per cross-sell campaign, beside the backtest's measure of the same thing.
"""

from __future__ import annotations

import polars as pl

from coupongen.analysis.ranking_sources import product_types
from coupongen.offers.candidates import OfferContext


def substitute_share(sent: pl.DataFrame, ctx: OfferContext) -> float | None:
    """The share of ``sent``'s product offers (target_kind "sku") that are substitutes (see the
    module); None without a product offer.
    """
    items = sent.filter(pl.col("target_kind") == "sku").select("customer_id", pl.col("target").alias("sku"))
    if items.is_empty():
        return None
    types = product_types(ctx.products).lazy().select("sku", "type")
    # Only the offers' customers' purchases: a few thousand customers, not the whole history.
    customers = items.select("customer_id").unique().lazy()
    bought_types = (
        pl.concat(ctx.bought_recently_parts())
        .join(customers, on="customer_id", how="semi")
        .join(types, on="sku")
        .select("customer_id", "type")
        .unique()
        .with_columns(pl.lit(True).alias("substitute"))
    )
    flagged = (
        items.lazy()
        .join(types, on="sku", how="left")
        .join(bought_types, on=["customer_id", "type"], how="left")
        .select(pl.col("substitute").fill_null(False).mean())
        .collect()
    )
    return round(float(flagged.item()), 4)
