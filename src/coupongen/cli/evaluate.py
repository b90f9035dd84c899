"""``coupongen evaluate``: each campaign's redemptions and effect against its holdout, for a manager."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
import polars as pl

from coupongen.cli.common import DATE, data_option, handle_errors
from coupongen.cli.evaluation_tables import render_evaluation
from coupongen.cli.ledger import location_options
from coupongen.cli.loop import load_inputs_for, locate
from coupongen.errors import InputError
from coupongen.ledger import Ledger
from coupongen.loop import evaluate, evaluation_files


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
@click.option(
    "--wide",
    is_flag=True,
    help="Every metric, the redemption rates and cost and return with their intervals (the CSV files "
    "hold all of it).",
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
    wide: bool,
    data_dir: str | None,
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
    rewards' cost, the incremental margin and the return. Prints one row per campaign (every
    table with --wide) and writes them all with a chart to evaluation/<campaign, run-N or night>/
    in the output folder.
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
    config = where.job.config
    files = evaluation_files.write_evaluation(
        result,
        out / "evaluation" / label,
        title=title,
        label=label,
        currency=config.currency,
        locale=config.locale,
    )
    click.echo(
        render_evaluation(result, label=label, currency=config.currency, locale=config.locale, wide=wide)
    )
    if not quiet:
        click.echo("\nwritten:")
        click.echo("\n".join(f"  {path}" for path in files.values()))


def _night_of_run(ledger: Ledger, run_id: int) -> date:
    runs = ledger.runs().filter(pl.col("run_id") == run_id)
    if runs.is_empty():
        raise InputError(f"{ledger.path}: no run {run_id} in the ledger (see 'coupongen ledger')")
    return date.fromisoformat(runs["as_of"][0])


# --- simulation ------------------------------------------------------------------------------------


COMMANDS = [evaluate_command]
