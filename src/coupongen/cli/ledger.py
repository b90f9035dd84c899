"""The ledger and codes commands: what the ledger holds, and whether a presented code is good.

``coupongen ledger`` lists the runs with their coupon and holdout counts; ``coupongen codes verify``
checks one code (or scanned barcode value, URL or signed QR payload) and exits 0 only when it is
valid, so that a script can branch on it.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import click

from coupongen import codes
from coupongen.cli.common import (
    DATE,
    DEFAULT_JOB,
    config_option,
    handle_errors,
    open_job,
    out_option,
    verbosity_options,
    with_options,
)
from coupongen.config import Job
from coupongen.ledger import Ledger
from coupongen.settings import ledger_location

location_options = with_options(
    config_option,
    out_option,
    click.option(
        "--ledger",
        "ledger_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The ledger file itself (overrides --out and the job file).",
    ),
    *verbosity_options,
)
"""--config, --out and --ledger (which ledger to open), with -v/--quiet and --debug."""


def _load_job_if_any(config_path: Path) -> Job | None:
    """The job file, or None when the default one is absent (an explicit --config must exist)."""
    if config_path == DEFAULT_JOB and not config_path.exists():
        return None
    return open_job(config_path)


def _ledger_path(config_path: Path, out_dir: Path | None, ledger_path: Path | None) -> Path:
    """--ledger, else --out/ledger.sqlite, else the job file's 'ledger' (as ``coupongen run``)."""
    job = open_job(config_path) if ledger_path is None and out_dir is None else None
    return ledger_location(job, out_dir=out_dir, ledger_path=ledger_path)


def _when(timestamp: str | None) -> str:
    """A stored UTC timestamp as 'YYYY-MM-DD HH:MM:SS', or '-'."""
    return timestamp[:19].replace("T", " ") if timestamp else "-"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {name}" for name, n in counts.items())


def render_ledger(path: Path, ledger: Ledger) -> str:
    """The text ``coupongen ledger`` prints: one line per run, then the totals and the lock."""
    runs = ledger.runs()
    totals = ledger.totals()
    lines = [f"ledger {path} (schema version {ledger.schema_version})"]
    if runs.is_empty():
        lines.append("no runs yet")
    else:
        lines.append(
            f"{'run':>5}  {'job':<12} {'as of':<10}  {'status':<9}  {'started (UTC)':<19}  "
            f"{'finished (UTC)':<19}  {'coupons':>9}  {'holdout':>8}"
        )
        for r in runs.iter_rows(named=True):
            lines.append(
                f"{r['run_id']:>5}  {r['job']:<12} {r['as_of']:<10}  {r['status']:<9}  "
                f"{_when(r['started_at']):<19}  {_when(r['finished_at']):<19}  "
                f"{r['coupons']:>9,}  {r['controls']:>8,}"
            )
    n_coupons = sum(totals["coupons_by_kind"].values())
    void = totals["coupons_by_status"].get("void", 0)
    kinds = _counts(totals["coupons_by_kind"])
    lines.append(
        f"total: {runs.height:,} run{'' if runs.height == 1 else 's'}"
        + (f" ({_counts(totals['runs'])})" if totals["runs"] else "")
        + f"; {n_coupons:,} coupons"
        + (f" ({kinds}; {void:,} void)" if n_coupons else "")
        + f"; {totals['controls'].get('total', 0):,} in holdout"
        + f"; {sum(totals['redemptions'].values()):,} redemptions"
        + (f" ({_counts(totals['redemptions'])})" if totals["redemptions"] else "")
        + (f"; {totals['refunds']['accepted']:,} refunded" if totals["refunds"].get("accepted") else "")
        + (
            f"; {totals['referral_credits']['total']:,} referrer credits"
            if totals["referral_credits"].get("total")
            else ""
        )
    )
    holder = ledger.lock_holder()
    if holder is not None:
        lines.append(
            f"locked by run {holder['run_id']} (pid {holder['pid']} on {holder['host']}, "
            f"since {holder['acquired_at']})"
        )
    return "\n".join(lines)


