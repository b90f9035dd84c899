"""The ``campaign`` commands: list the job's campaigns, preview one before the night runs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
import polars as pl

from coupongen import pipeline
from coupongen.cli.common import common_options, handle_errors, open_job
from coupongen.cli.progress_display import progress_display
from coupongen.offers import preview


def show_table(title: str, frame: pl.DataFrame) -> None:
    """Print a frame as a plain aligned table under a title."""
    click.echo(title)
    if frame.is_empty():
        click.echo("  (none)")
        return
    with pl.Config(
        tbl_formatting="ASCII_MARKDOWN",
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=200,
        fmt_str_lengths=40,
        thousands_separator=",",
    ):
        click.echo(str(frame))


@click.group()
def campaign() -> None:
    """List the job's campaigns or preview one without issuing anything."""


@campaign.command("list")
@common_options
@handle_errors
def list_campaigns(
    config_path: Path,
    data_dir: Path | None,
    out_dir: Path | None,
    as_of: date | None,
    seed: int | None,
    verbose: int,
    quiet: bool,
    debug: bool,
) -> None:
    """List the job's campaigns in priority order with their offer, reward and budget."""
    job = open_job(config_path)
    rows = [
        {
            "campaign": c.name,
            "offer_type": c.type,
            "enabled": c.enabled,
            "reward": f"{c.reward.type} {c.reward.value:g}",
            "budget": "none" if c.budget is None else f"{c.budget:,.0f}",
            "holdout": f"{c.holdout_share:.0%}",
            "channels": ", ".join(c.channels),
        }
        for c in job.campaigns
    ]
    show_table(f"campaigns of {job.path}:", pl.DataFrame(rows))


@campaign.command("preview")
@click.argument("name")
@common_options
@handle_errors
def preview_campaign(
    name: str,
    config_path: Path,
    data_dir: Path | None,
    out_dir: Path | None,
    as_of: date | None,
    seed: int | None,
    verbose: int,
    quiet: bool,
    debug: bool,
) -> None:
    """Show what campaign NAME would issue tonight: by segment, by channel, against its budget.

    The whole job is planned (a dry run), so caps across campaigns hold exactly as in the real run;
    nothing is issued or recorded.
    """
    job = open_job(config_path)
    chosen = job.campaign(name)
    settings = pipeline.resolve_settings(
        job, as_of=as_of or date.today(), data_dir=data_dir, out_dir=out_dir, seed=seed
    )
    with progress_display(quiet, verbose) as progress:
        result = pipeline.run_job(job, settings, dry_run=True, progress=progress)
    assert result.plan is not None and result.channels is not None
    mine = pl.col("campaign") == chosen.name
    click.echo(f"campaign {chosen.name} ({chosen.type}) as of {settings.as_of} (preview: nothing issued)")
    segments = preview.by_segment(job, result.analysis.segmented, result.plan).filter(mine)
    show_table("by segment:", segments.drop("campaign", "offer_type"))
    show_table("by channel:", preview.by_channel(result.plan, result.channels).filter(mine).drop("campaign"))
    budget = preview.budgets(result.plan).filter(mine).drop("campaign")
    show_table(
        "budget:",
        budget.with_columns(
            pl.col("budget").cast(pl.String).fill_null("none"),
            pl.format("{}%", (pl.col("budget_used") * 100).round(1)).fill_null("-").alias("budget_used"),
        ),
    )


COMMANDS = [campaign]
