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

from coupongen.analysis import affinity, features, segments
from coupongen.analysis.relevance import recommend
from coupongen.codes import generation as codes
from coupongen.config import CampaignConfig, Job
from coupongen.delivery import files as channels
from coupongen.delivery import planning as delivery
from coupongen.delivery.publish import publish_folder
from coupongen.inputs.contract import Inputs, check_quarantine_share, load_inputs
from coupongen.ledger import Ledger, Run
from coupongen.offers import planning as offers
from coupongen.report import summary as report

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
        """The night's own output folder, ``out/<as-of>``."""
        return self.out_dir / self.as_of.isoformat()


@dataclass
class Analysis:
    """What the analysis stages found: per-customer facts, segments and rules.

    ``parts`` names what was computed ("customers": segmented, bought, categories; "baskets":
    rules, category_rules, n_baskets); the frames of a part left out are empty, with their columns.
    """

    segmented: pl.DataFrame
    bought: pl.DataFrame
    categories: pl.DataFrame
    rules: pl.DataFrame
    category_rules: pl.DataFrame
    n_baskets: int
    products: pl.DataFrame
    as_of: date | None = None
    parts: tuple[str, ...] = ("customers", "baskets")


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
    reach: dict[str, int] = field(default_factory=dict)
    plan: offers.OfferPlan | None = None
    channels: pl.DataFrame | None = None
    quarantine_reasons: list[dict[str, object]] = field(default_factory=list)
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


def analyse(
    job: Job, inputs: Inputs, as_of: date, *, customers: bool = True, baskets: bool = True
) -> Analysis:
    """Features, segments and affinity rules as of the run date.

    ``customers=False`` skips features and segments, ``baskets=False`` the rules, for a caller that
    needs one half only; the frames left out are empty (see `Analysis`).
    """
    seg_cfg = job.config.segments
    tx = inputs.transactions.kept
    products = inputs.products.kept
    # Computed on no lines at all, the stages give the empty frames a skipped part stands for.
    facts = features.describe_customers(
        tx if customers else tx.head(0), products, as_of=as_of, lookback_days=seg_cfg.lookback_days
    )
    segmented = segments.segment_customers(facts.features, inputs.customers.kept, seg_cfg).join(
        inputs.customers.kept.drop("nps_score"), on="customer_id", how="left", maintain_order="left"
    )
    aff = job.config.affinity
    window = pl.col("ts").is_between(
        pl.lit(as_of - timedelta(days=seg_cfg.lookback_days)).cast(pl.Datetime("us")),
        pl.lit(as_of).cast(pl.Datetime("us")),
        closed="left",
    )
    history = tx.filter(window) if baskets else tx.head(0)
    sku_baskets = affinity.build_baskets(history, products, level="sku")
    rules, category_rules = (
        affinity.mine_rules(
            level_baskets,
            min_support=min_support,
            min_confidence=aff.min_confidence,
            min_lift=aff.min_lift,
            max_len=aff.max_len,
        )
        for level_baskets, min_support in (
            (sku_baskets, aff.min_support),
            (affinity.build_baskets(history, products, level="category"), aff.category_min_support),
        )
    )
    return Analysis(
        segmented=segmented,
        bought=facts.products,
        categories=facts.categories,
        rules=rules,
        category_rules=category_rules,
        n_baskets=sku_baskets["receipt_id"].n_unique(),
        products=products,
        as_of=as_of,
        parts=tuple(part for part, done in (("customers", customers), ("baskets", baskets)) if done),
    )


