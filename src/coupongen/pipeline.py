"""The nightly job: runs the stages in order and returns what they produced.

load -> validate -> features -> segments -> affinities -> offers -> codes -> ledger -> export ->
report. Each stage is a function of frames; this module wires them to the job's settings, the files
and the ledger. It never prints: progress goes to an optional callback, results to the caller.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from coupongen import codes
from coupongen.analysis.night import Analysis, analyse
from coupongen.config import Job
from coupongen.delivery import crm, outbox, pos
from coupongen.delivery import planning as delivery
from coupongen.delivery.ledger_stamp import check_same_ledger, write_stamp
from coupongen.errors import LedgerBusyError
from coupongen.inputs.contract import Inputs
from coupongen.inputs.loading import load_job_inputs
from coupongen.ledger import Ledger, Run
from coupongen.offers import planning as offers
from coupongen.report import summary as report
from coupongen.report.analysis_files import write_analysis
from coupongen.report.night import write_report
from coupongen.results import InputCounts, RunSummary
from coupongen.settings import Settings, resolve_settings

__all__ = ["RunResult", "Settings", "resolve_settings", "run_analysis", "run_job"]

Progress = Callable[[str, str], None]


def _quiet(stage: str, detail: str) -> None:
    """The default progress callback: says nothing."""


@dataclass(frozen=True)
class RunResult:
    """What a run produced: its typed summary and the frames behind it, for callers that want them.

    ``plan`` holds tonight's offers and holdout as planned; ``coupons`` (a real run only) every coupon
    of the night as the ledger holds it; ``channels`` the channel chosen per reached customer.
    """

    settings: Settings
    summary: RunSummary
    analysis: Analysis
    plan: offers.OfferPlan
    channels: pl.DataFrame
    coupons: pl.DataFrame | None = None


# --- stages ----------------------------------------------------------------------------------------


def load(job: Job, settings: Settings, *, write_quarantine: bool = True) -> Inputs:
    """Read and validate the inputs; write the quarantine files (unless told not to: a run of the
    night is under way and owns them); fail when too much was rejected.
    """
    quarantine = settings.run_dir / "quarantine" if write_quarantine else None
    return load_job_inputs(job.config.inputs, settings.data_dir, quarantine_dir=quarantine)


def check_ledger(settings: Settings, *, dry_run: bool, new_ledger: bool) -> bool:
    """Before a run touches any file of the night: is the ledger there, the one that issued the
    latest night (``delivery.ledger_stamp``, unless ``new_ledger``), and free?

    A real run raises LedgerError / LedgerBusyError; a dry run never fails here but returns False
    when a live run holds the ledger, so that it leaves that run's files alone. True otherwise.
    """
    path = settings.ledger_path
    if not path.exists():
        if not dry_run and not new_ledger:
            check_same_ledger(settings.out_dir, path, None)
        return True
    with Ledger.open(path) as ledger:
        if not dry_run and not new_ledger:
            check_same_ledger(settings.out_dir, path, ledger.ledger_id)
        try:
            ledger.check_unlocked()
        except LedgerBusyError:
            if not dry_run:
                raise
            return False
    return True


def plan(
    job: Job, analysis: Analysis, inputs: Inputs, settings: Settings, ledger: Ledger | None
) -> offers.OfferPlan:
    """Targeting, guards, budgets and holdout for every enabled campaign.

    With a ledger, the plan respects the campaigns' frequency caps over earlier nights and builds on
    what earlier runs of this night recorded (see `offers.decided_tonight`).
    """
    recent = decided = None
    if ledger is not None:
        longest = max((c.frequency_cap_days for c in job.campaigns), default=0)
        recent = ledger.recent_offer_types(
            since=settings.as_of - timedelta(days=longest), before=settings.as_of
        )
        names = [c.name for c in job.campaigns]
        decided = offers.decided_tonight(
            ledger.coupons(as_of=settings.as_of, campaigns=names),
            ledger.controls(as_of=settings.as_of, campaigns=names),
        )
    return offers.plan_night(
        job,
        analysis,
        inputs.products.kept,
        as_of=settings.as_of,
        seed=settings.seed,
        recent=recent,
        decided=decided,
    )


def issue(
    job: Job,
    plan_: offers.OfferPlan,
    ledger: Ledger,
    run: Run,
    *,
    segmented: pl.DataFrame | None = None,
    entropy: codes.Entropy = secrets.token_bytes,
) -> int:
    """Record the plan's holdout and then its coupons in the ledger; returns how many coupons were
    new.

    Each coupon keeps its customer's ``rfm_segment`` in ``segmented`` (the analysis' customers).
    The signing key is read before anything is issued, so a signed campaign without a key fails
    the run with nothing recorded. The last commit reaches the disk (``Ledger.mark_issued``)
    before the exports name any coupon.
    """
    signers = [c.name for c in job.campaigns if c.code.needs_key]
    key = codes.load_signing_key(needed_for=f"campaign {signers[0]!r}") if signers else None
    offers_, controls_ = plan_.offers, plan_.controls
    if segmented is not None:
        segment = segmented.select("customer_id", pl.col("rfm_segment").alias("segment"))
        # Row order decides which offer gets which drawn code: keep the plan's.
        offers_ = offers_.join(segment, on="customer_id", how="left", maintain_order="left")
    by_campaign = [(c, offers_.filter(pl.col("campaign") == c.name)) for c in job.campaigns]
    for campaign, mine in by_campaign:
        if mine.height:
            codes.check_barcode_expiry(campaign, mine["valid_to"].unique().to_list(), as_of=run.as_of)
    # The holdout first, in one commit: a run killed while it issues coupons leaves every campaign's
    # holdout recorded, and a rerun (even with another seed) keeps exactly those customers out.
    if controls_.height:
        ledger.record_controls(controls_, run=run)
    new = 0
    for campaign, mine in by_campaign:
        if mine.height:
            make = codes.code_maker(campaign, entropy, as_of=run.as_of, key=key)
            new += ledger.issue_coupons(mine, run=run, make_codes=make)
    ledger.mark_issued(run)
    return new


def _kept_text(inputs: Inputs) -> str:
    return ", ".join(f"{x.name} {x.counts['kept']}/{x.counts['read']} kept" for x in inputs.all())


def _reach_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


# --- the whole job ---------------------------------------------------------------------------------


class _Clock:
    """Times the stages of a run and tells the progress callback as each one ends."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def done(self, stage: str, detail: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(now - self._last, 3)
        self._last = now
        self.progress(stage, detail)


