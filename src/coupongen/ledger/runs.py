"""Runs of the job and the lock that keeps two runs off one ledger.

Every run is recorded with its night, its configuration's hash and its outcome. A lock row names
the run that holds the ledger; a holder on this host whose process is gone is taken over, one on
another host is released by hand (``coupongen ledger unlock``).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from coupongen.errors import LedgerBusyError, LedgerError
from coupongen.ledger.base import LedgerBase
from coupongen.ledger.connection import now
from coupongen.system import pid_alive


@dataclass(frozen=True)
class Run:
    """A run recorded in the ledger."""

    run_id: int
    job: str
    as_of: date


class RunsMixin(LedgerBase):
    """Starting and finishing runs, the lock, and the list of runs."""

    def start_run(self, *, job: str, as_of: date, config_hash: str) -> Run:
        """Take the ledger's lock and record a new run; LedgerBusyError names a live holder.

        A holder on this host whose process is gone (killed, crashed) is taken over and its run
        marked failed. A holder on another host cannot be checked from here: ``break_lock``.
        """
        host, pid = socket.gethostname(), os.getpid()
        with self._transaction() as conn:
            holder = self._holder(conn)
            if holder is not None:
                h_run, h_pid, h_host = holder[:3]
                if not (h_host == host and not pid_alive(h_pid)):
                    raise self._busy(holder)
                conn.execute(
                    "UPDATE runs SET status = 'failed', finished_at = ? "
                    "WHERE run_id = ? AND status = 'running'",
                    (now(), h_run),
                )
            cur = conn.execute(
                "INSERT INTO runs (job, as_of, config_hash, started_at, status) "
                "VALUES (?, ?, ?, ?, 'running')",
                (job, as_of.isoformat(), config_hash, now()),
            )
            run_id = int(cur.lastrowid or 0)
            conn.execute(
                "INSERT OR REPLACE INTO locks (name, run_id, pid, host, acquired_at) "
                "VALUES ('run', ?, ?, ?, ?)",
                (run_id, pid, host, now()),
            )
        return Run(run_id, job, as_of)

    def _holder(self, conn: sqlite3.Connection) -> tuple[Any, ...] | None:
        row = conn.execute(
            "SELECT l.run_id, l.pid, l.host, l.acquired_at, r.job, r.as_of "
            "FROM locks l LEFT JOIN runs r ON r.run_id = l.run_id WHERE l.name = 'run'"
        ).fetchone()
        return tuple(row) if row is not None else None

    def _busy(self, holder: tuple[Any, ...]) -> LedgerBusyError:
        h_run, h_pid, h_host, h_since, h_job, h_as_of = holder
        advice = "wait for it to finish"
        if h_host != socket.gethostname():
            advice += f", or if it died on {h_host}, release the lock with 'coupongen ledger unlock {h_run}'"
        of_job = f" of job {h_job} for {h_as_of}" if h_job is not None else ""
        return LedgerBusyError(
            f"{self.path}: ledger is locked by run {h_run} (pid {h_pid} on {h_host}, "
            f"since {h_since}){of_job}; {advice}"
        )

    def check_unlocked(self) -> None:
        """LedgerBusyError when a live run holds the lock (as ``start_run`` would say), so that a
        run that would be refused stops before it touches the night's files. Takes no lock.
        """
        holder = self._holder(self.conn)
        if holder is None:
            return
        if holder[2] == socket.gethostname() and not pid_alive(holder[1]):
            return  # a dead holder: start_run takes it over
        raise self._busy(holder)

    def finish_run(self, run: Run, *, status: str, counts: dict[str, object] | None = None) -> None:
        """Record the run's outcome and release the lock."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, counts = ? WHERE run_id = ?",
                (status, now(), json.dumps(counts or {}, sort_keys=True), run.run_id),
            )
            conn.execute("DELETE FROM locks WHERE name = 'run' AND run_id = ?", (run.run_id,))

    def mark_issued(self, run: Run) -> None:
        """Stamp the run's ``issued_at`` in a commit that reaches the disk.

        With ``synchronous=FULL`` the commit syncs the write-ahead log, and with it every earlier
        commit: after this, a power cut cannot take back a coupon that an export is about to name.
        """
        self.check_file()
        self.conn.execute("PRAGMA synchronous=FULL")
        try:
            with self._transaction() as conn:
                conn.execute("UPDATE runs SET issued_at = ? WHERE run_id = ?", (now(), run.run_id))
        finally:
            self.conn.execute("PRAGMA synchronous=NORMAL")

    def break_lock(self, run_id: int, *, force: bool = False) -> None:
        """Release the lock a dead run left behind and mark that run failed.

        Refused (LedgerBusyError) when the holder is a live process on this host, unless ``force``
        (its pid may have been reused by an unrelated process); LedgerError when ``run_id`` does
        not hold the lock.
        """
        with self._transaction() as conn:
            holder = conn.execute("SELECT run_id, pid, host FROM locks WHERE name = 'run'").fetchone()
            if holder is None or holder[0] != run_id:
                held = f"run {holder[0]} holds it" if holder else "nobody holds it"
                raise LedgerError(f"{self.path}: run {run_id} does not hold the lock ({held})")
            _, h_pid, h_host = holder
            if h_host == socket.gethostname() and pid_alive(h_pid) and not force:
                raise LedgerBusyError(
                    f"{self.path}: run {run_id} is still running as pid {h_pid} on {h_host}; "
                    "release it anyway only if that pid is not coupongen (--force)"
                )
            conn.execute(
                "UPDATE runs SET status = 'failed', finished_at = ? WHERE run_id = ? AND status = 'running'",
                (now(), run_id),
            )
            conn.execute("DELETE FROM locks WHERE name = 'run'")

    def lock_holder(self) -> dict[str, object] | None:
        """The lock row (run_id, pid, host, acquired_at), or None when no run holds the lock."""
        row = self.conn.execute(
            "SELECT run_id, pid, host, acquired_at FROM locks WHERE name = 'run'"
        ).fetchone()
        return dict(zip(("run_id", "pid", "host", "acquired_at"), row, strict=True)) if row else None

    def runs(self) -> pl.DataFrame:
        """All runs, oldest first.

        Columns: run_id, job, as_of, config_hash, started_at, finished_at, status (running,
        succeeded, failed), coupons and controls (how many that run recorded: a rerun that found
        everything already issued shows 0), issued_at (when its coupons were durably recorded).
        """
        rows = self.conn.execute(
            "SELECT r.run_id, r.job, r.as_of, r.config_hash, r.started_at, r.finished_at, "
            "r.status, COALESCE(c.n, 0), COALESCE(k.n, 0), r.issued_at FROM runs r "
            "LEFT JOIN (SELECT run_id, COUNT(*) AS n FROM coupons GROUP BY run_id) c "
            "ON c.run_id = r.run_id "
            "LEFT JOIN (SELECT run_id, COUNT(*) AS n FROM controls GROUP BY run_id) k "
            "ON k.run_id = r.run_id ORDER BY r.run_id"
        ).fetchall()
        schema = {
            "run_id": pl.Int64,
            "job": pl.String,
            "as_of": pl.String,
            "config_hash": pl.String,
            "started_at": pl.String,
            "finished_at": pl.String,
            "status": pl.String,
            "coupons": pl.Int64,
            "controls": pl.Int64,
            "issued_at": pl.String,
        }
        return pl.DataFrame(rows, schema=schema, orient="row")
