"""The job commands: run the nightly job, make sample data.

Each command opens what it needs, calls one API function and prints the result.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click

from coupongen import pipeline
from coupongen.cli.common import DATE, common_options, handle_errors, open_night
from coupongen.cli.progress_display import progress_display
from coupongen.config import DEFAULT_BRAND
from coupongen.report.text import preflight_lines, render_line, render_text


@click.command()
@common_options
@click.option("--dry-run", is_flag=True, help="Plan and show the offers; issue and export nothing.")
@click.option(
    "--engine",
    type=click.Choice(["polars", "spark"]),
    default=None,
    help="Where the analysis runs (default: the job's engine, polars unless set).",
)
@click.option(
    "--allow-stale", is_flag=True, help="Run even when the newest transaction is older than stale_after_days."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the summary as JSON (summary.json) instead of a table."
)
@click.option(
    "--new-ledger",
    is_flag=True,
    help="Start a new ledger although earlier nights in the output folder were issued by another.",
)
@handle_errors
def run(
    config_path: Path,
    data_dir: str | None,
    out_dir: Path | None,
    as_of: date | None,
    seed: int | None,
    verbose: int,
    quiet: bool,
    debug: bool,
    dry_run: bool,
    engine: str | None,
    allow_stale: bool,
    as_json: bool,
    new_ledger: bool,
) -> None:
    """Run the nightly job: segments, rules, offers, coupons in the ledger, POS and CRM files.

    Progress goes to stderr (a live display on a terminal, log lines otherwise); the result to
    stdout: the table, one line with -q, or the summary's JSON with --json.
    """
    job, settings = open_night(config_path, as_of=as_of, data_dir=data_dir, out_dir=out_dir, seed=seed)
    job = job.with_engine(engine)
    with progress_display(quiet or as_json, verbose) as progress:
        result = pipeline.run_job(
            job, settings, dry_run=dry_run, allow_stale=allow_stale, progress=progress, new_ledger=new_ledger
        )
    if result.complete and not (quiet or as_json):
        total = result.summary.coupons.total if result.summary.coupons else 0
        click.echo(
            f"night {settings.as_of.isoformat()} already complete: {total:,} coupons; nothing to do", err=True
        )
    if as_json:
        click.echo(json.dumps(result.summary.to_json(), indent=2, sort_keys=True, ensure_ascii=False))
    elif quiet:
        click.echo(render_line(result.summary, complete=result.complete))
    else:
        click.echo(render_text(result.summary))


@click.command()
@common_options
@click.option(
    "--allow-stale",
    is_flag=True,
    help="Check even when the newest transaction is older than stale_after_days.",
)
@handle_errors
def check(
    config_path: Path,
    data_dir: str | None,
    out_dir: Path | None,
    as_of: date | None,
    seed: int | None,
    verbose: int,
    quiet: bool,
    debug: bool,
    allow_stale: bool,
) -> None:
    """Check every campaign against the data without issuing: can it fire, thresholds, rewards, budget.

    Also warns while e-mails or SMS would still be signed with the default brand name.
    Exits 0 when every enabled campaign can fire, 1 when one cannot, 2 on stale or bad input.
    """
    job, settings = open_night(config_path, as_of=as_of, data_dir=data_dir, out_dir=out_dir, seed=seed)
    with progress_display(quiet, verbose) as progress:
        result = pipeline.run_job(job, settings, dry_run=True, allow_stale=allow_stale, progress=progress)
    click.echo("\n".join(preflight_lines(result.summary.preflight)))
    unbranded = job.unbranded_channels()
    if unbranded:
        said = " and ".join({"email": "e-mails", "sms": "SMS"}[c] for c in unbranded)
        click.echo(
            f'WARNING: {job.path}: [channels] brand is the default "{DEFAULT_BRAND}", which customers '
            f"read in {said}; set it to the retailer's name"
        )
    blocked = [f["campaign"] for f in result.summary.preflight["findings"] if f["status"] == "cannot fire"]
    if blocked:
        click.echo(f"{len(set(blocked))} campaign(s) cannot fire: {', '.join(dict.fromkeys(blocked))}")
        sys.exit(1)


@click.command("sample-data")
@click.option(
    "--customers", type=click.IntRange(min=1), default=3000, show_default=True, help="Number of customers."
)
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed; same seed, same files.")
@click.option(
    "--as-of",
    "as_of",
    type=DATE,
    default="2026-11-22",
    show_default=True,
    help="History ends the day before.",
)
@click.option("--days", type=click.IntRange(min=28), default=365, show_default=True, help="Days of history.")
@click.option(
    "--skus", type=click.IntRange(min=50), help="Catalogue size (default: suits the customer count)."
)
@click.option(
    "--lines-per-customer",
    type=click.FloatRange(min=1),
    default=10.0,
    show_default=True,
    help="Receipt lines per customer per year.",
)
@click.option(
    "--profile",
    type=click.Choice(["ru-grocery", "us-grocery"]),
    default="ru-grocery",
    show_default=True,
    help="The chain's country: language, currency, prices and data quirks (us-grocery: English, USD, "
    "fuel lines, UNKNOWN products).",
)
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option(
    "--bad-rows",
    type=click.IntRange(min=0),
    default=6,
    show_default=True,
    help="Deliberately bad lines to append (CSV only).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write.",
)
@click.option("--debug", is_flag=True, hidden=True)
@click.option("-v", "--verbose", count=True, hidden=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr, only errors and the result.")
@handle_errors
def sample_data(
    customers: int,
    seed: int,
    as_of: date,
    days: int,
    skus: int | None,
    lines_per_customer: float,
    profile: str,
    fmt: str,
    bad_rows: int,
    out_dir: Path,
    debug: bool,
    verbose: int,
    quiet: bool,
) -> None:
    """Generate realistic synthetic purchase histories (transactions, products, customers).

    Progress goes to stderr like a run's (a live display on a terminal, log lines otherwise; -q: none).
    """
    from coupongen.synthetic import sample  # Faker is slow to import; only this command needs it

    try:
        with progress_display(quiet, verbose) as progress:
            data = sample.generate_sample(
                customers,
                seed=seed,
                as_of=as_of,
                days=days,
                skus=skus,
                lines_per_customer=lines_per_customer,
                profile=profile,
                progress=progress,
            )
            bad = bad_rows if fmt == "csv" else 0
            paths = sample.write_sample(data, out_dir, fmt=fmt, bad_rows=bad, progress=progress)
    except ValueError as e:
        raise click.UsageError(str(e)) from e
    click.echo(
        f"wrote {data.transactions.height:,} transaction lines, {data.products.height:,} products, "
        f"{data.customers.height:,} customers to {out_dir}"
    )
    for name, path in sorted(paths.items()):
        click.echo(f"  {name:<13} {path}")
    chain = sample.PROFILES[profile]
    click.echo(f'a job for it: locale = "{chain.locale}", currency = "{chain.currency}"')


COMMANDS = [run, check, sample_data]
