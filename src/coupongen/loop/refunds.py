"""Refund lines of the redemption file, and the referral terms redemptions are judged by.

A refund line names the coupon, store and receipt of an accepted redemption; recording it undoes
that redemption, so the coupon has the use back. A refund that names no accepted redemption is
rejected with its reason; one whose redemption was refunded already is counted as already imported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from coupongen import codes
from coupongen.inputs.contract import LINE_COL
from coupongen.ledger import Ledger

REFUNDED = "refunded"
NO_REDEMPTION = "refund of no recorded redemption"
UNKNOWN_REFUND_CODE = "refund of an unknown code"

REFUND_SCHEMA: dict[str, pl.DataType] = {
    "code": pl.String(),
    "coupon_id": pl.Int64(),
    "redemption_id": pl.Int64(),
    "refunded_at": pl.String(),
    "store_id": pl.String(),
    "receipt_id": pl.String(),
    "card_number": pl.String(),
    "source_file": pl.String(),
    "line": pl.Int64(),
    "status": pl.String(),
    "reason": pl.String(),
}


@dataclass(frozen=True)
class ReferralTerms:
    """How a referral campaign's code may be used and what its owner earns.

    ``uses_per_friend``: accepted uses per friend's card; ``referrer_reward``: (type, value)
    credited to the owner on each friend's first use, or None.
    """

    uses_per_friend: int = 1
    referrer_reward: tuple[str, float] | None = None


DEFAULT_TERMS = ReferralTerms()
"""Terms of a referral coupon whose campaign the job no longer names: one use per friend, no credit."""


def referral_terms(campaigns: Iterable[Any]) -> dict[str, ReferralTerms]:
    """Each referral campaign's terms from its ``[reward]`` table, by campaign name."""
    terms = {}
    for c in campaigns:
        if c.type != "referral":
            continue
        extra = c.reward.referrer_reward
        terms[c.name] = ReferralTerms(
            uses_per_friend=c.reward.uses_per_friend,
            referrer_reward=(extra.type, float(extra.value)) if extra is not None else None,
        )
    return terms


def referrer_rewards(terms: Mapping[str, ReferralTerms]) -> dict[str, tuple[str, float]]:
    """(type, value) of the referrer reward of each campaign that has one."""
    return {name: t.referrer_reward for name, t in terms.items() if t.referrer_reward is not None}


def judge_refunds(
    lines: pl.DataFrame,
    *,
    source: str,
    ledger: Ledger,
    formats: Mapping[str, codes.CodeFormat],
    key: bytes | None = None,
) -> tuple[pl.DataFrame, int]:
    """Decide the refund lines of a file (read kept rows with kind ``refund``), in line order:
    (decided rows with ``REFUND_SCHEMA``, lines whose redemption was refunded already).

    Call after the file's redemptions are recorded, inside ``Ledger.exclusive``.
    """
    found: dict[str, Any] = {}

    def lookup(**kw: Any) -> Mapping[str, Any] | None:
        record = ledger.find_coupon(**kw)
        if record is not None:
            found["coupon"] = record
        return record

    rows: list[dict[str, Any]] = []
    already = 0
    undone: set[int] = set()
    for row in lines.sort(LINE_COL).iter_rows(named=True):
        found.clear()
        when = row["redeemed_at"]
        codes.verify_code(str(row["code"]), formats=formats, as_of=when.date(), key=key, lookup=lookup)
        coupon = found.get("coupon")
        decided = {
            "code": row["code"],
            "coupon_id": int(coupon["coupon_id"]) if coupon else None,
            "redemption_id": None,
            "refunded_at": when.isoformat(),
            "store_id": row["store_id"],
            "receipt_id": row["receipt_id"],
            "card_number": row["card_number"],
            "source_file": source,
            "line": row[LINE_COL],
            "status": "rejected",
            "reason": UNKNOWN_REFUND_CODE,
        }
        if coupon is not None:
            target = ledger.redemption_to_refund(
                int(coupon["coupon_id"]), row["store_id"] or "", row["receipt_id"]
            )
            if target is None:
                decided["reason"] = NO_REDEMPTION
            elif target[1] or target[0] in undone:
                already += 1
                continue
            else:
                undone.add(target[0])
                decided.update(redemption_id=target[0], status="accepted", reason=None)
        rows.append(decided)
    return pl.DataFrame(rows, schema=REFUND_SCHEMA), already
