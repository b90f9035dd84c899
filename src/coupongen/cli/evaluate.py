"""``coupongen evaluate``: each campaign's redemptions and effect against its holdout, for a manager."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
import polars as pl

from coupongen.cli.common import DATE, data_option, handle_errors
from coupongen.cli.ledger import location_options
from coupongen.cli.loop import load_inputs_for, locate
from coupongen.errors import InputError
from coupongen.ledger import Ledger
from coupongen.loop import comparison, evaluate, evaluation_files


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
    where = locate(config_path, out_dir, ledger_path, need_job=True)
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
    inputs = load_inputs_for(where.job, data_dir, purchases)
    history = (
        load_inputs_for(where.job, data_dir).transactions.kept if purchases is not None and adjust else None
    )
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


COMMANDS = [evaluate_command]
