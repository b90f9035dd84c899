"""Redemptions reported by the tills, kept beside the coupons they used.

Every judged line of a redemption file is recorded once (by file and line), accepted or rejected
with its reason; the uses already recorded are what the next file's lines are judged against.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Self

import polars as pl

from coupongen.errors import LedgerError
from coupongen.ledger.base import LedgerBase
from coupongen.ledger.connection import IN_CHUNK, NOT_REFUNDED, night_filter, now

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


class RedemptionsMixin(LedgerBase):
    """Judging context (the write lock, holders, recorded events) and recorded redemptions."""

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
        """Line numbers of ``source_file`` already recorded (accepted or rejected, refunds too)."""
        rows = self.conn.execute(
            "SELECT line FROM redemptions WHERE source_file = ? "
            "UNION SELECT line FROM refunds WHERE source_file = ?",
            (source_file, source_file),
        ).fetchall()
        return {int(r[0]) for r in rows if r[0] is not None}

    def redemption_events(self, coupon_ids: Iterable[int]) -> set[tuple[int, str, str]]:
        """(coupon_id, store_id, receipt_id) of the recorded lines of these coupons, any status.

        A blank store is ''. This is what identifies one redemption across files: the same coupon on
        the same receipt of the same store is the same event, whichever file reported it.
        """
        ids = sorted(set(coupon_ids))
        found: set[tuple[int, str, str]] = set()
        for i in range(0, len(ids), IN_CHUNK):
            chunk = ids[i : i + IN_CHUNK]
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
        imported_at = now()
        values = [(*r, imported_at) for r in rows.select(REDEMPTION_COLUMNS).iter_rows()]

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
        where, params = night_filter(as_of, campaigns)
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
        redemptions not refunded since, 0 for an unused coupon), discount (their sum), first_redeemed_at,
        last_redeemed_at.
        """
        where, params = night_filter(as_of, campaigns)
        rows = self.conn.execute(
            "SELECT c.coupon_id, c.code, c.campaign, c.as_of, c.customer_id, c.max_uses, "
            "COUNT(r.redemption_id), COALESCE(SUM(r.discount), 0.0), MIN(r.redeemed_at), "
            "MAX(r.redeemed_at) FROM coupons c LEFT JOIN redemptions r "
            f"ON r.coupon_id = c.coupon_id AND r.status = 'accepted' {NOT_REFUNDED} {where} "
            "GROUP BY c.coupon_id ORDER BY c.campaign, c.customer_id, c.offer_key",
            params,
        ).fetchall()
        return pl.DataFrame(rows, schema=_REDEMPTION_COUNT_SCHEMA, orient="row")
