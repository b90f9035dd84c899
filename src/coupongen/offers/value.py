"""Expected value of an offer: what the purchase it is for earns, minus what its reward costs.

Each candidate carries the chance of the purchase the offer is for (`chances`: the ranking's
calibrated chance for a learned cross-sell ranking, else the shares measured on the retailer's own
history), the margin of that purchase (the products file's ``cost`` where it has one, else the
job's ``margin_rate``; on the whole basket, a basket of at least ``min_basket``) and the reward's
cost when used. A coupon is used when that purchase happens, so expected value = chance x (margin -
reward cost). The chance is measured on purchases
made without this coupon: the value counts the whole purchase as the coupon's, an upper bound of
what it adds; the holdout evaluation measures what it really adds.
"""

from __future__ import annotations

import polars as pl

from coupongen.config import CampaignConfig, amount
from coupongen.offers.candidates import OfferContext
from coupongen.offers.chances import due_group, recency_group, visit_key
from coupongen.offers.guards import reward_cost

VALUE_COLUMNS = ("chance", "margin", "reward_cost", "expected_value")
"""Columns `with_values` adds: chance (0..1, null where no history measures it), margin and
reward_cost (money, per purchase), expected_value (chance x (margin - reward_cost))."""


def with_values(
    cands: pl.DataFrame, campaign: CampaignConfig, ctx: OfferContext, *, horizon: int | None = None
) -> pl.DataFrame:
    """``cands`` (customer_id, target_kind, target, priority, base_value) with `VALUE_COLUMNS`.

    The chance is for the coupon's validity (``valid_days``, or ``horizon`` days), from
    ``ctx.chances`` for that horizon:
    cross-sell of a product takes the ranking's score when ``ctx.calibrated`` (a chance of a first
    purchase, the learned ranking's) and the campaign picks its own products, else the product's
    first-purchase rate; replenishment of a product the customer's cycle group's rate of buying
    again; every other offer the customer's visit group's rate of coming back.
    """
    if cands.is_empty():
        return cands.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in VALUE_COLUMNS)
    chance = _chances(cands, campaign, ctx, horizon or campaign.valid_days)
    rates = margin_rates(ctx.products, ctx.margin_rate)
    # A reward on the whole basket is paid only on a basket of at least min_basket.
    floor = amount(campaign.min_basket, "min_basket")
    spend = pl.col("base_value").fill_null(0.0)
    spend = (
        pl.when(pl.col("target_kind") == "basket")
        .then(pl.max_horizontal(spend, pl.lit(floor)))
        .otherwise(spend)
    )
    margin = spend * pl.col("margin_rate")
    cost = reward_cost(campaign, pl.col("base_value"), ctx.point_value, ctx.points_per_currency)
    return (
        chance.join(rates, on=["target_kind", "target"], how="left")
        .with_columns(pl.col("margin_rate").fill_null(_overall(rates, ctx.margin_rate)))
        .with_columns(margin.round(4).alias("margin"), cost.cast(pl.Float64).round(4).alias("reward_cost"))
        .with_columns(
            (pl.col("chance") * (pl.col("margin") - pl.col("reward_cost"))).round(4).alias("expected_value")
        )
        .drop("margin_rate")
    )


def margin_source(products: pl.DataFrame, margin_rate: float) -> str:
    """Where margins come from: the products file's cost (known for some products) or the job's rate."""
    if not margin_rates(products, margin_rate).is_empty():
        return "products file's cost"
    return f"job's margin_rate {margin_rate:g}"


