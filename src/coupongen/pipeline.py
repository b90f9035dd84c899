"""The nightly job: runs the stages in order and returns what they produced.

load -> validate -> features -> segments -> affinities -> offers -> codes -> ledger -> export ->
report. Each stage is a function of frames; this module wires them to the job's settings, the files
and the ledger. It never prints: progress goes to an optional callback, warnings to its logger,
results to the caller.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import polars as pl

from coupongen import codes
from coupongen.analysis.night import Analysis, analyse  # noqa: F401 (callers use pipeline.analyse)
from coupongen.config import Job
from coupongen.delivery import crm, outbox, pos
from coupongen.delivery import planning as delivery
from coupongen.delivery.ledger_stamp import check_same_ledger, write_stamp
from coupongen.delivery.names import category_names, readable_names
from coupongen.engines import analyse_night, candidates_stage, load_night_inputs
from coupongen.errors import InputError, LedgerBusyError
from coupongen.inputs.quarantine import write_quarantined
from coupongen.ledger import Ledger
from coupongen.ledger.issuing import issue
from coupongen.night.aside import Aside
from coupongen.night.data import NightData, kept_text
from coupongen.night.fingerprint import NightKey, night_key
from coupongen.night.finished import finished_summary, write_record
from coupongen.night.front import input_window, load_and_analyse
from coupongen.offers import planning as offers
from coupongen.offers.eligibility import apply_never_promote
from coupongen.offers.money import DataFigures, resolve_money
from coupongen.offers.preflight import preflight
from coupongen.progress import SILENT, Clock, Progress
from coupongen.report import summary as report
from coupongen.report.analysis_files import write_analysis
from coupongen.report.evaluation import latest_evaluation
from coupongen.report.night import write_report
from coupongen.results import RunSummary
from coupongen.settings import Settings, resolve_settings

__all__ = ["Progress", "RunResult", "Settings", "resolve_settings", "run_analysis", "run_job"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """What a run produced: its typed summary and the frames behind it, for callers that want them.

    ``plan`` holds tonight's offers and holdout as planned (and the offers it set aside); ``coupons``
    (a real run only) every coupon of the night as the ledger holds it; ``channels`` the channel
    chosen per reached customer; ``job`` the job as tonight's data resolved its money rules.
    ``complete`` is true when the night had already finished with the same inputs, settings and
    ledger: nothing was recomputed or republished, the summary is the one the night wrote, and the
    frames are None.
    """

    settings: Settings
    summary: RunSummary
    analysis: Analysis | None = None
    plan: offers.OfferPlan | None = None
    channels: pl.DataFrame | None = None
    coupons: pl.DataFrame | None = None
    job: Job | None = None
    complete: bool = False


# --- stages ----------------------------------------------------------------------------------------


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


def plan(job: Job, night: NightData, settings: Settings, ledger: Ledger | None) -> offers.OfferPlan:
    """Targeting, guards, budgets and holdout for every enabled campaign of ``job`` (resolved, see
    `prepare`): never a product ``never_promote`` names, never one bought, oversized lines included.

    With a ledger, the plan respects the campaigns' frequency and per-customer caps and lifetime
    budgets over earlier nights, and builds on what earlier runs of this night recorded (see
    `offers.decided_tonight`).
    """
    recent = decided = spent = reach = public_issued = None
    if ledger is not None:
        public_issued = ledger.public_issued()
        longest = max((c.frequency_cap_days for c in job.campaigns), default=0)
        recent = ledger.recent_offer_types(
            since=settings.as_of - timedelta(days=longest), before=settings.as_of
        )
        names = [c.name for c in job.campaigns]
        spent = ledger.campaign_spend(campaigns=names, before=settings.as_of)
        capped = [c for c in job.campaigns if c.per_customer is not None]
        if capped:
            days = max(c.per_customer.days for c in capped if c.per_customer is not None)
            reach = ledger.campaign_reach(
                campaigns=[c.name for c in capped],
                since=settings.as_of - timedelta(days=days),
                before=settings.as_of,
            )
        decided = offers.decided_tonight(
            ledger.coupons(as_of=settings.as_of, campaigns=names),
            ledger.controls(as_of=settings.as_of, campaigns=names),
        )
    products = apply_never_promote(night.products, job.config.products.never_promote)
    # the reasons name products and categories as the messages do ("Bananas 40 lb", not
    # "BANANAS 40 LB"; "Deli Meats" or the names file's name, not the key "DELI MEATS")
    shown = category_names(
        products, delivery.category_names_file(job), name_case=job.config.products.name_case
    )
    products = products.drop("category_name", strict=False).join(
        shown.rename({"name": "category_name"}), on="category", how="left", maintain_order="left"
    )
    if job.config.products.name_case == "auto":
        products = products.with_columns(readable_names(products["name"]))
    return offers.plan_night(
        job,
        night.analysis,
        products,
        as_of=settings.as_of,
        seed=settings.seed,
        recent=recent,
        decided=decided,
        spent=spent,
        reach=reach,
        also_bought=night.oversized,
        home=night.home,
        public_issued=public_issued,
        customer_columns=night.customer_columns,
        chances=night.chances,
        stage=candidates_stage(job, settings),
    )


def prepare(job: Job, night: NightData) -> tuple[Job, Preflight]:
    """The job with its money rules resolved against tonight's data, and what they resolved to."""
    night_job, money = resolve_money(job, night.figures)
    return night_job, Preflight(night.figures, money)


