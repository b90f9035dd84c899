"""Public codes: one shared code per campaign (a flyer, a poster, a partner's site), for any card.

A campaign with ``code.public = true`` chooses nobody: on the first night it runs it plans a single
coupon without a holder, valid as the campaign says, that any card may use ``code.total_uses``
times in all. It is issued once; later nights find it in the ledger and plan nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from coupongen.config import CampaignConfig, amount
from coupongen.offers.candidates import OfferContext
from coupongen.offers.guards import expected_cost
from coupongen.offers.money import per_offer_reward

PUBLIC_SLOT = "public"
"""The last part of a public coupon's offer key: ``<campaign>:public``, one per campaign ever."""


def public_target(campaign: CampaignConfig) -> tuple[str, str | None]:
    """(target_kind, target) of a public code: one sku, one category, or the basket."""
    target = campaign.target
    if target is not None and target.skus:
        return "sku", target.skus[0]
    if target is not None and target.categories:
        return "category", target.categories[0]
    return "basket", None


def public_offer(campaign: CampaignConfig, ctx: OfferContext, issued_on: Mapping[str, str]) -> pl.DataFrame:
    """The campaign's public coupon to issue tonight: one row of the offer columns, or none when an
    earlier night issued it (``issued_on`` maps campaign -> the night its public code was issued).

    Its expected cost is ``total_uses`` times one use's: the reward's money value on the target's
    price (one sku) or on the minimum basket, times the expected redemption rate.
    """
    as_of = ctx.as_of.isoformat()
    if issued_on.get(campaign.name, as_of) != as_of:
        return pl.DataFrame()
    kind, target = public_target(campaign)
    price = 0.0
    if kind == "sku" and "price" in ctx.products.columns:
        prices = ctx.products.filter(pl.col("sku") == target)["price"].drop_nulls()
        price = float(prices[0]) if prices.len() else 0.0
    min_basket = amount(campaign.min_basket, "min_basket")
    base = pl.lit(price if kind == "sku" else min_basket)
    valid_from, valid_to = campaign.validity(ctx.as_of)
    uses = campaign.code.total_uses or 1
    return pl.DataFrame({"one": [1]}).select(
        pl.lit(f"{campaign.name}:{PUBLIC_SLOT}").alias("offer_key"),
        pl.lit("public").alias("kind"),
        pl.lit(campaign.code.symbology).alias("symbology"),
        pl.lit(as_of).alias("as_of"),
        pl.lit(campaign.name).alias("campaign"),
        pl.lit(campaign.type).alias("offer_type"),
        pl.lit(None, dtype=pl.String).alias("customer_id"),
        pl.lit(None, dtype=pl.String).alias("card_number"),
        pl.lit(kind).alias("target_kind"),
        pl.lit(target, dtype=pl.String).alias("target"),
        pl.lit(campaign.reward.type).alias("reward_type"),
        per_offer_reward(campaign, base, ctx.point_value).cast(pl.Float64).alias("reward_value"),
        pl.lit(campaign.reward.buy, dtype=pl.Int64).alias("reward_buy"),
        pl.lit(campaign.reward.get, dtype=pl.Int64).alias("reward_get"),
        pl.lit(min_basket, dtype=pl.Float64).alias("min_basket"),
        pl.lit(valid_from.isoformat()).alias("valid_from"),
        pl.lit(valid_to.isoformat()).alias("valid_to"),
        pl.lit(uses, dtype=pl.Int64).alias("max_uses"),
        (expected_cost(campaign, base, ctx.point_value, ctx.points_per_currency) * uses)
        .cast(pl.Float64)
        .alias("expected_cost"),
        pl.lit(None, dtype=pl.Float64).alias("chance"),
        pl.lit(None, dtype=pl.Float64).alias("expected_value"),
        pl.lit(f"public code of {campaign.name}: any card, {uses} uses in all").alias("reason"),
    )


def public_counts(campaign: CampaignConfig, shared: pl.DataFrame) -> dict[str, object]:
    """A public campaign's funnel row: nobody is chosen; its one coupon, when planned tonight."""
    return {
        "campaign": campaign.name,
        "offer_type": campaign.type,
        "eligible": 0,
        "recently_offered": 0,
        "candidates": shared.height,
        "capped": shared.height,
        "within_budget": shared.height,
        "treated": shared.height,
        "control": 0,
        "set_aside": 0,
        "expected_cost": round(float(shared["expected_cost"].sum()) if shared.height else 0.0, 2),
        "budget": None if campaign.budget is None else amount(campaign.budget, "budget"),
        "mean_chance": None,
        "expected_value": None,
        "value_per_coupon": None,
        "negative_value": 0,
        "margin_source": None,
        "substitute_share": None,
    }
