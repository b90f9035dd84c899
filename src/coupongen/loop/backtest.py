"""Offline scoring of offers against later purchases: would the offers have been relevant?

The offers are built as the nightly run would have built them on a past cutoff date, from the
history before it (nothing is issued, no ledger is touched), and scored on what customers bought in
the days after: how many offered targets were bought, and how many of those were new to the
customer, the cross-sell that matters. Two baselines get the same number of offers per customer:
global popularity, and popularity without what each customer already bought.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

import polars as pl

from coupongen import pipeline
from coupongen.analysis import features, relevance
from coupongen.config import CampaignConfig, Job
from coupongen.errors import InputError
from coupongen.inputs.contract import Inputs, Loaded
from coupongen.offers import planning as offers

LEVELS = ("sku", "category")
"""Levels a backtest scores at: the targets are skus, or categories."""

BASELINES = ("popularity", "popularity_unbought")
"""The baselines every cross-sell campaign is compared with."""

SCORED_TYPES: dict[str, tuple[str, ...]] = {
    "sku": ("cross_sell", "replenishment"),
    "category": ("cross_sell", "replenishment", "win_back"),
}
"""Offer types scored at each level: those whose target is an item of that level."""

DEFAULT_TOP_N = 3

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
        "offers": pl.Int64(),
        "hits": pl.Int64(),
        "hit_rate": pl.Float64(),
        "new_offers": pl.Int64(),
        "new_hits": pl.Int64(),
        "new_item_hit_rate": pl.Float64(),
        "distinct_targets": pl.Int64(),
    }
)
"""Columns and dtypes of the metrics frame `backtest` returns."""

OFFERS_SCHEMA = pl.Schema(
    {
        "campaign": pl.String(),
        "offer_type": pl.String(),
        "method": pl.String(),
        "customer_id": pl.String(),
        "target": pl.String(),
        "rank": pl.Int32(),
        "reason": pl.String(),
        "hit": pl.Boolean(),
        "new_item": pl.Boolean(),
    }
)
"""Columns and dtypes of the offers frame `backtest` returns."""

EXPORT_COLUMNS = ("customer_id", "offer_type", "target", "rank")
"""Columns of the scored offers written for outside analysis (see `offer_rows`)."""

_DEFAULT_CROSS_SELL = {
    "name": "cross_sell",
    "type": "cross_sell",
    "reward": {"type": "percent", "value": 10},
}


@dataclass(frozen=True)
class _LevelView:
    """The history seen at one level: items are skus or categories."""

    bought: pl.DataFrame
    products: pl.DataFrame
    rules: pl.DataFrame
    later: pl.DataFrame  # customer_id, target: bought in the scoring window


def backtest(
    inputs_or_frames: Inputs | Mapping[str, pl.DataFrame],
    job: Job,
    *,
    cutoff: date,
    days: int,
    level: str = "sku",
    top_n: int = DEFAULT_TOP_N,
    eligibility: bool = True,
    spec: relevance.ModelSpec | None = None,
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
        spec: the relevance model (default: the nightly run's).

    Returns:
        (metrics, offers). metrics, one row per campaign and method: `campaign`, `offer_type`;
        `method` (the relevance model for cross-sell, a baseline's name, or the offer type);
        `level`; `active` (active customers); `customers` (those the row is scored on);
        `covered` (customers with an offer); `coverage` (covered / customers); `offers`; `hits`;
        `hit_rate` (hits / offers); `new_offers` (offers of a target new to the customer);
        `new_hits` (new offers bought); `new_item_hit_rate` (new_hits / offers); and
        `distinct_targets`. Rates are null without offers. offers, one row per offer, sorted
        by campaign, method, customer_id and rank: `campaign`, `offer_type`, `method`,
        `customer_id`, `target`, `rank` (1 = best), `reason` (null for baselines), `hit`,
        `new_item`.

    Raises:
        ValueError: an unknown level, or days or top_n below 1.
        InputError: a frame lacks a column, no customer bought before the cutoff, or nobody
            bought anything in the scoring window.
    """
    if level not in LEVELS:
        raise ValueError(f"Unknown level {level!r}; allowed: {', '.join(LEVELS)}")
    if days < 1 or top_n < 1:
        raise ValueError(f"days and top_n must be at least 1, got days={days}, top_n={top_n}")
    inputs = _as_inputs(inputs_or_frames)
    last_day: date | None = inputs.transactions.kept.select(pl.col("ts").max().dt.date()).item()
    end = cutoff + timedelta(days=days - 1)
    if last_day is not None and last_day < end:
        raise InputError(
            f"the scoring window {cutoff} to {end} runs past the data, which ends {last_day}: "
            f"use an earlier --cutoff or fewer --days (hit rates over a partial window would be too low)"
        )
    lookback = job.config.segments.lookback_days
    analysis = pipeline.analyse(job, inputs, cutoff)
    active = analysis.segmented.filter(pl.col("frequency") > 0)
    if active.is_empty():
        raise InputError(f"no customer bought anything in the {lookback} days before the cutoff {cutoff}")
    view = _level_view(level, analysis, inputs, cutoff=cutoff, days=days, lookback=lookback)
    if view.later.is_empty():
        raise InputError(f"no purchases by known customers from {cutoff} to {end}: nothing to score against")
    ctx = offers.OfferContext(
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
    model = spec or relevance.ModelSpec()
    scored: list[tuple[CampaignConfig, str, pl.DataFrame, pl.DataFrame]] = []
    for campaign in _campaigns(job, level):
        admitted = offers.eligible_customers(active, campaign) if eligibility else active
        if campaign.type == "cross_sell":
            made = _cross_sell_offers(admitted, ctx, campaign, top_n, model)
            scored.append((campaign, model.method, admitted, made))
            for baseline in BASELINES:
                made = _baseline_offers(admitted, view, campaign, baseline, top_n)
                scored.append((campaign, baseline, admitted, made))
        else:
            made = offers.OFFER_TYPES[campaign.type](admitted, ctx, campaign)
            scored.append(
                (
                    campaign,
                    campaign.type,
                    admitted,
                    _as_offers(made, campaign, campaign.type, rank=1),
                )
            )
    all_offers = _score(pl.concat([made for *_, made in scored]), view).sort(
        "campaign", "method", "customer_id", "rank"
    )
    metrics = pl.concat(
        [
            _metrics(all_offers, campaign, method, admitted, active=active.height, level=level)
            for campaign, method, admitted, _ in scored
        ]
    )
    return metrics, all_offers


def offer_rows(offers_frame: pl.DataFrame) -> pl.DataFrame:
    """The campaigns' scored offers (not the baselines') in the `EXPORT_COLUMNS` layout."""
    return (
        offers_frame.filter(~pl.col("method").is_in(list(BASELINES)))
        .select(EXPORT_COLUMNS)
        .sort("offer_type", "customer_id", "rank")
    )


# --- building the offers ---------------------------------------------------------------------------


def _campaigns(job: Job, level: str) -> list[CampaignConfig]:
    """The job's enabled campaigns scored at `level`, cross-sell first (one is added when missing)."""
    chosen = [c for c in job.campaigns if c.enabled and c.type in SCORED_TYPES[level]]
    cross_sell = [c for c in chosen if c.type == "cross_sell"]
    if not cross_sell:
        cross_sell = [CampaignConfig.model_validate(_DEFAULT_CROSS_SELL)]
    return cross_sell + [c for c in chosen if c.type != "cross_sell"]


def _cross_sell_offers(
    admitted: pl.DataFrame,
    ctx: offers.OfferContext,
    campaign: CampaignConfig,
    top_n: int,
    spec: relevance.ModelSpec,
) -> pl.DataFrame:
    """The campaign's top_n offers per customer, each rank picked by the nightly run's proposer.

    Rank k is what `offers.cross_sell_candidates` proposes once ranks 1 to k-1 are taken out of
    the relevance ranking, so every rank passes the same guards as the offer that is sent.
    """
    ranked = relevance.recommend(
        ctx.bought,
        ctx.products,
        rules=ctx.rules,
        customers=admitted["customer_id"],
        top_n=max(top_n, relevance.TOP_N),
        spec=spec,
    )
    current = replace(ctx, relevance=ranked)
    picked: list[pl.DataFrame] = []
    for rank in range(1, top_n + 1):
        proposed = offers.cross_sell_candidates(admitted, current, campaign)
        picked.append(_as_offers(proposed, campaign, spec.method, rank=rank))
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
    admitted: pl.DataFrame, view: _LevelView, campaign: CampaignConfig, baseline: str, top_n: int
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
        pl.col("sku").alias("target"),
        "rank",
        pl.lit(None, dtype=pl.String).alias("reason"),
    )


