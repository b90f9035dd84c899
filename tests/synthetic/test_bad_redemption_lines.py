"""Bad lines planted in a simulated redemption file: the import gives each the reason planted."""

from __future__ import annotations

import pytest

from coupongen.ledger.store import Ledger
from coupongen.loop import redemptions
from coupongen.synthetic import simulate
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


def test_the_import_gives_every_planted_bad_line_its_planted_reason(
    inputs, night, formats, fresh_copy, tmp_path
):
    count = len(simulate.BAD_LINE_KINDS)
    sim = simulated(inputs, night, bad_lines=count, formats=formats)
    assert sim.planted["kind"].to_list() != [] and sim.planted.height == count
    path = tmp_path / "redemptions.csv"
    sim.redemptions.write_csv(path)
    with Ledger.open(fresh_copy.ledger) as led:
        result = redemptions.import_redemptions(path, led, formats=formats)
    assert result.rejected.select("line", "reason").rows() == sim.planted.select("line", "reason").rows()
    assert result.accepted == sim.redemptions.height - count
