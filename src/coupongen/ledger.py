"""The ledger of issued coupons: the only module that speaks SQL.

Every coupon ever issued, every holdout (control) member and every run is recorded in SQLite. An
offer's ``offer_key`` (campaign, run date, customer, slot) is unique, so a rerun of the same night finds
what was already issued and issues nothing twice; coupons are written in committed batches, so a run
killed at any point resumes where it stopped. A lock row keeps two runs off one ledger.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl

from coupongen.errors import LedgerBusyError, LedgerError

SCHEMA_VERSION = 1
BATCH_SIZE = 20_000
MAX_CODE_ATTEMPTS = 5

COUPON_COLUMNS = (
    "offer_key",
    "kind",
    "code",
    "barcode_value",
    "symbology",
    "run_id",
    "as_of",
    "campaign",
    "offer_type",
    "customer_id",
    "card_number",
    "target_kind",
    "target",
    "reward_type",
    "reward_value",
    "min_basket",
    "valid_from",
    "valid_to",
    "max_uses",
    "expected_cost",
    "reason",
    "status",
)
CONTROL_COLUMNS = (
    "offer_key",
    "run_id",
    "as_of",
    "campaign",
    "offer_type",
    "customer_id",
    "target_kind",
    "target",
)

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY,
        job TEXT NOT NULL,
        as_of TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
        counts TEXT
    );
    CREATE TABLE coupons (
        coupon_id INTEGER PRIMARY KEY,
        offer_key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('personal', 'referral')),
        code TEXT NOT NULL UNIQUE,
        barcode_value TEXT NOT NULL,
        symbology TEXT NOT NULL,
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        as_of TEXT NOT NULL,
        campaign TEXT NOT NULL,
        offer_type TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        card_number TEXT,
        target_kind TEXT NOT NULL,
        target TEXT,
        reward_type TEXT NOT NULL,
        reward_value REAL NOT NULL,
        min_basket REAL NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT NOT NULL,
        max_uses INTEGER NOT NULL,
        expected_cost REAL NOT NULL,
        reason TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'void')),
        issued_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX coupons_barcode ON coupons(symbology, barcode_value);
    CREATE INDEX coupons_customer ON coupons(customer_id, as_of);
    CREATE INDEX coupons_campaign ON coupons(campaign, as_of);
    CREATE TABLE controls (
        control_id INTEGER PRIMARY KEY,
        offer_key TEXT NOT NULL UNIQUE,
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        as_of TEXT NOT NULL,
        campaign TEXT NOT NULL,
        offer_type TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        target_kind TEXT NOT NULL,
        target TEXT
    );
    CREATE INDEX controls_campaign ON controls(campaign, as_of);
    CREATE TABLE locks (
        name TEXT PRIMARY KEY,
        run_id INTEGER,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        acquired_at TEXT NOT NULL
    );
    """,
}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Run:
    """A run recorded in the ledger."""

    run_id: int
    job: str
    as_of: date


