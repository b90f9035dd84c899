"""Faults of the machine end a run with one line and the right exit code; the run is marked failed
and its lock released (SIGTERM as Ctrl-C); absurd dates and offsets are refused up front.
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import time

import pytest

from coupongen import pipeline
from coupongen.cli.common import fault_message
from coupongen.config.campaigns import CampaignConfig
from coupongen.ledger import Ledger
from coupongen.night import front
from tests.adversarial.conftest import AS_OF, run_hostile
from tests.conftest import invoke


def _runs(out):
    with Ledger.open(out / "ledger.sqlite", create=False) as ledger:
        return ledger.runs()["status"].to_list(), ledger.lock_holder()


def test_sigterm_marks_the_run_failed_and_releases_the_lock(hostile_run, tmp_path, monkeypatch):
    def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the run")

    monkeypatch.setattr(pipeline, "write_stamp", killed)
    before = signal.getsignal(signal.SIGTERM)
    result = run_hostile(hostile_run.job, tmp_path / "out", "--new-ledger")
    assert result.exit_code == 143
    assert result.output.strip().splitlines()[-1] == "Terminated."
    assert _runs(tmp_path / "out") == (["failed"], None)
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_while_planning_settles_the_writes_aside_before_the_run_is_failed(
    hostile_run, tmp_path, monkeypatch
):
    events: list[str] = []
    save = front.save_stage

    def slow_checkpoint(*args, **kwargs):
        time.sleep(0.5)  # still being written when the signal comes
        result = save(*args, **kwargs)
        events.append("checkpoint written")
        return result

    def terminated_while_planning(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the run")

    finish = Ledger.finish_run

    def finish_run(self, run, **kwargs):
        events.append(f"run {kwargs['status']}")
        return finish(self, run, **kwargs)

    monkeypatch.setattr(front, "save_stage", slow_checkpoint)
    monkeypatch.setattr(pipeline, "plan", terminated_while_planning)
    monkeypatch.setattr(Ledger, "finish_run", finish_run)
    result = run_hostile(hostile_run.job, tmp_path / "out", "--new-ledger")
    assert result.exit_code == 143
    assert result.output.strip().splitlines()[-1] == "Terminated."
    assert events == ["checkpoint written", "run failed"]
    assert _runs(tmp_path / "out") == (["failed"], None)
    night = tmp_path / "out" / AS_OF
    assert (night / "stages" / "analysis" / "_SUCCESS").is_file()
    assert not (night / "analysis").exists()  # queued behind the checkpoint: dropped, never written


@pytest.mark.parametrize("target", ["write_analysis", "save_stage"])
def test_a_full_disk_beside_the_planning_is_one_line_and_a_failed_run(
    hostile_run, tmp_path, monkeypatch, target
):
    where = tmp_path / "out" / AS_OF / ("analysis" if target == "write_analysis" else "stages")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(where))

    monkeypatch.setattr(pipeline if target == "write_analysis" else front, target, full)
    result = run_hostile(hostile_run.job, tmp_path / "out", "--new-ledger")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {where}: the disk is full (no space left on device); free space and run again"
    ]
    assert _runs(tmp_path / "out") == (["failed"], None)
    with Ledger.open(tmp_path / "out" / "ledger.sqlite", create=False) as ledger:
        assert ledger.coupons().height == 0  # stopped before anything was issued
    assert not (tmp_path / "out" / AS_OF / "pos").exists()
    if target == "write_analysis":  # the checkpoint, written before, is whole
        assert (tmp_path / "out" / AS_OF / "stages" / "analysis" / "_SUCCESS").is_file()


def test_a_full_disk_is_one_line_and_a_failed_run(hostile_run, tmp_path, monkeypatch):
    report = tmp_path / "out" / "2026-11-22" / "report.html"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(report))

    monkeypatch.setattr(pipeline, "write_report", full)
    result = run_hostile(hostile_run.job, tmp_path / "out")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {report}: the disk is full (no space left on device); free space and run again"
    ]
    assert _runs(tmp_path / "out") == (["failed"], None)


def test_fault_messages():
    assert fault_message(OSError(errno.EROFS, "Read-only file system", "/o/x")) == (
        "/o/x: cannot write there (Read-only file system); check the folder's permissions"
    )
    assert fault_message(sqlite3.OperationalError("database is locked")).startswith(
        "the ledger stayed locked by another coupongen command (a redemption import?) for longer than"
    )
    assert fault_message(sqlite3.OperationalError("database or disk is full")) == (
        "the ledger cannot grow: the disk is full; free space and run again"
    )


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_absurd_dates_are_usage_errors(day):
    result = invoke("run", "--as-of", day, "--dry-run")
    assert result.exit_code == 2
    assert f"Invalid value for '--as-of': {day} is out of range (1900-01-01 to 2999-12-31)" in result.output


def test_a_huge_offset_is_a_config_error():
    with pytest.raises(ValueError, match="valid_from_offset_days"):
        CampaignConfig.model_validate(
            {
                "name": "x",
                "offer_type": "cross_sell",
                "reward": {"type": "percent", "value": 10},
                "valid_from_offset_days": 10**9,
            }
        )
