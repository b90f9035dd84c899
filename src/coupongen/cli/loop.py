"""Closing the loop: redemptions from the tills, the campaigns' effect, simulated returns for demos.

``coupongen redemptions import FILE`` checks the POS redemption file against the ledger and records
it; ``coupongen evaluate`` compares the treated with the holdout during the validity window;
``coupongen simulate-redemptions`` writes what the tills would send back after a night, with a
planted effect, to try the other two on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import click
import polars as pl

from coupongen import codes
from coupongen.cli.common import DATE, DEFAULT_JOB, data_option, handle_errors, open_job
from coupongen.cli.ledger import location_options
from coupongen.config import Job
from coupongen.delivery.files import write_csv
from coupongen.errors import InputError
from coupongen.inputs.contract import Inputs
from coupongen.inputs.loading import load_job_inputs
from coupongen.ledger import Ledger
from coupongen.loop import comparison, evaluate, evaluation_files, redemptions
from coupongen.settings import ledger_location
from coupongen.synthetic import simulate
from coupongen.synthetic.writing import write_transactions


@dataclass(frozen=True)
class _Where:
    """The job (None when the default job file is absent) and the folders and ledger it names."""

    job: Job | None
    out_dir: Path | None
    ledger: Path


def _locate(config_path: Path, out_dir: Path | None, ledger_path: Path | None, *, need_job: bool) -> _Where:
    """--ledger, else --out/ledger.sqlite, else the job file's 'ledger', as ``coupongen run`` finds it."""
    job = open_job(config_path) if need_job or config_path != DEFAULT_JOB or config_path.exists() else None
    out = out_dir if out_dir is not None else (job.resolve(job.config.out) if job else None)
    if job is None and ledger_path is None and out_dir is None:
        raise click.UsageError(
            f"no job file at {DEFAULT_JOB}: pass --config FILE, --out DIR or --ledger FILE"
        )
    return _Where(job, out, ledger_location(job, out_dir=out_dir, ledger_path=ledger_path))


def _formats(job: Job | None) -> dict[str, codes.CodeFormat]:
    return {c.name: c.code.code_format() for c in job.campaigns} if job else {}


def _signing_key() -> bytes | None:
    """The signing key when the environment names one (to tell forged codes), else None."""
    if os.environ.get(codes.SIGNING_KEY_ENV) or os.environ.get(codes.SIGNING_KEY_FILE_ENV):
        return codes.load_signing_key(needed_for="checking signatures")
    return None


def _load(job: Job, data_dir: Path | None, transactions: Path | None = None) -> Inputs:
    """The job's inputs (transactions from ``transactions`` when given), checked by the contract."""
    folder = Path(data_dir).resolve() if data_dir else job.resolve(job.config.data)
    return load_job_inputs(job.config.inputs, folder, transactions=transactions)


# --- redemptions import ----------------------------------------------------------------------------


@click.group("redemptions")
def redemptions_group() -> None:
    """Import what the tills report back: coupons used, checked against the ledger."""


@redemptions_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@location_options
@handle_errors
def import_file(
    file: Path,
    config_path: Path,
    out_dir: Path | None,
    ledger_path: Path | None,
    verbose: int,
    quiet: bool,
    debug: bool,
) -> None:
    """Check every line of the POS redemption FILE against the ledger and record it once.

    Lines naming an unknown, mistyped, void, not yet valid, expired or used-up coupon, or a coupon
    used with the wrong card, are recorded as rejected and written with their reason to
    <stem>.rejected.csv (under --out/redemptions/ with --out, else next to FILE). Importing the same
    file again changes nothing. Exits 0 with rejected lines too (they are data), 2 when the file or a
    column is missing.
    """
    where = _locate(config_path, out_dir, ledger_path, need_job=False)
    with Ledger.open(where.ledger, create=False) as ledger:
        result = redemptions.import_redemptions(file, ledger, formats=_formats(where.job), key=_signing_key())
    folder = out_dir / "redemptions" if out_dir is not None else Path(file).parent
    written = redemptions.write_rejected(result, folder)
    click.echo(render_import(result, written))


