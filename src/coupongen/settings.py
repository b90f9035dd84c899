"""Where a run reads and writes: the job file's paths with the command line's overrides applied.

The one place that decides which data folder, output folder and ledger a command uses, so that
``run``, ``ledger``, ``evaluate`` and the rest always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from coupongen.config import Job
from coupongen.inputs.locations import Location, is_uri


@dataclass(frozen=True)
class Settings:
    """Where a run reads and writes, resolved from the job file and any overrides. ``data_dir``
    is a local folder or a URI (``s3://bucket/exports``); the outputs are always local.
    """

    data_dir: Location
    out_dir: Path
    ledger_path: Path
    as_of: date
    seed: int

    @property
    def run_dir(self) -> Path:
        """The night's own output folder, ``out/<as-of>``."""
        return self.out_dir / self.as_of.isoformat()


def ledger_location(job: Job | None, *, out_dir: Path | None = None, ledger_path: Path | None = None) -> Path:
    """The ledger a command opens: ``ledger_path`` if given, else ``out_dir/ledger.sqlite``, else the
    job file's ``ledger``. Raises ValueError when there is neither an override nor a job.
    """
    if ledger_path is not None:
        return Path(ledger_path).resolve()
    if out_dir is not None:
        return Path(out_dir).resolve() / "ledger.sqlite"
    if job is None:
        raise ValueError("no ledger: neither a ledger path, an output folder nor a job file")
    return job.resolve(job.config.ledger)


def data_location(job: Job, data_dir: Path | str | None = None) -> Location:
    """The folder the inputs are named in: ``data_dir`` if given, else the job file's ``data``; a
    URI stays as written, a path is made absolute.
    """
    if data_dir is not None and str(data_dir):
        return str(data_dir) if is_uri(str(data_dir)) else Path(data_dir).resolve()
    return job.config.data if is_uri(job.config.data) else job.resolve(job.config.data)


def resolve_settings(
    job: Job,
    *,
    as_of: date,
    data_dir: Path | str | None = None,
    out_dir: Path | None = None,
    ledger_path: Path | None = None,
    seed: int | None = None,
) -> Settings:
    """The run's paths and seed: command-line overrides first, then the job file."""
    return Settings(
        data_dir=data_location(job, data_dir),
        out_dir=Path(out_dir).resolve() if out_dir else job.resolve(job.config.out),
        ledger_path=ledger_location(job, out_dir=out_dir, ledger_path=ledger_path),
        as_of=as_of,
        seed=job.config.seed if seed is None else seed,
    )
