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
from coupongen.loop.backtest_types import WIN_BACK_STATES
from coupongen.settings import data_location

_Column = tuple[str, str, int, str]  # heading, metrics column, width (negative: left), format

_METHOD: _Column = ("method", "method", -19, "{}")
_CUSTOMERS: _Column = ("customers", "customers", 9, "{:,}")
_REACH: tuple[_Column, ...] = (
    ("cover", "coverage", 6, "{:.0%}"),
    ("active", "active_coverage", 6, "{:.0%}"),
    ("offers", "offers", 7, "{:,}"),
)
_CAME_BACK: _Column = ("came back", "came_back_rate", 9, "{:.2%}")
_TARGETS: _Column = ("targets", "distinct_targets", 7, "{:,}")
_CHANCE: _Column = ("chance", "expected_rate", 6, "{:.1%}")

TABLES: dict[str, tuple[_Column, ...]] = {
    "cross_sell": (
        ("ranking", "method", -19, "{}"),
        *_REACH,
        ("hit rate", "hit_rate", 8, "{:.2%}"),
        ("new-item", "new_item_hit_rate", 8, "{:.2%}"),
        _CHANCE,
        ("new type", "new_type_hit_rate", 8, "{:.2%}"),
        ("subst.", "substitute_share", 6, "{:.0%}"),
        _TARGETS,
    ),
    "replenishment": (
        _METHOD,
        _CUSTOMERS,
        *_REACH,
        ("bought again", "hit_rate", 12, "{:.2%}"),
        _CHANCE,
        _CAME_BACK,
        _TARGETS,
    ),
    "win_back": (
        _METHOD,
        _CUSTOMERS,
        *_REACH,
        _CAME_BACK,
        _CHANCE,
        ("bought target", "hit_rate", 13, "{:.2%}"),
        _TARGETS,
    ),
    "second_purchase": (
        _METHOD,
        _CUSTOMERS,
        *_REACH,
        ("second visit", "came_back_rate", 12, "{:.2%}"),
        _CHANCE,
    ),
}
"""The columns of each offer type's table (each at most 100 characters wide)."""

HEADLINE = {
    "replenishment": ("bought again", "hit_rate"),
    "win_back": ("came back", "came_back_rate"),
    "second_purchase": ("second visit", "came_back_rate"),
}
"""The figure each offer type's campaign is compared with its baselines on."""


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
    type=click.IntRange(min=1, max=bt.MAX_TOP_N),
    default=bt.DEFAULT_TOP_N,
    show_default=True,
    help="Cross-sell and replenishment offers per customer, for the ranking and the baselines "
    "alike (1: what the nightly run sends; at most 10).",
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
    data_dir: str | None,
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

    Every offer type is scored next to simple baselines: cross-sell (new-item hits) against
    popularity, replenishment (bought again) against everyone who bought the products, win-back
    (came back) against every lapsing and lapsed customer, second purchase (second visit) against
    every one-visit customer. Nothing is issued, no ledger is opened, and --out and --seed do not
    apply (no holdout is drawn).
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


def _load(job: Job, data_dir: str | None) -> Inputs:
    """Read and validate the job's inputs; quarantined rows are counted, not written anywhere."""
    folder = data_location(job, data_dir)
    return load_job_inputs(job.config.inputs, folder)


def render_backtest(metrics: pl.DataFrame, *, cutoff: date, days: int, top_n: int, lookback_days: int) -> str:
    """The text ``coupongen backtest`` prints: the window, a table per offer type (campaign) and
    each campaign's figures as multiples of its baselines'.
    """
    level = metrics["level"][0]
    last = cutoff + timedelta(days=days - 1)
    lines = [
        f"backtest at {level} level: offers built from the history before {cutoff},",
        f"scored on purchases from {cutoff} to {last} ({days} days)",
        f"{metrics['active'][0]:,} active customers (bought in the {lookback_days} days before the cutoff)",
        f"up to {top_n} cross-sell and replenishment offer{'s' if top_n != 1 else ''} per customer",
        "cover: customers with an offer / customers scored; active: / every active customer;",
        "chance: the offers' mean chance of their purchase, as the nightly run estimates it",
    ]
    for campaign, kind in metrics.select("campaign", "offer_type").unique(maintain_order=True).iter_rows():
        rows = metrics.filter(pl.col("campaign") == campaign)
        columns = TABLES[kind]
        heading = f"{kind} (campaign {campaign})"
        if kind == "cross_sell":
            heading += f": {rows['customers'][0]:,} customers"
        lines += ["", heading, "  ".join(_cell(title, width) for title, _, width, _ in columns)]
        lines += [
            "  ".join(
                _cell("-" if row[col] is None else fmt.format(row[col]), width)
                for _, col, width, fmt in columns
            )
            for row in rows.iter_rows(named=True)
        ]
        lines += _cross_sell_ratios(rows) if kind == "cross_sell" else _type_ratios(rows, kind)
    return "\n".join(lines)


def _cell(text: str, width: int) -> str:
    return text.ljust(-width) if width < 0 else text.rjust(width)


def _cross_sell_ratios(rows: pl.DataFrame) -> list[str]:
    """Each cross-sell ranking's hit rates as multiples of its baselines'."""
    lines: list[str] = []
    campaign = rows["campaign"][0]
    by_method = {r["method"]: r for r in rows.iter_rows(named=True)}
    for model in (m for m in by_method if m not in bt.BASELINES):
        lines.append(f"{campaign} ({model}) against the baselines:")
        for baseline in bt.BASELINES:
            ratios = ", ".join(
                f"{label} {_ratio(by_method[model][col], by_method[baseline][col])}"
                for label, col in (("hit rate", "hit_rate"), ("new-item hit rate", "new_item_hit_rate"))
            )
            lines.append(f"  {baseline + ':':<21} {ratios}")
    return lines


def _type_ratios(rows: pl.DataFrame, kind: str) -> list[str]:
    """The campaign's headline figure as a multiple of each baseline's."""
    label, col = HEADLINE[kind]
    by_method = {r["method"]: r for r in rows.iter_rows(named=True)}
    own = by_method.get(kind)
    if own is None:
        return []
    if kind == "win_back":
        # each lifecycle state against every customer in it
        pairs = [(f"{kind}, {s}", f"all_{s}") for s in WIN_BACK_STATES]
        found = [(a, b) for a, b in pairs if a in by_method and b in by_method]
        return [f"{label}, {a}: {_ratio(by_method[a][col], by_method[b][col])} {b}" for a, b in found]
    ratios = ", ".join(
        f"{baseline} {_ratio(own[col], row[col])}"
        for baseline, row in by_method.items()
        if baseline in bt.ALL_BASELINES
    )
    return [f"{label}, {rows['campaign'][0]} against the baselines: {ratios}"] if ratios else []


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "n/a"
    return f"{value / base:.2f}x"


COMMANDS = [backtest]
