"""A failed night resumes from its checkpoint; a finished night is recognised and left alone.

One sample night serves every check: it is killed right after its analysis was checkpointed
(before the ledger records a run, so that the resumed run is run 1 as in the golden record),
rerun (the inputs must not be read again, and the outputs must match the golden record), and rerun
once more (nothing may be written: same inodes, same modification times, same summary). Then each
thing a finished night is made of is changed in turn, and the night is no longer complete.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from coupongen import pipeline
from coupongen.config import load_job
from coupongen.ledger import Ledger
from coupongen.night import front
from coupongen.night.fingerprint import night_key
from coupongen.night.finished import finished_summary
from tests.test_golden import REPO, assert_as_recorded, digests_of, run_sample_night


def _files(night: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(night).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(night.rglob("*"))
        if p.is_file()
    }


def test_a_killed_night_resumes_from_its_checkpoint_and_a_finished_one_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    night = out / "2026-11-22"

    def killed(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed after the analysis")

    with monkeypatch.context() as m:
        m.setattr(pipeline, "prepare", killed)
        with pytest.raises(RuntimeError, match="killed after the analysis"):
            run_sample_night(out)
    assert (night / "stages" / "analysis" / "_SUCCESS").is_file()
    assert not (night / "stages" / "night.json").exists()

    def read_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("the inputs were read again")

    monkeypatch.setattr(front, "load_night_inputs", read_again)
    first = run_sample_night(out)
    assert not first.complete
    assert_as_recorded(digests_of(out))

    before = _files(night)
    with Ledger.open(out / "ledger.sqlite") as ledger:
        runs = ledger.runs().height
    again = run_sample_night(out)
    assert again.complete and again.analysis is None
    assert first.summary.coupons is not None and again.summary.coupons is not None
    assert again.summary.coupons.issued_this_run == 0
    assert again.summary.coupons.already_issued == first.summary.coupons.total > 0
    assert replace(again.summary, coupons=first.summary.coupons) == first.summary
    assert _files(night) == before
    with Ledger.open(out / "ledger.sqlite") as ledger:
        assert ledger.runs().height == runs

    job = load_job(REPO / "jobs" / "nightly.toml")
    settings = pipeline.resolve_settings(job, as_of=first.settings.as_of, out_dir=out)
    key = night_key(job, settings)
    with Ledger.open(out / "ledger.sqlite") as ledger:
        assert finished_summary(night, key, ledger, config_hash=job.config_hash()) == again.summary
        # other settings
        assert finished_summary(night, key, ledger, config_hash="0" * 16) is None
        other = pipeline.resolve_settings(job, as_of=first.settings.as_of, out_dir=out, seed=1)
        assert finished_summary(night, night_key(job, other), ledger, config_hash=job.config_hash()) is None
        # a published file damaged
        offers = night / "crm" / "offers.csv"
        text = offers.read_bytes()
        offers.write_bytes(text + b"x")
        assert finished_summary(night, key, ledger, config_hash=job.config_hash()) is None
        offers.write_bytes(text)
        assert finished_summary(night, key, ledger, config_hash=job.config_hash()) == again.summary
        # a coupon voided since: the POS file must list it
        code = first.coupons["code"][0] if first.coupons is not None else ""
        ledger.void_coupons(codes=[code])
        assert finished_summary(night, key, ledger, config_hash=job.config_hash()) is None
