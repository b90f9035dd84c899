"""The nightly job: runs the stages in order and returns what they produced.

load -> validate -> features -> segments -> affinities -> offers -> codes -> ledger -> export ->
report. Each stage is a function of frames; this module wires them to the job's settings, the files
and the ledger. It never prints: progress goes to an optional callback, results to the caller.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from coupongen import affinity, channels, codes, features, offers, report, segments
from coupongen.config import CampaignConfig, Job
from coupongen.contract import Inputs, check_quarantine_share, load_inputs
from coupongen.ledger import Ledger, Run
from coupongen.publish import publish_folder

Progress = Callable[[str, str], None]


def _quiet(stage: str, detail: str) -> None:
    """The default progress callback: says nothing."""


@dataclass(frozen=True)
class Settings:
    """Where a run reads and writes, resolved from the job file and any overrides."""

    data_dir: Path
    out_dir: Path
    ledger_path: Path
    as_of: date
    seed: int

    @property
    def run_dir(self) -> Path:
        return self.out_dir / self.as_of.isoformat()


@dataclass
class Analysis:
    """What the analysis stages found: per-customer facts, segments and rules."""

    segmented: pl.DataFrame
    bought: pl.DataFrame
    categories: pl.DataFrame
    rules: pl.DataFrame
    category_rules: pl.DataFrame
    n_baskets: int
    products: pl.DataFrame


@dataclass
class RunResult:
    """Everything a run produced, for the CLI and the report."""

    settings: Settings
    inputs: dict[str, dict[str, int]]
    analysis: Analysis
    funnel: pl.DataFrame
    dry_run: bool
    run_id: int | None = None
    issued_new: int = 0
    coupons: pl.DataFrame | None = None
    controls: int = 0
    files: dict[str, str] = field(default_factory=dict)
    summary: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def resolve_settings(
    job: Job,
    *,
    as_of: date,
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    ledger_path: Path | None = None,
    seed: int | None = None,
) -> Settings:
    """The run's paths and seed: command-line overrides first, then the job file."""
    out = Path(out_dir).resolve() if out_dir else job.resolve(job.config.out)
    if ledger_path:
        ledger = Path(ledger_path).resolve()
    elif out_dir:
        ledger = out / "ledger.sqlite"
    else:
        ledger = job.resolve(job.config.ledger)
    return Settings(
        data_dir=Path(data_dir).resolve() if data_dir else job.resolve(job.config.data),
        out_dir=out,
        ledger_path=ledger,
        as_of=as_of,
        seed=job.config.seed if seed is None else seed,
    )


# --- stages ----------------------------------------------------------------------------------------


def load(job: Job, settings: Settings) -> Inputs:
    """Read and validate the inputs; write the quarantine files; fail when too much was rejected."""
    cfg = job.config.inputs
    inputs = load_inputs(
        settings.data_dir / cfg.transactions,
        settings.data_dir / cfg.products,
        settings.data_dir / cfg.customers,
        delimiter=cfg.delimiter,
        max_amount=cfg.max_line_amount,
        max_quantity=cfg.max_line_quantity,
    )
    qdir = settings.run_dir / "quarantine"
    for loaded in inputs.all():
        path = qdir / f"{loaded.name}.csv"
        if loaded.quarantined.height:
            qdir.mkdir(parents=True, exist_ok=True)
            channels.write_csv(loaded.quarantined, path)
            path.chmod(0o600)
        elif path.exists():
            path.unlink()
    check_quarantine_share(inputs, cfg.max_quarantine_share, qdir)
    return inputs