@dataclass(frozen=True)
class Preflight:
    """Tonight's data figures, the resolved money settings and (after planning) the findings."""

    figures: DataFigures
    money: pl.DataFrame
    findings: pl.DataFrame | None = None

    def checked(self, job: Job, plan_: offers.OfferPlan, night: NightData) -> Preflight:
        """The same with the preflight findings of ``plan_`` (see `offers.preflight.preflight`)."""
        products = apply_never_promote(night.products, job.config.products.never_promote)
        found = preflight(job, plan_, self.figures, night.customers, products)
        return Preflight(self.figures, self.money, found)

    def section(self) -> dict[str, object]:
        """The preflight as summary.json holds it."""
        return report.preflight_section(self.figures.first, self.figures.last, self.money, self.findings)


def _reach_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counts.items())


def _planned(clock: Clock, plan_: offers.OfferPlan) -> None:
    """End the plan stage: its totals, and a line per campaign."""
    for row in plan_.funnel.iter_rows(named=True):
        clock.progress.note(
            f"{row['campaign']}: {row['eligible']:,} eligible, {row['candidates']:,} candidates, "
            f"{row['treated']:,} offers, {row['control']:,} in holdout, "
            f"expected cost {row['expected_cost']:,.2f}"
        )
    # The night's figures, as the summary has them: a rerun's offers include those issued before.
    funnel = plan_.funnel
    offered = int(funnel["treated"].sum()) if funnel.height else 0
    held = int(funnel["control"].sum()) if funnel.height else 0
    new = f" ({plan_.offers.height:,} not yet issued)" if plan_.offers.height != offered else ""
    clock.done("plan", f"{offered:,} offers{new}, {held:,} in holdout")


def _set_aside(plan_: offers.OfferPlan, folder: Path | None) -> None:
    """Write the offers the plan set aside to ``folder/offers.csv`` (see `write_quarantined`; not
    without ``folder``) and warn once per campaign: how many, what they lack, and no customer.
    """
    path = None if folder is None else folder / "offers.csv"
    if path is not None:
        write_quarantined(plan_.set_aside, path)
    counted = plan_.set_aside.group_by("campaign", maintain_order=True).agg(
        pl.len(), pl.col("problem").str.split("; ").explode().unique().sort().str.join("; ")
    )
    for campaign, n, problems in counted.iter_rows():
        where = "" if path is None else f"; see {path}"
        offers_ = "offer" if n == 1 else "offers"
        log.warning("campaign %s: %d %s set aside (%s)%s", campaign, n, offers_, problems, where)


# --- the whole job ---------------------------------------------------------------------------------


def _summarize(
    job: Job,
    settings: Settings,
    night: NightData,
    plan_: offers.OfferPlan,
    reach: dict[str, int],
    by_channel: pl.DataFrame,
    timings: dict[str, float],
    checks: Preflight,
    **real_run: object,
) -> RunSummary:
    return report.build_summary(
        job,
        night.analysis,
        as_of=settings.as_of.isoformat(),
        dry_run=not real_run,
        inputs=night.counts,
        funnel=plan_.funnel,
        reach=reach,
        by_channel=by_channel,
        quarantine_reasons=night.reasons,
        timings=timings,
        preflight=checks.section(),
        input_range=night.input_range(),
        evaluation=latest_evaluation(settings.out_dir, settings.as_of.isoformat()),
        **real_run,  # type: ignore[arg-type]
    )