@click.group("ledger", invoke_without_command=True)
@location_options
@click.pass_context
@handle_errors
def ledger(
    ctx: click.Context,
    config_path: Path,
    out_dir: Path | None,
    ledger_path: Path | None,
    verbose: int,
    quiet: bool,
    debug: bool,
) -> None:
    """Show the ledger: every run with its coupon and holdout counts, the totals and the lock."""
    if ctx.invoked_subcommand is not None:
        return
    path = _ledger_path(config_path, out_dir, ledger_path)
    with Ledger.open(path, create=False) as led:
        click.echo(render_ledger(path, led))


@ledger.command("unlock")
@click.argument("run_id", type=int)
@location_options
@click.option("--force", is_flag=True, help="Also when the holder's pid is alive on this host.")
@handle_errors
def unlock(
    run_id: int,
    config_path: Path,
    out_dir: Path | None,
    ledger_path: Path | None,
    force: bool,
    verbose: int,
    quiet: bool,
    debug: bool,
) -> None:
    """Release the lock of a run that died on another host, and mark that run failed.

    A run killed on this host needs no unlocking: the next run takes its lock over.
    """
    path = _ledger_path(config_path, out_dir, ledger_path)
    with Ledger.open(path, create=False) as led:
        led.break_lock(run_id, force=force)
    click.echo(f"released the lock of run {run_id}; it is marked failed")


@ledger.command("void")
@click.argument("codes_", metavar="[CODE]...", nargs=-1)
@location_options
@click.option("--campaign", help="Void every live coupon of this campaign.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def void(
    codes_: tuple[str, ...],
    config_path: Path,
    out_dir: Path | None,
    ledger_path: Path | None,
    campaign: str | None,
    yes: bool,
    verbose: int,
    quiet: bool,
    debug: bool,
) -> None:
    """Void coupons by CODE or a whole --campaign: the POS must no longer accept them.

    The next export (the next run, or a rerun of a night) publishes them in pos/revocations.csv
    until their validity ends; their holders get no further message about them.
    """
    if bool(codes_) == bool(campaign):
        raise click.UsageError("give either CODE... or --campaign NAME")
    path = _ledger_path(config_path, out_dir, ledger_path)
    what = f"campaign {campaign!r}" if campaign else f"{len(codes_)} code(s)"
    with Ledger.open(path, create=False) as led:
        live = led.live_among(codes=list(codes_) or None, campaign=campaign)
        if live == 0:
            click.echo(f"nothing to void: no live coupon of {what} in {path}")
            return
        if not yes:
            click.confirm(f"Void the {live:,} live coupon(s) of {what} in {path}?", abort=True)
        count = led.void_coupons(codes=list(codes_) or None, campaign=campaign)
    click.echo(f"voided {count:,} coupon(s) of {what}; the next export lists them in pos/revocations.csv")


@ledger.command("backup")
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@location_options
@handle_errors
def backup(
    dest: Path,
    config_path: Path,
    out_dir: Path | None,
    ledger_path: Path | None,
    verbose: int,
    quiet: bool,
    debug: bool,
) -> None:
    """Copy the ledger to DEST while it is in use (SQLite's online backup), checked and private.

    Restore by copying DEST back over the ledger while no coupongen command runs (see
    docs/operations.md).
    """
    path = _ledger_path(config_path, out_dir, ledger_path)
    with Ledger.open(path, create=False) as led:
        copied = led.backup(dest)
    click.echo(
        f"backed up ledger {copied['ledger_id'][:12]} ({copied['coupons']:,} coupons, "
        f"{copied['runs']:,} runs) to {dest}"
    )


@click.group("codes")
def codes_group() -> None:
    """Check coupon codes and see how hard they are to guess."""


def _signing_key(key_file: Path | None) -> bytes | None:
    """The key when one is configured (--key-file or the environment), else None."""
    if key_file is None and not (
        os.environ.get(codes.SIGNING_KEY_ENV) or os.environ.get(codes.SIGNING_KEY_FILE_ENV)
    ):
        return None
    return codes.load_signing_key(key_file=key_file, needed_for="checking signatures")