def _summarize(
    job: Job,
    settings: Settings,
    inputs: Inputs,
    analysis: Analysis,
    plan_: offers.OfferPlan,
    reach: dict[str, int],
    by_channel: pl.DataFrame,
    timings: dict[str, float],
    **real_run: object,
) -> RunSummary:
    return report.build_summary(
        job,
        analysis,
        as_of=settings.as_of.isoformat(),
        dry_run=not real_run,
        inputs={x.name: InputCounts(**x.counts) for x in inputs.all()},
        funnel=plan_.funnel,
        reach=reach,
        by_channel=by_channel,
        quarantine_reasons=report.quarantine_reasons({x.name: x.quarantined for x in inputs.all()}),
        timings=timings,
        **real_run,  # type: ignore[arg-type]
    )


def run_analysis(
    job: Job,
    settings: Settings,
    *,
    customers: bool = True,
    baskets: bool = True,
    progress: Progress = _quiet,
) -> tuple[Analysis, dict[str, str]]:
    """The analysis alone, for analysts: load, analyse, save the analysis files (no ledger, no coupons).

    ``customers`` computes features and segments, ``baskets`` the rules; returns what was found and
    the paths written, by file name.
    """
    clock = _Clock(progress)
    inputs = load(job, settings)
    clock.done("load", _kept_text(inputs))
    analysis = analyse(job, inputs, settings.as_of, customers=customers, baskets=baskets)
    found = []
    if customers:
        found.append(f"{analysis.segmented.height} customers")
    if baskets:
        found.append(
            f"{analysis.n_baskets} baskets, {analysis.rules.height} sku rules, "
            f"{analysis.category_rules.height} category rules"
        )
    clock.done("analyse", ", ".join(found))
    files, _ = write_analysis(analysis, settings.run_dir)
    return analysis, files


