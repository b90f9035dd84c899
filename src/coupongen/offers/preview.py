"""Campaign preview: what a night would issue, broken down for the CRM team, before it issues.

The preview is the real plan of a dry run (all campaigns together, so caps across campaigns hold
exactly as they will), cut by segment, channel and budget. Nothing is issued or recorded.
"""

from __future__ import annotations

import polars as pl

from coupongen.config import Job
from coupongen.offers.planning import OfferPlan


def by_segment(job: Job, customers: pl.DataFrame, plan: OfferPlan) -> pl.DataFrame:
    """Per campaign and RFM segment: eligible, targeted (sent + holdout), sent and holdout counts;
    the night's whole plan, what an earlier run of the night already issued or held out included.

    Columns: campaign, offer_type, rfm_segment, eligible, targeted, sent, holdout.
    """
    segment = customers.select("customer_id", "rfm_segment")
    rows = []
    admitted = plan.eligible.join(segment, on="customer_id", how="left")
    planned = set(plan.funnel["campaign"].to_list()) if plan.funnel.height else set()
    for campaign in (c for c in job.campaigns if c.name in planned):
        eligible = (
            admitted.filter(pl.col("campaign") == campaign.name).group_by("rfm_segment").len("eligible")
        )
        sent = _count(_sent(plan), campaign.name, segment, "sent")
        held = _count(_held(plan), campaign.name, segment, "holdout")
        table = (
            eligible.join(sent, on="rfm_segment", how="full", coalesce=True)
            .join(held, on="rfm_segment", how="full", coalesce=True)
            .fill_null(0)
            .with_columns(
                pl.lit(campaign.name).alias("campaign"),
                pl.lit(campaign.type).alias("offer_type"),
                (pl.col("sent") + pl.col("holdout")).alias("targeted"),
            )
        )
        rows.append(table)
    if not rows:
        return pl.DataFrame()
    return (
        pl.concat(rows, how="diagonal")
        .select("campaign", "offer_type", "rfm_segment", "eligible", "targeted", "sent", "holdout")
        .cast({c: pl.Int64 for c in ("eligible", "targeted", "sent", "holdout")})
        .sort("campaign", "rfm_segment")
    )


def _sent(plan: OfferPlan) -> pl.DataFrame:
    """Campaign and customer of every coupon of the night: planned now or issued by an earlier run."""
    before = plan.earlier.filter(~pl.col("held")).select("campaign", "customer_id")
    return pl.concat([plan.offers.select("campaign", "customer_id"), before])


def _held(plan: OfferPlan) -> pl.DataFrame:
    before = plan.earlier.filter(pl.col("held")).select("campaign", "customer_id")
    return pl.concat([plan.controls.select("campaign", "customer_id"), before])


def _count(frame: pl.DataFrame, campaign: str, segment: pl.DataFrame, name: str) -> pl.DataFrame:
    mine = frame.filter(pl.col("campaign") == campaign).select("customer_id")
    return mine.join(segment, on="customer_id", how="left").group_by("rfm_segment").len(name)


def by_channel(plan: OfferPlan, channels: pl.DataFrame) -> pl.DataFrame:
    """Per campaign and channel: how many of the night's coupons go out by it (``none``: no
    reachable channel, or the customer's message leaves the campaign out), those an earlier run of
    the night issued included.

    Columns: campaign, channel, coupons.
    """
    held = "campaigns" in channels.columns
    channel = pl.col("channel")
    if held:
        channel = pl.when(pl.col("campaign").is_in(pl.col("campaigns"))).then(channel)
    return (
        _sent(plan)
        .join(
            channels.select("customer_id", "channel", *(["campaigns"] if held else [])),
            on="customer_id",
            how="left",
        )
        .with_columns(channel.fill_null("none").alias("channel"))
        .group_by("campaign", "channel")
        .len("coupons")
        .sort("campaign", "channel")
    )


def budgets(plan: OfferPlan) -> pl.DataFrame:
    """Per campaign: expected cost of the coupons sent against the budget, and the share used.

    Columns: campaign, offer_type, sent, holdout, expected_cost, budget, budget_used, and where a
    campaign has a lifetime budget: lifetime_budget, spent_before (earlier nights), lifetime_left
    (after tonight).
    """
    table = plan.funnel.select(
        "campaign",
        "offer_type",
        pl.col("treated").alias("sent"),
        pl.col("control").alias("holdout"),
        "expected_cost",
        "budget",
        pl.when(pl.col("budget") > 0)
        .then((pl.col("expected_cost") / pl.col("budget")).round(3))
        .otherwise(None)
        .alias("budget_used"),
    )
    lifetime = plan.budgets.filter(pl.col("lifetime_budget").is_not_null()) if plan.budgets.height else None
    if lifetime is None or lifetime.is_empty() or table.is_empty():
        return table
    return table.join(
        lifetime.select("campaign", "lifetime_budget", "spent_before"), on="campaign", how="left"
    ).with_columns(
        (pl.col("lifetime_budget") - pl.col("spent_before") - pl.col("expected_cost"))
        .round(2)
        .alias("lifetime_left")
    )
