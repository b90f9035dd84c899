"""Reminders before coupons expire: which coupons are about to, and the once-only record of each.

A coupon is reminded at most once, ever: the ``reminders`` table holds one row per coupon, with the
night and the channel of the message. A rerun of the same night finds its reminders again (to
publish the same messages) and records nothing twice.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from coupongen.ledger.base import LedgerBase
from coupongen.ledger.connection import NOT_REFUNDED, now, read_frame
from coupongen.ledger.coupons import COUPON_COLUMNS

EXPIRING_COLUMNS = (*COUPON_COLUMNS, "uses", "reminded_on")
"""A coupon about to expire: its columns, its uses (accepted redemptions not refunded) and the night
it was reminded on (null: never)."""

REMINDER_COLUMNS = ("code", "campaign", "customer_id", "as_of", "channel", "valid_to")


class RemindersMixin(LedgerBase):
    """Finding coupons that expire soon and recording the reminders sent about them."""

    def expiring_coupons(self, *, as_of: date, until: date) -> pl.DataFrame:
        """Live coupons held by a customer (not public) whose last valid day falls between ``as_of``
        and ``until`` (both included) and that were issued before ``as_of`` or on it. Their uses are
        the redemptions made up to the end of ``as_of`` (a night rerun later sees it as it was).

        Columns: EXPIRING_COLUMNS, ordered by customer, campaign and code. Redeemed and already
        reminded coupons are included (with their uses and reminder night) so the caller can count
        them; `remind` leaves them out.
        """
        columns = ", ".join(f"c.{c}" for c in COUPON_COLUMNS)
        uses = (
            "(SELECT COUNT(*) FROM redemptions r WHERE r.coupon_id = c.coupon_id "
            f"AND r.status = 'accepted' AND r.redeemed_at < ? {NOT_REFUNDED})"
        )
        frame = read_frame(
            self.conn,
            f"SELECT {columns}, {uses}, m.as_of FROM coupons c "
            "LEFT JOIN reminders m ON m.coupon_id = c.coupon_id "
            "WHERE c.status = 'issued' AND c.kind != 'public' AND c.as_of <= ? "
            "AND c.valid_to >= ? AND c.valid_to <= ? ORDER BY c.customer_id, c.campaign, c.code",
            (
                (as_of + timedelta(days=1)).isoformat(),
                as_of.isoformat(),
                as_of.isoformat(),
                until.isoformat(),
            ),
            EXPIRING_COLUMNS,
        )
        return frame.with_columns(pl.col("uses").cast(pl.Int64))

    def record_reminders(self, reminded: pl.DataFrame, *, as_of: date) -> int:
        """Record one reminder per coupon of ``reminded`` (code, customer_id, channel) on the night
        ``as_of``, in one transaction; coupons reminded before keep their first record. Returns how
        many were new.
        """
        at = now()
        rows = [
            (customer, as_of.isoformat(), channel, at, code)
            for code, customer, channel in reminded.select("code", "customer_id", "channel").rows()
        ]
        with self._transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT INTO reminders (coupon_id, customer_id, as_of, channel, reminded_at) "
                "SELECT coupon_id, ?, ?, ?, ? FROM coupons WHERE code = ? "
                "ON CONFLICT (coupon_id) DO NOTHING",
                rows,
            )
            return conn.total_changes - before

    def reminders(self, *, as_of: date | None = None) -> pl.DataFrame:
        """Reminders recorded (all, or of one night). Columns: REMINDER_COLUMNS, by night and code."""
        where, params = ("WHERE m.as_of = ?", (as_of.isoformat(),)) if as_of else ("", ())
        return read_frame(
            self.conn,
            "SELECT c.code, c.campaign, m.customer_id, m.as_of, m.channel, c.valid_to FROM reminders m "
            f"JOIN coupons c ON c.coupon_id = m.coupon_id {where} ORDER BY m.as_of, c.code",
            params,
            REMINDER_COLUMNS,
        )