def run_analysis(
    job: Job,
    settings: Settings,
    *,
    customers: bool = True,
    baskets: bool = True,
    progress: Progress = SILENT,
) -> tuple[Analysis, dict[str, str]]:
    """The analysis alone, for analysts: load, analyse, save the analysis files (no ledger, no coupons).

    ``customers`` computes features and segments, ``baskets`` the rules; returns what was found and
    the paths written, by file name.
    """
    clock = Clock(progress)
    clock.start("load")
    quarantine = settings.run_dir / "quarantine"
    inputs = load_night_inputs(job, settings, quarantine_dir=quarantine, window=input_window(job, settings))
    clock.done("load", kept_text(inputs))
    clock.start("analyse")
    analysis = analyse_night(job, inputs, settings, customers=customers, baskets=baskets, ranking=False)
    del inputs
    found = []
    if customers:
        found.append(f"{analysis.segmented.height:,} customers")
    if baskets:
        found.append(
            f"{analysis.n_baskets:,} baskets, {analysis.rules.height:,} sku rules, "
            f"{analysis.category_rules.height:,} category rules"
        )
    clock.done("analyse", ", ".join(found))
    files, _ = write_analysis(analysis, settings.run_dir)
    return analysis, files


def run_job(
    job: Job,
    settings: Settings,
    *,
    dry_run: bool = False,
    allow_stale: bool = False,
    progress: Progress = SILENT,
    entropy: codes.Entropy = secrets.token_bytes,
    new_ledger: bool = False,
) -> RunResult:
    """Run the whole nightly job; with ``dry_run`` nothing is issued, recorded or exported.

    Inputs whose newest transaction is more than ``stale_after_days`` before the run date stop the
    run (InputError) unless ``allow_stale``. Money rules are resolved against tonight's data and
    every campaign is checked (`Preflight`) before anything is issued. A real run refuses
    (LedgerError) when the latest night in the output folder was issued by another ledger, or the
    ledger is missing (see ``delivery.ledger_stamp``), unless ``new_ledger``.

    A night that already finished with the same inputs, settings and ledger (``night.finished``)
    is not run again: the result is ``complete``, with the summary the night wrote. A night that
    failed after its analysis resumes from the analysis checkpoint (``night.front``).

    ``progress`` hears each stage start and end (load, analyse, plan, then issue, export, messages,
    images and publish in a real run, deliver in a dry run), the items of the long ones, and a
    line per campaign.
    """
    with Aside() as aside:
        return _run_job(
            job,
            settings,
            dry_run=dry_run,
            allow_stale=allow_stale,
            progress=progress,
            entropy=entropy,
            new_ledger=new_ledger,
            aside=aside,
        )


