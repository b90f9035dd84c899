"""Campaigns -> offers: who gets which coupon tonight, campaign by campaign.

A campaign plans only on nights between its start and end dates; an exclusive campaign's customers
get no other campaign's offer that night. Guards apply in a fixed order:
never a restricted product or category, never a cross-sell of what the customer already bought, a
frequency cap per offer type, the campaign's per-customer cap over a period, a cap of coupons per
customer across campaigns, a budget on expected cost filled by priority (the nightly budget within
what the lifetime budget has left), and finally a salted, deterministic holdout that is recorded
but sent nothing. A rerun of a night builds on what it already recorded. An offer missing a value
the ledger requires is set aside, reported with what it lacks, so that it never fails the night.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial

import polars as pl

from coupongen.analysis.night import Analysis
from coupongen.analysis.relevance import Ranker, model_spec, ranking_spec
from coupongen.config import CampaignConfig, Job, amount
from coupongen.offers.bounded_cut import bounded_cut, can_bound
from coupongen.offers.campaign_free import (
    Guards,
    budget_left,
    capped_ids,
    free_of,
    oversized_buyers,
    ranked_free_of,
)
from coupongen.offers.candidates import OfferContext
from coupongen.offers.eligibility import (
    check_filter_columns,
    eligible_customers,
    with_audience_facts,
    with_customer_columns,
)
from coupongen.offers.guards import (
    frequency_capped,
    night_budget,
    per_customer_capped,
    within_budget,
)
from coupongen.offers.offer_rows import (
    OFFER_COLUMNS,
    SET_ASIDE_SCHEMA,
    concat_or_empty,
    offer_rows,
    split_incomplete,
)
from coupongen.offers.public import public_counts, public_offer
from coupongen.offers.substitutes import (
    SUBSTITUTE,
    customers_of,
    held_for_budget,
    lowest_edge,
    substitute_share,
)
from coupongen.offers.value import margin_source

ELIGIBLE_SCHEMA: dict[str, pl.DataType] = {"campaign": pl.String(), "customer_id": pl.String()}


@dataclass(frozen=True)
class OfferPlan:
    """The outcome of targeting: offers to issue, holdout members, and per-campaign counts.

    offers / controls columns: offer_key, kind (personal, or referral: shareable), symbology, as_of,
    campaign, offer_type, customer_id, card_number, target_kind, target, reward_type, reward_value,
    reward_buy, reward_get (item rewards, else null),
    min_basket, valid_from, valid_to, max_uses, expected_cost, chance, expected_value, reason.
    funnel: campaign, offer_type, eligible, recently_offered (eligible customers its frequency or
    per-customer cap leaves out tonight), candidates, capped, within_budget, treated, control,
    set_aside, expected_cost, budget, mean_chance, expected_value, value_per_coupon, negative_value,
    margin_source (see `_value_counts`), substitute_share (cross-sell: `substitutes.substitute_share`;
    else null); within_budget = treated + control + set_aside.
    eligible: campaign, customer_id of every customer a planned campaign admitted. budgets: one row
    per enabled campaign: campaign, runs_tonight (within its start and end dates), budget,
    lifetime_budget, spent_before (earlier nights' cost, see ``Ledger.campaign_spend``),
    night_budget (what tonight may spend; null when unlimited). earlier: what earlier runs of the same
    night recorded for the campaigns that run tonight (see `decided_tonight`; ``held`` true for the
    holdout): a rerun's offers and controls hold only what is new, ``earlier`` the rest. set_aside:
    the offers and holdout places of tonight missing a value the ledger requires (see
    `offer_rows.split_incomplete`; `SET_ASIDE_SCHEMA`), neither issued nor held out.
    """

    offers: pl.DataFrame
    controls: pl.DataFrame
    funnel: pl.DataFrame
    eligible: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=ELIGIBLE_SCHEMA))
    budgets: pl.DataFrame = field(default_factory=pl.DataFrame)
    earlier: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=DECIDED_SCHEMA))
    set_aside: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SET_ASIDE_SCHEMA))


DECIDED_SCHEMA: dict[str, pl.DataType] = {
    "campaign": pl.String(),
    "customer_id": pl.String(),
    "held": pl.Boolean(),
    "expected_cost": pl.Float64(),
}


StagedCandidates = Mapping[str, tuple[pl.DataFrame, pl.DataFrame]]
"""Per campaign, what an engine computed before the plan: the eligible customers (customer_id, in
the customer table's order) and the offer type's candidates after the target (`CANDIDATE_SCHEMA`
plus the holdout flag as `guards.DRAWN`); the caps, budgets and holdout cut run over them here."""


def plan_offers(
    campaigns: tuple[CampaignConfig, ...],
    ctx: OfferContext,
    *,
    max_per_customer: int,
    seed: int,
    recent: pl.DataFrame | None = None,
    decided: pl.DataFrame | None = None,
    customer_lists: dict[str, frozenset[str]] | None = None,
    spent: pl.DataFrame | None = None,
    reach: pl.DataFrame | None = None,
    public_issued: dict[str, str] | None = None,
    ranker: Ranker | None = None,
    staged: StagedCandidates | None = None,
) -> OfferPlan:
    """Decide every campaign's offers and holdout for the run date.

    Campaigns are planned in priority order: each one's candidates are the eligible customers who
    still have a free slot (``max_per_customer``, holdout places included), its budget and holdout
    are applied, and only what it keeps takes a slot, so an offer cut by a budget leaves the slot to
    the next campaign. ``recent`` holds the (customer_id, offer_type, as_of) of earlier nights'
    coupons and holdout entries: a customer who had the same offer type within a campaign's
    ``frequency_cap_days`` is skipped. ``decided`` holds what earlier runs of the same night already
    recorded (campaign, customer_id, held, expected_cost, and target: `decided_tonight`): those
    customers keep their group and product, their places count against the caps and their
    coupons against the budgets, and the plan adds only what is new. ``customer_lists`` holds
    each campaign's customers_file entries; ``spent`` the
    (campaign, spent) of earlier nights, against lifetime budgets; ``reach`` the (customer_id,
    campaign, as_of) of earlier nights' offers, against per-customer caps. A campaign with a public
    code plans its one shared coupon instead (see `public`); ``public_issued`` maps such a campaign
    to the night the ledger issued its code. ``ranker`` (when ``ctx.relevance`` is None) ranks the
    cross-sell campaigns' customers: only those who could make a budget's cut (`bounded_cut`),
    or all those under the caps. ``staged`` holds, for the campaigns an engine proposed beforehand
    (see `StagedCandidates`), their eligible customers and candidates.

    An offer or holdout place missing a value the ledger requires (`offer_rows.split_incomplete`)
    is set aside: neither issued nor held out, it keeps its place under the caps and the budget, so
    that every other offer is the one the night would make without it.
    """
    lists = customer_lists or {}
    exclusive = [c.name for c in campaigns if c.exclusive]
    spent_before = dict(spent.select("campaign", "spent").iter_rows()) if spent is not None else {}
    card = ctx.customers.select("customer_id", "card_number")
    before = decided if decided is not None else pl.DataFrame(schema=DECIDED_SCHEMA)
    taken = before.select("customer_id", "campaign")
    counts: list[dict[str, object]] = []
    offers: list[pl.DataFrame] = []
    controls: list[pl.DataFrame] = []
    set_aside: list[pl.DataFrame] = []
    admitted: list[pl.DataFrame] = []
    limits: list[dict[str, object]] = []
    enabled = [c for c in campaigns if c.enabled]
    for position, campaign in enumerate(enabled):
        tonight = campaign.runs_on(ctx.as_of)
        before_tonight = float(spent_before.get(campaign.name, 0.0))
        limit = night_budget(campaign, before_tonight)
        limits.append(
            {
                "campaign": campaign.name,
                "runs_tonight": tonight,
                "budget": campaign.budget,
                "lifetime_budget": campaign.lifetime_budget,
                "spent_before": round(before_tonight, 2),
                "night_budget": None if limit is None else round(limit, 2),
            }
        )
        if not tonight:
            continue
        if campaign.code.public:
            shared = public_offer(campaign, ctx, public_issued or {})
            offers.append(shared.cast(OFFER_COLUMNS) if shared.height else shared)  # type: ignore[arg-type]
            counts.append(public_counts(campaign, shared))
            continue
        proposed = None
        if staged is not None and campaign.name in staged:
            eligible, proposed = staged[campaign.name]
        else:
            eligible = eligible_customers(ctx.customers, campaign, listed=lists.get(campaign.name))
        admitted.append(eligible.select(pl.lit(campaign.name).alias("campaign"), "customer_id"))
        # the eligible customers under the campaign's frequency and per-customer caps
        under_caps = capped_ids(eligible, campaign, recent, reach, ctx.as_of)
        recently = eligible.height - under_caps.len()
        earlier = before.filter(pl.col("campaign") == campaign.name)
        # What later campaigns recorded in an earlier run of the night was decided after this
        # campaign's cut: those customers take their places in the cut again, as they did then
        # (the cut lands where it did), and are then left out of it (`blocked`).
        later = [c.name for c in enabled[position + 1 :]]
        full_now = _full_customers(
            taken.filter(~pl.col("campaign").is_in(later)), campaign, exclusive, max_per_customer
        )
        blocked = _full_customers(taken, campaign, exclusive, max_per_customer).join(
            full_now, on="customer_id", how="anti"
        )
        full = full_now.join(earlier.select("customer_id"), on="customer_id", how="anti")
        guards = Guards(campaign, recent, reach, full, earlier)
        salt = f"{campaign.name}:{seed}"
        unranked = pl.DataFrame(schema={"customer_id": pl.String()})
        cut = None
        if proposed is None and ranker is not None and can_bound(campaign, ranker):
            cut = bounded_cut(
                ranker,
                under_caps,
                pl.concat([earlier["customer_id"], *oversized_buyers(ctx)]),
                partial(ranked_free_of, eligible=eligible, ctx=ctx, ranker=ranker, guards=guards),
                partial(budget_left, limit=limit, earlier=earlier),
                salt=salt,
                share=campaign.holdout_share,
                # the lowest edge any factor gives: every customer the held cut could keep is
                # ranked (and the cut is the one ranking everyone gives)
                held=lambda free, budget: lowest_edge(free),
            )
        if cut is not None:
            cands, free, budget, unranked = cut.cands, cut.free, cut.budget, cut.unranked
        else:
            if proposed is not None:
                cands, free = free_of(eligible, ctx, guards, proposed=proposed)
            elif ranker is not None and campaign.type == "cross_sell":
                cands, free = ranked_free_of(
                    under_caps, eligible=eligible, ctx=ctx, ranker=ranker, guards=guards
                )
            else:
                cands, free = free_of(eligible, ctx, guards)
            budget = budget_left(cands, limit=limit, earlier=earlier)
        free = _held(free, budget, ctx=ctx, salt=salt, campaign=campaign)
        # Coupons issued earlier tonight to customers who are no longer candidates still cost.
        gone = earlier.join(cands.select("customer_id"), on="customer_id", how="anti")
        chosen = (
            within_budget(free, budget, salt=salt, share=campaign.holdout_share)
            if not free.is_empty()
            else free.with_columns(pl.lit(False).alias("held"))
        ).join(blocked, on="customer_id", how="anti")
        new = chosen.join(earlier.select("customer_id"), on="customer_id", how="anti")
        treated, aside = split_incomplete(offer_rows(new.filter(~pl.col("held")), campaign, ctx, card))
        control, held_aside = split_incomplete(offer_rows(new.filter(pl.col("held")), campaign, ctx, card))
        aside = pl.concat([aside, held_aside])
        sent = chosen.filter(~pl.col("held")).join(
            aside.select("customer_id"), on="customer_id", how="anti", maintain_order="left"
        )
        taken = pl.concat(
            [
                taken.filter(pl.col("campaign") != campaign.name),
                pl.concat([chosen.select("customer_id"), gone.select("customer_id")]).with_columns(
                    pl.lit(campaign.name).alias("campaign")
                ),
            ]
        )
        sent_before = earlier.filter(~pl.col("held"))
        counts.append(
            {
                "campaign": campaign.name,
                "offer_type": campaign.type,
                "eligible": eligible.height,
                "recently_offered": recently,
                # Customers never ranked (see `bounded_cut`) are candidates, and free unless full.
                "candidates": customers_of(cands) + unranked.height,
                "capped": free.height + unranked.join(full, on="customer_id", how="anti").height,
                "within_budget": chosen.height + gone.height,
                "treated": treated.height + sent_before.height,
                "control": control.height + earlier.height - sent_before.height,
                "set_aside": aside.height,
                "expected_cost": round(
                    float(treated["expected_cost"].sum()) + float(sent_before["expected_cost"].sum()), 2
                ),
                "budget": None if campaign.budget is None else amount(campaign.budget, "budget"),
                **_value_counts(sent, ctx),
                "substitute_share": substitute_share(sent, ctx) if campaign.type == "cross_sell" else None,
            }
        )
        offers.append(treated)
        controls.append(control)
        set_aside.append(aside)
    return OfferPlan(
        offers=concat_or_empty(offers),
        controls=concat_or_empty(controls),
        funnel=pl.DataFrame(counts) if counts else pl.DataFrame(),
        eligible=pl.concat(admitted) if admitted else pl.DataFrame(schema=ELIGIBLE_SCHEMA),
        budgets=pl.DataFrame(limits, schema=BUDGET_SCHEMA),
        earlier=before.filter(pl.col("campaign").is_in([str(c["campaign"]) for c in counts])),
        set_aside=pl.concat(set_aside) if set_aside else pl.DataFrame(schema=SET_ASIDE_SCHEMA),
    )


def _held(
    free: pl.DataFrame, budget: float | None, *, ctx: OfferContext, salt: str, campaign: CampaignConfig
) -> pl.DataFrame:
    """``free`` with a cross-sell campaign's substitutes held back in the budget's cut, one
    candidate per customer (see `substitutes.held_for_budget`); others unchanged.
    """
    if ctx.max_substitute_share is None or SUBSTITUTE not in free.columns:
        return free.drop(SUBSTITUTE, strict=False)
    return held_for_budget(
        free, budget, share=ctx.max_substitute_share, salt=salt, holdout_share=campaign.holdout_share
    )


def _value_counts(sent: pl.DataFrame, ctx: OfferContext) -> dict[str, object]:
    """The funnel's value figures of the coupons a campaign sends: mean_chance (of the purchase
    they are for), expected_value (their sum),
    value_per_coupon (its mean over those with a known chance), negative_value (coupons expected
    to lose money) and margin_source (`value.margin_source`).
    """
    known = sent["expected_value"].drop_nulls() if sent.height else pl.Series([], dtype=pl.Float64)
    chance = sent["chance"].drop_nulls() if sent.height else pl.Series([], dtype=pl.Float64)
    return {
        "mean_chance": round(float(chance.mean()), 4) if chance.len() else None,  # type: ignore[arg-type]
        "expected_value": round(float(known.sum()), 2) if known.len() else None,
        "value_per_coupon": round(float(known.mean()), 4) if known.len() else None,  # type: ignore[arg-type]
        "negative_value": int((known < 0).sum()),
        "margin_source": margin_source(ctx.products, ctx.margin_rate),
    }


BUDGET_SCHEMA: dict[str, pl.DataType] = {
    "campaign": pl.String(),
    "runs_tonight": pl.Boolean(),
    "budget": pl.Float64(),
    "lifetime_budget": pl.Float64(),
    "spent_before": pl.Float64(),
    "night_budget": pl.Float64(),
}


def _full_customers(
    taken: pl.DataFrame, campaign: CampaignConfig, exclusive: list[str], max_per_customer: int
) -> pl.DataFrame:
    """customer_id of the customers another campaign's offers leave no place for tonight: those at
    ``max_per_customer``, those an ``exclusive`` campaign chose, and for an exclusive campaign
    anyone another campaign chose.
    """
    limit = 1 if campaign.exclusive else max_per_customer
    return (
        taken.filter(pl.col("campaign") != campaign.name)
        .group_by("customer_id")
        .agg(pl.len().alias("used"), pl.col("campaign").is_in(exclusive).any().alias("alone"))
        .filter((pl.col("used") >= limit) | pl.col("alone"))
        .select("customer_id")
    )


def plan_night(
    job: Job,
    analysis: Analysis,
    products: pl.DataFrame,
    *,
    as_of: date,
    seed: int,
    recent: pl.DataFrame | None = None,
    decided: pl.DataFrame | None = None,
    transactions: pl.DataFrame | None = None,
    spent: pl.DataFrame | None = None,
    reach: pl.DataFrame | None = None,
    also_bought: pl.DataFrame | None = None,
    home: pl.DataFrame | None = None,
    public_issued: dict[str, str] | None = None,
    customer_columns: pl.DataFrame | None = None,
    chances: pl.DataFrame | None = None,
    stage: Callable[[OfferContext, int], StagedCandidates] | None = None,
) -> OfferPlan:
    """Targeting, guards, budgets and holdout for every enabled campaign of the job.

    The cross-sell ranking's model is fitted once. When every cross-sell campaign tonight has a
    budget its cut can be found by bounds (`bounded_cut.can_bound`), each ranks only the customers
    who could make the cut; otherwise the ranking is computed once, for the customers an enabled
    cross-sell campaign could still give a coupon to tonight (admitted, and under its frequency
    and per-customer caps: the guards would drop the others anyway), and shared. The customer table
    gains the facts eligibility filters use (`with_audience_facts`; home_store only when a campaign
    filters on it and ``transactions``, or their `home_stores` as ``home``, are given).
    ``recent``, ``decided``, ``spent``, ``reach`` and ``public_issued`` are as in `plan_offers`.
    ``also_bought`` holds purchases the analysis left out for their size (see `OfferContext`).
    ``customer_columns`` (customer_id and the customer file's columns beyond the contract, see
    ``inputs.Loaded.extra``) join the table for ``[eligibility.columns]`` filters; a filter on a
    column the table lacks is a ConfigError naming the campaign file and key. ``chances`` (the
    tables of `chances.estimate_chances`) give each offer its expected value (`value`).
    ``stage`` (an engine's candidates stage) proposes campaigns' candidates from the offer context
    and the seed (see `plan_offers`' ``staged``): it needs the whole cross-sell ranking up front.
    """
    live = [c for c in job.campaigns if c.enabled and c.runs_on(as_of)]
    by_store = any(c.eligibility.home_store is not None for c in live)
    customers = with_audience_facts(
        analysis.segmented,
        as_of=as_of,
        transactions=transactions if by_store else None,
        lookback_days=job.config.segments.lookback_days,
        home=home if by_store else None,
    )
    customers = with_customer_columns(customers, customer_columns)
    check_filter_columns(job, customers)
    lists = job.customer_lists
    cross_sell = [c for c in live if c.type == "cross_sell"]
    ranked = ranker = None
    if cross_sell:
        ranker = Ranker(
            analysis.bought,
            products,
            rules=analysis.rules,
            spec=ranking_spec(job),
            as_of=as_of,
            scored=analysis.relevance,
        )
    if ranker is not None and (stage is not None or not all(can_bound(c, ranker) for c in cross_sell)):
        # One ranking of everyone a cross-sell campaign could still give a coupon to, shared.
        admitted = pl.concat(
            [
                per_customer_capped(
                    frequency_capped(
                        eligible_customers(customers, c, listed=lists.get(c.name)), c, recent, as_of=as_of
                    ),
                    c,
                    reach,
                    as_of=as_of,
                )["customer_id"]
                for c in cross_sell
            ]
        )
        ranked, ranker = ranker.rank(admitted), None
    ranking = job.config.ranking
    ctx = OfferContext(
        customers=customers,
        bought=analysis.bought,
        categories=analysis.categories,
        products=products,
        rules=analysis.rules,
        as_of=as_of,
        lookback_days=job.config.segments.lookback_days,
        point_value=job.config.point_value,
        points_per_currency=job.config.points_per_currency,
        relevance=ranked,
        also_bought=also_bought,
        chances=chances,
        calibrated=ranking_spec(job).method == "rerank",
        model=model_spec(job),
        margin_rate=job.config.margin_rate,
        max_substitute_share=ranking.max_substitute_share if ranking.prefer_new_types else None,
    )
    return plan_offers(
        job.campaigns,
        ctx,
        max_per_customer=job.config.max_coupons_per_customer,
        seed=seed,
        recent=recent,
        decided=decided,
        customer_lists=lists,
        spent=spent,
        reach=reach,
        public_issued=public_issued,
        ranker=ranker,
        staged=None if stage is None else stage(ctx, seed),
    )


def decided_tonight(coupons: pl.DataFrame, controls: pl.DataFrame) -> pl.DataFrame:
    """What earlier runs of the night recorded, from the night's ``coupons`` and holdout ``controls``
    (each with campaign, customer_id; coupons also expected_cost).

    Columns: campaign, customer_id, held (true for a holdout place), expected_cost (0 when held),
    target (what the coupon or place is for, when the frames have it). A rerun builds on it (see
    `plan_offers`): nobody changes group or product, nobody gets a second coupon of a campaign,
    and the caps and budgets count what was already issued.
    """
    target = (
        [pl.col("target").cast(pl.String)]
        if "target" in coupons.columns and "target" in controls.columns
        else []
    )
    issued = coupons.select("campaign", "customer_id", pl.lit(False).alias("held"), "expected_cost", *target)
    held = controls.select(
        "campaign", "customer_id", pl.lit(True).alias("held"), pl.lit(0.0).alias("expected_cost"), *target
    )
    return pl.concat([issued, held]).cast(DECIDED_SCHEMA)  # type: ignore[arg-type]
