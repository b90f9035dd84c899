"""Revoked coupons: withdrawn by code or by campaign, and the list a till must refuse.

A void coupon stays in the ledger (its code is never drawn again); each night's POS export carries
the void coupons still within their validity, from any night, and the live ones the tills accept.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from coupongen.errors import LedgerError
from coupongen.ledger.base import LedgerBase
from coupongen.ledger.connection import read_frame
from coupongen.ledger.coupons import COUPON_COLUMNS


class RevocationsMixin(LedgerBase):
    """Voiding coupons and listing the revoked ones."""

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