def margin_rates(products: pl.DataFrame, margin_rate: float) -> pl.DataFrame:
    """Margin rates (price - cost) / price where the products file gives both, per product and per
    category: target_kind ("sku", "category", "basket": the whole catalogue), target, margin_rate.
    """
    schema = pl.Schema({"target_kind": pl.String(), "target": pl.String(), "margin_rate": pl.Float64()})
    if "cost" not in products.columns or "price" not in products.columns:
        return pl.DataFrame(schema=schema)
    known = products.filter(pl.col("cost").is_not_null() & (pl.col("price") > 0)).select(
        "sku",
        "category",
        ((pl.col("price") - pl.col("cost")) / pl.col("price")).clip(-1.0, 1.0).alias("rate"),
    )
    if known.is_empty():
        return pl.DataFrame(schema=schema)
    return (
        pl.concat(
            [
                known.select(pl.lit("sku").alias("target_kind"), pl.col("sku").alias("target"), "rate"),
                known.group_by("category")
                .agg(pl.col("rate").mean())
                .select(pl.lit("category").alias("target_kind"), pl.col("category").alias("target"), "rate"),
                known.select(
                    pl.lit("basket").alias("target_kind"),
                    pl.lit(None, dtype=pl.String).alias("target"),
                    pl.col("rate").mean(),
                ),
            ]
        )
        .rename({"rate": "margin_rate"})
        .cast(schema)
    )  # type: ignore[arg-type]


def _overall(rates: pl.DataFrame, margin_rate: float) -> float:
    """The rate of a target without a known cost: the catalogue's mean where costs are known."""
    basket = rates.filter(pl.col("target_kind") == "basket")
    return float(basket["margin_rate"][0]) if basket.height else margin_rate


def _chances(cands: pl.DataFrame, campaign: CampaignConfig, ctx: OfferContext, horizon: int) -> pl.DataFrame:
    table = (
        ctx.chances.filter(pl.col("horizon") == horizon)
        if ctx.chances is not None
        else pl.DataFrame(schema={"model": pl.String, "key": pl.String, "rate": pl.Float64})
    )

    def rates(model: str) -> tuple[pl.DataFrame, float | None]:
        mine = table.filter(pl.col("model") == model)
        overall = mine.filter(pl.col("key") == "*")["rate"]
        return mine.select("key", "rate"), (float(overall[0]) if overall.len() else None)

    by_sku = pl.col("target_kind") == "sku"
    if campaign.type == "cross_sell" and ctx.calibrated and campaign.target is None:
        return cands.with_columns(pl.col("priority").clip(0.0, 1.0).alias("chance"))
    if table.is_empty():
        return cands.with_columns(pl.lit(None, dtype=pl.Float64).alias("chance"))
    if campaign.type == "cross_sell":
        groups, overall = rates("adoption")
        keyed = cands.with_columns(pl.when(by_sku).then(pl.col("target")).alias("key"))
    elif campaign.type == "replenishment":
        groups, overall = rates("cycle")
        # The candidates' own products only, looked up in the candidates: a join over every
        # product bought holds all of them for a few of their rows.
        cycle = (
            ctx.bought.lazy()
            .select(
                "customer_id",
                pl.col("sku").alias("target"),
                pl.col("days_since_last").alias("_since"),
                pl.col("cycle_days").alias("_cycle"),
                pl.lit(True).alias("_found"),
            )
            .join(cands.lazy().select("customer_id", "target"), on=["customer_id", "target"], how="semi")
            .collect()
        )
        due = due_group(pl.col("_since") / pl.col("_cycle"))
        keyed = (
            cands.join(cycle, on=["customer_id", "target"], how="left")
            .with_columns(pl.when(pl.col("_found")).then(due).alias("key"))
            .drop("_since", "_cycle", "_found")
        )
    else:
        groups, overall = rates("visit")
        # The candidates' customers only: their groups are texts, built per customer.
        who = ctx.customers.join(cands.select("customer_id").unique(), on="customer_id", how="semi").select(
            "customer_id",
            visit_key(
                pl.col("recency_days"), pl.col("tenure_days") - pl.col("recency_days"), pl.col("visits")
            ).alias("key"),
            recency_group(pl.col("recency_days")).alias("parent"),
        )
        # a group the split never saw takes its recency group's rate
        keyed = cands.join(who, on="customer_id", how="left").join(
            groups.rename({"key": "parent", "rate": "parent_rate"}), on="parent", how="left"
        )
        keyed = keyed.drop("parent")
    fallback = pl.col("parent_rate") if "parent_rate" in keyed.columns else pl.lit(None, dtype=pl.Float64)
    return (
        keyed.join(groups, on="key", how="left")
        .with_columns(
            pl.col("rate").fill_null(fallback).fill_null(pl.lit(overall, dtype=pl.Float64)).alias("chance")
        )
        .drop("key", "rate", "parent_rate", strict=False)
    )