def render_import(result: redemptions.ImportResult, written: Path | None) -> str:
    """What ``redemptions import`` prints: the reconciliation, then one line per rejection reason."""
    rejected = result.read - result.accepted - result.already_imported
    lines = [
        f"{result.path.name}: {result.read:,} lines read = {result.accepted:,} accepted + "
        f"{rejected:,} rejected + {result.already_imported:,} already imported"
        + (" (nothing new)" if result.already_imported == result.read and result.read else "")
    ]
    reasons = result.reason_counts()
    if reasons:
        lines.append("rejected lines by reason" + (f" (written to {written}):" if written else ":"))
        lines += [f"  {n:>7,}  {reason}" for reason, n in reasons]
    return "\n".join(lines)


# --- evaluation ------------------------------------------------------------------------------------


@click.command("evaluate")
@click.option("--campaign", help="The campaign to evaluate (all its nights, or the one of --run / --as-of).")
@click.option("--run", "run_id", type=int, help="Evaluate the night of this run (all its campaigns).")
@click.option("--as-of", "as_of", type=DATE, help="Evaluate the coupons issued on this night.")
@click.option(
    "--purchases",
    type=click.Path(path_type=Path),
    help="Purchases to measure (a file, a folder of parts or a glob, in the transactions layout; "
    "default: the job's transactions input).",
)
@click.option(
    "--margin-rate",
    type=click.FloatRange(0, 1),
    default=evaluate.DEFAULT_MARGIN_RATE,
    show_default=True,
    help="Gross margin on incremental spend, for the incremental margin and the return.",
)
@click.option(
    "--adjust/--no-adjust",
    default=True,
    show_default=True,
    help="Adjust each comparison for the members' purchases before the night (CUPED), which takes "
    "out chance differences between the groups and narrows the intervals.",
)
@data_option
@location_options
@handle_errors
def evaluate_command(
    campaign: str | None,
    run_id: int | None,
    as_of: date | None,
    purchases: Path | None,
    margin_rate: float,
    adjust: bool,
    data_dir: Path | None,
    config_path: Path,
    out_dir: Path | None,
    ledger_path: Path | None,
    verbose: int,
    quiet: bool,
    debug: bool,
) -> None:
    """Redemption rates, and the incremental effect of coupons against their holdout.

    Compares treated and holdout customers during each campaign's validity window: purchase rate,
    spend per customer and spend on the offer's product or category, with 95% intervals; then the
    rewards' cost, the incremental margin and the return. Prints the tables and writes them with a
    chart to evaluation/<campaign or run-N>/ in the output folder.
    """
    if campaign is None and run_id is None and as_of is None:
        raise click.UsageError("say what to evaluate: --campaign NAME, --run ID or --as-of DATE")
    where = _locate(config_path, out_dir, ledger_path, need_job=True)
    assert where.job is not None
    with Ledger.open(where.ledger, create=False) as ledger:
        night = _night_of_run(ledger, run_id) if run_id is not None else as_of
        names = [campaign] if campaign else None
        coupons = ledger.coupons(as_of=night, campaigns=names)
        controls = ledger.controls(as_of=night, campaigns=names)
        uses = ledger.redemption_counts(as_of=night, campaigns=names)
    if coupons.is_empty():
        known = ", ".join(c.name for c in where.job.campaigns)
        what = " and ".join(
            x for x in (f"campaign {campaign!r}" if campaign else "", f"night {night}" if night else "") if x
        )
        raise InputError(f"{where.ledger}: no coupons for {what} (campaigns in the job: {known})")
    inputs = _load(where.job, data_dir, purchases)
    history = _load(where.job, data_dir).transactions.kept if purchases is not None and adjust else None
    out = where.out_dir or where.ledger.parent
    result = evaluate.evaluate(
        coupons,
        controls,
        uses,
        inputs.transactions.kept,
        inputs.products.kept,
        history=history if history is not None else inputs.transactions.kept,
        margin_rate=margin_rate,
        adjust=adjust,
    )
    label = "-".join(
        x
        for x in (campaign, f"run-{run_id}" if run_id is not None else (night.isoformat() if night else None))
        if x
    )
    title = f"Coupons against holdout: {label}"
    files = evaluation_files.write_evaluation(result, out / "evaluation" / label, title=title)
    click.echo(render_evaluation(result, label=label, currency=where.job.config.currency))
    if not quiet:
        click.echo("\nwritten:")
        click.echo("\n".join(f"  {path}" for path in files.values()))


