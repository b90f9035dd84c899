"""What the ledger holds that a night's files are made of, in one hash.

A night's published files come from the ledger: its coupons, every coupon live or void on that
night, the redemptions that used some up. When none of that changed since the night finished, a
rerun with the same inputs and settings would publish the same files again (see
``coupongen.night.finished``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date

from coupongen.ledger.base import LedgerBase


class StateMixin(LedgerBase):
    """The ledger's state as a night's exports see it."""

    def night_state(self, *, as_of: date) -> str:
        """A digest of everything the exports of the night ``as_of`` read from the ledger.

        It changes when a coupon of that night or an earlier one is issued, voided or given a
        channel, a coupon of any night is voided, a holdout place of the night is recorded, or a
        redemption or refund is imported. A few counts and highest ids: no coupon is read into
        Python.
        """
        day = as_of.isoformat()
        queries = (
            (
                "SELECT COUNT(*), MAX(coupon_id), SUM(status = 'void'), SUM(channel IS NOT NULL) "
                "FROM coupons WHERE as_of <= ?",
                (day,),
            ),
            ("SELECT COUNT(*) FROM coupons WHERE status = 'void'", ()),
            ("SELECT COUNT(*), MAX(control_id) FROM controls WHERE as_of = ?", (day,)),
            ("SELECT COUNT(*), MAX(redemption_id), SUM(status = 'accepted') FROM redemptions", ()),
            ("SELECT COUNT(*), MAX(refund_id), SUM(status = 'accepted') FROM refunds", ()),
        )
        found = [list(self.conn.execute(sql, params).fetchone()) for sql, params in queries]
        return hashlib.sha256(json.dumps([self.ledger_id, found]).encode()).hexdigest()[:32]
