"""What campaigns have spent and whom they reached over earlier nights: lifetime budgets and caps.

A campaign's lifetime budget is counted here from the coupons it sent: a coupon the tills report as
used costs the discounts they reported (its real cost); any other coupon still counts its expected
cost, since its redemptions may not be imported yet. A voided coupon nobody used costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import polars as pl

from coupongen.ledger.base import LedgerBase

SPEND_SCHEMA = {
    "campaign": pl.String(),
    "coupons": pl.Int64(),
    "redeemed": pl.Int64(),
    "expected_cost": pl.Float64(),
    "real_cost": pl.Float64(),
    "spent": pl.Float64(),
}


class SpendingMixin(LedgerBase):
    """Campaign spend and reach before a night, for lifetime budgets and per-customer caps."""

    def campaign_spend(self, *, campaigns: Iterable[str], before: date) -> pl.DataFrame:
        """Per campaign, what its coupons of nights before ``before`` cost so far.

        Columns: campaign, coupons (sent, void ones that were used included), redeemed (coupons
        with an accepted use), expected_cost (of the unredeemed coupons), real_cost (reported
        discounts of the redeemed ones), spent (their sum). Campaigns without coupons are absent.
        """
        names = list(campaigns)
        if not names:
            return pl.DataFrame(schema=SPEND_SCHEMA)
        rows = self.conn.execute(
            "SELECT campaign, COUNT(*), SUM(uses > 0), "
            "SUM(CASE WHEN uses > 0 THEN 0.0 ELSE expected_cost END), "
            "SUM(CASE WHEN uses > 0 THEN discount ELSE 0.0 END) FROM ("
            "  SELECT c.campaign, c.status, c.expected_cost, COUNT(r.redemption_id) AS uses, "
            "  COALESCE(SUM(r.discount), 0.0) AS discount FROM coupons c "
            "  LEFT JOIN redemptions r ON r.coupon_id = c.coupon_id AND r.status = 'accepted' "
            f"  WHERE c.as_of < ? AND c.campaign IN ({', '.join('?' * len(names))}) "
            "  GROUP BY c.coupon_id) "
            "WHERE status = 'issued' OR uses > 0 GROUP BY campaign ORDER BY campaign",
            (before.isoformat(), *names),
        ).fetchall()
        frame = pl.DataFrame(rows, schema=list(SPEND_SCHEMA)[:5], orient="row")
        spent = (pl.col("expected_cost") + pl.col("real_cost")).alias("spent")
        return frame.with_columns(spent).cast(SPEND_SCHEMA)  # type: ignore[arg-type]

    def campaign_reach(self, *, campaigns: Iterable[str], since: date, before: date) -> pl.DataFrame:
        """customer_id, campaign, as_of (date) of coupons and holdout places of ``campaigns`` on
        nights since <= as_of < before: what per-customer caps count.
        """
        names = list(campaigns)
        marks = ", ".join("?" * len(names)) or "NULL"
        params = (since.isoformat(), before.isoformat(), *names)
        rows = self.conn.execute(
            f"SELECT customer_id, campaign, as_of FROM coupons WHERE as_of >= ? AND as_of < ? "
            f"AND campaign IN ({marks}) UNION ALL SELECT customer_id, campaign, as_of FROM controls "
            f"WHERE as_of >= ? AND as_of < ? AND campaign IN ({marks}) ORDER BY 1, 2, 3",
            params * 2,
        ).fetchall()
        return pl.DataFrame(
            rows,
            schema={"customer_id": pl.String, "campaign": pl.String, "as_of": pl.String},
            orient="row",
        ).with_columns(pl.col("as_of").str.to_date())