def _night_of_run(ledger: Ledger, run_id: int) -> date:
    runs = ledger.runs().filter(pl.col("run_id") == run_id)
    if runs.is_empty():
        raise InputError(f"{ledger.path}: no run {run_id} in the ledger (see 'coupongen ledger')")
    return date.fromisoformat(runs["as_of"][0])


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _effect_cells(row: dict[str, object]) -> list[str]:
    rate = row["metric"] == "purchase_rate"
    scale, unit = (100.0, " pts") if rate else (1.0, "")

    def value(key: str, signed: bool = False) -> str:
        v = row[key]
        if v is None:
            return "-"
        assert isinstance(v, float)
        if rate and not signed:
            return f"{v:.1%}"
        return f"{v * scale:+,.1f}" if signed else f"{v:,.1f}"

    interval = "-" if row["ci_low"] is None else f"{value('ci_low', True)} to {value('ci_high', True)}{unit}"
    lift = "-" if row["lift"] is None else f"{row['lift']:+.1%}"
    lift_ci = "" if row["lift_low"] is None else f" ({row['lift_low']:+.0%} to {row['lift_high']:+.0%})"
    return [
        str(row["campaign"]),
        str(row["as_of"]),
        comparison.METRIC_LABELS[str(row["metric"])],
        f"{row['treated_n']:,}",
        f"{row['control_n']:,}",
        value("treated_mean"),
        value("control_mean"),
        value("difference", True) + (unit if row["difference"] is not None else ""),
        interval,
        lift + lift_ci,
        "-" if row["mde"] is None else f"{row['mde']:+.0%}",
        str(row["verdict"]),
    ]


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), *(line(r) for r in rows)]


def render_evaluation(result: evaluate.Evaluation, *, label: str, currency: str) -> str:
    """What ``coupongen evaluate`` prints: effects, redemption rates, cost and return."""
    until = result.purchases_until.isoformat() if result.purchases_until else "-"
    lines = [f"evaluation of {label}: purchases up to {until}", ""]
    lines.append("incremental effect, treated against holdout in each validity window (95% intervals):")
    header = ["campaign", "night", "metric", "treated", "holdout", "treated mean", "holdout mean",
              "difference", "95% interval", "lift (95% interval)", "detectable", "verdict"]  # fmt: skip
    lines += _table(header, [_effect_cells(r) for r in result.effects.to_dicts()], {3, 4, 5, 6, 7, 10})
    lines.append("detectable: the smallest lift the comparison finds 4 times in 5")
    if result.effects["method"].str.contains(comparison.ADJUSTED, literal=True).any():
        days = evaluate.PRE_DAYS
        lines.append(f"means are adjusted to the same purchases in the {days} days before the night (CUPED)")
    for r in result.effects.filter(pl.col("campaign") == comparison.ALL).to_dicts():
        names = ", ".join(entry.split("@")[0] for entry in str(r["covers"]).split(comparison.COVER_SEPARATOR))
        lines.append(f"all, {comparison.METRIC_LABELS[str(r['metric'])]}: {names}")
    for r in (
        result.effects.filter(~pl.col("complete"))
        .unique(["campaign", "as_of"], maintain_order=True)
        .to_dicts()
    ):
        lines.append(
            f"note: {r['campaign']} ({r['as_of']}) is valid until {r['valid_to']}, the purchases end on "
            f"{until}: the figures cover the days so far"
        )
    lines += ["", "redemption rates (coupons used at least once):"]
    rows = [
        [r["dimension"], r["value"], f"{r['coupons']:,}", f"{r['redeemed']:,}", f"{r['rate']:.1%}",
         f"{r['uses']:,}", f"{r['discount']:,.2f}"]
        for r in result.rates.to_dicts()
    ]  # fmt: skip
    lines += _table(
        ["by", "value", "coupons", "redeemed", "rate", "uses", f"discount ({currency})"],
        rows,
        {2, 3, 4, 5, 6},
    )
    lines += ["", f"cost and return ({currency}; margin rate {result.margin_rate:.0%} of incremental spend):"]
    rows = [
        [
            r["campaign"], r["as_of"], f"{r['treated_n']:,}", f"{r['redemptions']:,}", f"{r['cost']:,.2f}",
            _num(r["incremental_margin"], ",.0f"),
            "-" if r["margin_low"] is None else f"{r['margin_low']:,.0f} to {r['margin_high']:,.0f}",
            "-" if r["roi"] is None else f"{r['roi']:+.0%}",
            "-" if r["roi_low"] is None else f"{r['roi_low']:+.0%} to {r['roi_high']:+.0%}",
            r["verdict"],
        ]
        for r in result.economics.to_dicts()
    ]  # fmt: skip
    header = [
        "campaign",
        "night",
        "treated",
        "redemptions",
        "cost",
        "incremental margin",
        "95% interval",
        "return",
        "95% interval",
        "spend comparison",
    ]
    lines += _table(header, rows, {2, 3, 4, 5})
    return "\n".join(lines)


