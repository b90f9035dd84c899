"""The backtest command: would the offers built on a past day have been relevant?

``coupongen backtest --cutoff 2026-10-25 --days 28`` builds the offers from the history before the
cutoff, scores them on what customers bought in the following days next to two popularity
baselines, and prints the figures side by side. Nothing is issued and no ledger is opened.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import click
import polars as pl

from coupongen import safecsv
from coupongen.analysis import relevance
from coupongen.cli.common import DATE, common_options, handle_errors, open_job
from coupongen.config import Job
from coupongen.inputs.contract import Inputs
from coupongen.inputs.loading import load_job_inputs
from coupongen.loop import backtest as bt

_COLUMNS = (
    # heading, metrics column, width, format
    ("campaign", "campaign", -16, "{}"),
    ("offer type", "offer_type", -14, "{}"),
    ("ranking", "method", -20, "{}"),
    ("customers", "customers", 9, "{:,}"),
    ("coverage", "coverage", 8, "{:.1%}"),
    ("offers", "offers", 7, "{:,}"),
    ("hits", "hits", 6, "{:,}"),
    ("hit rate", "hit_rate", 8, "{:.2%}"),
    ("new hits", "new_hits", 8, "{:,}"),
    ("new-item hit rate", "new_item_hit_rate", 17, "{:.2%}"),
    ("customers w/ new hit", "customer_new_hit_rate", 20, "{:.2%}"),
    ("new-type hit", "new_type_hit_rate", 12, "{:.2%}"),
    ("substitutes", "substitute_share", 11, "{:.1%}"),
    ("targets", "distinct_targets", 7, "{:,}"),
)


@click.command("backtest")
@common_options
@click.option(
    "--cutoff",
    type=DATE,
    help="Build the offers from the history before this day (default: --as-of minus --days, "
    "so that the scoring window ends the day before --as-of).",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=28,
    show_default=True,
    help="Days of purchases from the cutoff on that score the offers.",
)
@click.option(
    "--level",
    type=click.Choice(bt.LEVELS),
    default="sku",
    show_default=True,
    help="Targets are products (sku) or categories.",
)
@click.option(
    "--top-n",
    "top_n",
    type=click.IntRange(min=1),
    default=bt.DEFAULT_TOP_N,
    show_default=True,
    help="Cross-sell offers per customer, for the ranking and the baselines alike (1: what the "
    "nightly run sends).",
)
@click.option(
    "--method",
    "methods",
    type=click.Choice(relevance.RANKINGS),
    multiple=True,
    help="The ranking of the cross-sell offers; repeat it to show several side by side "
    "(default: the job's [ranking] method).",
)
@click.option(
    "--eligibility/--no-eligibility",
    default=True,
    show_default=True,
    help="Score each campaign on the active customers it admits, or on every active customer.",
)
@click.option(
    "--offers-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the campaigns' scored offers to this CSV "
    "(customer_id, offer_type, method, target, rank).",
)
@handle_errors
def backtest(
    config_path: Path,
    data_dir: Path | None,
    out_dir: Path | None,
    as_of: date | None,
    seed: int | None,
    verbose: int,
    quiet: bool,
    debug: bool,
    cutoff: date | None,
    days: int,
    level: str,
    top_n: int,
    methods: tuple[str, ...],
    eligibility: bool,
    offers_out: Path | None,
) -> None:
    """Score the offers built on a past day against what customers bought afterwards.

    The cross-sell ranking is shown next to global popularity and popularity without what each
    customer already bought, with the same number of offers per customer. Nothing is issued, no
    ledger is opened, and --out and --seed do not apply (no holdout is drawn).
    """
    job = open_job(config_path)
    day = cutoff or (as_of or date.today()) - timedelta(days=days)
    inputs = _load(job, data_dir)
    metrics, scored = bt.backtest(
        inputs,
        job,
        cutoff=day,
        days=days,
        level=level,
        top_n=top_n,
        eligibility=eligibility,
        spec=[relevance.ranking_spec(job, m) for m in dict.fromkeys(methods)] or None,
    )
    if offers_out is not None:
        try:
            safecsv.write_csv(bt.offer_rows(scored), offers_out)
        except OSError as e:
            raise click.FileError(str(offers_out), hint=e.strerror or str(e)) from e
    lookback = job.config.segments.lookback_days
    click.echo(render_backtest(metrics, cutoff=day, days=days, top_n=top_n, lookback_days=lookback))
    if offers_out is not None and not quiet:
        click.echo(f"\nscored offers written to {offers_out}")


def _load(job: Job, data_dir: Path | None) -> Inputs:
    """Read and validate the job's inputs; quarantined rows are counted, not written anywhere."""
    folder = Path(data_dir).resolve() if data_dir else job.resolve(job.config.data)
    return load_job_inputs(job.config.inputs, folder)


def render_backtest(metrics: pl.DataFrame, *, cutoff: date, days: int, top_n: int, lookback_days: int) -> str:
    """The text ``coupongen backtest`` prints: the window, the table and the ratios to the baselines."""
    level = metrics["level"][0]
    last = cutoff + timedelta(days=days - 1)
    lines = [
        (
            f"backtest at {level} level: offers built from the history before {cutoff}, "
            f"scored on purchases from {cutoff} to {last} ({days} days)"
        ),
        (
            f"{metrics['active'][0]:,} active customers (bought in the {lookback_days} days "
            f"before the cutoff); up to {top_n} cross-sell offer{'s' if top_n != 1 else ''} per customer"
        ),
        "",
        "  ".join(_cell(heading, width) for heading, _, width, _ in _COLUMNS),
    ]
    for row in metrics.iter_rows(named=True):
        lines.append(
            "  ".join(
                _cell("-" if row[col] is None else fmt.format(row[col]), width)
                for _, col, width, fmt in _COLUMNS
            )
        )
    lines.extend(_ratios(metrics))
    return "\n".join(lines)


def _cell(text: str, width: int) -> str:
    return text.ljust(-width) if width < 0 else text.rjust(width)


def _ratios(metrics: pl.DataFrame) -> list[str]:
    """Each cross-sell ranking's hit rates as multiples of its baselines'."""
    lines: list[str] = []
    cross = metrics.filter(pl.col("offer_type") == "cross_sell")
    for campaign in cross["campaign"].unique(maintain_order=True):
        rows = {r["method"]: r for r in cross.filter(pl.col("campaign") == campaign).iter_rows(named=True)}
        for model in (m for m in rows if m not in bt.BASELINES):
            lines += ["", f"{campaign} ({model}) against the baselines:"]
            for baseline in bt.BASELINES:
                ratios = ", ".join(
                    f"{label} {_ratio(rows[model][col], rows[baseline][col])}"
                    for label, col in (
                        ("hit rate", "hit_rate"),
                        ("new-item hit rate", "new_item_hit_rate"),
                    )
                )
                lines.append(f"  {baseline + ':':<21} {ratios}")
    return lines


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "n/a"
    return f"{value / base:.2f}x"


COMMANDS = [backtest]