@codes_group.command("verify")
@click.argument("code")
@location_options
@click.option("--as-of", "as_of", type=DATE, help="The day to check validity on (default: today).")
@click.option(
    "--offline",
    is_flag=True,
    help="Check the signature with the key only, without the ledger (signed codes and payloads).",
)
@click.option(
    "--legacy-signatures",
    is_flag=True,
    help="Offline, also accept version 1 signatures, made before signatures named the campaign.",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"File holding the signing key (default: ${codes.SIGNING_KEY_FILE_ENV} or "
    f"${codes.SIGNING_KEY_ENV}).",
)
@handle_errors
def verify(
    code: str,
    config_path: Path,
    out_dir: Path | None,
    ledger_path: Path | None,
    as_of: date | None,
    offline: bool,
    legacy_signatures: bool,
    key_file: Path | None,
    verbose: int,
    quiet: bool,
    debug: bool,
) -> None:
    """Say whether CODE is valid, unknown, expired, redeemed, or has a bad check or signature.

    CODE may be a coupon code, a scanned barcode value (EAN-13 digits, a GS1 element string), a
    coupon URL or a signed QR payload. Prints one line; exits 0 when the code is valid, 1 when it
    is not, 2 on a usage or configuration error.
    """
    job = _load_job_if_any(config_path)
    formats = {c.name: c.code.code_format() for c in job.campaigns} if job else {}
    code = codes.normalize_code(code, formats)
    if not code:
        raise click.UsageError("CODE is empty")
    day = as_of or date.today()
    key = _signing_key(key_file)
    if offline:
        if job is None:
            raise click.UsageError(
                f"--offline needs the job file for the campaigns' code formats (no {DEFAULT_JOB}; "
                "pass --config FILE)"
            )
        verdict = codes.verify_code(
            code, formats=formats, as_of=day, key=key, legacy_signatures=legacy_signatures
        )
    else:
        path = _ledger_path(config_path, out_dir, ledger_path)
        with Ledger.open(path, create=False) as led:
            verdict = codes.verify_code(code, formats=formats, as_of=day, key=key, lookup=led.find_coupon)
    click.echo(str(verdict))
    sys.exit(0 if verdict.ok else 1)


def _one_in(odds: float | None) -> str:
    if not odds:
        return "-"
    n = 1 / odds
    return f"1 in {n:,.0f}" if n < 1e9 else f"1 in {n:.1e}"


@codes_group.command("entropy")
@config_option
@click.option(
    "--issued",
    type=click.IntRange(min=1),
    default=1_000_000,
    show_default=True,
    help="Live coupons per campaign assumed for the guessing odds.",
)
@with_options(*verbosity_options)
@handle_errors
def entropy(config_path: Path, issued: int, verbose: int, quiet: bool, debug: bool) -> None:
    """Bits of randomness of each campaign's codes and barcodes, and the odds of guessing one.

    'code guess': a made-up, well-formed code is one of the live ones (checked against the
    ledger); 'forgery': a made-up code passes an offline signature check; 'barcode guess': a
    made-up EAN-13 or GCN serial is a live one.
    """
    job = open_job(config_path)
    click.echo(f"with {issued:,} live coupons per campaign:")
    click.echo(
        f"{'campaign':<18} {'symbology':<9} {'code bits':>9}  {'code guess':<16} "
        f"{'sig bits':>8}  {'forgery':<14} {'barcode bits':>12}  {'barcode guess':<14}"
    )
    for campaign in job.campaigns:
        s = campaign.code.code_format().strength(issued)
        sig_bits = f"{s['signature_bits']:.1f}" if s["forgery_odds"] else "-"
        bc_bits = f"{s['barcode_bits']:.1f}" if s["barcode_bits"] else "-"
        code_bits = "imported" if s["code_bits"] is None else f"{s['code_bits']:.1f}"
        click.echo(
            f"{campaign.name:<18} {campaign.code.symbology:<9} {code_bits:>9}  "
            f"{_one_in(s['code_guess_odds']):<16} {sig_bits:>8}  {_one_in(s['forgery_odds']):<14} "
            f"{bc_bits:>12}  {_one_in(s['barcode_guess_odds']):<14}"
        )


COMMANDS = [ledger, codes_group]