# --- simulation ------------------------------------------------------------------------------------


@click.command("simulate-redemptions")
@click.option(
    "--effect", type=float, required=True, help="Planted relative effect: 0.3 = holders visit 30% more often."
)
@click.option(
    "--as-of",
    "as_of",
    type=DATE,
    help="The night whose coupons to simulate (default: the latest in the ledger).",
)
@click.option(
    "--campaign", "campaigns", multiple=True, help="Only these campaigns (repeat; default: all of the night)."
)
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed; same seed, same files.")
@click.option(
    "--redemption-rate",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Chance that a holder with a qualifying visit uses the coupon.",
)
@click.option(
    "--bad-lines",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Deliberately bad redemption lines to plant.",
)
@data_option
@location_options
@handle_errors
def simulate_command(
    effect: float,
    as_of: date | None,
    campaigns: tuple[str, ...],
    seed: int,
    redemption_rate: float,
    bad_lines: int,
    data_dir: Path | None,
    config_path: Path,
    out_dir: Path | None,
    ledger_path: Path | None,
    verbose: int,
    quiet: bool,
    debug: bool,
) -> None:
    """Write what the tills would send back after a night: redemptions and the purchases made.

    For demos and tests. Coupon holders shop 1 + EFFECT times as often while their coupon is
    valid; the holdout shops as before. Writes redemptions.csv (the POS layout) and transactions.csv
    (the transactions layout) to simulation/<night>/ in the output folder, with bad_lines.csv
    listing the planted bad lines and the reason the import will give them.
    """
    if effect <= -1:
        raise click.BadParameter("must be above -1 (a relative change)", param_hint="--effect")
    where = _locate(config_path, out_dir, ledger_path, need_job=True)
    assert where.job is not None
    names = list(campaigns) or None
    with Ledger.open(where.ledger, create=False) as ledger:
        night = as_of or _latest_night(ledger)
        coupons = ledger.coupons(as_of=night, campaigns=names)
        controls = ledger.controls(as_of=night, campaigns=names)
    if coupons.is_empty():
        raise InputError(
            f"{where.ledger}: no coupons issued on {night}"
            + (f" for {', '.join(campaigns)}" if campaigns else "")
        )
    inputs = _load(where.job, data_dir)
    sim = simulate.simulate_returns(
        inputs.transactions.kept,
        inputs.products.kept,
        inputs.customers.kept,
        coupons,
        controls,
        as_of=night,
        effect=effect,
        seed=seed,
        redemption_rate=redemption_rate,
        bad_lines=bad_lines,
        formats=_formats(where.job),
        money=simulate.Money(where.job.config.point_value, where.job.config.points_per_currency),
    )
    folder = (where.out_dir or where.ledger.parent) / "simulation" / night.isoformat()
    paths = _write_simulation(sim, folder)
    click.echo(
        f"simulated {sim.first_day} to {sim.last_day} after the night of {night} with effect {effect:+.0%}: "
        f"{sim.purchases['receipt_id'].n_unique():,} receipts ({sim.purchases.height:,} lines), "
        f"{sim.redemptions.height - sim.planted.height:,} redemptions"
        + (f" and {sim.planted.height:,} bad lines" if sim.planted.height else "")
    )
    click.echo("\n".join(f"  {name:<17} {path}" for name, path in paths.items()))


def _latest_night(ledger: Ledger) -> date:
    runs = ledger.runs().filter(pl.col("coupons") > 0)
    if runs.is_empty():
        raise InputError(f"{ledger.path}: the ledger holds no coupons yet (run the nightly job first)")
    return date.fromisoformat(str(runs["as_of"].max()))


def _write_simulation(sim: simulate.Simulation, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "redemptions.csv": folder / "redemptions.csv",
        "transactions.csv": write_transactions(sim.purchases, folder / "transactions.csv"),
    }
    write_csv(sim.redemptions, paths["redemptions.csv"])
    bad = folder / "bad_lines.csv"
    if sim.planted.height:
        write_csv(sim.planted, bad)
        paths["bad_lines.csv"] = bad
    else:
        bad.unlink(missing_ok=True)
    return paths


COMMANDS = [redemptions_group, evaluate_command, simulate_command]