def plan(
    job: Job, analysis: Analysis, inputs: Inputs, settings: Settings, ledger: Ledger | None
) -> offers.OfferPlan:
    """Targeting, guards, budgets and holdout for every enabled campaign.

    The cross-sell ranking is computed once, for every customer an enabled cross-sell campaign
    admits, and shared by those campaigns.
    """
    recent = decided = None
    if ledger is not None:
        longest = max((c.frequency_cap_days for c in job.campaigns), default=0)
        recent = ledger.recent_offer_types(
            since=settings.as_of - timedelta(days=longest), before=settings.as_of
        )
        decided = decided_tonight(job, ledger, settings.as_of)
    products = inputs.products.kept
    cross_sell = [c for c in job.campaigns if c.enabled and c.type == "cross_sell"]
    ranked = None
    if cross_sell:
        admitted = pl.concat(
            [offers.eligible_customers(analysis.segmented, c)["customer_id"] for c in cross_sell]
        )
        ranked = recommend(analysis.bought, products, rules=analysis.rules, customers=admitted)
    ctx = offers.OfferContext(
        customers=analysis.segmented,
        bought=analysis.bought,
        categories=analysis.categories,
        products=products,
        rules=analysis.rules,
        as_of=settings.as_of,
        lookback_days=job.config.segments.lookback_days,
        point_value=job.config.point_value,
        points_per_currency=job.config.points_per_currency,
        relevance=ranked,
    )
    return offers.plan_offers(
        job.campaigns,
        ctx,
        max_per_customer=job.config.max_coupons_per_customer,
        seed=settings.seed,
        recent=recent,
        decided=decided,
    )


def decided_tonight(job: Job, ledger: Ledger, as_of: date) -> pl.DataFrame:
    """What earlier runs of this night recorded: campaign, customer_id, held, expected_cost.

    A rerun builds on it (see `offers.plan_offers`): nobody changes group, nobody gets a second
    coupon of a campaign, and the caps and budgets count what was already issued.
    """
    names = [c.name for c in job.campaigns]
    issued = ledger.coupons(as_of=as_of, campaigns=names).select(
        "campaign", "customer_id", pl.lit(False).alias("held"), "expected_cost"
    )
    held = ledger.controls(as_of=as_of, campaigns=names).select(
        "campaign", "customer_id", pl.lit(True).alias("held"), pl.lit(0.0).alias("expected_cost")
    )
    return pl.concat([issued, held]).cast(offers.DECIDED_SCHEMA)  # type: ignore[arg-type]


def code_maker(
    campaign: CampaignConfig,
    entropy: codes.Entropy = secrets.token_bytes,
    *,
    as_of: date,
    key: bytes | None = None,
) -> Callable[[int], tuple[list[str], list[str], list[str]]]:
    """A function that draws n fresh codes, barcode values and barcode keys for one campaign.

    The barcode value is what the symbol encodes: the EAN-13 digits, the GS1-128 element string
    ``(255)<GCN><serial>[(17)<YYMMDD>]``, the code itself (Code 128, QR), a URL or a signed QR
    payload. The key is the part that identifies the coupon (the GCN with its serial), unique in the
    ledger. The expiry in a barcode is the campaign's last valid day for a run on ``as_of``. A
    campaign that signs needs ``key`` (read from the environment when not given).
    """
    spec = campaign.code
    if spec.needs_key and key is None:
        key = codes.load_signing_key(needed_for=f"campaign {campaign.name!r}")
    _, valid_to = campaign.validity(as_of)
    signing = key if spec.signed else None
    gcn = (
        codes.global_coupon_number(spec.gs1_company_prefix, spec.gs1_coupon_reference)
        if spec.gs1_company_prefix is not None
        else ""
    )

    def payloads(n: int, drawn: list[str]) -> tuple[list[str], list[str]]:
        if spec.symbology == "ean13":
            values = codes.generate_ean13(n, prefix=spec.ean_prefix, entropy=entropy)
            return values, values
        if spec.symbology == "gs1_128":
            serials = codes.generate_gcn_serials(n, length=spec.gcn_serial_length, entropy=entropy)
            expiry = valid_to if spec.expiry_in_barcode else None
            values = [codes.gs1_128_payload(gcn, s, expiry) for s in serials]
            return values, [gcn + s for s in serials]
        if spec.symbology == "qr" and spec.qr_payload == "url":
            template = spec.url_template or ""
            values = [template.format(code=c) for c in drawn]
            return values, values
        if spec.symbology == "qr" and spec.qr_payload == "signed":
            assert key is not None
            values = [codes.signed_payload(c, valid_to, key=key) for c in drawn]
            return values, values
        return drawn, drawn

    def make(n: int) -> tuple[list[str], list[str], list[str]]:
        drawn = codes.generate_codes(
            n,
            prefix=spec.prefix,
            length=spec.length,
            alphabet=spec.alphabet,
            entropy=entropy,
            key=signing,
            signature_length=spec.signature_length if signing is not None else 0,
        )
        values, keys = payloads(n, drawn)
        return drawn, values, keys

    return make


