"""Shared pieces of the simulation's tests: the bundled inputs, the sample night and a simulation of it."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import polars as pl

from coupongen import codes
from coupongen.config import load_job
from coupongen.inputs.contract import Inputs
from coupongen.inputs.loading import load_inputs
from coupongen.ledger.store import Ledger
from coupongen.synthetic import simulate
from tests.conftest import AS_OF, NIGHTLY, SAMPLE

NIGHT = date.fromisoformat(AS_OF)


@cache
def sample_inputs() -> Inputs:
    return load_inputs(SAMPLE / "transactions.csv", SAMPLE / "products.csv", SAMPLE / "customers.csv")


def night_frames(ledger: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The coupons and the holdout of the sample night."""
    with Ledger.open(ledger) as led:
        return led.coupons(as_of=NIGHT), led.controls(as_of=NIGHT)


def job_formats() -> dict[str, codes.CodeFormat]:
    return {c.name: c.code.code_format() for c in load_job(NIGHTLY).campaigns}


def simulated(
    inputs: Inputs, night: tuple[pl.DataFrame, pl.DataFrame], **options: object
) -> simulate.Simulation:
    coupons, controls = night
    options = {"effect": 0.3, "seed": 1, **options}
    return simulate.simulate_returns(
        inputs.transactions.kept,
        inputs.products.kept,
        inputs.customers.kept,
        coupons,
        controls,
        as_of=NIGHT,
        **options,
    )
