"""The ``campaign`` commands: list the job's campaigns, preview one before the night runs, start a
new campaign file.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import click
import polars as pl

from coupongen import pipeline
from coupongen.cli.common import common_options, handle_errors, open_job, open_night
from coupongen.cli.progress_display import progress_display
from coupongen.config.money import show
from coupongen.config.starter import STARTERS, starter_file
from coupongen.offers import preview
from coupongen.report.text import preflight_lines


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
    """List the job's campaigns, preview one without issuing anything, or start a new one."""


@campaign.command("list")
@common_options
@handle_errors
def list_campaigns(
    config_path: Path,
    data_dir: str | None,
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
            "reward": ", ".join(
                filter(None, (f"{c.reward.type} {show(c.reward.value)}", c.reward.bounds_text()))
            ),
            "budget": show(c.budget, "{:,.0f}"),
            "holdout": f"{c.holdout_share:.0%}",
            "channels": ", ".join(c.channels),
        }
        for c in job.campaigns
    ]
    show_table(f"campaigns of {job.path}:", pl.DataFrame(rows))


@campaign.command("preview")
@click.argument("name")
@common_options
@click.option(
    "--allow-stale",
    is_flag=True,
    help="Preview even when the newest transaction is older than stale_after_days.",
)
@handle_errors
def preview_campaign(
    name: str,
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
    """Show what campaign NAME would issue tonight: by segment, by channel, against its budget.

    The whole job is planned (a dry run), so caps across campaigns hold exactly as in the real run;
    nothing is issued or recorded.
    """
    job, settings = open_night(config_path, as_of=as_of, data_dir=data_dir, out_dir=out_dir, seed=seed)
    chosen = job.campaign(name)
    with progress_display(quiet, verbose) as progress:
        result = pipeline.run_job(job, settings, dry_run=True, allow_stale=allow_stale, progress=progress)
    assert result.plan is not None and result.channels is not None and result.analysis is not None
    mine = pl.col("campaign") == chosen.name
    click.echo(f"campaign {chosen.name} ({chosen.type}) as of {settings.as_of} (preview: nothing issued)")
    if not chosen.runs_on(settings.as_of):
        since = chosen.start.isoformat() if chosen.start else "the start"
        until = chosen.end.isoformat() if chosen.end else "no end"
        click.echo(f"not running tonight: it runs from {since} to {until}")
        return
    # The job as tonight's data resolved it: its money rules are numbers now.
    segments = preview.by_segment(result.job or job, result.analysis.segmented, result.plan).filter(mine)
    show_table("by segment:", segments.drop("campaign", "offer_type"))
    show_table("by channel:", preview.by_channel(result.plan, result.channels).filter(mine).drop("campaign"))
    budget = preview.budgets(result.plan).filter(mine).drop("campaign")
    show_table(
        "budget:",
        budget.with_columns(
            pl.col("budget")
            .map_elements(lambda v: f"{v:,.2f}", return_dtype=pl.String, skip_nulls=True)
            .fill_null("none"),
            pl.format("{}%", (pl.col("budget_used") * 100).round(1)).fill_null("-").alias("budget_used"),
        ),
    )
    checks = result.summary.preflight
    mine_only = {
        **checks,
        "money": [m for m in checks.get("money", []) if m["campaign"] == chosen.name],
        "findings": [f for f in checks.get("findings", []) if f["campaign"] == chosen.name],
    }
    click.echo("\n".join(preflight_lines(mine_only)))


@campaign.command("new")
@click.argument("name")
@click.option(
    "--type",
    "offer_type",
    required=True,
    type=click.Choice(sorted(STARTERS)),
    help="The offer type of the new campaign.",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Folder to write NAME.toml in.",
)
@handle_errors
def new_campaign(name: str, offer_type: str, folder: Path) -> None:
    """Write a commented starting campaign file NAME.toml of --type: a sensible start for the
    type, and every other key commented out with its default (docs/campaigns.md has them all).
    Never overwrites a file.
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9_\-]*", name):
        raise click.UsageError(f"campaign name {name!r} must be lower-case letters, digits, '_' or '-'")
    path = folder / f"{name}.toml"
    if path.exists():
        raise click.UsageError(f"{path}: already exists; choose another name or remove it")
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(starter_file(name, offer_type), encoding="utf-8")
    click.echo(
        f"wrote {path}: add it to the job file's campaigns list, then `coupongen campaign preview {name}`"
    )


COMMANDS = [campaign]