def run_job(
    job: Job,
    settings: Settings,
    *,
    dry_run: bool = False,
    progress: Progress = _quiet,
    entropy: codes.Entropy = secrets.token_bytes,
    new_ledger: bool = False,
) -> RunResult:
    """Run the whole nightly job; with ``dry_run`` nothing is issued, recorded or exported.

    A real run refuses (LedgerError) when the latest night in the output folder was issued by
    another ledger, or the ledger is missing (see ``delivery.ledger_stamp``), unless ``new_ledger``.
    """
    clock = _Clock(progress)
    free = check_ledger(settings, dry_run=dry_run, new_ledger=new_ledger)
    inputs = load(job, settings, write_quarantine=free)
    clock.done(
        "load", ", ".join(f"{x.name} {x.counts['kept']}/{x.counts['read']} kept" for x in inputs.all())
    )
    analysis = analyse(job, inputs, settings.as_of)
    clock.done("analyse", f"{analysis.segmented.height} customers, {analysis.rules.height} rules")
    names = [c.name for c in job.campaigns]
    context = delivery.load_context(job, inputs.products.kept)

    if dry_run:
        ledger = Ledger.open(settings.ledger_path) if settings.ledger_path.exists() else None
        issued = None
        try:
            plan_ = plan(job, analysis, inputs, settings, ledger)
            if ledger is not None:
                issued = ledger.coupons(as_of=settings.as_of, campaigns=names)
        finally:
            if ledger is not None:
                ledger.close()
        clock.done("plan", f"{plan_.offers.height} offers, {plan_.controls.height} in holdout")
        night = delivery.stand_in_coupons(context, plan_.offers, issued)
        delivery.check_templates(context, night)
        preview = delivery.plan_delivery(context, night, inputs.customers.kept)
        clock.done("deliver", _reach_text(preview.counts()))
        by_channel = report.offers_by_channel(plan_.offers, preview.channels)
        summary = _summarize(
            job, settings, inputs, analysis, plan_, preview.counts(), by_channel, clock.timings
        )
        return RunResult(settings, summary, analysis, plan_, preview.channels)

    with Ledger.open(settings.ledger_path) as ledger:
        if not new_ledger:
            check_same_ledger(settings.out_dir, settings.ledger_path, ledger.ledger_id)
        run = ledger.start_run(job=job.config.name, as_of=settings.as_of, config_hash=job.config_hash())
        try:
            plan_ = plan(job, analysis, inputs, settings, ledger)
            clock.done("plan", f"{plan_.offers.height} offers, {plan_.controls.height} in holdout")
            issued = ledger.coupons(as_of=settings.as_of, campaigns=names)
            delivery.check_templates(context, delivery.stand_in_coupons(context, plan_.offers, issued))
            new = issue(job, plan_, ledger, run, segmented=analysis.segmented, entropy=entropy)
            write_stamp(settings.run_dir, ledger_id=ledger.ledger_id, run_id=run.run_id, as_of=settings.as_of)
            coupons = ledger.coupons(as_of=settings.as_of, campaigns=names)
            controls = ledger.controls(as_of=settings.as_of, campaigns=names).height
            clock.done("issue", f"{new} new coupons, {coupons.height} for the night")
            files, analysis_charts = write_analysis(analysis, settings.run_dir)
            revoked = ledger.revoked(as_of=settings.as_of)
            run_dir, run_id, as_of = settings.run_dir, run.run_id, settings.as_of
            files |= pos.publish_pos(coupons, revoked, run_dir, run_id=run_id, as_of=as_of)
            files |= crm.publish_crm(coupons, inputs.products.kept, run_dir, run_id=run_id, as_of=as_of)
            sent, sent_files = outbox.deliver(
                context, coupons, inputs.customers.kept, run_dir, run_id=run_id, as_of=as_of
            )
            ledger.record_channels(sent.channels, as_of=settings.as_of, campaigns=names)
            files |= sent_files
            clock.done("export", f"{coupons.height} coupons published; {_reach_text(sent.counts())}")
            files["report"] = str(settings.run_dir / "report.html")
            files["summary"] = str(settings.run_dir / "summary.json")
            by_channel = report.offers_by_channel(coupons, sent.channels)
            summary = _summarize(
                job,
                settings,
                inputs,
                analysis,
                plan_,
                sent.counts(),
                by_channel,
                clock.timings,
                coupons=report.coupon_totals(coupons, issued_new=new, controls=controls),
                run_id=run.run_id,
                files=files,
            )
            write_report(
                summary,
                out_dir=settings.out_dir,
                funnel=plan_.funnel,
                by_channel=by_channel,
                analysis_charts=analysis_charts,
                currency=job.config.currency,
            )
        except BaseException:
            # When the ledger itself failed (disk full...) the first error is the one to tell.
            with contextlib.suppress(Exception):
                ledger.finish_run(run, status="failed")
            raise
        totals = summary.coupons.__dict__ if summary.coupons is not None else {}
        ledger.check_file()
        ledger.finish_run(run, status="succeeded", counts=totals)
    return RunResult(settings, summary, analysis, plan_, sent.channels, coupons)
