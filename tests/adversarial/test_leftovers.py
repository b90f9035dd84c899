"""A killed run leaves no worker running and no readable temp file behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.conftest import REPO

PARENT = """
import os, sys, time
from concurrent.futures import ProcessPoolExecutor
from coupongen.system import die_with_parent

with ProcessPoolExecutor(max_workers=1, initializer=die_with_parent) as pool:
    print(pool.submit(os.getpid).result(), flush=True)
    os.kill(os.getpid(), 9)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_pool_workers_die_when_their_parent_is_killed():
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-c", PARENT], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == -9, done.stderr
    worker = int(done.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker)


def test_no_staging_file_is_left_and_outputs_are_private(hostile_run):
    leftovers = [p for p in hostile_run.out.rglob(".*") if "staging" in p.name or "retired" in p.name]
    assert leftovers == []
    assert not list(hostile_run.out.rglob("*.tmp"))
    for name in ("quarantine", "email", "sms", "crm", "pos"):
        for path in (hostile_run.night / name).rglob("*"):
            if path.is_file():
                assert path.stat().st_mode & 0o077 == 0, path
