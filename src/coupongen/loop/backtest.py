"""Offline scoring of offers against later purchases: would the offers have been relevant?

The offers are built as the nightly run would have built them on a past cutoff date, from the
history before it (nothing is issued, no ledger is touched), and scored on what customers bought in
the days after: for cross-sell how many offered products were bought that were new to the customer,
for replenishment how many due products were bought again, for win-back and second purchase how
many customers came back. Every offer type is scored next to simple baselines (`TYPE_BASELINES`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta

import polars as pl

from coupongen.analysis import relevance
from coupongen.analysis.night import analyse
from coupongen.config import CampaignConfig, Job
from coupongen.errors import InputError
from coupongen.inputs.contract import Inputs, Loaded
from coupongen.loop.backtest_scoring import (
    LevelView,
    campaign_metrics,
    level_view,
    score_offers,
)
from coupongen.loop.backtest_types import (
    TYPE_BASELINES,
    WIN_BACK_STATES,
    Scored,
    as_offers,
    type_rows,
    with_chances,
)
from coupongen.offers.candidates import (
    REPLENISH_DUE,
    REPLENISH_GIVEN_UP,
    OfferContext,
    cross_sell_candidates,
)
from coupongen.offers.chances import MODELS, estimate_chances
from coupongen.offers.eligibility import eligible_customers, with_audience_facts
from coupongen.offers.money import data_figures, resolve_money

LEVELS = ("sku", "category")
"""Levels a backtest scores at: the targets are skus, or categories."""

BASELINES = TYPE_BASELINES["cross_sell"]
"""The baselines every cross-sell campaign is compared with."""

ALL_BASELINES = tuple(name for names in TYPE_BASELINES.values() for name in names)
"""Every offer type's baselines."""

SCORED_TYPES = ("cross_sell", "replenishment", "win_back", "second_purchase")
"""Offer types the backtest scores, at either level; in this order."""

DEFAULT_TOP_N = 3
MAX_TOP_N = 10

EXPORT_COLUMNS = ("customer_id", "offer_type", "method", "target", "rank")
"""Columns of the scored offers written for outside analysis (see `offer_rows`)."""

_DEFAULT_CAMPAIGNS: dict[str, dict[str, object]] = {
    "cross_sell": {"reward": {"type": "percent", "value": 10}},
    "replenishment": {"reward": {"type": "points", "value": 50}},
    "win_back": {
        "reward": {"type": "percent", "value": 15},
        "eligibility": {"lifecycle": list(WIN_BACK_STATES)},
    },
    "second_purchase": {"reward": {"type": "percent", "value": 10}, "eligibility": {"lifecycle": ["new"]}},
}
"""A campaign of each scored type, for a job without an enabled one."""


