"""A campaign's candidates tonight: who the offer type proposes, under the caps, with a free place.

The offer type proposes (``candidates``), the campaign's target picks what the reward is on
(``targeting``), the frequency and per-customer caps drop who had enough (``guards``), and
customers another campaign's offers leave no place for are set apart; each candidate gets its
expected cost and value. Planning (``planning``) then cuts them to the budget.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import polars as pl

from coupongen.analysis.relevance import Ranker
from coupongen.config import CampaignConfig, MoneyRule
from coupongen.offers.candidates import OFFER_TYPES, OfferContext, cross_sell_candidates
from coupongen.offers.guards import expected_cost, frequency_capped, per_customer_capped
from coupongen.offers.substitutes import SUBSTITUTE, pinned, with_substitutes
from coupongen.offers.targeting import apply_target
from coupongen.offers.value import with_values


def capped_ids(
    eligible: pl.DataFrame,
    campaign: CampaignConfig,
    recent: pl.DataFrame | None,
    reach: pl.DataFrame | None,
    as_of: date,
) -> pl.Series:
    """customer_id of the eligible customers under the campaign's frequency and per-customer caps."""
    capped = per_customer_capped(
        frequency_capped(eligible, campaign, recent, as_of=as_of), campaign, reach, as_of=as_of
    )
    return capped["customer_id"]


def oversized_buyers(ctx: OfferContext) -> list[pl.Series]:
    """customer_id of those with purchases in the window kept out of the analysis (`OfferContext`)."""
    return [part.select("customer_id").collect()["customer_id"] for part in ctx.bought_recently_parts()[1:]]


@dataclass(frozen=True)
class Guards:
    """A campaign's guards tonight: its frequency cap's ``recent`` offers and per-customer cap's
    ``reach`` (see ``guards``), the customers ``full`` of other campaigns' offers, and what an
    earlier run of the night recorded for it (``earlier``: customer_id, held, expected_cost).
    """

    campaign: CampaignConfig
    recent: pl.DataFrame | None
    reach: pl.DataFrame | None
    full: pl.DataFrame
    earlier: pl.DataFrame


def free_of(
    eligible: pl.DataFrame, ctx: OfferContext, guards: Guards, *, proposed: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The campaign's candidates among ``eligible`` (offer type, target, caps) and those of them
    with a free place tonight (not in ``full``), with their group recorded ``earlier`` tonight
    (recorded_held), expected cost and values; a cross-sell campaign's flagged `substitutes.SUBSTITUTE`
    when the night holds substitutes back. ``proposed``: the offer type's candidates after the
    target, when an engine proposed them beforehand (see `planning.StagedCandidates`).
    """
    campaign, recent, reach, full, earlier = (
        guards.campaign,
        guards.recent,
        guards.reach,
        guards.full,
        guards.earlier,
    )
    if proposed is None:
        proposed = proposals(eligible, ctx, campaign)
    cands = per_customer_capped(
        frequency_capped(proposed, campaign, recent, as_of=ctx.as_of), campaign, reach, as_of=ctx.as_of
    )
    if isinstance(campaign.reward.value, MoneyRule):
        # A reward priced off the target needs a target with a price.
        cands = cands.filter(pl.col("base_value") > 0)
    free = (
        cands.join(full, on="customer_id", how="anti")
        .join(
            earlier.select(
                "customer_id",
                pl.col("held").alias("recorded_held"),
                pl.col("expected_cost").alias("_recorded"),
            ),
            on="customer_id",
            how="left",
        )
        .with_columns(
            # a coupon an earlier run issued costs what it was recorded at, whatever its row costs now
            pl.when(pl.col("recorded_held").not_())
            .then(pl.col("_recorded"))
            .otherwise(
                expected_cost(campaign, pl.col("base_value"), ctx.point_value, ctx.points_per_currency)
            )
            .alias("expected_cost")
        )
        .drop("_recorded")
    )
    # a customer an earlier run of the night recorded keeps the product they were given
    free = with_values(pinned(free, earlier), campaign, ctx)
    if campaign.rank_by == "expected_value":
        # Highest expected value first; an offer expected to lose money is not made.
        kept = pl.col("recorded_held").is_not_null() | (pl.col("expected_value") > 0)
        free = free.filter(kept).with_columns(pl.col("expected_value").fill_null(0.0).alias("priority"))
    if (
        campaign.type == "cross_sell"
        and ctx.max_substitute_share is not None
        and SUBSTITUTE not in free.columns
    ):
        # flagged for the budget's cut, which holds substitutes back (`substitutes.held_for_budget`)
        free = with_substitutes(free, ctx)
    return cands, free


def proposals(eligible: pl.DataFrame, ctx: OfferContext, campaign: CampaignConfig) -> pl.DataFrame:
    """The offer type's candidates among ``eligible`` after the campaign's target. A cross-sell
    campaign that picks its own products on a night that holds substitutes back (`held_back`)
    gives each customer's first offer and, for a substitute, their best product of a new type:
    the budget's cut picks between them (`substitutes.held_for_budget`).
    """
    if held_back(campaign, ctx):
        return cross_sell_candidates(eligible, ctx, campaign, alternatives=True)
    return apply_target(OFFER_TYPES[campaign.type](eligible, ctx, campaign), ctx, campaign)


def held_back(campaign: CampaignConfig, ctx: OfferContext) -> bool:
    """True for a cross-sell campaign picking its own products on a night that holds substitutes
    back: its candidates carry alternatives (`candidates.cross_sell_candidates`).
    """
    return campaign.type == "cross_sell" and campaign.target is None and ctx.max_substitute_share is not None


def ranked_free_of(
    ids: pl.Series, *, eligible: pl.DataFrame, ctx: OfferContext, ranker: Ranker, guards: Guards
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`free_of` of the customers ``ids`` of ``eligible``, with the cross-sell ranking of those only."""
    ranked = replace(ctx, relevance=ranker.rank(ids))
    some = eligible.join(pl.DataFrame({"customer_id": ids}), on="customer_id", how="semi")
    return free_of(some, ranked, guards)


def budget_left(cands: pl.DataFrame, *, limit: float | None, earlier: pl.DataFrame) -> float | None:
    """What is left of the night's ``limit`` for new coupons: coupons issued earlier tonight to
    customers no longer among the candidates still cost.
    """
    gone = earlier.join(cands.select("customer_id"), on="customer_id", how="anti")
    spent_elsewhere = float(gone.filter(~pl.col("held"))["expected_cost"].sum())
    return None if limit is None else max(limit - spent_elsewhere, 0.0)