def issue(
    job: Job,
    plan_: offers.OfferPlan,
    ledger: Ledger,
    run: Run,
    *,
    segmented: pl.DataFrame | None = None,
    entropy: codes.Entropy = secrets.token_bytes,
) -> int:
    """Record the plan's coupons and holdout in the ledger; returns how many coupons were new.

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
    new = 0
    for campaign in job.campaigns:
        mine = offers_.filter(pl.col("campaign") == campaign.name)
        if not mine.height:
            continue
        make = code_maker(campaign, entropy, as_of=run.as_of, key=key)
        spec = campaign.code
        if spec.expiry_in_barcode or (spec.symbology == "qr" and spec.qr_payload == "signed"):
            # The barcode states the campaign's last day: it must be every offer's last day.
            _, expected = campaign.validity(run.as_of)
            found = sorted(mine["valid_to"].unique().to_list())
            if found != [expected.isoformat()]:
                raise codes.CodeFormatError(
                    f"campaign {campaign.name!r}: offers are valid to {', '.join(found)}, "
                    f"but its barcodes would say {expected}"
                )
        new += ledger.issue_coupons(mine, run=run, make_codes=make)
    if controls_.height:
        ledger.record_controls(controls_, run=run)
    ledger.mark_issued(run)
    return new


def export(
    job: Job,
    coupons: pl.DataFrame,
    products: pl.DataFrame,
    settings: Settings,
    run_id: int,
    revoked: pl.DataFrame | None = None,
) -> dict[str, str]:
    """Publish the POS file (with the codes no longer to accept) and the CRM list, each atomically.

    ``revoked`` holds the void coupons still within their validity, from any night.
    """
    run_dir = settings.run_dir
    pos = channels.pos_rows(coupons)
    revocations = channels.revocation_rows(revoked if revoked is not None else coupons.head(0))

    def write_pos(folder: Path) -> dict[str, object]:
        channels.write_csv(pos, folder / "coupons.csv")
        channels.write_csv(revocations, folder / "revocations.csv")
        return {
            "layout": "coupongen-pos",
            "layout_version": channels.POS_LAYOUT_VERSION,
            "run_id": run_id,
            "as_of": settings.as_of.isoformat(),
            "rows": {"coupons.csv": pos.height, "revocations.csv": revocations.height},
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


def check_delivery(
    job: Job, plan_: offers.OfferPlan, inputs: Inputs, issued: pl.DataFrame | None = None
) -> delivery.Delivery:
    """Channels and messages for the night: coupons already ``issued`` by an earlier run of it plus
    the planned offers, these with stand-in codes of the real length.

    Runs before anything is issued, so an SMS template that is too long stops the run (and the
    preview) instead of failing at sending time.
    """
    stand_ins = delivery.placeholder_coupons(job, plan_.offers)
    if issued is not None and issued.height:
        live = issued.filter(pl.col("status") == "issued").select(stand_ins.columns)
        stand_ins = pl.concat([live, stand_ins.cast(live.schema)])  # type: ignore[arg-type]
    return delivery.plan_delivery(job, stand_ins, inputs.customers.kept, inputs.products.kept)


def deliver(
    job: Job, coupons: pl.DataFrame, inputs: Inputs, settings: Settings, run_id: int
) -> tuple[delivery.Delivery, dict[str, str]]:
    """Render the e-mail images and every customer's message, and publish the channel folders."""
    live = coupons.filter(pl.col("status") == "issued")
    customers = inputs.customers.kept
    chosen = delivery.choose(job, live, customers)
    by_email = chosen[0].filter(pl.col("channel") == "email")["customer_id"]
    images = delivery.render_email_images(job, live, by_email, settings.run_dir)
    # the HTML files sit in email/html/, the images in email/images/
    sources = {code: f"../images/{rel}" for code, rel in images.items()}
    sent = delivery.plan_delivery(
        job, live, customers, inputs.products.kept, chosen=chosen, image_paths=sources
    )
    files = delivery.publish_delivery(
        sent, settings.run_dir, run_id=run_id, as_of=settings.as_of, image_paths=images
    )
    return sent, files


