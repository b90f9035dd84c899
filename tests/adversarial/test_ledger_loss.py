"""Losing the ledger is loud: a missing, truncated, replaced or damaged ledger stops the run with
one line, nothing of the night is touched, and a backup restores it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from datetime import date

import pytest

from coupongen.delivery.ledger_stamp import STAMP, check_same_ledger
from coupongen.errors import LedgerError
from coupongen.ledger import Ledger
from tests.conftest import AS_OF, invoke, run_nightly


def _snapshot(night):
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in night.rglob("*") if p.is_file()}


def _error_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_night_is_stamped_with_its_ledger(sample_run):
    stamp = (sample_run.night / STAMP).read_text()
    with Ledger.open(sample_run.ledger, create=False) as ledger:
        assert f'"ledger_id": "{ledger.ledger_id}"' in stamp
        assert len(ledger.ledger_id) == 32


@pytest.mark.parametrize("loss", ["deleted", "truncated", "replaced"])
def test_a_lost_ledger_refuses_the_rerun_and_touches_nothing(fresh_copy, loss):
    before = _snapshot(fresh_copy.night)
    for part in fresh_copy.out.glob("ledger.sqlite*"):
        part.unlink()
    if loss == "truncated":
        fresh_copy.ledger.write_bytes(b"")
    elif loss == "replaced":
        Ledger.open(fresh_copy.ledger).close()
    result = run_nightly(fresh_copy.out)
    assert result.exit_code == 1
    found = "no ledger there" if loss == "deleted" else "this ledger ("
    assert _error_line(result).startswith(f"Error: {fresh_copy.ledger}: {found}")
    assert f"that issued the night of {AS_OF} in {fresh_copy.out} (ledger " in result.output
    assert "or pass --new-ledger to start a new ledger on purpose" in result.output
    assert _snapshot(fresh_copy.night) == before
    assert fresh_copy.ledger.exists() == (loss != "deleted")


def test_new_ledger_on_purpose_is_accepted(tmp_path):
    (tmp_path / "2026-11-21").mkdir()
    (tmp_path / "2026-11-21" / STAMP).write_text('{"ledger_id": "aaaa"}')
    (tmp_path / "2026-11-20").mkdir()
    (tmp_path / "2026-11-20" / STAMP).write_text('{"ledger_id": "bbbb"}')
    check_same_ledger(tmp_path, tmp_path / "l.sqlite", "aaaa")  # the latest night decides
    with pytest.raises(
        LedgerError, match=r"this ledger \(bbbb\) is not the one that issued the night of 2026-11-21"
    ):
        check_same_ledger(tmp_path, tmp_path / "l.sqlite", "bbbb")


def test_a_damaged_ledger_is_refused_by_every_command(fresh_copy):
    with Ledger.open(fresh_copy.ledger) as ledger:
        ledger.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        code = ledger.coupons(as_of=None, campaigns=None)["code"][0]
        pages = ledger.conn.execute("PRAGMA page_count").fetchone()[0]
        size = ledger.conn.execute("PRAGMA page_size").fetchone()[0]
    with fresh_copy.ledger.open("r+b") as fh:  # scribble over a page in the middle of the file
        fh.seek(size * (pages // 2))
        fh.write(bytes(range(256)) * (size // 256))
    for args in (("codes", "verify", code), ("ledger",), ("redemptions", "import", os.devnull)):
        result = invoke(*args, "--out", str(fresh_copy.out))
        assert result.exit_code == 1, (args, result.output)
        assert _error_line(result).startswith(f"Error: {fresh_copy.ledger}: the ledger is damaged ("), args
        assert result.output.rstrip().endswith("restore it from its latest backup (see docs/operations.md)")


def test_a_ledger_deleted_during_the_run_fails_it(tmp_path):
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        (tmp_path / "l.sqlite").unlink()
        with pytest.raises(LedgerError, match="deleted or replaced while this run used it"):
            ledger.check_file()


def test_backup_is_private_checked_and_restores(fresh_copy, tmp_path):
    dest = tmp_path / "backups" / "ledger-2026-11-22.sqlite"
    dest.parent.mkdir()
    result = invoke("ledger", "backup", str(dest), "--out", str(fresh_copy.out))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    with Ledger.open(fresh_copy.ledger) as ledger:
        ledger_id, coupons = ledger.ledger_id, ledger.coupons(as_of=None, campaigns=None).height
    assert result.output == (f"backed up ledger {ledger_id[:12]} ({coupons:,} coupons, 1 runs) to {dest}\n")
    assert not list(dest.parent.glob(".*"))
    # restore: the ledger is lost, the backup is copied back, the night is accepted again
    for part in fresh_copy.out.glob("ledger.sqlite*"):
        part.unlink()
    shutil.copy(dest, fresh_copy.ledger)
    with Ledger.open(fresh_copy.ledger) as ledger:
        assert ledger.ledger_id == ledger_id
        check_same_ledger(fresh_copy.out, fresh_copy.ledger, ledger.ledger_id)
        assert ledger.coupons(as_of=None, campaigns=None).height == coupons


def test_ledger_files_are_private(sample_run, tmp_path):
    for part in sample_run.out.glob("ledger.sqlite*"):
        assert stat.S_IMODE(part.stat().st_mode) == 0o600, part
    shared = tmp_path / "old.sqlite"
    sqlite3.connect(shared).close()
    shared.chmod(0o644)
    with Ledger.open(shared):
        pass
    for part in tmp_path.glob("old.sqlite*"):
        assert stat.S_IMODE(part.stat().st_mode) == 0o600, part


def test_a_refused_run_and_a_dry_run_leave_the_running_nights_files_alone(fresh_copy):
    quarantine = fresh_copy.night / "quarantine"
    assert list(quarantine.iterdir())  # the bundled night has rejected rows
    before = _snapshot(fresh_copy.night)
    with Ledger.open(fresh_copy.ledger) as ledger:  # a live run (this process) holds the lock
        run = ledger.start_run(job="nightly", as_of=date.fromisoformat(AS_OF), config_hash="h")
        try:
            refused = run_nightly(fresh_copy.out)
            dry = run_nightly(fresh_copy.out, "--dry-run")
        finally:
            ledger.finish_run(run, status="failed")
    assert refused.exit_code == 1
    assert _error_line(refused).startswith(
        f"Error: {fresh_copy.ledger}: ledger is locked by run {run.run_id}"
    )
    assert dry.exit_code == 0, dry.output
    assert _snapshot(fresh_copy.night) == before
