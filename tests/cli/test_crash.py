"""Crash safety of the real CLI: a run killed with SIGKILL at several points, then started again,
ends with every coupon of the night exactly once; a second run is refused while one is running; a
rerun of a finished night issues nothing and republishes the same files.

The run under test is frozen at a chosen point without any hook in the product: the test holds the
ledger's SQLite write lock, so the run stops at its next write transaction, and lets it through one
transaction at a time (the run's write transactions are: the run record, one per campaign batch,
the holdout, the durable "issued" stamp, the run's end). The kill lands while the run waits there.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from click.testing import Result

from coupongen.ledger import Ledger
from tests.conftest import AS_OF, NIGHTLY, invoke

BIN = Path(sys.executable).with_name("coupongen")
CLI = [str(BIN)] if BIN.exists() else [sys.executable, "-c", "from coupongen.cli import main; main()"]
TIMEOUT = 600  # a guard against a hung run, not a speed check: a loaded machine may take minutes


def run_args(data: Path, out: Path) -> list[str]:
    return [
        "run",
        "--config",
        str(NIGHTLY),
        "--data",
        str(data),
        "--out",
        str(out),
        "--as-of",
        AS_OF,
        "-q",
    ]


DURABLE = {**os.environ, "COUPONGEN_FSYNC": "on"}
"""These runs are killed on purpose: what they published must have reached the disk."""


def run_cli(*args: str) -> Result:
    """A run that is not killed, in this process (saving an interpreter's start), flushing to disk
    as the killed ones do.
    """
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COUPONGEN_FSYNC", "on")
        return invoke(*args)


def start_run(data: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, *run_args(data, out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=DURABLE
    )


@dataclass
class Night:
    """What the ledger and the POS folder hold for the night."""

    coupons: pl.DataFrame  # offer_key, code, barcode_value, run_id
    controls: set[str]
    runs: pl.DataFrame
    lock: dict[str, object] | None

    @classmethod
    def read(cls, out: Path) -> Night:
        with Ledger.open(out / "ledger.sqlite", create=False) as led:
            coupons = led.coupons().select("offer_key", "code", "barcode_value", "kind").sort("offer_key")
            return cls(coupons, set(led.controls()["offer_key"]), led.runs(), led.lock_holder())


@pytest.fixture(scope="module")
def data(small_sample) -> Path:
    return small_sample


@dataclass
class Reference:
    """An uninterrupted run of the night: what every interrupted one must end up with."""

    out: Path
    night: Night

    @property
    def coupons(self) -> pl.DataFrame:
        return self.night.coupons

    @property
    def controls(self) -> set[str]:
        return self.night.controls


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory) -> Reference:
    out = tmp_path_factory.mktemp("reference")
    done = run_cli(*run_args(data, out))
    assert done.exit_code == 0, done.output
    night = Night.read(out)
    assert night.coupons.height > 50 and len(night.controls) > 0
    assert night.coupons["offer_key"].str.split(":").list.get(0).n_unique() >= 4  # several campaigns
    return Reference(out, night)


class Stepper:
    """Holds the ledger's write lock; lets the run under test commit one transaction at a time.

    The run waits for the lock in SQLite's busy handler, which sleeps between tries; the stepper
    polls without sleeping in SQLite, so it takes the lock back first, usually before the run's
    next transaction (when two of the run's transactions follow each other at once, the stop lands
    one transaction later: the kill points below are "at or after").
    """

    def __init__(self, path: Path, proc: subprocess.Popen[str]) -> None:
        self.conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        self.proc = proc
        self._lock()
        self.version = self._version()

    def _version(self) -> int:
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def _lock(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.0001)

    def step(self) -> bool:
        """Release the lock until the run commits, then take it back; False if the run ended."""
        self.conn.execute("COMMIT")
        deadline = time.monotonic() + TIMEOUT
        while self._version() == self.version:
            if self.proc.poll() is not None:
                return False
            assert time.monotonic() < deadline, "the run made no progress"
            time.sleep(0.0001)
        self._lock()
        self.version = self._version()
        return True

    def state(self) -> dict[str, int | bool]:
        """Counts the test stops on, read inside the held lock (nothing can change them)."""
        one = self.conn.execute
        running = one("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[0]
        issued = one(
            "SELECT COUNT(*) FROM runs WHERE status = 'running' AND issued_at IS NOT NULL"
        ).fetchone()[0]
        return {
            "running": running > 0,
            "coupons": one("SELECT COUNT(*) FROM coupons").fetchone()[0],
            "controls": one("SELECT COUNT(*) FROM controls").fetchone()[0],
            "issued": issued > 0,
        }

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


PHASES = (
    "before anything is recorded",
    "run recorded, no coupon yet",
    "some campaigns issued",
    "all coupons recorded",
    "holdout recorded",
    "issued durably",
)


def phase(state: dict[str, int | bool], reference: Reference) -> int:
    """How far a running run has come, as an index into PHASES."""
    if not state["running"]:
        return 0
    if state["issued"]:
        return 5
    if state["coupons"] == reference.coupons.height:
        return 4 if state["controls"] == len(reference.controls) else 3
    return 2 if state["coupons"] else 1


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGKILL


# Where to kill the run: the phase it must have reached, how many more commits to let through, and
# for the last point a file it must have written. The exports need no write transaction, so the run
# goes on while the lock is held until it records the channels its messages went out by: that one
# commit is let through, and the run then writes its report and waits to close. The holdout and the
# durable stamp follow the last campaign's batch at once, so the stepper cannot stop the run between
# them; a kill inside one transaction is the next test's business.
POINTS = {
    "before anything is recorded": (0, 0, None),
    "some campaigns issued": (2, 0, None),
    "all recorded, exports being written": (5, 0, None),
    "exports published, run not closed": (5, 1, "summary.json"),
}


@pytest.mark.parametrize("point", list(POINTS))
def test_a_run_killed_at_any_point_reruns_to_the_same_night(point, data, reference, tmp_path):
    out = tmp_path / "out"
    Ledger.open(out / "ledger.sqlite").close()
    proc = start_run(data, out)
    stepper = Stepper(out / "ledger.sqlite", proc)
    target, commits, wait_for = POINTS[point]
    try:
        while phase(stepper.state(), reference) < target:
            assert stepper.step(), f"the run ended before reaching {point!r}: {proc.communicate()}"
        for _ in range(commits):
            assert stepper.step(), f"the run ended before reaching {point!r}: {proc.communicate()}"
        at_kill = stepper.state()
        assert phase(at_kill, reference) == target, at_kill
        if wait_for is not None:
            target = out / AS_OF / wait_for
            deadline = time.monotonic() + TIMEOUT
            while not target.exists():
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.001)
        kill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        stepper.release()
    before = Night.read(out) if at_kill["running"] else None

    rerun = run_cli(*run_args(data, out))
    assert rerun.exit_code == 0, rerun.output
    after = Night.read(out)

    # nothing missing, nothing twice
    assert after.coupons["offer_key"].to_list() == reference.coupons["offer_key"].to_list()
    assert (
        after.coupons["code"].n_unique() == after.coupons["barcode_value"].n_unique() == after.coupons.height
    )
    assert after.controls == reference.controls
    # what was issued before the kill is kept, code for code
    if before is not None:
        kept = before.coupons.join(after.coupons, on="offer_key", suffix="_after")
        assert kept.height == before.coupons.height == at_kill["coupons"]
        assert kept["code"].to_list() == kept["code_after"].to_list()
    # the killed run is marked failed, the rerun succeeded and let go of the lock
    statuses = after.runs["status"].to_list()
    assert statuses == (["failed", "succeeded"] if at_kill["running"] else ["succeeded"])
    assert after.lock is None
    assert after.runs["coupons"].sum() == reference.coupons.height
    # the exports hold exactly the ledger's coupons
    pos = pl.read_csv(out / AS_OF / "pos" / "coupons.csv", infer_schema=False)
    assert (out / AS_OF / "pos" / "_SUCCESS").exists() and (out / AS_OF / "crm" / "_SUCCESS").exists()
    assert sorted(pos["code"]) == sorted(after.coupons["code"])
    assert sorted(pos["barcode_value"]) == sorted(after.coupons["barcode_value"])


def test_a_kill_inside_a_batch_transaction_loses_that_batch_whole(tmp_path):
    """The ledger itself, in a process killed while a batch's transaction is open."""
    path = tmp_path / "ledger.sqlite"
    ready = tmp_path / "inside"
    script = textwrap.dedent(
        f"""
        import itertools, time
        from datetime import date
        from pathlib import Path
        import polars as pl
        from coupongen.ledger import Ledger
        from coupongen.offers.planning import OFFER_COLUMNS

        rows = [dict(offer_key=f"c:2026-11-22:C{{i:04d}}:0", kind="personal", symbology="code128",
                     as_of="2026-11-22", campaign="c", offer_type="cross_sell", customer_id=f"C{{i:04d}}",
                     card_number=None, target_kind="basket", target=None, reward_type="percent",
                     reward_value=10.0, min_basket=0.0, valid_from="2026-11-23", valid_to="2026-12-06",
                     max_uses=1, expected_cost=1.0, reason="r") for i in range(3000)]
        offers = pl.DataFrame(rows, schema=OFFER_COLUMNS)
        calls = itertools.count()

        def make(n):
            call = next(calls)
            if call == 2:  # the third batch: its transaction is open
                Path({str(ready)!r}).touch()
                time.sleep(60)
            codes = [f"K{{call:02d}}{{i:05d}}" for i in range(n)]
            return codes, codes

        with Ledger.open({str(path)!r}) as led:
            run = led.start_run(job="j", as_of=date(2026, 11, 22), config_hash="h")
            led.issue_coupons(offers, run=run, make_codes=make, batch_size=1000)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + TIMEOUT
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    kill(proc)
    with Ledger.open(path) as led:
        assert led.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert led.coupons().height == 2000  # two whole batches, nothing of the third
        assert led.runs()["status"].to_list() == ["running"]


def test_a_second_run_is_refused_naming_the_holder(data, reference, tmp_path):
    out = tmp_path / "out"
    Ledger.open(out / "ledger.sqlite").close()
    first = start_run(data, out)
    stepper = Stepper(out / "ledger.sqlite", first)
    try:
        assert stepper.step()  # the first run has recorded itself and holds the ledger's lock
        with Ledger.open(out / "ledger.sqlite") as led:
            holder = led.lock_holder()
        first.send_signal(signal.SIGSTOP)  # keep it there, alive, while the second one tries
    finally:
        stepper.release()
    try:
        second = run_cli(*run_args(data, out))
    finally:
        first.send_signal(signal.SIGCONT)
    assert holder is not None
    assert second.exit_code == 1
    assert second.stderr.strip() == (
        f"Error: {out / 'ledger.sqlite'}: ledger is locked by run 1 (pid {first.pid} on "
        f"{socket.gethostname()}, since {holder['acquired_at']}) of job nightly for {AS_OF}; "
        "wait for it to finish"
    )
    assert first.wait(timeout=TIMEOUT) == 0, first.communicate()
    night = Night.read(out)
    assert night.coupons["offer_key"].to_list() == reference.coupons["offer_key"].to_list()
    assert night.runs["status"].to_list() == ["succeeded"]  # the refused run left no trace


def test_a_rerun_of_the_finished_night_issues_nothing_and_leaves_its_files(data, reference):
    out = reference.out
    files = {name: (out / AS_OF / name).read_bytes() for name in ("pos/coupons.csv", "crm/offers.csv")}
    again = run_cli(*run_args(data, out))
    assert again.exit_code == 0, again.output
    second = Night.read(out)
    assert second.coupons.equals(reference.coupons)
    assert second.controls == reference.controls
    # the night is recognised as complete: no run is recorded, nothing is published again
    assert second.runs.select("status", "coupons", "controls").rows() == [
        ("succeeded", reference.coupons.height, len(reference.controls)),
    ]
    for name, content in files.items():
        assert (out / AS_OF / name).read_bytes() == content, name
