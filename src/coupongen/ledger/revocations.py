"""Revoked coupons: withdrawn by code or by campaign, and the list a till must refuse.

A void coupon stays in the ledger (its code is never drawn again); each night's POS export carries
the void coupons still within their validity, from any night, and the live ones the tills accept.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import polars as pl

from coupongen.errors import LedgerError
from coupongen.ledger.base import LedgerBase
from coupongen.ledger.connection import night_filter, read_frame
from coupongen.ledger.coupons import COUPON_COLUMNS


@dataclass(frozen=True)
class ExportState:
    """What a night exports, read in one transaction: ``tonight``'s coupons (the night's campaigns,
    as ``Ledger.coupons`` gives them), every ``live`` coupon and the ``revoked`` ones.
    """

    tonight: pl.DataFrame
    live: pl.DataFrame
    revoked: pl.DataFrame


class RevocationsMixin(LedgerBase):
    """Voiding coupons and listing the revoked ones."""

    def void_coupons(self, *, codes: list[str] | None = None, campaign: str | None = None) -> int:
        """Void live coupons by code or by campaign; returns how many changed.

        Unknown codes are refused all together (LedgerError names them) before anything changes;
        coupons already void stay as they are.
        """
        with self._transaction() as conn:
            where, params = self._void_target(conn, codes, campaign)
            before = conn.total_changes
            conn.execute(f"UPDATE coupons SET status = 'void' WHERE status = 'issued' AND {where}", params)
            return conn.total_changes - before

    def live_among(self, *, codes: list[str] | None = None, campaign: str | None = None) -> int:
        """How many coupons `void_coupons` would void now (LedgerError as it raises it)."""
        with self._transaction() as conn:
            where, params = self._void_target(conn, codes, campaign)
            row = conn.execute(f"SELECT COUNT(*) FROM coupons WHERE status = 'issued' AND {where}", params)
            return int(row.fetchone()[0])

    def _void_target(
        self, conn: sqlite3.Connection, codes: list[str] | None, campaign: str | None
    ) -> tuple[str, tuple[object, ...]]:
        """The coupons named by code or campaign, as a WHERE clause; LedgerError for none known."""
        if codes:
            placeholders = ", ".join("?" * len(codes))
            known = {
                r[0] for r in conn.execute(f"SELECT code FROM coupons WHERE code IN ({placeholders})", codes)
            }
            unknown = [c for c in codes if c not in known]
            if unknown:
                raise LedgerError(f"{self.path}: no coupon with code {', '.join(map(repr, unknown[:5]))}")
            return f"code IN ({placeholders})", tuple(codes)
        found = conn.execute("SELECT 1 FROM coupons WHERE campaign = ? LIMIT 1", (campaign,)).fetchone()
        if found is None:
            raise LedgerError(f"{self.path}: no coupon of campaign {campaign!r}")
        return "campaign = ?", (campaign,)

    @contextmanager
    def export_state(self, *, as_of: date, campaigns: list[str]) -> Iterator[ExportState]:
        """The night's coupons, the live and the revoked ones as committed now, with the ledger's
        write lock held until the block ends.

        Publish the POS files inside the block: a coupon voided (``coupongen ledger void``) while
        the night runs is then either void in what the block reads, or waits and reaches the tills
        with the next export; it is never exported as live after its void was committed.
        """
        where, params = night_filter(as_of, campaigns)
        with self._transaction():
            yield ExportState(
                tonight=read_frame(
                    self.conn,
                    f"SELECT {', '.join(COUPON_COLUMNS)} FROM coupons {where} "
                    "ORDER BY campaign, customer_id, offer_key",
                    params,
                    COUPON_COLUMNS,
                ),
                live=self.live(as_of=as_of),
                revoked=self.revoked(as_of=as_of),
            )

    def live(self, *, as_of: date) -> pl.DataFrame:
        """Every coupon a till may accept after the night ``as_of``: issued on that night or before,
        not void, not past its last valid day and with uses left (accepted redemptions fewer than
        ``max_uses``), ordered by campaign, customer and code. Columns: COUPON_COLUMNS.
        """
        columns = ", ".join(f"c.{c}" for c in COUPON_COLUMNS)
        return read_frame(
            self.conn,
            f"SELECT {columns} FROM coupons c WHERE c.status = 'issued' AND c.as_of <= ? "
            "AND c.valid_to >= ? AND c.max_uses > (SELECT COUNT(*) FROM redemptions r "
            "WHERE r.coupon_id = c.coupon_id AND r.status = 'accepted') "
            "ORDER BY c.campaign, c.customer_id, c.code",
            (as_of.isoformat(), as_of.isoformat()),
            COUPON_COLUMNS,
        )

    def revoked(self, *, as_of: date) -> pl.DataFrame:
        """Void coupons still within their validity on ``as_of``: the codes a POS must refuse."""
        return read_frame(
            self.conn,
            f"SELECT {', '.join(COUPON_COLUMNS)} FROM coupons WHERE status = 'void' AND valid_to >= ? "
            "ORDER BY campaign, code",
            (as_of.isoformat(),),
            COUPON_COLUMNS,
        )
