"""The ledger of issued coupons: the only part of coupongen that speaks SQL.

Every coupon ever issued, every holdout (control) member and every run is recorded in SQLite, with
the redemptions the tills reported beside the coupons they used. ``Ledger`` gathers the parts, each
in its own module; the schema and its migrations are in ``migrations``.
"""

from __future__ import annotations

from coupongen.ledger.coupons import CouponsMixin
from coupongen.ledger.holdout import HoldoutMixin
from coupongen.ledger.redemptions import RedemptionsMixin
from coupongen.ledger.referrals import ReferralsMixin
from coupongen.ledger.revocations import RevocationsMixin
from coupongen.ledger.runs import RunsMixin
from coupongen.ledger.spending import SpendingMixin


class Ledger(
    RunsMixin, CouponsMixin, HoldoutMixin, RevocationsMixin, RedemptionsMixin, SpendingMixin, ReferralsMixin
):
    """An open ledger database. Use ``Ledger.open(path)`` as a context manager."""

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
