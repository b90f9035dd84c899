"""The ledger of issued coupons: the only part of coupongen that speaks SQL.

Every coupon ever issued, every holdout (control) member and every run is recorded in SQLite, with
the redemptions the tills reported beside the coupons they used. ``Ledger`` gathers the parts, each
in its own module; the schema and its migrations are in ``migrations``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from coupongen.errors import LedgerError
from coupongen.ledger.base import check_integrity
from coupongen.ledger.coupons import CouponsMixin
from coupongen.ledger.holdout import HoldoutMixin
from coupongen.ledger.redemptions import RedemptionsMixin
from coupongen.ledger.referrals import ReferralsMixin
from coupongen.ledger.reminders import RemindersMixin
from coupongen.ledger.revocations import RevocationsMixin
from coupongen.ledger.runs import RunsMixin
from coupongen.ledger.spending import SpendingMixin
from coupongen.ledger.state import StateMixin


class Ledger(
    RunsMixin,
    CouponsMixin,
    HoldoutMixin,
    RevocationsMixin,
    RedemptionsMixin,
    SpendingMixin,
    ReferralsMixin,
    StateMixin,
    RemindersMixin,
):
    """An open ledger database. Use ``Ledger.open(path)`` as a context manager."""

    def backup(self, dest: Path | str) -> dict[str, Any]:
        """Copy the ledger to ``dest`` with SQLite's online backup (other commands may keep using
        it), check the copy (``PRAGMA quick_check``) and publish it owner-only and atomically.

        Returns the copy's ledger_id and its numbers of coupons and runs. A copy is the same ledger
        (same id): restored, it carries on where the backup was taken.
        """
        dest = Path(dest)
        if dest.resolve() == self.path.resolve():
            raise LedgerError(f"{dest}: a backup cannot overwrite the ledger itself")

        staging = dest.parent / f".{dest.name}.backup-{os.getpid()}"
        staging.unlink(missing_ok=True)
        try:
            os.close(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            target = sqlite3.connect(staging)
            try:
                self.conn.backup(target)
                check_integrity(target, dest)
                target.execute("PRAGMA journal_mode=DELETE")
                coupons = target.execute("SELECT COUNT(*) FROM coupons").fetchone()[0]
                runs = target.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            finally:
                target.close()
            with staging.open("rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(staging, dest)
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
        return {"ledger_id": self.ledger_id, "coupons": int(coupons), "runs": int(runs)}

    def totals(self) -> dict[str, dict[str, int]]:
        """Counts over the whole ledger: runs by status, coupons by kind and status, holdout
        members, redemptions and refunds by status, referrers' credits.
        """

        def counts(sql: str) -> dict[str, int]:
            return {str(k): int(n) for k, n in self.conn.execute(sql).fetchall()}

        return {
            "runs": counts("SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status"),
            "coupons_by_kind": counts("SELECT kind, COUNT(*) FROM coupons GROUP BY kind ORDER BY kind"),
            "coupons_by_status": counts(
                "SELECT status, COUNT(*) FROM coupons GROUP BY status ORDER BY status"
            ),
            "controls": counts("SELECT 'total', COUNT(*) FROM controls"),
            "redemptions": counts("SELECT status, COUNT(*) FROM redemptions GROUP BY status ORDER BY status"),
            "refunds": counts("SELECT status, COUNT(*) FROM refunds GROUP BY status ORDER BY status"),
            "referral_credits": counts("SELECT 'total', COUNT(*) FROM referral_credits"),
        }