def _as_offers(proposed: pl.DataFrame, campaign: CampaignConfig, method: str, *, rank: int) -> pl.DataFrame:
    """Candidates of an offer type as the backtest's offers of one rank."""
    return proposed.select(
        pl.lit(campaign.name).alias("campaign"),
        pl.lit(campaign.type).alias("offer_type"),
        pl.lit(method).alias("method"),
        "customer_id",
        "target",
        pl.lit(rank, dtype=pl.Int32).alias("rank"),
        "reason",
    )


# --- scoring ---------------------------------------------------------------------------------------


def _score(made: pl.DataFrame, view: _LevelView) -> pl.DataFrame:
    """Mark each offer bought in the window (hit) and never bought before the cutoff (new_item)."""
    ever = view.bought.select("customer_id", pl.col("sku").alias("target")).unique()
    later = view.later.with_columns(pl.lit(True).alias("hit"))
    return (
        made.cast({"rank": pl.Int32, "reason": pl.String})
        .join(later, on=["customer_id", "target"], how="left")
        .join(
            ever.with_columns(pl.lit(False).alias("new_item")),
            on=["customer_id", "target"],
            how="left",
        )
        .with_columns(pl.col("hit").fill_null(False), pl.col("new_item").fill_null(True))
        .select(OFFERS_SCHEMA.names())
        .cast(OFFERS_SCHEMA)
    )


