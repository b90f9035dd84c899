"""The run summary: what was read, kept and rejected, who is in which segment, what was issued.

Builds the typed `RunSummary` of a night from the stages' frames and writes it as ``summary.json``,
for machines (a scheduler, a dashboard, the next night's comparison).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from coupongen import __version__
from coupongen.analysis import affinity, segments
from coupongen.delivery.publish import write_atomic
from coupongen.ledger import NO_CHANNEL
from coupongen.results import CouponTotals, InputCounts, QuarantineReason, RuleFigures, RunSummary

if TYPE_CHECKING:
    from coupongen.analysis.night import Analysis
    from coupongen.config import Job

TOP_RULES = 10
CHANNEL_COUNTS_SCHEMA = {"offer_type": pl.String, "channel": pl.String, "coupons": pl.UInt32}


def build_summary(
    job: Job,
    analysis: Analysis,
    *,
    as_of: str,
    dry_run: bool,
    inputs: dict[str, InputCounts],
    funnel: pl.DataFrame,
    reach: dict[str, int],
    by_channel: pl.DataFrame,
    quarantine_reasons: tuple[QuarantineReason, ...],
    timings: dict[str, float],
    preflight: dict[str, Any] | None = None,
    input_range: dict[str, str] | None = None,
    evaluation: dict[str, Any] | None = None,
    coupons: CouponTotals | None = None,
    run_id: int | None = None,
    files: dict[str, str] | None = None,
) -> RunSummary:
    """The night's figures (deterministic for the same inputs, apart from ``timings``).

    ``by_channel`` is `offers_by_channel` of the night's coupons (or, in a dry run, its offers);
    ``evaluation`` the latest evaluation of earlier nights (`report.evaluation.latest_evaluation`).
    """
    seg = analysis.segmented
    names = dict(zip(analysis.products["sku"].to_list(), analysis.products["name"].to_list(), strict=True))
    return RunSummary(
        job=job.config.name,
        as_of=as_of,
        config_hash=job.config_hash(),
        currency=job.config.currency,
        locale=job.config.locale,
        dry_run=dry_run,
        inputs=inputs,
        customers_with_purchases=seg.height,
        segments=tuple(segments.summarize_segments(seg).to_dicts()),
        lifecycle=tuple(seg.group_by("lifecycle").len("customers").sort("lifecycle").to_dicts()),
        rules=RuleFigures(
            baskets=analysis.n_baskets,
            count=analysis.rules.height,
            top=tuple(affinity.describe_rule(r, names) for r in analysis.rules.head(TOP_RULES).to_dicts()),
            category_count=analysis.category_rules.height,
            category_top=tuple(
                affinity.describe_rule(r) for r in analysis.category_rules.head(TOP_RULES).to_dicts()
            ),
        ),
        campaigns=tuple(funnel.to_dicts()),
        reach=reach,
        quarantine_reasons=quarantine_reasons,
        offers_by_channel=tuple(by_channel.to_dicts()),
        timings=timings,
        preflight=preflight or {},
        version=__version__,
        input_range=input_range or {},
        evaluation=evaluation,
        coupons=coupons,
        run_id=run_id,
        files=files or {},
    )


def coupon_totals(coupons: pl.DataFrame, *, issued_new: int, controls: int) -> CouponTotals:
    """The totals of the night's coupons as the ledger holds them after this run."""
    by_type = coupons.group_by("offer_type").len("coupons").sort("offer_type")
    return CouponTotals(
        total=coupons.height,
        issued_this_run=issued_new,
        already_issued=coupons.height - issued_new,
        control=controls,
        by_offer_type={r["offer_type"]: r["coupons"] for r in by_type.to_dicts()},
        unique_codes=coupons["code"].n_unique(),
    )


def offers_by_channel(offers: pl.DataFrame | None, channels: pl.DataFrame | None) -> pl.DataFrame:
    """Coupons (or, in a dry run, planned offers) per offer type and channel.

    ``offers`` has offer_type, customer_id (and campaign); ``channels`` customer_id and channel
    (and campaigns: those the customer's message holds). Columns: offer_type, channel (``none``
    when no channel reaches the customer or the message leaves the coupon's campaign out), coupons.
    """
    if offers is None or channels is None or offers.is_empty():
        return pl.DataFrame(schema=CHANNEL_COUNTS_SCHEMA)
    held = "campaigns" in channels.columns and "campaign" in offers.columns
    channel = pl.col("channel")
    if held:
        channel = pl.when(pl.col("campaign").is_in(pl.col("campaigns"))).then(channel)
    return (
        offers.select("offer_type", "customer_id", *(["campaign"] if held else []))
        .join(
            channels.select("customer_id", "channel", *(["campaigns"] if held else [])),
            on="customer_id",
            how="left",
        )
        .with_columns(channel.fill_null(NO_CHANNEL).alias("channel"))
        .group_by("offer_type", "channel")
        .len("coupons")
        .sort("offer_type", "channel")
    )


def quarantine_reasons(rejected: dict[str, pl.DataFrame], top: int = 10) -> tuple[QuarantineReason, ...]:
    """The most common reasons rows were quarantined, per input (``rejected``: name -> rows)."""
    found: list[QuarantineReason] = []
    for name, rows in rejected.items():
        if rows.is_empty():
            continue
        counted = rows.group_by("reason").len("rows").sort(["rows", "reason"], descending=[True, False])
        found += [QuarantineReason(input=name, **r) for r in counted.head(top).to_dicts()]
    return tuple(found)


def preflight_section(
    first: datetime | None, last: datetime | None, money: pl.DataFrame, findings: pl.DataFrame | None
) -> dict[str, Any]:
    """The preflight as summary.json holds it: input date range, resolved money rules, findings."""
    return {
        "first_transaction": None if first is None else first.date().isoformat(),
        "last_transaction": None if last is None else last.date().isoformat(),
        "money": money.to_dicts(),
        "findings": [] if findings is None else findings.to_dicts(),
    }


def write_summary(summary: RunSummary, run_dir: Path) -> Path:
    """Write ``summary.json`` into the run folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "summary.json"
    text = json.dumps(summary.to_json(), indent=2, sort_keys=True, default=str) + "\n"
    write_atomic(path, lambda staging: staging.write_text(text))
    return path