def analyse(job: Job, inputs: Inputs, as_of: date) -> Analysis:
    """Features, segments and affinity rules as of the run date."""
    seg_cfg = job.config.segments
    tx = inputs.transactions.kept
    products = inputs.products.kept
    feats = features.customer_features(tx, products, as_of=as_of, lookback_days=seg_cfg.lookback_days)
    segmented = segments.segment_customers(feats, inputs.customers.kept, seg_cfg).join(
        inputs.customers.kept.drop("nps_score"), on="customer_id", how="left"
    )
    bought = features.customer_products(tx, as_of=as_of, lookback_days=seg_cfg.lookback_days)
    categories = features.category_spend(tx, products, as_of=as_of)
    aff = job.config.affinity
    window = pl.col("ts").is_between(
        pl.lit(as_of - timedelta(days=seg_cfg.lookback_days)).cast(pl.Datetime("us")),
        pl.lit(as_of).cast(pl.Datetime("us")),
        closed="left",
    )
    history = tx.filter(window)
    baskets = affinity.build_baskets(history, products, level="sku")
    thresholds = {"min_confidence": aff.min_confidence, "min_lift": aff.min_lift, "max_len": aff.max_len}
    rules = affinity.mine_rules(baskets, min_support=aff.min_support, **thresholds)
    category_rules = affinity.mine_rules(
        affinity.build_baskets(history, products, level="category"),
        min_support=aff.category_min_support,
        **thresholds,
    )
    return Analysis(
        segmented=segmented,
        bought=bought,
        categories=categories,
        rules=rules,
        category_rules=category_rules,
        n_baskets=baskets["receipt_id"].n_unique(),
        products=products,
    )


def plan(
    job: Job, analysis: Analysis, inputs: Inputs, settings: Settings, ledger: Ledger | None
) -> offers.OfferPlan:
    """Targeting, guards, budgets and holdout for every enabled campaign."""
    recent = None
    if ledger is not None:
        longest = max((c.frequency_cap_days for c in job.campaigns), default=0)
        recent = ledger.recent_offer_types(since=settings.as_of - timedelta(days=longest), before=settings.as_of)
    ctx = offers.OfferContext(
        customers=analysis.segmented,
        bought=analysis.bought,
        categories=analysis.categories,
        products=inputs.products.kept,
        rules=analysis.rules,
        as_of=settings.as_of,
        lookback_days=job.config.segments.lookback_days,
        point_value=job.config.point_value,
        points_per_currency=job.config.points_per_currency,
    )
    return offers.plan_offers(
        job.campaigns,
        ctx,
        max_per_customer=job.config.max_coupons_per_customer,
        seed=settings.seed,
        recent=recent,
    )


def code_maker(
    campaign: CampaignConfig, entropy: codes.Entropy = secrets.token_bytes
) -> Callable[[int], tuple[list[str], list[str]]]:
    """A function that draws n fresh codes and barcode values for one campaign's profile."""
    spec = campaign.code

    def make(n: int) -> tuple[list[str], list[str]]:
        drawn = codes.generate_codes(n, prefix=spec.prefix, length=spec.length, alphabet=spec.alphabet, entropy=entropy)
        if spec.symbology == "ean13":
            return drawn, codes.generate_ean13(n, prefix=spec.ean_prefix, entropy=entropy)
        return drawn, drawn

    return make


def issue(
    job: Job,
    plan_: offers.OfferPlan,
    ledger: Ledger,
    run: Run,
    *,
    entropy: codes.Entropy = secrets.token_bytes,
) -> int:
    """Record the plan's coupons and holdout in the ledger; returns how many coupons were new."""
    new = 0
    for campaign in job.campaigns:
        mine = plan_.offers.filter(pl.col("campaign") == campaign.name)
        if mine.height:
            new += ledger.issue_coupons(mine, run=run, make_codes=code_maker(campaign, entropy))
    if plan_.controls.height:
        ledger.record_controls(plan_.controls, run=run)
    return new


def export(
    job: Job, coupons: pl.DataFrame, products: pl.DataFrame, settings: Settings, run_id: int
) -> dict[str, str]:
    """Publish the POS file and the CRM list for the run date, each folder atomically."""
    run_dir = settings.run_dir
    pos = channels.pos_rows(coupons)

    def write_pos(folder: Path) -> dict[str, object]:
        channels.write_csv(pos, folder / "coupons.csv")
        return {
            "layout": "coupongen-pos",
            "layout_version": channels.POS_LAYOUT_VERSION,
            "run_id": run_id,
            "as_of": settings.as_of.isoformat(),
            "rows": {"coupons.csv": pos.height},
        }

    def write_crm(folder: Path) -> dict[str, object]:
        channels.write_csv(channels.crm_rows(coupons, products), folder / "offers.csv")
        return {"run_id": run_id, "as_of": settings.as_of.isoformat(), "rows": {"offers.csv": pos.height}}

    publish_folder(run_dir / "pos", write_pos)
    publish_folder(run_dir / "crm", write_crm)
    return {
        "pos": str(run_dir / "pos" / "coupons.csv"),
        "crm": str(run_dir / "crm" / "offers.csv"),
    }