def backtest(
    inputs_or_frames: Inputs | Mapping[str, pl.DataFrame],
    job: Job,
    *,
    cutoff: date,
    days: int,
    level: str = "sku",
    top_n: int = DEFAULT_TOP_N,
    eligibility: bool = True,
    spec: relevance.ModelSpec
    | relevance.RankSpec
    | Sequence[relevance.ModelSpec | relevance.RankSpec]
    | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Build the job's offers as of `cutoff` and score them on purchases in the following `days`.

    Features, segments, rules and the relevance ranking are computed from the history before
    `cutoff` exactly as the nightly run computes them, and each enabled campaign of a type
    `SCORED_TYPES` lists for `level` proposes its offers (a cross-sell campaign is added when
    the job has none). Guards apply as in the nightly run (never a restricted product, never a
    cross-sell of what the customer bought in the look-back window); budgets, frequency caps,
    the per-customer cap and the holdout do not, as they decide how many offers go out, not
    which. A cross-sell campaign gives its `top_n` best offers per customer (rank 1 is the one
    the nightly run sends); the baselines give as many: the most-bought promotable items
    ("popularity"), and the same without the items each customer bought in the window
    ("popularity_unbought"). At level "category" the items are categories: the relevance model,
    the rules and the purchases are all taken at that level.

    Every offer type of `SCORED_TYPES` is scored (a campaign of its own is added when the job has
    no enabled one): replenishment gives up to `top_n` due products per customer (rank k is the
    k-th most overdue), win-back and second purchase one offer each; each next to the baselines
    `TYPE_BASELINES` names (see `backtest_types`). Win-back is also scored apart for its lapsing
    and its lapsed customers; without eligibility it still reaches only those two states.

    Active customers bought in the look-back window before the cutoff. A campaign is scored on
    its eligible active customers (with ``eligibility=False``, on every active customer); its
    baselines on the same customers. An offer is a hit when the customer bought its target
    (a positive quantity) in the window from `cutoff` to `cutoff + days` (excluded); it is new
    when the customer had never bought the target before the cutoff.

    Args:
        inputs_or_frames: the validated inputs, or the three frames (``transactions``,
            ``products``, ``customers``) already in the input contract's types.
        job: the job whose settings and campaigns to use.
        cutoff: the day the offers are built on; history before it, purchases from it on.
        days: the length of the scoring window.
        level: "sku" or "category".
        top_n: offers per customer of the cross-sell ranking and the baselines.
        eligibility: score each campaign on the customers it admits (else every active one).
        spec: the cross-sell ranking, or several scored side by side (default: the nightly
            run's, `relevance.ranking_spec`).

    Returns:
        (metrics, offers). metrics, one row per campaign and method: `campaign`, `offer_type`;
        `method` (the relevance model for cross-sell, a baseline's name, or the offer type);
        `level`; `active` (active customers); `customers` (those the row is scored on);
        `covered` (customers with an offer); `coverage` (covered / customers);
        `active_coverage` (covered / active); `offers`; `hits`;
        `hit_rate` (hits / offers); `new_offers` (offers of a target new to the customer);
        `new_hits` (new offers bought); `new_item_hit_rate` (new_hits / offers);
        `customer_new_hit_rate` (customers with a new offer bought / customers);
        `new_type_hit_rate` (customers who bought a product of an offered type they had never
        bought / customers); `substitute_share` (offers of a type the customer bought in the
        look-back window / offers); `distinct_targets`; and `came_back_rate` (covered customers
        who bought anything in the window / covered); `expected_rate` (the mean estimated chance
        of the offers, to set against what happened: new_item_hit_rate for cross-sell, hit_rate
        for replenishment, came_back_rate otherwise). Rates are null without offers.
        offers, one row per offer, sorted by campaign, method, customer_id and rank:
        `campaign`, `offer_type`, `method`, `customer_id`, `target_kind`, `target` (null for a
        whole-basket offer), `rank` (1 = best), `reason` (null for baselines), `hit`,
        `new_item`, `substitute`, `new_type_hit`, `came_back`, `chance` (the estimated chance of
        the purchase the offer is for over the window, as `offers.value` estimates it on the
        history before the cutoff; null for baselines).

    Raises:
        ValueError: an unknown level, days below 1, or top_n outside 1 to `MAX_TOP_N`.
        InputError: a frame lacks a column, no customer bought before the cutoff, or nobody
            bought anything in the scoring window.
    """
    if level not in LEVELS:
        raise ValueError(f"Unknown level {level!r}; allowed: {', '.join(LEVELS)}")
    if days < 1 or not 1 <= top_n <= MAX_TOP_N:
        raise ValueError(
            f"days must be at least 1 and top_n 1 to {MAX_TOP_N}, got days={days}, top_n={top_n}"
        )
    inputs = _as_inputs(inputs_or_frames)
    last_day: date | None = inputs.transactions.kept.select(pl.col("ts").max().dt.date()).item()
    end = cutoff + timedelta(days=days - 1)
    if last_day is not None and last_day < end:
        raise InputError(
            f"the scoring window {cutoff} to {end} runs past the data, which ends {last_day}: "
            f"use an earlier --cutoff or fewer --days (hit rates over a partial window would be too low)"
        )
    lookback = job.config.segments.lookback_days
    analysis = analyse(job, inputs, cutoff)
    # Money rules (a min_spend percentile...) as a run on the cutoff night would resolve them.
    figures = data_figures(inputs.transactions.kept, analysis.segmented, as_of=cutoff, lookback_days=lookback)
    job, _ = resolve_money(job, figures)
    active = analysis.segmented.filter(pl.col("frequency") > 0)
    if active.is_empty():
        raise InputError(f"no customer bought anything in the {lookback} days before the cutoff {cutoff}")
    view = level_view(level, analysis, inputs, cutoff=cutoff, days=days, lookback=lookback)
    if view.later.is_empty():
        raise InputError(f"no purchases by known customers from {cutoff} to {end}: nothing to score against")
    ctx = OfferContext(
        customers=analysis.segmented,
        bought=view.bought,
        categories=analysis.categories,
        products=view.products,
        rules=view.rules,
        as_of=cutoff,
        lookback_days=lookback,
        point_value=job.config.point_value,
        points_per_currency=job.config.points_per_currency,
    )
    # The chance of each offer's purchase over the scoring window, as the nightly run estimates it
    # (`offers.chances`), to set against what happened.
    ctx = replace(
        ctx,
        chances=estimate_chances(
            _level_lines(inputs, level),
            as_of=cutoff,
            horizons={model: [days] for model in MODELS},
            lookback_days=lookback,
            due=(REPLENISH_DUE, REPLENISH_GIVEN_UP),
        ),
        margin_rate=job.config.margin_rate,
    )
    if spec is None:
        specs = [relevance.ranking_spec(job)]
    elif isinstance(spec, relevance.ModelSpec | relevance.RankSpec):
        specs = [spec]
    else:
        specs = list(spec)
    audience = with_audience_facts(active, as_of=cutoff)
    rows: list[Scored] = []
    for campaign in _campaigns(job):
        if eligibility:
            admitted = eligible_customers(audience, campaign, listed=job.customer_lists.get(campaign.name))
        elif campaign.type == "win_back":
            admitted = audience.filter(pl.col("lifecycle").is_in(list(WIN_BACK_STATES)))
        else:
            admitted = audience
        if campaign.type == "cross_sell":
            for model in specs:
                calibrated = replace(ctx, calibrated=model.method == "rerank")
                made = _cross_sell_offers(admitted, calibrated, campaign, top_n, model)
                rows.append(Scored(campaign, model.method, admitted, made))
            for baseline in BASELINES:
                made = _baseline_offers(admitted, view, campaign, baseline, top_n)
                rows.append(Scored(campaign, baseline, admitted, made))
        else:
            rows.extend(type_rows(campaign, admitted, audience, ctx, top_n=top_n))
    all_offers = score_offers(pl.concat([r.offers for r in rows if r.offers is not None]), view).sort(
        "campaign", "method", "customer_id", "rank"
    )
    metrics = pl.concat(
        [
            campaign_metrics(
                all_offers, r.campaign, r.method, r.admitted, active=active.height, level=level, label=r.label
            )
            for r in rows
        ]
    )
    return metrics, all_offers


def offer_rows(offers_frame: pl.DataFrame) -> pl.DataFrame:
    """The campaigns' scored offers (not the baselines') in the `EXPORT_COLUMNS` layout."""
    return (
        offers_frame.filter(~pl.col("method").is_in(list(ALL_BASELINES)))
        .select(EXPORT_COLUMNS)
        .sort("offer_type", "method", "customer_id", "rank")
    )


# --- building the offers ---------------------------------------------------------------------------


def _campaigns(job: Job) -> list[CampaignConfig]:
    """The job's enabled campaigns of the scored types, in `SCORED_TYPES` order; a type without
    one gets a campaign of its own (`_DEFAULT_CAMPAIGNS`).
    """
    chosen: list[CampaignConfig] = []
    for kind in SCORED_TYPES:
        mine = [c for c in job.campaigns if c.enabled and c.type == kind]
        chosen += mine or [
            CampaignConfig.model_validate({"name": kind, "type": kind, **_DEFAULT_CAMPAIGNS[kind]})
        ]
    return chosen


def _cross_sell_offers(
    admitted: pl.DataFrame,
    ctx: OfferContext,
    campaign: CampaignConfig,
    top_n: int,
    spec: relevance.ModelSpec | relevance.RankSpec,
) -> pl.DataFrame:
    """The campaign's top_n offers per customer, each rank picked by the nightly run's proposer.

    Rank k is what `cross_sell_candidates` proposes once ranks 1 to k-1 are taken out of
    the relevance ranking, so every rank passes the same guards as the offer that is sent.
    """
    ranked = relevance.recommend(
        ctx.bought,
        ctx.products,
        rules=ctx.rules,
        customers=admitted["customer_id"],
        top_n=max(top_n, relevance.TOP_N),
        spec=spec,
        as_of=ctx.as_of,
    )
    current = replace(ctx, relevance=ranked)
    picked: list[pl.DataFrame] = []
    for rank in range(1, top_n + 1):
        proposed = cross_sell_candidates(admitted, current, campaign)
        picked.append(as_offers(with_chances(proposed, campaign, current), campaign, spec.method, rank=rank))
        if proposed.is_empty():
            break
        ranked = ranked.join(
            proposed.select("customer_id", pl.col("target").alias("sku")),
            on=["customer_id", "sku"],
            how="anti",
        )
        current = replace(current, relevance=ranked)
    return pl.concat(picked)


def _baseline_offers(
    admitted: pl.DataFrame, view: LevelView, campaign: CampaignConfig, baseline: str, top_n: int
) -> pl.DataFrame:
    """The baseline's top_n items per customer, as cross-sell offers to the campaign's customers."""
    popular = relevance.popular_unbought(
        view.bought,
        view.products,
        admitted["customer_id"],
        top_n=top_n,
        exclude_bought=baseline == "popularity_unbought",
    )
    return popular.select(
        pl.lit(campaign.name).alias("campaign"),
        pl.lit("cross_sell").alias("offer_type"),
        pl.lit(baseline).alias("method"),
        "customer_id",
        pl.lit("sku").alias("target_kind"),
        pl.col("sku").alias("target"),
        "rank",
        pl.lit(None, dtype=pl.String).alias("reason"),
        pl.lit(None, dtype=pl.Float64).alias("chance"),
    )


def _level_lines(inputs: Inputs, level: str) -> pl.DataFrame:
    """The kept transaction lines, with categories for skus at level "category"."""
    tx = inputs.transactions.kept
    if level == "sku":
        return tx
    categories = inputs.products.kept.select("sku", "category")
    return tx.join(categories, on="sku").with_columns(pl.col("category").alias("sku")).drop("category")


def _as_inputs(inputs_or_frames: Inputs | Mapping[str, pl.DataFrame]) -> Inputs:
    """Wrap three frames in the input contract's types as validated inputs (none quarantined)."""
    if isinstance(inputs_or_frames, Inputs):
        return inputs_or_frames
    missing = sorted({"transactions", "products", "customers"} - set(inputs_or_frames))
    if missing:
        raise InputError(f"backtest needs the frames {missing} besides {sorted(inputs_or_frames)}")

    def loaded(name: str) -> Loaded:
        frame = inputs_or_frames[name]
        return Loaded(name=name, kept=frame, quarantined=frame.clear())

    return Inputs(
        transactions=loaded("transactions"),
        products=loaded("products"),
        customers=loaded("customers"),
    )
