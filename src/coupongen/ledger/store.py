"""The ledger of issued coupons: the only module that speaks SQL.

Every coupon ever issued, every holdout (control) member and every run is recorded in SQLite. An
offer's ``offer_key`` (campaign, run date, customer, slot) is unique, so a rerun of the same night finds
what was already issued and issues nothing twice; coupons are written in committed batches, so a run
killed at any point resumes where it stopped. A lock row keeps two runs off one ledger. Redemptions
reported by the tills are kept beside the coupons they used. The schema is versioned
(``PRAGMA user_version``) and migrated forward on open.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Self

import polars as pl

from coupongen.errors import InputError, LedgerBusyError, LedgerError
from coupongen.system import pid_alive

SCHEMA_VERSION = 2
BATCH_SIZE = 100_000  # rows per transaction: fewer commits rewrite fewer index pages
MAX_CODE_ATTEMPTS = 5
_IN_CHUNK = 500  # host parameters per IN (...) list, far below SQLite's limit
_CHUNK = 2_000  # rows per executemany: a collision costs a look-up of this many offer keys
# Drawn codes: (codes, barcode values) or (codes, barcode values, barcode keys). The key is the
# part of the barcode that identifies the coupon (the GCN with its serial); it defaults to the value.
Drawn = tuple[list[str], ...]

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
    # 2: a barcode's identifying key is unique (a GCN serial must not repeat under another expiry
    # date); runs say when all their coupons were durably recorded; redemptions. Coupons are found
    # by night and campaign (one index serves issuing, exports and the frequency cap; the unused
    # per-customer index only slowed inserts down).
    2: """
    ALTER TABLE runs ADD COLUMN issued_at TEXT;
    ALTER TABLE coupons ADD COLUMN barcode_key TEXT NOT NULL DEFAULT '';
    UPDATE coupons SET barcode_key = barcode_value;
    DROP INDEX coupons_barcode;
    CREATE UNIQUE INDEX coupons_barcode_key ON coupons(symbology, barcode_key);
    DROP INDEX coupons_customer;
    DROP INDEX coupons_campaign;
    CREATE INDEX coupons_night ON coupons(as_of, campaign);
    CREATE TABLE redemptions (
        redemption_id INTEGER PRIMARY KEY,
        code TEXT NOT NULL,
        coupon_id INTEGER REFERENCES coupons(coupon_id),
        redeemed_at TEXT NOT NULL,
        store_id TEXT,
        receipt_id TEXT,
        card_number TEXT,
        discount REAL,
        source_file TEXT,
        line INTEGER,
        status TEXT NOT NULL CHECK (status IN ('accepted', 'rejected')),
        reason TEXT,
        imported_at TEXT NOT NULL,
        UNIQUE (source_file, line)
    );
    CREATE INDEX redemptions_coupon ON redemptions(coupon_id, status);
    """,
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
    def open(cls, path: Path | str, *, create: bool = True) -> Ledger:
        """Open (creating and migrating as needed) the ledger at ``path``.

        With ``create=False`` a missing file is an InputError instead of a new, empty ledger.
        """
        path = Path(path)
        if not create and not path.is_file():
            raise InputError(f"{path}: no coupon ledger there (check --ledger, --out or --config)")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            # In WAL mode NORMAL never corrupts and loses nothing when the process is killed; a
            # power cut may lose the last commits, which ``mark_issued`` makes durable before any
            # export names them.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: random index inserts stay in memory
            ledger = cls(conn, path)
            ledger._migrate()
        except sqlite3.DatabaseError as e:
            raise LedgerError(f"{path}: not a usable coupon ledger ({e})") from e
        return ledger

    def close(self) -> None:
        """Close the database connection."""
        self.conn.close()

    def __enter__(self) -> Self:
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

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"{self.path}: ledger schema version {version} is newer than this coupongen "
                f"understands ({SCHEMA_VERSION}); upgrade coupongen"
            )

    def _migrate(self) -> None:
        """Apply the missing migrations, each in its own transaction."""
        self._check_version(self.schema_version)
        while self.schema_version < SCHEMA_VERSION:
            with self._transaction() as conn:
                # Read again under the write lock: another process may have migrated meanwhile.
                version = self.schema_version
                self._check_version(version)
                if version == SCHEMA_VERSION:
                    break
                for statement in _MIGRATIONS[version + 1].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")

    @property
    def schema_version(self) -> int:
        """The ledger's schema version (SQLite's user_version)."""
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    # --- runs and the lock -------------------------------------------------------------------------

    def start_run(self, *, job: str, as_of: date, config_hash: str) -> Run:
        """Take the ledger's lock and record a new run; LedgerBusyError names a live holder.

        A holder on this host whose process is gone (killed, crashed) is taken over and its run
        marked failed. A holder on another host cannot be checked from here: ``break_lock``.
        """
        host, pid = socket.gethostname(), os.getpid()
        with self._transaction() as conn:
            holder = conn.execute(
                "SELECT l.run_id, l.pid, l.host, l.acquired_at, r.job, r.as_of "
                "FROM locks l LEFT JOIN runs r ON r.run_id = l.run_id WHERE l.name = 'run'"
            ).fetchone()
            if holder is not None:
                h_run, h_pid, h_host, h_since, h_job, h_as_of = holder
                stale = h_host == host and not pid_alive(h_pid)
                if not stale:
                    advice = "wait for it to finish"
                    if h_host != host:
                        advice += (
                            f", or if it died on {h_host}, release the lock with "
                            f"'coupongen ledger unlock {h_run}'"
                        )
                    of_job = f" of job {h_job} for {h_as_of}" if h_job is not None else ""
                    raise LedgerBusyError(
                        f"{self.path}: ledger is locked by run {h_run} (pid {h_pid} on {h_host}, "
                        f"since {h_since}){of_job}; {advice}"
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

    def mark_issued(self, run: Run) -> None:
        """Stamp the run's ``issued_at`` in a commit that reaches the disk.

        With ``synchronous=FULL`` the commit syncs the write-ahead log, and with it every earlier
        commit: after this, a power cut cannot take back a coupon that an export is about to name.
        """
        self.conn.execute("PRAGMA synchronous=FULL")
        try:
            with self._transaction() as conn:
                conn.execute("UPDATE runs SET issued_at = ? WHERE run_id = ?", (_now(), run.run_id))
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
                (_now(), run_id),
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

    def totals(self) -> dict[str, dict[str, int]]:
        """Counts over the whole ledger: runs by status, coupons by kind and status, holdout
        members, redemptions by status.
        """

        def counts(sql: str) -> dict[str, int]:
            return {str(k): int(n) for k, n in self.conn.execute(sql).fetchall()}

        return {
            "runs": counts("SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status"),
            "coupons_by_kind": counts("SELECT kind, COUNT(*) FROM coupons GROUP BY kind ORDER BY kind"),
            "coupons_by_status": counts(
                "SELECT status, COUNT(*) FROM coupons GROUP BY status ORDER BY status"
            ),
            "controls": counts("SELECT 'total', COUNT(*) FROM controls"),
            "redemptions": counts("SELECT status, COUNT(*) FROM redemptions GROUP BY status ORDER BY status"),
        }

    # --- issuing -------------------------------------------------------------------------------------

    def _existing_offer_keys(self, offers: pl.DataFrame) -> set[str]:
        """Offer keys already issued among the campaigns and run dates of ``offers`` (read only)."""
        keys: set[str] = set()
        for campaign, as_of in offers.select("campaign", "as_of").unique().rows():
            keys.update(
                r[0]
                for r in self.conn.execute(
                    "SELECT offer_key FROM coupons WHERE campaign = ? AND as_of = ?",
                    (campaign, as_of),
                )
            )
        return keys

    def _present_offer_keys(self, keys: list[str]) -> set[str]:
        present: set[str] = set()
        for i in range(0, len(keys), _IN_CHUNK):
            chunk = keys[i : i + _IN_CHUNK]
            present.update(
                r[0]
                for r in self.conn.execute(
                    f"SELECT offer_key FROM coupons WHERE offer_key IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
            )
        return present

    def issue_coupons(
        self,
        offers: pl.DataFrame,
        *,
        run: Run,
        make_codes: Callable[[int], Drawn],
        batch_size: int = BATCH_SIZE,
    ) -> int:
        """Record a coupon for every offer whose ``offer_key`` the ledger does not hold yet.

        ``offers`` has the coupon columns except code, barcode_value, run_id and status;
        ``make_codes(n)`` returns n fresh codes, n barcode values and optionally n barcode keys
        (see ``Drawn``). Each batch is one transaction: a run killed at any moment leaves whole
        batches, and the next run issues the rest. Offers whose code or barcode collides with an
        earlier coupon are drawn again, in the same transaction. Returns how many were new.
        """
        existing = self._existing_offer_keys(offers)
        todo = offers.filter(
            ~pl.col("offer_key").is_in(pl.Series(sorted(existing), dtype=pl.String).implode())
        )
        fields = [c for c in COUPON_COLUMNS if c not in ("code", "barcode_value", "run_id", "status")]
        insert = (
            f"INSERT INTO coupons ({', '.join(fields)}, code, barcode_value, barcode_key, run_id, "
            f"issued_at) VALUES ({', '.join('?' * (len(fields) + 5))}) ON CONFLICT DO NOTHING"
        )
        issued = 0
        now = _now()
        for start in range(0, todo.height, batch_size):
            batch = todo.slice(start, batch_size).select(fields)
            issued += self._insert_batch(insert, batch, run.run_id, now, make_codes)
        return issued

    def _insert_batch(
        self,
        insert: str,
        batch: pl.DataFrame,
        run_id: int,
        now: str,
        make_codes: Callable[[int], Drawn],
    ) -> int:
        """Insert one batch in one transaction, drawing new codes for rows that collided."""
        added = 0
        with self._transaction() as conn:
            for _ in range(MAX_CODE_ATTEMPTS):
                drawn = make_codes(batch.height)
                keys = drawn[2] if len(drawn) > 2 else drawn[1]
                rows = batch.with_columns(
                    pl.Series("code", drawn[0], dtype=pl.String),
                    pl.Series("barcode_value", drawn[1], dtype=pl.String),
                    pl.Series("barcode_key", keys, dtype=pl.String),
                    pl.lit(run_id, dtype=pl.Int64).alias("run_id"),
                    pl.lit(now).alias("issued_at"),
                ).rows()
                collided: list[str] = []
                for i in range(0, len(rows), _CHUNK):
                    chunk = rows[i : i + _CHUNK]
                    before = conn.total_changes
                    try:
                        conn.executemany(insert, chunk)
                    except sqlite3.IntegrityError as e:
                        raise LedgerError(f"{self.path}: cannot record coupons: {e}") from e
                    changed = conn.total_changes - before
                    added += changed
                    if changed < len(chunk):
                        # Only a chunk that lost rows is searched for the offers still missing.
                        keys_in_chunk = [str(r[0]) for r in chunk]
                        present = self._present_offer_keys(keys_in_chunk)
                        collided.extend(k for k in keys_in_chunk if k not in present)
                if not collided:
                    return added
                batch = batch.filter(
                    pl.col("offer_key").is_in(pl.Series(collided, dtype=pl.String).implode())
                )
            raise LedgerError(
                f"{self.path}: could not draw unique codes after {MAX_CODE_ATTEMPTS} attempts; "
                "the code space is too small for this many coupons (raise code.length)"
            )

    def record_controls(self, controls: pl.DataFrame, *, run: Run) -> int:
        """Record holdout members (sent nothing); already recorded offer keys are kept as they are."""
        fields = [c for c in CONTROL_COLUMNS if c != "run_id"]
        with self._transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                f"INSERT INTO controls ({', '.join(fields)}, run_id) "
                f"VALUES ({', '.join('?' * (len(fields) + 1))}) ON CONFLICT(offer_key) DO NOTHING",
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

    def find_coupon(
        self, *, code: str | None = None, symbology: str | None = None, key: str | None = None
    ) -> dict[str, object] | None:
        """One coupon by its ``code``, or by ``symbology`` and barcode ``key``; None if unknown.

        The record has coupon_id, code, kind, campaign, customer_id, valid_from, valid_to,
        max_uses, status, symbology, barcode_value, uses (accepted redemptions) and last_used_at.
        """
        params: tuple[str, ...]
        if code is not None:
            where, params = "c.code = ?", (code,)
        elif symbology is not None and key is not None:
            where, params = "c.symbology = ? AND c.barcode_key = ?", (symbology, key)
        else:
            raise ValueError("find_coupon needs a code, or a symbology and a barcode key")
        names = (
            "coupon_id", "code", "kind", "campaign", "customer_id", "valid_from", "valid_to",
            "max_uses", "status", "symbology", "barcode_value", "uses", "last_used_at",
        )  # fmt: skip
        row = self.conn.execute(
            "SELECT c.coupon_id, c.code, c.kind, c.campaign, c.customer_id, c.valid_from, "
            "c.valid_to, c.max_uses, c.status, c.symbology, c.barcode_value, COUNT(r.coupon_id), "
            "MAX(r.redeemed_at) FROM coupons c LEFT JOIN redemptions r "
            f"ON r.coupon_id = c.coupon_id AND r.status = 'accepted' WHERE {where} "
            "GROUP BY c.coupon_id",
            params,
        ).fetchone()
        return dict(zip(names, row, strict=True)) if row else None

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

    # --- revocations ---------------------------------------------------------------------------------

    def void_coupons(self, *, codes: list[str] | None = None, campaign: str | None = None) -> int:
        """Void live coupons by code or by campaign; returns how many changed.

        Unknown codes are refused all together (LedgerError names them) before anything changes;
        coupons already void stay as they are.
        """
        params: tuple[object, ...]
        with self._transaction() as conn:
            if codes:
                placeholders = ", ".join("?" * len(codes))
                known = {
                    r[0]
                    for r in conn.execute(f"SELECT code FROM coupons WHERE code IN ({placeholders})", codes)
                }
                unknown = [c for c in codes if c not in known]
                if unknown:
                    raise LedgerError(f"{self.path}: no coupon with code {', '.join(map(repr, unknown[:5]))}")
                where, params = f"code IN ({placeholders})", tuple(codes)
            else:
                found = conn.execute(
                    "SELECT 1 FROM coupons WHERE campaign = ? LIMIT 1", (campaign,)
                ).fetchone()
                if found is None:
                    raise LedgerError(f"{self.path}: no coupon of campaign {campaign!r}")
                where, params = "campaign = ?", (campaign,)
            before = conn.total_changes
            conn.execute(f"UPDATE coupons SET status = 'void' WHERE status = 'issued' AND {where}", params)
            return conn.total_changes - before

    def revoked(self, *, as_of: date) -> pl.DataFrame:
        """Void coupons still within their validity on ``as_of``: the codes a POS must refuse."""
        return self._frame(
            f"SELECT {', '.join(COUPON_COLUMNS)} FROM coupons WHERE status = 'void' AND valid_to >= ? "
            "ORDER BY campaign, code",
            (as_of.isoformat(),),
            COUPON_COLUMNS,
        )

    # --- redemptions ---------------------------------------------------------------------------------

    @contextmanager
    def exclusive(self) -> Iterator[Self]:
        """Hold the write lock for a read-check-write sequence: one transaction, committed at the end.

        Redemptions are judged against the uses already recorded; holding the lock while judging
        keeps a second import from counting the same uses.
        """
        with self._transaction("IMMEDIATE"):
            yield self

    def coupon_holder(self, coupon_id: int) -> tuple[str, str | None]:
        """(customer_id, card_number) of a coupon's owner; LedgerError for an unknown id."""
        row = self.conn.execute(
            "SELECT customer_id, card_number FROM coupons WHERE coupon_id = ?", (coupon_id,)
        ).fetchone()
        if row is None:
            raise LedgerError(f"{self.path}: no coupon with id {coupon_id}")
        return str(row[0]), row[1]

    def redemption_lines(self, source_file: str) -> set[int]:
        """Line numbers of ``source_file`` already recorded (accepted or rejected)."""
        rows = self.conn.execute(
            "SELECT line FROM redemptions WHERE source_file = ?", (source_file,)
        ).fetchall()
        return {int(r[0]) for r in rows if r[0] is not None}

    def redemption_events(self, coupon_ids: Iterable[int]) -> set[tuple[int, str, str]]:
        """(coupon_id, store_id, receipt_id) of the recorded lines of these coupons, any status.

        A blank store is ''. This is what identifies one redemption across files: the same coupon on
        the same receipt of the same store is the same event, whichever file reported it.
        """
        ids = sorted(set(coupon_ids))
        found: set[tuple[int, str, str]] = set()
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            found.update(
                (int(c), s or "", r or "")
                for c, s, r in self.conn.execute(
                    "SELECT coupon_id, store_id, receipt_id FROM redemptions "
                    f"WHERE coupon_id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
            )
        return found

    def unmatched_redemption_events(self) -> set[tuple[str, str, str]]:
        """(code as presented, store_id, receipt_id) of recorded lines that matched no coupon."""
        return {
            (c or "", s or "", r or "")
            for c, s, r in self.conn.execute(
                "SELECT code, store_id, receipt_id FROM redemptions WHERE coupon_id IS NULL"
            )
        }

    def record_redemptions(self, rows: pl.DataFrame) -> int:
        """Record judged redemption lines; a (source_file, line) already recorded is left as it is.

        ``rows`` has the columns of ``REDEMPTION_COLUMNS`` (coupon_id null for a line that matched
        no coupon). Runs in the caller's transaction when there is one (see ``exclusive``).
        Returns how many lines were new.
        """
        insert = (
            f"INSERT INTO redemptions ({', '.join(REDEMPTION_COLUMNS)}, imported_at) "
            f"VALUES ({', '.join('?' * (len(REDEMPTION_COLUMNS) + 1))}) "
            "ON CONFLICT(source_file, line) DO NOTHING"
        )
        now = _now()
        values = [(*r, now) for r in rows.select(REDEMPTION_COLUMNS).iter_rows()]

        def write(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            try:
                conn.executemany(insert, values)
            except sqlite3.IntegrityError as e:
                raise LedgerError(f"{self.path}: cannot record redemptions: {e}") from e
            return conn.total_changes - before

        if self.conn.in_transaction:
            return write(self.conn)
        with self._transaction() as conn:
            return write(conn)

    def redemptions(
        self,
        *,
        as_of: date | None = None,
        campaigns: Iterable[str] | None = None,
        status: str | None = None,
    ) -> pl.DataFrame:
        """Recorded redemption lines, oldest first; with ``as_of`` or ``campaigns`` only the lines
        that matched a coupon of that night or those campaigns.

        Columns: redemption_id, coupon_id, code (as presented: a code or a barcode value),
        coupon_code, campaign, as_of, customer_id (the coupon's owner), redeemed_at, store_id,
        receipt_id, card_number, discount, source_file, line, status (accepted, rejected), reason,
        imported_at.
        """
        where, params = _filters(as_of, campaigns)
        if status is not None:
            where += (" AND " if where else "WHERE ") + "r.status = ?"
            params = (*params, status)
        rows = self.conn.execute(
            "SELECT r.redemption_id, r.coupon_id, r.code, c.code, c.campaign, c.as_of, "
            "c.customer_id, r.redeemed_at, r.store_id, r.receipt_id, r.card_number, r.discount, "
            "r.source_file, r.line, r.status, r.reason, r.imported_at "
            f"FROM redemptions r LEFT JOIN coupons c ON c.coupon_id = r.coupon_id {where} "
            "ORDER BY r.redeemed_at, r.redemption_id",
            params,
        ).fetchall()
        return pl.DataFrame(rows, schema=_REDEMPTION_LIST_SCHEMA, orient="row")

    def redemption_counts(
        self, *, as_of: date | None = None, campaigns: Iterable[str] | None = None
    ) -> pl.DataFrame:
        """Accepted uses per coupon (all coupons, or of one night and some campaigns).

        Columns: coupon_id, code, campaign, as_of, customer_id, max_uses, uses (accepted
        redemptions, 0 for an unused coupon), discount (their sum), first_redeemed_at,
        last_redeemed_at.
        """
        where, params = _filters(as_of, campaigns)
        rows = self.conn.execute(
            "SELECT c.coupon_id, c.code, c.campaign, c.as_of, c.customer_id, c.max_uses, "
            "COUNT(r.redemption_id), COALESCE(SUM(r.discount), 0.0), MIN(r.redeemed_at), "
            "MAX(r.redeemed_at) FROM coupons c LEFT JOIN redemptions r "
            f"ON r.coupon_id = c.coupon_id AND r.status = 'accepted' {where} "
            "GROUP BY c.coupon_id ORDER BY c.campaign, c.customer_id, c.offer_key",
            params,
        ).fetchall()
        return pl.DataFrame(rows, schema=_REDEMPTION_COUNT_SCHEMA, orient="row")


REDEMPTION_COLUMNS = (
    "code",
    "coupon_id",
    "redeemed_at",
    "store_id",
    "receipt_id",
    "card_number",
    "discount",
    "source_file",
    "line",
    "status",
    "reason",
)
_REDEMPTION_LIST_SCHEMA: dict[str, pl.DataType] = {
    "redemption_id": pl.Int64(),
    "coupon_id": pl.Int64(),
    "code": pl.String(),
    "coupon_code": pl.String(),
    "campaign": pl.String(),
    "as_of": pl.String(),
    "customer_id": pl.String(),
    "redeemed_at": pl.String(),
    "store_id": pl.String(),
    "receipt_id": pl.String(),
    "card_number": pl.String(),
    "discount": pl.Float64(),
    "source_file": pl.String(),
    "line": pl.Int64(),
    "status": pl.String(),
    "reason": pl.String(),
    "imported_at": pl.String(),
}
_REDEMPTION_COUNT_SCHEMA: dict[str, pl.DataType] = {
    "coupon_id": pl.Int64(),
    "code": pl.String(),
    "campaign": pl.String(),
    "as_of": pl.String(),
    "customer_id": pl.String(),
    "max_uses": pl.Int64(),
    "uses": pl.Int64(),
    "discount": pl.Float64(),
    "first_redeemed_at": pl.String(),
    "last_redeemed_at": pl.String(),
}


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