def write_analysis(analysis: Analysis, run_dir: Path) -> dict[str, str]:
    """Save segments and rules as Parquet (and the rules as CSV) for analysts."""
    folder = run_dir / "analysis"
    folder.mkdir(parents=True, exist_ok=True)
    seg_cols = [c for c in analysis.segmented.columns if c not in ("email", "phone", "first_name", "birth_date")]
    analysis.segmented.select(seg_cols).write_parquet(folder / "segments.parquet")
    (folder / "segments.parquet").chmod(0o600)
    for name, rules in (("rules", analysis.rules), ("category_rules", analysis.category_rules)):
        rules.write_parquet(folder / f"{name}.parquet")
        flat = rules.with_columns(pl.col("antecedent", "consequent").list.join(" + "))
        channels.write_csv(flat, folder / f"{name}.csv")
    return {"segments": str(folder / "segments.parquet"), "rules": str(folder / "rules.csv")}


# --- the whole job ---------------------------------------------------------------------------------


def run_job(
    job: Job,
    settings: Settings,
    *,
    dry_run: bool = False,
    progress: Progress = _quiet,
    entropy: codes.Entropy = secrets.token_bytes,
) -> RunResult:
    """Run the whole nightly job; with ``dry_run`` nothing is issued, recorded or exported."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def done(stage: str, detail: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now
        progress(stage, detail)

    inputs = load(job, settings)
    done("load", ", ".join(f"{x.name} {x.counts['kept']}/{x.counts['read']} kept" for x in inputs.all()))
    analysis = analyse(job, inputs, settings.as_of)
    done("analyse", f"{analysis.segmented.height} customers, {analysis.rules.height} rules")
    counts = {x.name: x.counts for x in inputs.all()}

    if dry_run:
        ledger = Ledger.open(settings.ledger_path) if settings.ledger_path.exists() else None
        try:
            plan_ = plan(job, analysis, inputs, settings, ledger)
        finally:
            if ledger is not None:
                ledger.close()
        done("plan", f"{plan_.offers.height} offers, {plan_.controls.height} in holdout")
        result = RunResult(settings, counts, analysis, plan_.funnel, dry_run=True, timings=timings)
        result.summary = report.build_summary(job, result)
        return result

    with Ledger.open(settings.ledger_path) as ledger:
        run = ledger.start_run(job=job.config.name, as_of=settings.as_of, config_hash=job.config_hash())
        try:
            plan_ = plan(job, analysis, inputs, settings, ledger)
            done("plan", f"{plan_.offers.height} offers, {plan_.controls.height} in holdout")
            new = issue(job, plan_, ledger, run, entropy=entropy)
            names = [c.name for c in job.campaigns]
            coupons = ledger.coupons(as_of=settings.as_of, campaigns=names)
            controls = ledger.controls(as_of=settings.as_of, campaigns=names).height
            done("issue", f"{new} new coupons, {coupons.height} for the night")
            files = write_analysis(analysis, settings.run_dir)
            files |= export(job, coupons, inputs.products.kept, settings, run.run_id)
            done("export", f"{coupons.height} coupons published")
            result = RunResult(
                settings,
                counts,
                analysis,
                plan_.funnel,
                dry_run=False,
                run_id=run.run_id,
                issued_new=new,
                coupons=coupons,
                controls=controls,
                files=files,
                timings=timings,
            )
            result.summary = report.build_summary(job, result)
            files["summary"] = str(report.write_summary(result.summary, settings.run_dir))
        except BaseException:
            ledger.finish_run(run, status="failed")
            raise
        ledger.finish_run(run, status="succeeded", counts=result.summary.get("coupons", {}))  # type: ignore[arg-type]
    return result
