"""The command line: a thin layer over the Python API.

Exit codes: 0 success, 1 the run failed, 2 bad input, configuration or usage.
"""

from __future__ import annotations

import click

from coupongen import __version__
from coupongen.cli import analysis as analysis_commands
from coupongen.cli import backtest as backtest_commands
from coupongen.cli import campaign as campaign_commands
from coupongen.cli import commands
from coupongen.cli import evaluate as evaluate_commands
from coupongen.cli import init as init_commands
from coupongen.cli import ledger as ledger_commands
from coupongen.cli import loop as loop_commands
from coupongen.cli import remind as remind_commands
from coupongen.cli import simulate as simulate_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="coupongen")
def cli() -> None:
    """Targeted coupon generation: segments, affinities, offers, unique codes, channel exports."""


for command in [
    *commands.COMMANDS,
    *init_commands.COMMANDS,
    *analysis_commands.COMMANDS,
    *campaign_commands.COMMANDS,
    *ledger_commands.COMMANDS,
    *backtest_commands.COMMANDS,
    *loop_commands.COMMANDS,
    *remind_commands.COMMANDS,
    *evaluate_commands.COMMANDS,
    *simulate_commands.COMMANDS,
]:
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="coupongen")
