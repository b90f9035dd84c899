"""``coupongen simulate-redemptions``: what the tills would send back after a night, with a planted
effect, to try the import and the evaluation on.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
import polars as pl

from coupongen.cli.common import DATE, data_option, handle_errors
from coupongen.cli.ledger import location_options
from coupongen.cli.loop import code_formats, load_inputs_for, locate
from coupongen.errors import InputError
from coupongen.ledger import Ledger
from coupongen.safecsv import write_csv
from coupongen.synthetic import simulate
from coupongen.synthetic.writing import write_transactions


@click.command("simulate-redemptions")
@click.option(
    "--effect", type=float, required=True, help="Planted relative effect: 0.3 = holders visit 30% more often."
)
@click.option(
    "--as-of",
    "as_of",
    type=DATE,
    help="The night whose coupons to simulate (default: the latest in the ledger).",
)
@click.option(
    "--campaign", "campaigns", multiple=True, help="Only these campaigns (repeat; default: all of the night)."
)
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed; same seed, same files.")
@click.option(
    "--redemption-rate",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Chance that a holder with a qualifying visit uses the coupon.",
)
@click.option(
    "--bad-lines",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Deliberately bad redemption lines to plant.",
)
@data_option
@location_options
@handle_errors
def simulate_command(
    effect: float,
    as_of: date | None,
    campaigns: tuple[str, ...],
    seed: int,
    redemption_rate: float,
    bad_lines: int,
    data_dir: str | None,
    config_path: Path,
    out_dir: Path | None,
    ledger_path: Path | None,
    verbose: int,
    quiet: bool,
    debug: bool,
) -> None:
    """Write what the tills would send back after a night: redemptions and the purchases made.

    For demos and tests. Coupon holders shop 1 + EFFECT times as often while their coupon is
    valid; the holdout shops as before. Writes redemptions.csv (the POS layout) and transactions.csv
    (the transactions layout) to simulation/<night>/ in the output folder, with bad_lines.csv
    listing the planted bad lines and the reason the import will give them.
    """
    if effect <= -1:
        raise click.BadParameter("must be above -1 (a relative change)", param_hint="--effect")
    where = locate(config_path, out_dir, ledger_path, need_job=True)
    assert where.job is not None
    names = list(campaigns) or None
    with Ledger.open(where.ledger, create=False) as ledger:
        night = as_of or _latest_night(ledger)
        coupons = ledger.coupons(as_of=night, campaigns=names)
        controls = ledger.controls(as_of=night, campaigns=names)
    if coupons.is_empty():
        raise InputError(
            f"{where.ledger}: no coupons issued on {night}"
            + (f" for {', '.join(campaigns)}" if campaigns else "")
        )
    inputs = load_inputs_for(where.job, data_dir)
    sim = simulate.simulate_returns(
        inputs.transactions.kept,
        inputs.products.kept,
        inputs.customers.kept,
        coupons,
        controls,
        as_of=night,
        effect=effect,
        seed=seed,
        redemption_rate=redemption_rate,
        bad_lines=bad_lines,
        formats=code_formats(where.job),
        money=simulate.Money(where.job.config.point_value, where.job.config.points_per_currency),
    )
    folder = (where.out_dir or where.ledger.parent) / "simulation" / night.isoformat()
    paths = _write_simulation(sim, folder)
    click.echo(
        f"simulated {sim.first_day} to {sim.last_day} after the night of {night} with effect {effect:+.0%}: "
        f"{sim.purchases['receipt_id'].n_unique():,} receipts ({sim.purchases.height:,} lines), "
        f"{sim.redemptions.height - sim.planted.height:,} redemptions"
        + (f" and {sim.planted.height:,} bad lines" if sim.planted.height else "")
    )
    click.echo("\n".join(f"  {name:<17} {path}" for name, path in paths.items()))


def _latest_night(ledger: Ledger) -> date:
    runs = ledger.runs().filter(pl.col("coupons") > 0)
    if runs.is_empty():
        raise InputError(f"{ledger.path}: the ledger holds no coupons yet (run the nightly job first)")
    return date.fromisoformat(str(runs["as_of"].max()))


def _write_simulation(sim: simulate.Simulation, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "redemptions.csv": folder / "redemptions.csv",
        "transactions.csv": write_transactions(sim.purchases, folder / "transactions.csv"),
    }
    write_csv(sim.redemptions, paths["redemptions.csv"])
    bad = folder / "bad_lines.csv"
    if sim.planted.height:
        write_csv(sim.planted, bad)
        paths["bad_lines.csv"] = bad
    else:
        bad.unlink(missing_ok=True)
    return paths


COMMANDS = [simulate_command]
