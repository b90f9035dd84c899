"""The backtest's offers of every offer type but cross-sell, each next to simple baselines.

Replenishment (a regular product that is due) is scored against offering the same products to
everyone who bought them and against each customer's most bought products; win-back, split by
lifecycle state (lapsing, lapsed), against every lapsing and every lapsed customer; second
purchase against every customer with a single visit. Each baseline offers what the offer type
would (the favourite category, the whole basket), so only the choice of customers differs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from coupongen.config import CampaignConfig
from coupongen.offers.candidates import OFFER_TYPES, OfferContext
from coupongen.offers.value import with_values

WIN_BACK_STATES = ("lapsing", "lapsed")
"""Lifecycle states a win-back offer is for, scored apart."""

TYPE_BASELINES: dict[str, tuple[str, ...]] = {
    "cross_sell": ("popularity", "popularity_unbought"),
    "replenishment": ("bought_it", "favourites"),
    "win_back": tuple(f"all_{state}" for state in WIN_BACK_STATES),
    "second_purchase": ("all_one_visit",),
}
"""The baselines each offer type is scored next to (see the module docstring)."""

RANKED_TYPES = ("cross_sell", "replenishment")
"""Offer types that can make up to --top-n offers per customer (their targets are products)."""


@dataclass(frozen=True)
class Scored:
    """One metrics row to be: a campaign's offers made by ``method``, on the ``admitted`` customers.

    ``offers`` None: the row scores a sub-group of the offers of the same campaign and method
    (``label`` names it, e.g. "win_back, lapsed").
    """

    campaign: CampaignConfig
    method: str
    admitted: pl.DataFrame
    offers: pl.DataFrame | None
    label: str | None = None


def type_rows(
    campaign: CampaignConfig,
    admitted: pl.DataFrame,
    active: pl.DataFrame,
    ctx: OfferContext,
    *,
    top_n: int,
) -> list[Scored]:
    """The campaign's own offers (method = its type) and its type's baselines."""
    if campaign.type == "replenishment":
        made = ranked_offers(admitted, ctx, campaign, top_n)
        rows = [Scored(campaign, campaign.type, admitted, made)]
        return rows + _replenishment_baselines(campaign, admitted, ctx, made, top_n)
    proposed = with_chances(OFFER_TYPES[campaign.type](admitted, ctx, campaign), campaign, ctx)
    made = as_offers(proposed, campaign, campaign.type, rank=1)
    rows = [Scored(campaign, campaign.type, admitted, made)]
    if campaign.type == "win_back":
        for state in WIN_BACK_STATES:
            group = admitted.filter(pl.col("lifecycle") == state)
            rows.append(Scored(campaign, campaign.type, group, None, label=f"{campaign.type}, {state}"))
        for state in WIN_BACK_STATES:
            everyone = active.filter(pl.col("lifecycle") == state)
            base = OFFER_TYPES["win_back"](everyone, ctx, campaign)
            rows.append(
                Scored(campaign, f"all_{state}", everyone, as_offers(base, campaign, f"all_{state}", rank=1))
            )
    elif campaign.type == "second_purchase":
        once = active.filter(pl.col("visits") == 1)
        base = OFFER_TYPES["second_purchase"](once, ctx, campaign)
        rows.append(
            Scored(campaign, "all_one_visit", once, as_offers(base, campaign, "all_one_visit", rank=1))
        )
    return rows


def ranked_offers(
    admitted: pl.DataFrame, ctx: OfferContext, campaign: CampaignConfig, top_n: int
) -> pl.DataFrame:
    """Up to top_n offers per customer of a product-target type, each rank by the nightly proposer.

    Rank k is what the offer type proposes once ranks 1 to k-1 are taken out of the customers'
    products, so every rank passes the same rules and guards as the offer that is sent.
    """
    picked: list[pl.DataFrame] = []
    current = ctx
    for rank in range(1, top_n + 1):
        proposed = OFFER_TYPES[campaign.type](admitted, current, campaign)
        picked.append(as_offers(with_chances(proposed, campaign, ctx), campaign, campaign.type, rank=rank))
        if proposed.is_empty():
            break
        taken = proposed.select("customer_id", pl.col("target").alias("sku"))
        current = replace(current, bought=current.bought.join(taken, on=["customer_id", "sku"], how="anti"))
    return pl.concat(picked)


def _replenishment_baselines(
    campaign: CampaignConfig, admitted: pl.DataFrame, ctx: OfferContext, made: pl.DataFrame, top_n: int
) -> list[Scored]:
    """bought_it: each product the campaign offers, to every admitted customer who bought it in the
    look-back window; favourites: each admitted customer's top_n products by receipts in it.
    """
    promotable = ctx.products.filter(pl.col("promo_allowed")).select("sku")
    recent = (
        ctx.bought.filter(pl.col("in_lookback"))
        .join(admitted.select("customer_id"), on="customer_id", how="semi")
        .join(promotable, on="sku", how="semi")
    )
    bought_it = (
        recent.join(made.select(pl.col("target").alias("sku")).unique(), on="sku", how="semi")
        .select("customer_id", pl.col("sku").alias("target"), pl.lit(1, dtype=pl.Int32).alias("rank"))
        .sort("customer_id", "target")
    )
    favourites = (
        recent.sort(["customer_id", "receipts", "sku"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .head(top_n)
        .select(
            "customer_id",
            pl.col("sku").alias("target"),
            (pl.int_range(pl.len()).over("customer_id") + 1).cast(pl.Int32).alias("rank"),
        )
    )
    return [
        Scored(campaign, name, admitted, _baseline(frame, campaign, name))
        for name, frame in (("bought_it", bought_it), ("favourites", favourites))
    ]


def _baseline(frame: pl.DataFrame, campaign: CampaignConfig, method: str) -> pl.DataFrame:
    return frame.select(
        pl.lit(campaign.name).alias("campaign"),
        pl.lit(campaign.type).alias("offer_type"),
        pl.lit(method).alias("method"),
        "customer_id",
        pl.lit("sku").alias("target_kind"),
        "target",
        pl.col("rank").cast(pl.Int32),
        pl.lit(None, dtype=pl.String).alias("reason"),
        pl.lit(None, dtype=pl.Float64).alias("chance"),
    )


def with_chances(proposed: pl.DataFrame, campaign: CampaignConfig, ctx: OfferContext) -> pl.DataFrame:
    """The candidates with the chance of the purchase each is for, over the scoring window
    (``ctx.chances`` holds the tables of that one horizon; see `value.with_values`).
    """
    if ctx.chances is None or ctx.chances.is_empty():
        return proposed
    horizon = int(ctx.chances["horizon"][0])
    return with_values(proposed, campaign, ctx, horizon=horizon)


def as_offers(proposed: pl.DataFrame, campaign: CampaignConfig, method: str, *, rank: int) -> pl.DataFrame:
    """Candidates of an offer type as the backtest's offers of one rank (chance null when the
    candidates have none).
    """
    chance = pl.col("chance") if "chance" in proposed.columns else pl.lit(None, dtype=pl.Float64)
    return proposed.select(
        pl.lit(campaign.name).alias("campaign"),
        pl.lit(campaign.type).alias("offer_type"),
        pl.lit(method).alias("method"),
        "customer_id",
        "target_kind",
        "target",
        pl.lit(rank, dtype=pl.Int32).alias("rank"),
        "reason",
        chance.cast(pl.Float64).alias("chance"),
    )