class Ledger:
    """An open ledger database. Use ``Ledger.open(path)`` as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.path = path

    # --- opening and schema ------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str) -> Ledger:
        """Open (creating and migrating as needed) the ledger at ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            ledger = cls(conn, path)
            ledger._migrate()
        except sqlite3.DatabaseError as e:
            raise LedgerError(f"{path}: not a usable coupon ledger ({e})") from e
        return ledger

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        self.conn.execute(f"BEGIN {mode}")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"{self.path}: ledger schema version {version} is newer than this coupongen "
                f"understands ({SCHEMA_VERSION}); upgrade coupongen"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._transaction() as conn:
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target}")

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    # --- runs and the lock -------------------------------------------------------------------------

    def start_run(self, *, job: str, as_of: date, config_hash: str) -> Run:
        """Take the ledger's lock and record a new run; LedgerBusyError names a live holder."""
        host, pid = socket.gethostname(), os.getpid()
        with self._transaction() as conn:
            holder = conn.execute(
                "SELECT run_id, pid, host, acquired_at FROM locks WHERE name = 'run'"
            ).fetchone()
            if holder is not None:
                h_run, h_pid, h_host, h_since = holder
                stale = h_host == host and not _pid_alive(h_pid)
                if not stale:
                    raise LedgerBusyError(
                        f"{self.path}: ledger is locked by run {h_run} (pid {h_pid} on {h_host}, "
                        f"since {h_since}); wait for it to finish"
                    )
                conn.execute(
                    "UPDATE runs SET status = 'failed', finished_at = ? "
                    "WHERE run_id = ? AND status = 'running'",
                    (_now(), h_run),
                )
            cur = conn.execute(
                "INSERT INTO runs (job, as_of, config_hash, started_at, status) "
                "VALUES (?, ?, ?, ?, 'running')",
                (job, as_of.isoformat(), config_hash, _now()),
            )
            run_id = int(cur.lastrowid or 0)
            conn.execute(
                "INSERT OR REPLACE INTO locks (name, run_id, pid, host, acquired_at) "
                "VALUES ('run', ?, ?, ?, ?)",
                (run_id, pid, host, _now()),
            )
        return Run(run_id, job, as_of)

    def finish_run(self, run: Run, *, status: str, counts: dict[str, object] | None = None) -> None:
        """Record the run's outcome and release the lock."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, counts = ? WHERE run_id = ?",
                (status, _now(), json.dumps(counts or {}, sort_keys=True), run.run_id),
            )
            conn.execute("DELETE FROM locks WHERE name = 'run' AND run_id = ?", (run.run_id,))

    def runs(self) -> pl.DataFrame:
        """All runs: run_id, job, as_of, config_hash, started_at, finished_at, status, coupons."""
        rows = self.conn.execute(
            "SELECT r.run_id, r.job, r.as_of, r.config_hash, r.started_at, r.finished_at, r.status, "
            "(SELECT COUNT(*) FROM coupons c WHERE c.run_id = r.run_id) "
            "FROM runs r ORDER BY r.run_id"
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
        }
        return pl.DataFrame(rows, schema=schema, orient="row")

    # --- issuing -------------------------------------------------------------------------------------

    def _existing_keys(self, keys: Iterable[str], table: str) -> set[str]:
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (offer_key TEXT PRIMARY KEY)")
        with self._transaction():
            self.conn.execute("DELETE FROM wanted")
            self.conn.executemany(
                "INSERT OR IGNORE INTO wanted VALUES (?)", ((k,) for k in keys)
            )
        rows = self.conn.execute(
            f"SELECT t.offer_key FROM {table} t JOIN wanted w ON w.offer_key = t.offer_key"
        ).fetchall()
        return {r[0] for r in rows}

    def issue_coupons(
        self,
        offers: pl.DataFrame,
        *,
        run: Run,
        make_codes: Callable[[int], tuple[list[str], list[str]]],
        batch_size: int = BATCH_SIZE,
    ) -> int:
        """Record a coupon for every offer whose ``offer_key`` the ledger does not hold yet.

        ``offers`` has the coupon columns except code, barcode_value, run_id and status;
        ``make_codes(n)`` returns n fresh codes and n barcode values. Batches are committed one by
        one; codes that collide with earlier ones are drawn again. Returns how many were new.
        """
        existing = self._existing_keys(offers["offer_key"].to_list(), "coupons")
        todo = offers.filter(~pl.col("offer_key").is_in(list(existing)))
        fields = [c for c in COUPON_COLUMNS if c not in ("code", "barcode_value", "run_id", "status")]
        insert = (
            f"INSERT OR IGNORE INTO coupons ({', '.join(fields)}, code, barcode_value, run_id, issued_at) "
            f"VALUES ({', '.join('?' * (len(fields) + 4))})"
        )
        issued = 0
        now = _now()
        for start in range(0, todo.height, batch_size):
            batch = todo.slice(start, batch_size).select(fields)
            rows = batch.rows()
            for _ in range(MAX_CODE_ATTEMPTS):
                codes, barcodes = make_codes(len(rows))
                with self._transaction() as conn:
                    before = conn.total_changes
                    conn.executemany(
                        insert,
                        (
                            (*row, code, bc, run.run_id, now)
                            for row, code, bc in zip(rows, codes, barcodes, strict=True)
                        ),
                    )
                    issued += conn.total_changes - before
                done = self._existing_keys((r[0] for r in rows), "coupons")
                rows = [r for r in rows if r[0] not in done]
                if not rows:
                    break
            else:
                raise LedgerError(
                    f"{self.path}: could not draw unique codes after {MAX_CODE_ATTEMPTS} attempts; "
                    "the code space is too small for this many coupons (raise code.length)"
                )
        return issued

    def record_controls(self, controls: pl.DataFrame, *, run: Run) -> int:
        """Record holdout members (sent nothing); already recorded offer keys are kept as they are."""
        fields = [c for c in CONTROL_COLUMNS if c != "run_id"]
        with self._transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                f"INSERT OR IGNORE INTO controls ({', '.join(fields)}, run_id) "
                f"VALUES ({', '.join('?' * (len(fields) + 1))})",
                ((*row, run.run_id) for row in controls.select(fields).iter_rows()),
            )
            return conn.total_changes - before

    # --- reading -------------------------------------------------------------------------------------

    def _frame(self, sql: str, params: tuple[object, ...], columns: tuple[str, ...]) -> pl.DataFrame:
        rows = self.conn.execute(sql, params).fetchall()
        schema = {c: _COLUMN_TYPES.get(c, pl.String) for c in columns}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def coupons(self, *, as_of: date | None = None, campaigns: Iterable[str] | None = None) -> pl.DataFrame:
        """Coupons (all, or of one run date and some campaigns), ordered by campaign and customer."""
        where, params = _filters(as_of, campaigns)
        return self._frame(
            f"SELECT {', '.join(COUPON_COLUMNS)} FROM coupons {where} "
            "ORDER BY campaign, customer_id, offer_key",
            params,
            COUPON_COLUMNS,
        )

    def controls(self, *, as_of: date | None = None, campaigns: Iterable[str] | None = None) -> pl.DataFrame:
        """Holdout members (all, or of one run date and some campaigns)."""
        where, params = _filters(as_of, campaigns)
        return self._frame(
            f"SELECT {', '.join(CONTROL_COLUMNS)} FROM controls {where} "
            "ORDER BY campaign, customer_id, offer_key",
            params,
            CONTROL_COLUMNS,
        )

    def recent_offer_types(self, *, since: date, before: date) -> pl.DataFrame:
        """customer_id, offer_type, as_of (date) of coupons and holdout entries, since <= as_of < before.

        Holdout members count too: they were chosen for the offer, and must stay comparable.
        """
        rows = self.conn.execute(
            "SELECT customer_id, offer_type, as_of FROM coupons WHERE as_of >= ? AND as_of < ? "
            "UNION SELECT customer_id, offer_type, as_of FROM controls WHERE as_of >= ? AND as_of < ? "
            "ORDER BY 1, 2, 3",
            (since.isoformat(), before.isoformat()) * 2,
        ).fetchall()
        return pl.DataFrame(
            rows,
            schema={"customer_id": pl.String, "offer_type": pl.String, "as_of": pl.String},
            orient="row",
        ).with_columns(pl.col("as_of").str.to_date())


_COLUMN_TYPES: dict[str, pl.DataType] = {
    "run_id": pl.Int64(),
    "reward_value": pl.Float64(),
    "min_basket": pl.Float64(),
    "expected_cost": pl.Float64(),
    "max_uses": pl.Int64(),
}


def _filters(as_of: date | None, campaigns: Iterable[str] | None) -> tuple[str, tuple[object, ...]]:
    clauses: list[str] = []
    params: list[object] = []
    if as_of is not None:
        clauses.append("as_of = ?")
        params.append(as_of.isoformat())
    if campaigns is not None:
        names = list(campaigns)
        clauses.append(f"campaign IN ({', '.join('?' * len(names))})" if names else "0")
        params.extend(names)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)
