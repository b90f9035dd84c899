"""Opening and closing a ledger: the connection every part of ``Ledger`` works through.

A ledger is opened on a path, created and migrated as needed, and used as a context manager so
the file is closed whatever happens.
"""

from __future__ import annotations

import os
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
        self._inode = _inode(path)

    @classmethod
    def open(cls, path: Path | str, *, create: bool = True) -> Self:
        """Open (creating and migrating as needed) the ledger at ``path``.

        With ``create=False`` a missing file is an InputError instead of a new, empty ledger. The
        file and its ``-wal`` and ``-shm`` companions are made readable by their owner only (they
        hold every card number). A damaged file (``PRAGMA quick_check``) is a LedgerError.
        """
        path = Path(path)
        if not create and not path.is_file():
            raise InputError(f"{path}: no coupon ledger there (check --ledger, --out or --config)")
        path.parent.mkdir(parents=True, exist_ok=True)
        make_private(path)
        try:
            conn = connect(path)
        except sqlite3.DatabaseError as e:
            raise LedgerError(f"{path}: not a usable coupon ledger ({e})") from e
        try:
            check_integrity(conn, path)
            migrations.migrate(conn, path)
            make_private(path)
        except sqlite3.DatabaseError as e:
            conn.close()
            raise LedgerError(f"{path}: not a usable coupon ledger ({e})") from e
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

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
    def ledger_id(self) -> str:
        """The ledger's identity: drawn once when it was created, kept by its backups."""
        return str(self.conn.execute("SELECT value FROM meta WHERE key = 'ledger_id'").fetchone()[0])

    def check_file(self) -> None:
        """LedgerError when the ledger's file was deleted or replaced since it was opened: what is
        written through this connection would then be lost.
        """
        if _inode(self.path) != self._inode:
            raise LedgerError(
                f"{self.path}: the ledger file was deleted or replaced while this run used it; "
                "nothing it recorded is kept: restore the ledger (see docs/operations.md) and rerun"
            )

    @property
    def schema_version(self) -> int:
        """The ledger's schema version (SQLite's user_version)."""
        return migrations.schema_version(self.conn)


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def make_private(path: Path) -> None:
    """Create ``path`` owner-only if it is missing; make it and its ``-wal``/``-shm`` files
    owner-only if they are not (SQLite gives the companions the database file's mode).
    """
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except (FileNotFoundError, PermissionError):
            continue


def check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    """LedgerError naming the first problem when ``PRAGMA quick_check`` finds the file damaged."""
    try:
        problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as e:
        problems = [str(e)]
    # SQLite's reports span lines ("*** in database main ***\nPage 2: ..."): the error is one line
    problems = [" ".join(p.split()) for p in problems]
    if problems != ["ok"]:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise LedgerError(
            f"{path}: the ledger is damaged ({problems[0]}{more}); restore it from its latest "
            "backup (see docs/operations.md)"
        )