def _run_job(
    job: Job,
    settings: Settings,
    *,
    dry_run: bool,
    allow_stale: bool,
    progress: Progress,
    entropy: codes.Entropy,
    new_ledger: bool,
    aside: Aside,
) -> RunResult:
    """`run_job`'s night; the checkpoint and the analysis files are written on ``aside``'s thread
    while the offers are planned, and waited for before anything is issued.
    """
    clock = Clock(progress)
    free = check_ledger(settings, dry_run=dry_run, new_ledger=new_ledger)
    try:
        key: NightKey | None = night_key(job, settings)
    except InputError:
        key = None  # an input is missing: the load stage says so, in its place
    if key is not None and not dry_run and not new_ledger:
        done = _finished(job, settings, key)
        if done is not None:
            return RunResult(settings, done, complete=True)
    night = load_and_analyse(
        job, settings, clock, key=key, write_files=free, allow_stale=allow_stale, aside=aside
    )
    analysis = night.analysis
    original, (job, checks) = job, prepare(job, night)
    names = [c.name for c in job.campaigns]
    context = delivery.load_context(job, night.products)

    if dry_run:
        ledger = Ledger.open(settings.ledger_path) if settings.ledger_path.exists() else None
        issued = None
        clock.start("plan")
        try:
            plan_ = plan(job, night, settings, ledger)
            if ledger is not None:
                issued = ledger.coupons(as_of=settings.as_of, campaigns=names)
        finally:
            if ledger is not None:
                ledger.close()
        checks = checks.checked(job, plan_, night)
        _planned(clock, plan_)
        _set_aside(plan_, settings.run_dir / "quarantine" if free else None)
        stand_ins = delivery.stand_in_coupons(context, plan_.offers, issued)
        delivery.check_templates(context, stand_ins)
        clock.start("deliver", stand_ins["customer_id"].n_unique())
        preview = delivery.plan_delivery(
            context, stand_ins, night.customers, on_progress=lambda n: clock.advance("deliver", n)
        )
        clock.done("deliver", _reach_text(preview.counts()))
        # As a real run counts them: every coupon of the night, an earlier run's included.
        night_offers = plan_.offers.select("offer_type", "customer_id", "campaign")
        if issued is not None:
            night_offers = pl.concat([issued.select(night_offers.columns), night_offers])
        by_channel = report.offers_by_channel(night_offers, preview.channels)
        summary = _summarize(
            original, settings, night, plan_, preview.counts(), by_channel, clock.timings, checks
        )
        return RunResult(settings, summary, analysis, plan_, preview.channels, job=job)

    with Ledger.open(settings.ledger_path) as ledger:
        if not new_ledger:
            check_same_ledger(settings.out_dir, settings.ledger_path, ledger.ledger_id)
        run = ledger.start_run(job=job.config.name, as_of=settings.as_of, config_hash=original.config_hash())
        try:
            written = aside.submit(write_analysis, analysis, settings.run_dir)
            clock.start("plan")
            plan_ = plan(job, night, settings, ledger)
            aside.join()
            checks = checks.checked(job, plan_, night)
            _planned(clock, plan_)
            _set_aside(plan_, settings.run_dir / "quarantine")
            issued = ledger.coupons(as_of=settings.as_of, campaigns=names)
            delivery.check_templates(context, delivery.stand_in_coupons(context, plan_.offers, issued))
            clock.start("issue", plan_.offers.height)
            tell = clock.progress
            new = issue(job, plan_, ledger, run, segmented=analysis.segmented, entropy=entropy, progress=tell)
            write_stamp(settings.run_dir, ledger_id=ledger.ledger_id, run_id=run.run_id, as_of=settings.as_of)
            coupons = ledger.coupons(as_of=settings.as_of, campaigns=names)
            controls = ledger.controls(as_of=settings.as_of, campaigns=names).height
            clock.done("issue", f"{new:,} new coupons, {coupons.height:,} for the night")
            clock.start("export")
            files, analysis_charts = written.result()
            run_dir, run_id, as_of = settings.run_dir, run.run_id, settings.as_of
            with ledger.export_state(as_of=as_of, campaigns=names) as state:
                coupons, live = state.tonight, state.live
                files |= pos.publish_pos(
                    coupons,
                    live,
                    state.revoked,
                    run_dir,
                    run_id=run_id,
                    as_of=as_of,
                    currency=job.config.currency,
                    target_names=context.target_names,
                    modes=context.exports,
                )
            files |= crm.publish_crm(
                coupons, context.target_names, run_dir, run_id=run_id, as_of=as_of, modes=context.exports
            )
            clock.done("export", f"POS {live.height:,} live coupons ({coupons.height:,} tonight); CRM offers")
            sent, sent_files = outbox.deliver(
                context, coupons, night.customers, run_dir, run_id=run_id, as_of=as_of, clock=clock
            )
            ledger.record_channels(sent.channels, as_of=settings.as_of, campaigns=names)
            files |= sent_files
            files["report"] = str(settings.run_dir / "report.html")
            files["summary"] = str(settings.run_dir / "summary.json")
            by_channel = report.offers_by_channel(coupons, sent.channels)
            summary = _summarize(
                original,
                settings,
                night,
                plan_,
                sent.counts(),
                by_channel,
                clock.timings,
                checks,
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
            aside.settle()  # nothing written beside the night once it is recorded as failed
            # When the ledger itself failed (disk full...) the first error is the one to tell.
            with contextlib.suppress(Exception):
                ledger.finish_run(run, status="failed")
            raise
        totals = summary.coupons.__dict__ if summary.coupons is not None else {}
        ledger.check_file()
        ledger.finish_run(run, status="succeeded", counts=totals)
        if key is not None:
            write_record(settings.run_dir, key, ledger, run_id=run.run_id, coupons=coupons.height)
    return RunResult(settings, summary, analysis, plan_, sent.channels, coupons, job=job)


def _finished(job: Job, settings: Settings, key: NightKey) -> RunSummary | None:
    """The summary of tonight's night when it already finished under ``key`` (see
    ``night.finished``), else None. Takes no lock: a run holding the ledger was refused before.
    """
    if not settings.ledger_path.exists():
        return None
    with Ledger.open(settings.ledger_path) as ledger:
        return finished_summary(settings.run_dir, key, ledger, config_hash=job.config_hash())