def _metrics(
    scored: pl.DataFrame,
    campaign: CampaignConfig,
    method: str,
    admitted: pl.DataFrame,
    *,
    active: int,
    level: str,
) -> pl.DataFrame:
    """One metrics row: the offers of `campaign` ranked by `method`, on the admitted customers."""
    mine = scored.filter((pl.col("campaign") == campaign.name) & (pl.col("method") == method))
    n = mine.height
    hits = int(mine["hit"].sum())
    new_offers = int(mine["new_item"].sum())
    new_hits = int((mine["hit"] & mine["new_item"]).sum())
    covered = mine["customer_id"].n_unique()
    return pl.DataFrame(
        {
            "campaign": [campaign.name],
            "offer_type": [campaign.type],
            "method": [method],
            "level": [level],
            "active": [active],
            "customers": [admitted.height],
            "covered": [covered],
            "coverage": [covered / admitted.height if admitted.height else None],
            "offers": [n],
            "hits": [hits],
            "hit_rate": [hits / n if n else None],
            "new_offers": [new_offers],
            "new_hits": [new_hits],
            "new_item_hit_rate": [new_hits / n if n else None],
            "distinct_targets": [mine["target"].n_unique()],
        },
        schema=METRICS_SCHEMA,
    )


# --- the history at one level ----------------------------------------------------------------------


def _level_view(
    level: str,
    analysis: pipeline.Analysis,
    inputs: Inputs,
    *,
    cutoff: date,
    days: int,
    lookback: int,
) -> _LevelView:
    """Purchases, products, rules and the window's purchases with skus or categories as items."""
    tx = inputs.transactions.kept
    products = inputs.products.kept
    if level == "sku":
        bought, items, rules = analysis.bought, products, analysis.rules
    else:
        tx = tx.join(products.select("sku", "category"), on="sku").with_columns(
            pl.col("category").alias("sku")
        )
        bought = features.customer_products(tx, as_of=cutoff, lookback_days=lookback)
        banned = offers.restricted_categories(products)
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
    return _LevelView(bought=bought, products=items, rules=rules, later=later)


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
