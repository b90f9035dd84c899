"""The analysis commands: customer segments and product affinities, without issuing anything.

Each command loads the inputs, runs one half of the analysis stages, writes Parquet, CSV and a chart
into the run's ``analysis`` folder and prints a summary an analyst can read in a terminal.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click
import polars as pl

from coupongen import pipeline
from coupongen.analysis.affinity import describe_rule
from coupongen.analysis.night import Analysis
from coupongen.analysis.segments import summarize_segments
from coupongen.cli.common import common_options, handle_errors, open_night
from coupongen.cli.progress_display import progress_display
from coupongen.config import Job

TOP_OPTION = click.option(
    "--top",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="How many rules to print at each level, the highest lifts first.",
)


@click.command()
@common_options
@handle_errors
def segments(
    config_path: Path,
    data_dir: str | None,
    out_dir: Path | None,
    as_of: date | None,
    seed: int | None,
    verbose: int,
    quiet: bool,
    debug: bool,
) -> None:
    """Score customers (RFM, lifecycle, NPS) and write segments as Parquet, CSV and a chart."""
    _, analysis, files = _analyse(config_path, data_dir, out_dir, as_of, seed, quiet, baskets=False)
    click.echo(render_segments(analysis))
    click.echo(_render_files(files))


@click.command()
@common_options
@TOP_OPTION
@handle_errors
def affinities(
    config_path: Path,
    data_dir: str | None,
    out_dir: Path | None,
    as_of: date | None,
    seed: int | None,
    verbose: int,
    quiet: bool,
    debug: bool,
    top: int,
) -> None:
    """Mine association rules between products and categories; write Parquet, CSV and charts."""
    job, analysis, files = _analyse(config_path, data_dir, out_dir, as_of, seed, quiet, customers=False)
    click.echo(render_affinities(analysis, job, top=top))
    click.echo(_render_files(files))


COMMANDS = [segments, affinities]


def _analyse(
    config_path: Path,
    data_dir: str | None,
    out_dir: Path | None,
    as_of: date | None,
    seed: int | None,
    quiet: bool,
    *,
    customers: bool = True,
    baskets: bool = True,
) -> tuple[Job, Analysis, dict[str, str]]:
    job, settings = open_night(config_path, as_of=as_of, data_dir=data_dir, out_dir=out_dir, seed=seed)
    with progress_display(quiet, 0) as progress:
        analysis, files = pipeline.run_analysis(
            job, settings, customers=customers, baskets=baskets, progress=progress
        )
    return job, analysis, files


def render_segments(analysis: Analysis) -> str:
    """Segment sizes, spend shares and NPS, then lifecycle states, as lines for a terminal."""
    seg = analysis.segmented
    day = analysis.as_of.isoformat() if analysis.as_of else "the run date"
    if seg.is_empty():
        return f"no customer bought anything before {day}"
    total_spend = float(seg["monetary"].clip(lower_bound=0).sum())
    lines = [f"segments as of {day}: {seg.height:,} customers with purchases, spend {total_spend:,.2f}"]
    # the total row is one more group, so that it is summed by the same formulas as the others
    total = summarize_segments(seg.with_columns(pl.lit("total").alias("everyone")), by="everyone")
    lines += _table(summarize_segments(seg), total, "segment")
    lines.append("lifecycle:")
    lines += _table(summarize_segments(seg, by="lifecycle"), total, "state")
    return "\n".join(lines)


def render_affinities(analysis: Analysis, job: Job, *, top: int = 10) -> str:
    """The rules found at both levels, the strongest said in words, as lines for a terminal."""
    cfg = job.config.affinity
    day = analysis.as_of.isoformat() if analysis.as_of else "the run date"
    names = dict(zip(analysis.products["sku"], analysis.products["name"], strict=True))
    thresholds = f"confidence >= {cfg.min_confidence:.0%}, lift >= {cfg.min_lift:g}"
    lines = [
        f"rules as of {day} from {analysis.n_baskets:,} baskets ({thresholds}):",
        f"  products: {analysis.rules.height:,} rules (support >= {cfg.min_support:.2%})",
    ]
    lines += [f"    {describe_rule(r, names)}" for r in analysis.rules.head(top).to_dicts()]
    lines.append(
        f"  categories: {analysis.category_rules.height:,} rules (support >= {cfg.category_min_support:.2%})"
    )
    lines += [f"    {describe_rule(r)}" for r in analysis.category_rules.head(top).to_dicts()]
    return "\n".join(lines)


def _table(summary: pl.DataFrame, total: pl.DataFrame, heading: str) -> list[str]:
    name = summary.columns[0]
    width = max([len(heading), *(len(str(v)) for v in summary[name])]) + 2
    lines = [f"  {heading:<{width}}{'customers':>10}{'share':>8}{'spend share':>13}{'NPS':>7}{'answers':>9}"]
    for row in summary.to_dicts():
        lines.append(_row(str(row[name]), row, width))
    lines.append(_row("total", total.row(0, named=True), width))
    return lines


def _row(label: str, row: dict[str, Any], width: int) -> str:
    nps = row["nps"]
    shown = "-" if nps is None else f"{nps:+.0f}"
    return (
        f"  {label:<{width}}{row['customers']:>10,}{row['customer_share']:>8.1%}"
        f"{row['spend_share']:>13.1%}{shown:>7}{row['nps_answers']:>9,}"
    )


def _render_files(files: dict[str, str]) -> str:
    if not files:
        return "wrote no files"
    folder = Path(next(iter(files.values()))).parent
    return f"wrote {len(files)} files to {folder}: " + ", ".join(sorted(files))
