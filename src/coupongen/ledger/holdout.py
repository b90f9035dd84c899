"""The holdout: customers chosen for an offer who, at random, were sent nothing.

They are recorded like coupons, once per offer key, so that an evaluation can compare them with the
customers who got the coupon and a rerun keeps everybody in the group they were drawn into.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import polars as pl

from coupongen.ledger.base import LedgerBase
from coupongen.ledger.connection import night_filter, read_frame
from coupongen.ledger.runs import Run

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


class HoldoutMixin(LedgerBase):
    """Recording and reading holdout members."""

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

    def controls(self, *, as_of: date | None = None, campaigns: Iterable[str] | None = None) -> pl.DataFrame:
        """Holdout members (all, or of one run date and some campaigns)."""
        where, params = night_filter(as_of, campaigns)
        return read_frame(
            self.conn,
            f"SELECT {', '.join(CONTROL_COLUMNS)} FROM controls {where} "
            "ORDER BY campaign, customer_id, offer_key",
            params,
            CONTROL_COLUMNS,
        )
