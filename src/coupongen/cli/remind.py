"""``coupongen remind``: one reminder per customer whose coupons expire soon, unused, once each."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from coupongen.cli.common import (
    as_of_option,
    config_option,
    data_option,
    handle_errors,
    open_night,
    out_option,
    verbosity_options,
    with_options,
)
from coupongen.reminding import RemindResult, run_reminders


@click.command()
@with_options(config_option, data_option, out_option, as_of_option, *verbosity_options)
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    help="Remind coupons expiring within this many days (default: each campaign's reminder.days_before).",
)
@handle_errors
def remind(
    config_path: Path,
    data_dir: str | None,
    out_dir: Path | None,
    as_of: date | None,
    verbose: int,
    quiet: bool,
    debug: bool,
    days: int | None,
) -> None:
    """Remind holders of coupons that expire soon and are still unused: one message per customer.

    Consent, the suppression list and channel priority apply as on a night; each coupon is reminded
    once (a rerun of the night publishes the same messages and records nothing new). Messages go to
    out/<as-of>/reminders/ (email/, sms/, app/, delivery/), each folder published atomically.
    """
    job, settings = open_night(config_path, as_of=as_of, data_dir=data_dir, out_dir=out_dir, seed=None)
    result = run_reminders(job, settings, days=days)
    click.echo(render_reminders(result))


def render_reminders(result: RemindResult) -> str:
    """What ``remind`` prints: coupons found and why some were left out, then the customers."""
    earlier = ", the rest by an earlier run of the night" if result.new < result.reminded_coupons else ""
    channels = ", ".join(f"{ch} {n:,}" for ch, n in result.by_channel.items())
    lines = [
        f"reminders for {result.as_of.isoformat()}: {result.expiring:,} coupons expire soon = "
        f"{result.due:,} due + {result.redeemed:,} redeemed + {result.reminded_before:,} reminded before",
        f"holders: {result.holders:,} customers = {result.reminded:,} reminded ({channels}) + "
        f"{result.unreachable:,} without consent or contact ({result.suppressed:,} suppressed) + "
        f"{result.rejected:,} not sent",
        f"coupons reminded: {result.reminded_coupons:,} ({result.new:,} new tonight{earlier})",
    ]
    if "email" in result.files:
        lines.append(f"messages in {Path(result.files['email']).parent.parent}")
    return "\n".join(lines)


COMMANDS = [remind]
