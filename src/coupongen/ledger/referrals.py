"""Refunds that undo redemptions, and the credits referrers earn when a friend first uses their code.

A refund names the redemption it undoes by coupon, store and receipt; once recorded, that use no
longer counts, so the coupon has it back. A referral coupon's owner is credited once per friend's
card, on the friend's first accepted use; both records are unique, so importing again adds nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

import polars as pl

from coupongen.errors import LedgerError
from coupongen.ledger.base import LedgerBase
from coupongen.ledger.connection import NOT_REFUNDED, now

REFUND_COLUMNS = (
    "code",
    "coupon_id",
    "redemption_id",
    "refunded_at",
    "store_id",
    "receipt_id",
    "card_number",
    "source_file",
    "line",
    "status",
    "reason",
)
_CREDIT_SCHEMA: dict[str, pl.DataType] = {
    "credit_id": pl.Int64(),
    "coupon_id": pl.Int64(),
    "code": pl.String(),
    "campaign": pl.String(),
    "customer_id": pl.String(),
    "friend_card": pl.String(),
    "redemption_id": pl.Int64(),
    "reward_type": pl.String(),
    "reward_value": pl.Float64(),
    "credited_at": pl.String(),
}


class ReferralsMixin(LedgerBase):
    """Refunds of redemptions and referrers' credits."""

    def redemption_to_refund(self, coupon_id: int, store_id: str, receipt_id: str) -> tuple[int, bool] | None:
        """(redemption_id, already refunded) of the accepted redemption of this coupon on this
        store's receipt (a blank store is ''); None when there is none.
        """
        row = self.conn.execute(
            "SELECT r.redemption_id, EXISTS (SELECT 1 FROM refunds f WHERE f.redemption_id = "
            "r.redemption_id AND f.status = 'accepted') FROM redemptions r WHERE r.coupon_id = ? "
            "AND COALESCE(r.store_id, '') = ? AND r.receipt_id = ? AND r.status = 'accepted'",
            (coupon_id, store_id, receipt_id),
        ).fetchone()
        return (int(row[0]), bool(row[1])) if row else None

    def record_refunds(self, rows: pl.DataFrame) -> int:
        """Record judged refund lines (``REFUND_COLUMNS``); a (source_file, line) already recorded
        is left as it is. Runs in the caller's transaction when there is one. Returns how many were new.
        """
        insert = (
            f"INSERT INTO refunds ({', '.join(REFUND_COLUMNS)}, imported_at) "
            f"VALUES ({', '.join('?' * (len(REFUND_COLUMNS) + 1))}) ON CONFLICT DO NOTHING"
        )
        stamp = now()
        values = [(*r, stamp) for r in rows.select(REFUND_COLUMNS).iter_rows()]

        def write(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            try:
                conn.executemany(insert, values)
            except sqlite3.IntegrityError as e:
                raise LedgerError(f"{self.path}: cannot record refunds: {e}") from e
            return conn.total_changes - before

        if self.conn.in_transaction:
            return write(self.conn)
        with self._transaction() as conn:
            return write(conn)

    def friend_uses(self, coupon_id: int) -> dict[str, int]:
        """Accepted, unrefunded uses of a referral coupon per friend's card."""
        rows = self.conn.execute(
            "SELECT r.card_number, COUNT(*) FROM redemptions r WHERE r.coupon_id = ? AND "
            f"r.status = 'accepted' AND r.card_number IS NOT NULL {NOT_REFUNDED} GROUP BY r.card_number",
            (coupon_id,),
        ).fetchall()
        return {str(card): int(n) for card, n in rows}

    def credit_referrers(self, source_file: str, rewards: Mapping[str, tuple[str, float]]) -> int:
        """Credit the owners of referral coupons used in ``source_file``: once per coupon and friend's
        card, for the first accepted use, with their campaign's reward from ``rewards`` (campaign:
        (type, value); campaigns without one credit nothing). Returns how many credits are new.
        """
        rows = self.conn.execute(
            "SELECT r.redemption_id, r.coupon_id, r.card_number, c.campaign, c.customer_id "
            "FROM redemptions r JOIN coupons c ON c.coupon_id = r.coupon_id "
            "WHERE r.source_file = ? AND r.status = 'accepted' AND c.kind = 'referral' "
            "AND r.card_number IS NOT NULL ORDER BY r.redeemed_at, r.line",
            (source_file,),
        ).fetchall()
        credits = [
            (cid, card, rid, owner, *rewards[campaign], now())
            for rid, cid, card, campaign, owner in rows
            if campaign in rewards
        ]
        insert = (
            "INSERT INTO referral_credits (coupon_id, friend_card, redemption_id, customer_id, "
            "reward_type, reward_value, credited_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(coupon_id, friend_card) DO NOTHING"
        )

        def write(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            conn.executemany(insert, credits)
            return conn.total_changes - before

        if self.conn.in_transaction:
            return write(self.conn)
        with self._transaction() as conn:
            return write(conn)

    def referral_credits(self) -> pl.DataFrame:
        """Every referrer's credit, oldest first: credit_id, coupon_id, code, campaign, customer_id
        (the referrer), friend_card, redemption_id (the friend's first use), reward_type,
        reward_value, credited_at.
        """
        rows = self.conn.execute(
            "SELECT k.credit_id, k.coupon_id, c.code, c.campaign, k.customer_id, k.friend_card, "
            "k.redemption_id, k.reward_type, k.reward_value, k.credited_at FROM referral_credits k "
            "JOIN coupons c ON c.coupon_id = k.coupon_id ORDER BY k.credit_id"
        ).fetchall()
        return pl.DataFrame(rows, schema=_CREDIT_SCHEMA, orient="row")
