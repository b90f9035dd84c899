"""A campaign's own target: the offer type picks who and why, the target picks what the reward is on.

The target is a product set (skus, categories, brands, product-name patterns) and an optional rule
that picks one product per customer within it: the cross-sell model's, the customer's favourite,
or a regular product that is due. The guards hold inside the set: a product the retailer does not
promote is never picked, nor a category holding one, and a model pick is never a product the
customer bought in the look-back window.
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from coupongen.config import CampaignConfig, Target
from coupongen.offers.candidates import (
    CANDIDATE_SCHEMA,
    OfferContext,
    cross_sell_candidates,
    replenishment_candidates,
)
from coupongen.offers.eligibility import promotable, restricted_categories

_PICK_SCHEMA = {k: v for k, v in CANDIDATE_SCHEMA.items() if k != "priority"}


def target_products(products: pl.DataFrame, target: Target) -> pl.DataFrame:
    """The promotable products of the target's set (every promotable product without lists).

    A product is in the set when its sku, category or brand is listed or its name matches a
    pattern (case-insensitive regular expression, anywhere in the name).
    """
    allowed = promotable(products)
    if not target.has_products:
        return allowed
    cond = pl.lit(False)
    if target.skus:
        cond |= pl.col("sku").is_in(list(target.skus))
    if target.categories:
        cond |= pl.col("category").is_in(list(target.categories))
    if target.brands and "brand" in allowed.columns:
        cond |= pl.col("brand").is_in(list(target.brands)).fill_null(False)
    for pattern in target.name_patterns:
        cond |= pl.col("name").str.contains(f"(?i){pattern}")
    return allowed.filter(cond)


def apply_target(cands: pl.DataFrame, ctx: OfferContext, campaign: CampaignConfig) -> pl.DataFrame:
    """The offer type's candidates with the campaign's target as what the reward applies to.

    Candidates keep their priority; the reason gains the target's part. A customer for whom the
    target yields nothing (no due product, no favourite in the set, every product bought) drops.
    Without a target, the candidates are returned unchanged.
    """
    target = campaign.target
    if target is None or cands.is_empty():
        return cands
    who = cands.select("customer_id", "priority", pl.col("reason").alias("why"))
    picked = _pick(who, ctx, campaign, target)
    # a cross-sell candidate's own reason explains a product outside the set: the pick's says it all
    parts = ["reason"] if campaign.type == "cross_sell" else ["why", "reason"]
    return (
        who.join(picked, on="customer_id")
        .select(
            "customer_id",
            "target_kind",
            "target",
            "priority",
            "base_value",
            pl.concat_str(parts, separator="; ").alias("reason"),
        )
        .cast(CANDIDATE_SCHEMA)  # type: ignore[arg-type]
    )


def _pick(who: pl.DataFrame, ctx: OfferContext, campaign: CampaignConfig, target: Target) -> pl.DataFrame:
    """customer_id, target_kind, target, base_value, reason: one pick per customer who has one."""
    products = target_products(ctx.products, target)
    if target.rule == "model" or campaign.type == "cross_sell":
        # Only the set's products may be offered, but the reason names the customer's own purchase
        # behind the pick, which need not be in the set: every product stays, the others unpromoted.
        in_set = pl.col("sku").is_in(products["sku"].implode())
        unpromoted = ctx.products.with_columns(pl.col("promo_allowed") & in_set)
        narrowed = replace(ctx, products=unpromoted, relevance=None)
        return _without_priority(cross_sell_candidates(who, narrowed, campaign))
    if target.rule == "replenishment":
        narrowed = replace(ctx, products=products)
        return _without_priority(replenishment_candidates(who, narrowed, campaign))
    if target.categories_only or (target.rule == "favourite" and not target.has_products):
        return _pick_category(who, ctx, target)
    return _pick_product(who, ctx, products, favourite_only=target.rule == "favourite")


def _without_priority(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop("priority").cast(_PICK_SCHEMA)  # type: ignore[arg-type]


def _pick_category(who: pl.DataFrame, ctx: OfferContext, target: Target) -> pl.DataFrame:
    """A category coupon: the customer's best-selling listed category (any category with the
    favourite rule and no list), else, without the rule, the first listed one.
    """
    banned = restricted_categories(ctx.products).implode()
    known = ctx.products.filter(~pl.col("category").is_in(banned))["category"].unique()
    listed = [c for c in sorted(set(target.categories)) if c in set(known.to_list())]
    if not target.categories:
        listed = sorted(known.to_list())
    spend = (
        ctx.categories.filter(pl.col("category").is_in(listed))
        .join(who.select("customer_id"), on="customer_id")
        .join(ctx.customers.select("customer_id", "avg_basket"), on="customer_id", how="left")
        .sort(["customer_id", "spend", "category"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .first()
        .select(
            "customer_id",
            "category",
            (pl.col("avg_basket").fill_null(0.0) * pl.col("share")).round(2).alias("base_value"),
            pl.format(
                "{} is {}% of their spend", "category", (pl.col("share") * 100).round(0).cast(pl.Int64)
            ).alias("reason"),
        )
    )
    picks = spend
    if target.rule != "favourite" and listed:
        # Customers who never bought a listed category get the first one, valued at its median price.
        first = listed[0]
        median = ctx.products.filter(pl.col("category") == first)["price"].median()
        rest = (
            who.select("customer_id")
            .join(spend, on="customer_id", how="anti")
            .select(
                "customer_id",
                pl.lit(first).alias("category"),
                pl.lit(float(median) if isinstance(median, int | float) else 0.0).alias("base_value"),
                pl.lit(f"campaign target {first}").alias("reason"),
            )
        )
        picks = pl.concat([spend, rest])
    return picks.select(
        "customer_id",
        pl.lit("category").alias("target_kind"),
        pl.col("category").alias("target"),
        "base_value",
        "reason",
    ).cast(_PICK_SCHEMA)  # type: ignore[arg-type]


def _pick_product(
    who: pl.DataFrame, ctx: OfferContext, products: pl.DataFrame, *, favourite_only: bool
) -> pl.DataFrame:
    """A product coupon: the customer's most bought product of the set; without the favourite
    rule, customers who never bought one get the set's most widely bought product.
    """
    names = products.select("sku", "name", pl.col("price").fill_null(0.0))
    own = (
        ctx.bought.join(who.select("customer_id"), on="customer_id")
        .join(names, on="sku")
        .sort(["customer_id", "receipts", "sku"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .first()
        .select("customer_id", "sku", "price", pl.format("bought {} {}x", "name", "receipts").alias("reason"))
    )
    picks = own
    if not favourite_only and not names.is_empty():
        popular = (
            ctx.bought.join(names, on="sku")
            .group_by("sku")
            .agg(pl.len().alias("buyers"))
            .sort(["buyers", "sku"], descending=[True, False])
        )
        best = popular["sku"][0] if popular.height else names.sort("sku")["sku"][0]
        row = names.filter(pl.col("sku") == best)
        rest = (
            who.select("customer_id")
            .join(own, on="customer_id", how="anti")
            .select(
                "customer_id",
                pl.lit(best).alias("sku"),
                pl.lit(float(row["price"][0])).alias("price"),
                pl.lit(f"campaign target {row['name'][0]}").alias("reason"),
            )
        )
        picks = pl.concat([own, rest])
    return picks.select(
        "customer_id",
        pl.lit("sku").alias("target_kind"),
        pl.col("sku").alias("target"),
        pl.col("price").alias("base_value"),
        "reason",
    ).cast(_PICK_SCHEMA)  # type: ignore[arg-type]
