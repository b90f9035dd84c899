"""Closing the loop: ``coupongen redemptions import FILE`` checks the POS redemption file against the
ledger and records it; the helpers here find the job, ledger and inputs for the loop's commands.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click

from coupongen import codes
from coupongen.cli.common import DEFAULT_JOB, handle_errors, open_job
from coupongen.cli.ledger import location_options
from coupongen.config import Job
from coupongen.inputs.contract import Inputs
from coupongen.inputs.loading import load_job_inputs
from coupongen.ledger import Ledger
from coupongen.loop import redemptions
from coupongen.loop.refunds import referral_terms
from coupongen.settings import data_location, ledger_location


@dataclass(frozen=True)
class Where:
    """The job (None when the default job file is absent) and the folders and ledger it names."""

    job: Job | None
    out_dir: Path | None
    ledger: Path


def locate(config_path: Path, out_dir: Path | None, ledger_path: Path | None, *, need_job: bool) -> Where:
    """--ledger, else --out/ledger.sqlite, else the job file's 'ledger', as ``coupongen run`` finds it."""
    job = open_job(config_path) if need_job or config_path != DEFAULT_JOB or config_path.exists() else None
    out = out_dir if out_dir is not None else (job.resolve(job.config.out) if job else None)
    if job is None and ledger_path is None and out_dir is None:
        raise click.UsageError(
            f"no job file at {DEFAULT_JOB}: pass --config FILE, --out DIR or --ledger FILE"
        )
    return Where(job, out, ledger_location(job, out_dir=out_dir, ledger_path=ledger_path))


def code_formats(job: Job | None) -> dict[str, codes.CodeFormat]:
    """Each campaign's code format, by campaign name (none without a job file)."""
    return {c.name: c.code.code_format() for c in job.campaigns} if job else {}


def signing_key_if_any() -> bytes | None:
    """The signing key when the environment names one (to tell forged codes), else None."""
    if os.environ.get(codes.SIGNING_KEY_ENV) or os.environ.get(codes.SIGNING_KEY_FILE_ENV):
        return codes.load_signing_key(needed_for="checking signatures")
    return None


def load_inputs_for(job: Job, data_dir: str | None, transactions: Path | None = None) -> Inputs:
    """The job's inputs (transactions from ``transactions`` when given), checked by the contract."""
    return load_job_inputs(job.config.inputs, data_location(job, data_dir), transactions=transactions)


# --- redemptions import ----------------------------------------------------------------------------


@click.group("redemptions")
def redemptions_group() -> None:
    """Import what the tills report back: coupons used, checked against the ledger."""


@redemptions_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@location_options
@handle_errors
def import_file(
    file: Path,
    config_path: Path,
    out_dir: Path | None,
    ledger_path: Path | None,
    verbose: int,
    quiet: bool,
    debug: bool,
) -> None:
    """Check every line of the POS redemption FILE against the ledger and record it once.

    Lines naming an unknown, mistyped, void, not yet valid, expired or used-up coupon, or a coupon
    used with the wrong card, are recorded as rejected and written with their reason to
    <stem>.rejected.csv (under --out/redemptions/ with --out, else next to FILE). Importing the same
    file again changes nothing. Exits 0 with rejected lines too (they are data), 2 when the file or a
    column is missing.
    """
    where = locate(config_path, out_dir, ledger_path, need_job=False)
    folder = out_dir / "redemptions" if out_dir is not None else Path(file).parent
    with Ledger.open(where.ledger, create=False) as ledger:
        result = redemptions.import_redemptions(
            file,
            ledger,
            formats=code_formats(where.job),
            key=signing_key_if_any(),
            terms=referral_terms(where.job.campaigns) if where.job else None,
            rejected_folder=folder,
        )
    click.echo(render_import(result, result.rejected_file))


def render_import(result: redemptions.ImportResult, written: Path | None) -> str:
    """What ``redemptions import`` prints: the reconciliation, then one line per rejection reason."""
    rejected = result.read - result.accepted - result.refunded - result.already_imported
    refunded = f"{result.refunded:,} refunded + " if result.refunded else ""
    lines = [
        f"{result.path.name}: {result.read:,} lines read = {result.accepted:,} accepted + "
        f"{refunded}{rejected:,} rejected + {result.already_imported:,} already imported"
        + (" (nothing new)" if result.already_imported == result.read and result.read else "")
    ]
    if result.credited:
        lines.append(f"referrers credited: {result.credited:,} (first use of their code by a friend)")
    reasons = result.reason_counts()
    if reasons:
        lines.append("rejected lines by reason" + (f" (written to {written}):" if written else ":"))
        lines += [f"  {n:>7,}  {reason}" for reason, n in reasons]
    return "\n".join(lines)


# --- evaluation ------------------------------------------------------------------------------------


COMMANDS = [redemptions_group]
