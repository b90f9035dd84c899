"""Opening and closing a ledger: the connection every part of ``Ledger`` works through.

A ledger is opened on a path, created and migrated as needed, and used as a context manager so
the file is closed whatever happens.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Self

from coupongen.errors import InputError, LedgerError
from coupongen.ledger import migrations
from coupongen.ledger.connection import connect, transaction


class LedgerBase:
    """An open ledger database: the connection and its path. Use ``Ledger.open(path)``."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path | str, *, create: bool = True) -> Self:
        """Open (creating and migrating as needed) the ledger at ``path``.

        With ``create=False`` a missing file is an InputError instead of a new, empty ledger.
        """
        path = Path(path)
        if not create and not path.is_file():
            raise InputError(f"{path}: no coupon ledger there (check --ledger, --out or --config)")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = connect(path)
            ledger = cls(conn, path)
            migrations.migrate(conn, path)
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

    def _transaction(self, mode: str = "IMMEDIATE") -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.conn, mode)

    @property
    def schema_version(self) -> int:
        """The ledger's schema version (SQLite's user_version)."""
        return migrations.schema_version(self.conn)
