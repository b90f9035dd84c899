"""The ledger of issued coupons, holdout members, runs and redemptions: the only SQL in coupongen."""

from __future__ import annotations

from coupongen.ledger.coupons import BATCH_SIZE, COUPON_COLUMNS, NO_CHANNEL, Drawn
from coupongen.ledger.holdout import CONTROL_COLUMNS
from coupongen.ledger.migrations import SCHEMA_VERSION
from coupongen.ledger.redemptions import REDEMPTION_COLUMNS
from coupongen.ledger.runs import Run
from coupongen.ledger.store import Ledger

__all__ = [
    "BATCH_SIZE",
    "CONTROL_COLUMNS",
    "COUPON_COLUMNS",
    "NO_CHANNEL",
    "REDEMPTION_COLUMNS",
    "SCHEMA_VERSION",
    "Drawn",
    "Ledger",
    "Run",
]
