"""`coupongen init`: write a job folder calibrated to a retailer's data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import click

from coupongen.calibration import InitResult, init_job
from coupongen.cli.common import handle_errors
from coupongen.config import DEFAULT_BRAND, JobConfig, known_currency, known_locale, known_sender
from coupongen.delivery.templates import language_of
from coupongen.inputs.reading import shown_delimiter


def _checked(check: Callable[[str], str], value: str | None, option: str) -> str | None:
    """``value`` as ``check`` gives it back (None stays None); its ValueError as a usage error."""
    if value is None:
        return None
    try:
        return check(value)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=option) from None


@click.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    required=True,
    help="Folder holding the retailer's transactions, products and customers.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("jobs"),
    show_default=True,
    help="Job folder to write.",
)
@click.option("--currency", help="ISO 4217 currency of the data (default: guessed).")
@click.option("--locale", help="Locale of customer messages, e.g. en_US (default: guessed).")
@click.option("--brand", help="The retailer's name, which e-mails and SMS show customers ([channels] brand).")
@click.option(
    "--sender",
    help='The From of the e-mail files, e.g. "Hilltop Grocers <offers@hilltop.example>" ([channels] sender).',
)
@click.option(
    "--delimiter",
    help="Field separator of the CSV inputs, one character (default: read from their header lines).",
)
@click.option("--debug", is_flag=True, hidden=True)
@click.option("-v", "--verbose", count=True, hidden=True)
@click.option("-q", "--quiet", is_flag=True, hidden=True)
@handle_errors
def init(
    data_dir: Path,
    out_dir: Path,
    currency: str | None,
    locale: str | None,
    brand: str | None,
    sender: str | None,
    delimiter: str | None,
    debug: bool,
    verbose: int,
    quiet: bool,
) -> None:
    """Write a job folder (job file, campaigns, templates) calibrated to a retailer's data."""
    if brand is not None and not brand.strip():
        raise click.BadParameter("must not be blank", param_hint="--brand")
    if delimiter is not None and len(delimiter) != 1:
        raise click.BadParameter(f"must be one character, got {delimiter!r}", param_hint="--delimiter")
    locale = _checked(known_locale, locale, "--locale")
    currency = _checked(known_currency, currency, "--currency")
    sender = _checked(known_sender, sender.strip() if sender else sender, "--sender")
    done = init_job(
        data_dir,
        out_dir,
        currency=currency,
        locale=locale,
        brand=brand.strip() if brand else None,
        delimiter=delimiter,
        sender=sender,
    )
    path, cal = done.path, done.calibration
    how = "guessed" if cal.guessed else "given"
    click.echo(f"wrote {path}")
    click.echo(
        f"  {cal.currency} / {cal.locale} ({how}); median basket {cal.median_basket:,.2f}, "
        f"budget {cal.budget:g} per campaign and night"
    )
    for line in _notes(done):
        click.echo(f"  {line}")
    for name, why in cal.left_out.items():
        click.echo(f"  left out {name}: {why}")
    banned = sum(len(v) for v in cal.never_categories.values())
    click.echo(f"  never promoted: {banned} categories, {len(cal.never_names)} name patterns")
    if done.names is not None:
        click.echo(
            f"  category names: {done.named:,} in {done.names}, as customers will read them: edit any there"
        )
    stale = _stale_history(cal.last)
    as_of = f" --as-of {(cal.last + timedelta(days=1)).isoformat()}" if stale and cal.last else ""
    click.echo(f"next: coupongen check --config {path}{as_of}")
    if as_of:
        click.echo(f"  (the history ends on {cal.last}: run its nights with --as-of, as above)")


def _notes(done: InitResult) -> list[str]:
    """What the analyst should know of the job written: a delimiter other than a comma, messages
    left in English, a brand or an e-mail sender still to set.
    """
    notes = []
    if done.delimiter != ",":
        found = "read from their header lines" if done.delimiter_detected else "given"
        notes.append(
            f"CSV inputs {shown_delimiter(done.delimiter)}-delimited ({found}), as the job file's "
            "[inputs] delimiter says"
        )
    if done.untranslated:
        notes.append(
            f"messages in English: coupongen has no {done.language} templates; translate the "
            f"{len(done.untranslated)} files {done.templates}/*_{language_of(done.calibration.locale)}.*"
        )
    if done.brand is None:
        notes.append(
            f'set [channels] brand in {done.path}: until then e-mails and SMS are signed "{DEFAULT_BRAND}"'
        )
    if done.sender is None:
        notes.append(
            f"set [channels] sender in {done.path} (or init --sender): until then the .eml files carry "
            "no From, which a platform sending them as they are needs"
        )
    return notes


def _stale_history(last: date | None) -> bool:
    """True when the history ended too long ago for a night run today (the job's default
    ``stale_after_days``): its nights need ``--as-of``.
    """
    limit = JobConfig.model_fields["stale_after_days"].default
    return last is not None and (date.today() - last).days > limit


COMMANDS = [init]
