"""Shared pieces of the CLI: options, error handling, logging.

The command line is a thin layer over the Python API.

Exit codes: 0 success, 1 the run failed, 2 bad input, configuration or usage. A user's mistake gets
one line on stderr (``Error: ...``), never a traceback; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from coupongen.config import Job, load_job
from coupongen.errors import CoupongenError

DEFAULT_JOB = Path("jobs") / "nightly.toml"
log = logging.getLogger("coupongen")


class AsOfDate(click.ParamType):
    """A calendar date written YYYY-MM-DD."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        """Parse the option's text as an ISO date; click reports a bad one as a usage error."""
        if isinstance(value, date):
            return value
        text = str(value).strip()
        try:
            if len(text) != 10 or text[4] != "-" or text[7] != "-":
                raise ValueError(text)
            return date.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is not a date in the form YYYY-MM-DD", param, ctx)


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
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder holding the inputs (default: the job file's 'data').",
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


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn coupongen's errors into one line and the right exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = kwargs.get("debug", False)
        _setup_logging(kwargs.get("verbose", 0), kwargs.get("quiet", False))
        try:
            return func(*args, **kwargs)
        except CoupongenError as e:
            if debug:
                raise
            click.secho(f"Error: {e}", err=True, fg="red")
            sys.exit(e.exit_code)
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
