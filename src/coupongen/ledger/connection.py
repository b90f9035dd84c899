"""The SQLite connection under the ledger: how it is opened, transactions, and shared read helpers.

The ledger is one SQLite file in WAL mode. Writes take the write lock up front (``BEGIN IMMEDIATE``)
so two processes never both read, decide and then collide on the write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

IN_CHUNK = 500  # host parameters per IN (...) list, far below SQLite's limit

NOT_REFUNDED = (
    "AND NOT EXISTS (SELECT 1 FROM refunds f WHERE f.redemption_id = r.redemption_id "
    "AND f.status = 'accepted')"
)
"""SQL condition on a redemption ``r``: no accepted refund has undone it."""

COLUMN_TYPES: dict[str, pl.DataType] = {
    "run_id": pl.Int64(),
    "reward_value": pl.Float64(),
    "min_basket": pl.Float64(),
    "expected_cost": pl.Float64(),
    "max_uses": pl.Int64(),
}
"""Ledger columns read as something other than text."""


def connect(path: Path) -> sqlite3.Connection:
    """Open the database file at ``path`` in autocommit mode, WAL journal and foreign keys on."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    # In WAL mode NORMAL never corrupts and loses nothing when the process is killed; a power cut
    # may lose the last commits, which ``mark_issued`` makes durable before any export names them.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: random index inserts stay in memory
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    conn.execute(f"BEGIN {mode}")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def now() -> str:
    """The current UTC time as the ledger writes it (ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_frame(
    conn: sqlite3.Connection, sql: str, params: tuple[object, ...], columns: tuple[str, ...]
) -> pl.DataFrame:
    """The rows of ``sql`` as a frame with ``columns``, typed by COLUMN_TYPES (text otherwise)."""
    rows = conn.execute(sql, params).fetchall()
    schema = {c: COLUMN_TYPES.get(c, pl.String()) for c in columns}
    return pl.DataFrame(rows, schema=schema, orient="row")


def night_filter(as_of: date | None, campaigns: Iterable[str] | None) -> tuple[str, tuple[object, ...]]:
    """A WHERE clause (empty when unfiltered) and its parameters for one night and some campaigns."""
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
