"""Shared pieces of the CLI: options, error handling, logging.

The command line is a thin layer over the Python API.

Exit codes: 0 success, 1 the run failed, 2 bad input, configuration or usage. A user's mistake gets
one line on stderr (``Error: ...``), never a traceback; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from coupongen.config import Job, load_job
from coupongen.errors import CoupongenError
from coupongen.settings import Settings, resolve_settings

DEFAULT_JOB = Path("jobs") / "nightly.toml"
log = logging.getLogger("coupongen")


EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)
"""The dates a command accepts: years of history before and coupons valid after still fit."""


class AsOfDate(click.ParamType):
    """A calendar date written YYYY-MM-DD, between EARLIEST and LATEST."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        """Parse the option's text as an ISO date; click reports a bad one as a usage error."""
        if isinstance(value, date):
            return value
        text = str(value).strip()
        try:
            if len(text) != 10 or text[4] != "-" or text[7] != "-":
                raise ValueError(text)
            day = date.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is not a date in the form YYYY-MM-DD", param, ctx)
        if not EARLIEST <= day <= LATEST:
            self.fail(f"{text} is out of range ({EARLIEST} to {LATEST})", param, ctx)
        return day


DATE = AsOfDate()


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger("coupongen")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

config_option: Decorator = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_JOB,
    show_default=True,
    help="Job file (TOML) naming the inputs, settings, ledger and campaigns.",
)
data_option: Decorator = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=str),
    help="Folder holding the inputs, or a URI such as s3://bucket/exports (default: the job file's 'data').",
)
out_option: Decorator = click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder of the runs, holding ledger.sqlite (default: the job file's 'out').",
)
as_of_option: Decorator = click.option(
    "--as-of", "as_of", type=DATE, help="The run's 'today' as YYYY-MM-DD (default: today)."
)
seed_option: Decorator = click.option(
    "--seed", type=int, help="Seed of the holdout draw (default: the job file's 'seed')."
)
verbosity_options: tuple[Decorator, ...] = (
    click.option("-v", "--verbose", count=True, help="More log lines (repeat for debug)."),
    click.option("-q", "--quiet", is_flag=True, help="Only errors and the final result."),
    click.option("--debug", is_flag=True, help="Show a traceback on errors."),
)


def with_options(*decorators: Decorator) -> Decorator:
    """Apply click options in the order given (the first is listed first in --help)."""

    def apply(func: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


common_options: Decorator = with_options(
    config_option, data_option, out_option, as_of_option, seed_option, *verbosity_options
)
"""--config, --data, --out, --as-of, --seed, -v/--quiet and --debug, the same on every command."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwinds like Ctrl-C, so that a run is marked failed and its lock released."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_unwinds() -> Any:
    """While a command runs, SIGTERM raises Terminated (in the main thread only, where signal
    handlers can be set); the previous handler comes back afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def fault_message(e: OSError | sqlite3.Error) -> str:
    """One line for a fault of the machine rather than of the user: a full disk, a read-only or
    unwritable folder, a ledger kept busy by another command, a failing disk.
    """
    if isinstance(e, sqlite3.Error):
        text = str(e)
        if "locked" in text or "busy" in text:
            return (
                "the ledger stayed locked by another coupongen command (a redemption import?) "
                "for longer than the 30 s this command waits; run it again when that one ends"
            )
        if "full" in text:
            return "the ledger cannot grow: the disk is full; free space and run again"
        return f"the ledger failed: {text}; check the disk, then run again"
    where = f"{e.filename}: " if e.filename else ""
    if e.errno == errno.ENOSPC:
        return f"{where}the disk is full (no space left on device); free space and run again"
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{where}cannot write there ({e.strerror}); check the folder's permissions"
    return f"{where}{e.strerror or e}"


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn coupongen's errors and the machine's faults into one line and the right exit code
    (SIGTERM too: exit code 143, after the run is marked failed).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = kwargs.get("debug", False)
        _setup_logging(kwargs.get("verbose", 0), kwargs.get("quiet", False))
        try:
            with _sigterm_unwinds():
                return func(*args, **kwargs)
        except CoupongenError as e:
            if debug:
                raise
            click.secho(f"Error: {e}", err=True, fg="red")
            sys.exit(e.exit_code)
        except (OSError, sqlite3.Error) as e:
            if debug:
                raise
            click.secho(f"Error: {fault_message(e)}", err=True, fg="red")
            sys.exit(1)
        except Terminated:
            click.echo("Terminated.", err=True)
            sys.exit(143)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper


def open_job(config_path: Path) -> Job:
    """Load the job file; a missing default gets a hint about where it is looked for."""
    if not config_path.exists() and config_path == DEFAULT_JOB:
        raise click.UsageError(
            f"no job file at {DEFAULT_JOB} (run from the project folder, or pass --config FILE)"
        )
    return load_job(config_path)


def open_night(
    config_path: Path, *, as_of: date | None, data_dir: str | None, out_dir: Path | None, seed: int | None
) -> tuple[Job, Settings]:
    """The job file and the night's settings, as every command that runs stages resolves them
    (today when no ``--as-of`` is given).
    """
    job = open_job(config_path)
    return job, resolve_settings(
        job, as_of=as_of or date.today(), data_dir=data_dir, out_dir=out_dir, seed=seed
    )
