"""Simulated returns from the tills as a whole: deterministic, independent of frame order, and the
simulate-redemptions command."""

from __future__ import annotations

import numpy as np
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import AS_OF, NIGHTLY, invoke
from tests.synthetic.simulation_setup import job_formats, night_frames, sample_inputs, simulated


@pytest.fixture(scope="module")
def inputs():
    return sample_inputs()


@pytest.fixture(scope="module")
def night(sample_run):
    return night_frames(sample_run.ledger)


@pytest.fixture(scope="module")
def formats():
    return job_formats()


def test_same_seed_same_returns_another_seed_other_returns(inputs, night, formats):
    a = simulated(inputs, night, bad_lines=4, formats=formats)
    b = simulated(inputs, night, bad_lines=4, formats=formats)
    assert_frame_equal(a.purchases, b.purchases)
    assert_frame_equal(a.redemptions, b.redemptions)
    assert_frame_equal(a.planted, b.planted)
    other = simulated(inputs, night, seed=2)
    assert not other.purchases.equals(a.purchases)


def test_random_draws_do_not_depend_on_frame_order(inputs, night):
    coupons, controls = night
    shuffled = (
        coupons.sample(fraction=1.0, shuffle=True, seed=5),
        controls.sample(fraction=1.0, shuffle=True, seed=5),
    )
    a = simulated(inputs, night)
    b = simulated(inputs, shuffled)
    assert_frame_equal(a.purchases, b.purchases)
    assert_frame_equal(a.redemptions, b.redemptions)
    assert np.isfinite(a.purchases["amount"].to_numpy()).all()


def test_simulate_command_writes_the_files_and_reruns_byte_for_byte(fresh_copy):
    out = fresh_copy.out
    args = (
        "simulate-redemptions",
        "--config",
        str(NIGHTLY),
        "--out",
        str(out),
        "--effect",
        "0.3",
        "--bad-lines",
        "3",
    )
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    folder = out / "simulation" / AS_OF
    first_line = result.output.splitlines()[0]
    assert first_line.startswith(
        f"simulated 2026-11-22 to 2027-01-21 after the night of {AS_OF} with effect +30%: "
    )
    assert first_line.endswith(" and 3 bad lines")
    files = {
        name: (folder / name).read_bytes()
        for name in ("redemptions.csv", "transactions.csv", "bad_lines.csv")
    }
    assert files["redemptions.csv"].startswith(b"code,redeemed_at,store_id,receipt_id,card_number,discount\n")
    assert invoke(*args).exit_code == 0
    assert {name: (folder / name).read_bytes() for name in files} == files


def test_simulate_command_needs_an_effect_above_minus_one(fresh_copy):
    result = invoke(
        "simulate-redemptions", "--config", str(NIGHTLY), "--out", str(fresh_copy.out), "--effect", "-1"
    )
    assert result.exit_code == 2
    assert result.output.endswith("Error: Invalid value for --effect: must be above -1 (a relative change)\n")