def quarantine_reasons(inputs: Inputs, top: int = 10) -> list[dict[str, object]]:
    """The most common quarantine reasons per input: input, reason, rows."""
    rows: list[dict[str, object]] = []
    for loaded in inputs.all():
        if loaded.quarantined.is_empty():
            continue
        counted = (
            loaded.quarantined.group_by("reason")
            .len("rows")
            .sort(["rows", "reason"], descending=[True, False])
        )
        rows += [{"input": loaded.name, **r} for r in counted.head(top).to_dicts()]
    return rows


def write_report(job: Job, result: RunResult) -> None:
    """Write summary.json and the HTML report (compared with the previous night's, if any)."""
    run_dir = result.settings.run_dir
    found = report.find_previous(result.settings.out_dir, result.settings.as_of.isoformat())
    previous = None
    if found is not None:
        path, summary = found
        previous = (f"../{path.parent.name}/report.html", summary)
    report.write_summary(result.summary, run_dir)
    html = report.render_html(result.summary, result, currency=job.config.currency, previous=previous)
    report.write_html(html, run_dir)


def _reach_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def write_analysis(analysis: Analysis, run_dir: Path) -> dict[str, str]:
    """Save what the analysis found in ``run_dir/analysis`` for analysts; returns the paths by name.

    Part "customers": segments.parquet and .csv (one row per customer with purchases; contact
    details left out, card numbers kept, so owner-only), regular_products.parquet (each product a
    customer buys regularly, with its purchase cycle and days since last bought; owner-only),
    segment_summary and lifecycle_summary (.parquet, .csv) and segments.png. Part "baskets": rules
    and category_rules (.parquet, .csv with item names) and rules.png, category_rules.png. Each file
    is written aside and renamed into place, so a reader never sees half a file; a part not computed
    leaves its files alone.
    Returns the paths written, by file name.
    """
    from coupongen.report import charts  # matplotlib takes a while to import; only writing needs it

    folder = run_dir / "analysis"
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}

    def put(name: str, write: Callable[[Path], object], *, private: bool = False) -> None:
        path = folder / name
        staging = folder / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            write(staging)
            if private:
                staging.chmod(0o600)
            staging.replace(path)
        finally:
            staging.unlink(missing_ok=True)
        written[name] = str(path)

    def put_csv(name: str, frame: pl.DataFrame, *, private: bool = False) -> None:
        put(name, lambda path: channels.write_csv(frame, path), private=private)

    def put_frame(stem: str, frame: pl.DataFrame, *, private: bool = False) -> None:
        put(f"{stem}.parquet", frame.write_parquet, private=private)
        put_csv(
            f"{stem}.csv", frame.with_columns(pl.col(pl.List(pl.String)).list.join(" | ")), private=private
        )

    def put_png(name: str, png: bytes) -> None:
        put(name, lambda path: path.write_bytes(png))

    day = f" as of {analysis.as_of.isoformat()}" if analysis.as_of else ""
    if "customers" in analysis.parts:
        private_columns = ("email", "phone", "first_name", "birth_date")
        seg = analysis.segmented.select(pl.exclude(*private_columns))
        put_frame("segments", seg, private=True)
        regular = analysis.bought.filter(pl.col("regular")).drop("regular")
        put("regular_products.parquet", regular.write_parquet, private=True)
        summary = segments.summarize_segments(seg)
        put_frame("segment_summary", summary)
        put_frame("lifecycle_summary", segments.summarize_segments(seg, by="lifecycle"))
        put_png("segments.png", charts.plot_segments(summary, title=f"Segments{day}: customers and spend"))
    if "baskets" in analysis.parts:
        names = dict(zip(analysis.products["sku"], analysis.products["name"], strict=True))
        for stem, rules, level in (
            ("rules", analysis.rules, "products"),
            ("category_rules", analysis.category_rules, "categories"),
        ):
            put(f"{stem}.parquet", rules.write_parquet)
            named = rules.with_columns(
                *(
                    pl.col(side)
                    .list.eval(pl.element().replace(names))
                    .list.join(" + ")
                    .alias(f"{side}_names")
                    for side in ("antecedent", "consequent")
                )
            ).with_columns(pl.col("antecedent", "consequent").list.join(" + "))
            put_csv(f"{stem}.csv", named)
            title = f"Rules between {level}{day} ({rules.height:,} rules, {analysis.n_baskets:,} baskets)"
            put_png(f"{stem}.png", charts.plot_rules(rules, names=names, title=title))
    return written


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
    reasons = quarantine_reasons(inputs)

    if dry_run:
        ledger = Ledger.open(settings.ledger_path) if settings.ledger_path.exists() else None
        issued = None
        try:
            plan_ = plan(job, analysis, inputs, settings, ledger)
            if ledger is not None:
                issued = ledger.coupons(as_of=settings.as_of, campaigns=[c.name for c in job.campaigns])
        finally:
            if ledger is not None:
                ledger.close()
        done("plan", f"{plan_.offers.height} offers, {plan_.controls.height} in holdout")
        preview = check_delivery(job, plan_, inputs, issued)
        done("deliver", _reach_text(preview.counts()))
        result = RunResult(
            settings,
            counts,
            analysis,
            plan_.funnel,
            dry_run=True,
            reach=preview.counts(),
            plan=plan_,
            channels=preview.channels,
            quarantine_reasons=reasons,
            timings=timings,
        )
        result.summary = report.build_summary(job, result)
        return result

    with Ledger.open(settings.ledger_path) as ledger:
        run = ledger.start_run(job=job.config.name, as_of=settings.as_of, config_hash=job.config_hash())
        try:
            plan_ = plan(job, analysis, inputs, settings, ledger)
            done("plan", f"{plan_.offers.height} offers, {plan_.controls.height} in holdout")
            check_delivery(
                job,
                plan_,
                inputs,
                ledger.coupons(as_of=settings.as_of, campaigns=[c.name for c in job.campaigns]),
            )
            new = issue(job, plan_, ledger, run, segmented=analysis.segmented, entropy=entropy)
            names = [c.name for c in job.campaigns]
            coupons = ledger.coupons(as_of=settings.as_of, campaigns=names)
            controls = ledger.controls(as_of=settings.as_of, campaigns=names).height
            done("issue", f"{new} new coupons, {coupons.height} for the night")
            files = write_analysis(analysis, settings.run_dir)
            revoked = ledger.revoked(as_of=settings.as_of)
            files |= export(job, coupons, inputs.products.kept, settings, run.run_id, revoked)
            sent, sent_files = deliver(job, coupons, inputs, settings, run.run_id)
            ledger.record_channels(sent.channels, as_of=settings.as_of, campaigns=names)
            files |= sent_files
            done("export", f"{coupons.height} coupons published; {_reach_text(sent.counts())}")
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
                reach=sent.counts(),
                plan=plan_,
                channels=sent.channels,
                quarantine_reasons=reasons,
                timings=timings,
            )
            files["report"] = str(settings.run_dir / "report.html")
            files["summary"] = str(settings.run_dir / "summary.json")
            result.summary = report.build_summary(job, result)
            write_report(job, result)
        except BaseException:
            ledger.finish_run(run, status="failed")
            raise
        ledger.finish_run(run, status="succeeded", counts=result.summary.get("coupons", {}))  # type: ignore[arg-type]
    return result
