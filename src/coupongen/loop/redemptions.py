"""Redemptions reported by the tills: checked against the ledger and recorded once.

The POS sends back a CSV of the coupons it took (code or scanned barcode, time, store, receipt,
card, discount given). Every line is judged against the coupon it names; lines that name no coupon,
or a mistyped, void, not yet valid, expired or used-up coupon, or come with the wrong card, are kept
as rejected with their reason. A redemption is identified by its coupon, store and receipt, so a
file imported twice, or a redemption sent again in a later file, is recorded once. Refund lines undo
a recorded redemption (see ``refunds``); a friend's first use of a referral code credits its owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from coupongen import codes
from coupongen.inputs.contract import LINE_COL, REASON_COL, SOURCE_COL, Loaded
from coupongen.ledger import Ledger
from coupongen.loop.import_result import _DECIDED_SCHEMA, ACCEPTED, REJECTED, ImportResult
from coupongen.loop.import_result import REJECTED_COLUMNS as REJECTED_COLUMNS
from coupongen.loop.import_result import write_rejected as write_rejected
from coupongen.loop.redemption_file import REFUND, read_redemptions, source_name
from coupongen.loop.refunds import (
    DEFAULT_TERMS,
    ReferralTerms,
    judge_refunds,
    referrer_rewards,
)

UNKNOWN_CODE = "unknown code"
BAD_CHECK = "bad check character"
BAD_SIGNATURE = "bad signature"
VOID = "void"
NOT_YET_VALID = "not yet valid"
EXPIRED = "expired"
ALREADY_REDEEMED = "already redeemed"
OVER_MAX_USES = "over its maximum uses"
OVER_TOTAL_USES = "over total uses"
OTHER_CARD = "used with another card"
NO_CARD = "used without a card"
OWNER_CARD = "referral used with its owner's card"
FRIEND_AGAIN = "referral already used with this card"
DUPLICATE = "duplicate of an earlier line"

_VERDICT_REASONS = {
    codes.UNKNOWN: UNKNOWN_CODE,
    codes.BAD_CHECK: BAD_CHECK,
    codes.BAD_SIGNATURE: BAD_SIGNATURE,
    codes.VOID: VOID,
    codes.NOT_YET_VALID: NOT_YET_VALID,
    codes.EXPIRED: EXPIRED,
    codes.REDEEMED: ALREADY_REDEEMED,
}


class _Judge:
    """Judges a file's lines in time order against the ledger and against the file's own lines.

    Uses accepted earlier in the same file count as if they were recorded already, so the second
    use of a single-use coupon in one file is refused like one in a later file.
    """

    def __init__(
        self,
        ledger: Ledger,
        formats: Mapping[str, codes.CodeFormat],
        key: bytes | None,
        terms: Mapping[str, ReferralTerms],
    ) -> None:
        self.ledger = ledger
        self.formats = formats
        self.key = key
        self.terms = terms
        self.friends: dict[int, dict[str, int]] = {}
        self.uses: dict[int, int] = {}
        self.last_used: dict[int, str] = {}
        self.holders: dict[int, tuple[str, str | None]] = {}
        self.events: dict[int, set[tuple[int, str, str]]] = {}
        self.unmatched = ledger.unmatched_redemption_events()
        self.in_file: dict[tuple[Any, ...], int] = {}
        self.found: dict[str, Any] | None = None

    def lookup(
        self, *, code: str | None = None, symbology: str | None = None, key: str | None = None
    ) -> Mapping[str, Any] | None:
        record = self.ledger.find_coupon(code=code, symbology=symbology, key=key)
        if record is None:
            return None
        found: dict[str, Any] = dict(record)
        cid = int(found["coupon_id"])
        found["uses"] = int(found["uses"]) + self.uses.get(cid, 0)
        if cid in self.last_used:
            found["last_used_at"] = max(str(found["last_used_at"] or ""), self.last_used[cid])
        self.found = found
        return found

    def recorded(self, event: tuple[Any, ...]) -> bool:
        """True when the ledger holds this event (the same redemption from an earlier file)."""
        if isinstance(event[0], int):
            cid = event[0]
            if cid not in self.events:
                self.events[cid] = self.ledger.redemption_events([cid])
            return event in self.events[cid]
        return event[1:] in self.unmatched

    def judge(self, row: Mapping[str, Any]) -> tuple[int | None, str, str | None, str] | None:
        """(coupon_id, status, reason, detail) of one well-formed line; None when already recorded."""
        self.found = None
        # As `codes verify` takes it: a code typed in lower case is the same code.
        presented = codes.normalize_code(str(row["code"]), self.formats)
        when: datetime = row["redeemed_at"]
        verdict = codes.verify_code(
            presented, formats=self.formats, as_of=when.date(), key=self.key, lookup=self.lookup
        )
        coupon = self.found
        store, receipt = row["store_id"] or "", row["receipt_id"]
        event: tuple[Any, ...] = (
            (int(coupon["coupon_id"]), store, receipt) if coupon else ("?", presented, store, receipt)
        )
        if self.recorded(event):
            return None
        cid = int(coupon["coupon_id"]) if coupon else None
        if event in self.in_file:
            detail = f"same coupon, store and receipt as line {self.in_file[event]}"
            return cid, REJECTED, DUPLICATE, detail
        self.in_file[event] = int(row[LINE_COL])
        if coupon is None or not verdict.ok:
            reason = _VERDICT_REASONS.get(verdict.status, verdict.status)
            if reason == ALREADY_REDEEMED and coupon is not None and coupon["kind"] == "public":
                reason = OVER_TOTAL_USES
            elif reason == ALREADY_REDEEMED and coupon is not None and int(coupon["max_uses"]) > 1:
                reason = OVER_MAX_USES
            return cid, REJECTED, reason, verdict.detail
        assert cid is not None
        card_problem = self.card_problem(cid, str(coupon["kind"]), row["card_number"])
        if card_problem is None and coupon["kind"] == "referral":
            card_problem = self.friend_problem(cid, str(coupon["campaign"]), row["card_number"])
        if card_problem is not None:
            return cid, REJECTED, *card_problem
        if coupon["kind"] == "referral":
            used = self.friends[cid]
            used[row["card_number"]] = used.get(row["card_number"], 0) + 1
        self.uses[cid] = self.uses.get(cid, 0) + 1
        stamp = when.isoformat()
        self.last_used[cid] = max(self.last_used.get(cid, ""), stamp)
        return cid, ACCEPTED, None, verdict.detail

    def card_problem(self, cid: int, kind: str, presented: str | None) -> tuple[str, str] | None:
        """(reason, detail) when the card does not fit the coupon, else None.

        A personal coupon is bound to its owner's card (a coupon issued to a customer without a
        card is not bound); a referral coupon is for a friend, so any card but the owner's; a public
        code is anyone's, with a card or without.
        """
        if kind == "public":
            return None
        if cid not in self.holders:
            self.holders[cid] = self.ledger.coupon_holder(cid)
        owner, card = self.holders[cid]
        if kind == "referral":
            if presented is None:
                return NO_CARD, "a referral coupon is accepted with the friend's card"
            if card is not None and presented == card:
                return OWNER_CARD, f"the card of customer {owner}, who shares the code"
            return None
        if card is None:
            return None
        if presented is None:
            return NO_CARD, f"bound to the card of customer {owner}"
        if presented != card:
            return OTHER_CARD, f"bound to the card of customer {owner}"
        return None

    def friend_problem(self, cid: int, campaign: str, card: str) -> tuple[str, str] | None:
        """(reason, detail) when this friend's card has used the referral code as often as its
        campaign allows (``uses_per_friend``), else None.
        """
        if cid not in self.friends:
            self.friends[cid] = self.ledger.friend_uses(cid)
        allowed = self.terms.get(campaign, DEFAULT_TERMS).uses_per_friend
        if self.friends[cid].get(card, 0) >= allowed:
            return FRIEND_AGAIN, f"campaign {campaign} allows {allowed} use(s) per friend's card"
        return None


def _format_rejections(bad: pl.DataFrame, source: str) -> pl.DataFrame:
    """Lines that broke the layout (blank code, a time that is not ISO-8601, ...) as decided rows."""
    return bad.select(
        pl.col("code").str.strip_chars().fill_null(""),
        pl.lit(None, dtype=pl.Int64).alias("coupon_id"),
        pl.col("redeemed_at").str.strip_chars().fill_null(""),
        pl.col("store_id").str.strip_chars(),
        pl.col("receipt_id").str.strip_chars(),
        pl.col("card_number").str.strip_chars(),
        pl.col("discount").str.strip_chars().cast(pl.Float64, strict=False),
        pl.lit(source).alias(SOURCE_COL),
        pl.col(LINE_COL),
        pl.lit(REJECTED).alias("status"),
        pl.col(REASON_COL),
        pl.lit("").alias("detail"),
        pl.col("discount").str.strip_chars().alias("discount_text"),
    ).cast(_DECIDED_SCHEMA)  # type: ignore[arg-type]


def judge_redemptions(
    loaded: Loaded,
    *,
    source: str,
    ledger: Ledger,
    formats: Mapping[str, codes.CodeFormat],
    key: bytes | None = None,
    terms: Mapping[str, ReferralTerms] | None = None,
) -> tuple[pl.DataFrame, int]:
    """Decide every line of a read redemption file: (decided lines, lines already recorded).

    Well-formed lines are judged in time order (then by line), so that of two uses of a
    single-use coupon the earlier is accepted. ``formats`` (the campaigns' code formats) tell a
    mistyped code from an unknown one; ``key`` checks signatures of codes the ledger lacks; ``terms``
    (by referral campaign) limit the uses per friend's card. The
    decided frame has the ledger's redemption columns (``ledger.REDEMPTION_COLUMNS``), ``detail``
    and ``discount_text``, in line order. Call inside ``Ledger.exclusive`` so no other import counts the
    same uses meanwhile.
    """
    seen = pl.Series(sorted(ledger.redemption_lines(source)), dtype=pl.Int64).implode()
    fresh = loaded.kept.filter(~pl.col(LINE_COL).is_in(seen))
    bad = loaded.quarantined.filter(~pl.col(LINE_COL).is_in(seen))
    already = loaded.kept.height - fresh.height + loaded.quarantined.height - bad.height
    judge = _Judge(ledger, formats, key, terms or {})
    rows: list[dict[str, Any]] = []
    for row in fresh.sort("redeemed_at", LINE_COL).iter_rows(named=True):
        outcome = judge.judge(row)
        if outcome is None:
            already += 1
            continue
        coupon_id, status, reason, detail = outcome
        rows.append(
            {
                "code": row["code"],
                "coupon_id": coupon_id,
                "redeemed_at": row["redeemed_at"].isoformat(),
                "store_id": row["store_id"],
                "receipt_id": row["receipt_id"],
                "card_number": row["card_number"],
                "discount": row["discount"],
                "source_file": source,
                "line": row[LINE_COL],
                "status": status,
                "reason": reason,
                "detail": detail,
                "discount_text": None,
            }
        )
    judged = pl.DataFrame(rows, schema=_DECIDED_SCHEMA)
    decided = pl.concat([judged, _format_rejections(bad, source)]).sort(LINE_COL)
    return decided, already


def import_redemptions(
    path: Path,
    ledger: Ledger,
    *,
    formats: Mapping[str, codes.CodeFormat],
    key: bytes | None = None,
    terms: Mapping[str, ReferralTerms] | None = None,
    rejected_folder: Path | None = None,
) -> ImportResult:
    """Read a redemption file, judge every line and record the new ones in one transaction.

    Redemption lines are judged and recorded first, then the referrers of accepted referral uses
    are credited (``terms``: the referral campaigns' terms), then refund lines are judged against
    what is recorded (so a refund may undo a redemption of the same file). With
    ``rejected_folder`` the rejected lines are written there (``write_rejected``) before the
    transaction commits: an import killed right after its commit has its rejected-lines file, and
    one killed before it writes the same file again when the file is imported again.
    """
    path = Path(path)
    loaded = read_redemptions(path)
    source = source_name(path)
    is_refund = pl.col("kind") == REFUND
    redeemed = replace(loaded, kept=loaded.kept.filter(~is_refund))
    refund_lines = loaded.kept.filter(is_refund)
    with ledger.exclusive():
        seen = pl.Series(sorted(ledger.redemption_lines(source)), dtype=pl.Int64).implode()
        fresh_refunds = refund_lines.filter(~pl.col(LINE_COL).is_in(seen))
        decided, already = judge_redemptions(
            redeemed, source=source, ledger=ledger, formats=formats, key=key, terms=terms
        )
        if rejected_folder is not None:
            # Written before the commit, so an import killed right after it has its file; the
            # refunds' rejections join it below.
            first = ImportResult(
                path=path,
                source=source,
                read=loaded.counts["read"],
                decided=decided,
                already_imported=already,
            )
            write_rejected(first, rejected_folder)
        ledger.record_redemptions(decided)
        credited = ledger.credit_referrers(source, referrer_rewards(terms or {}))
        refunds, refunded_before = judge_refunds(
            fresh_refunds, source=source, ledger=ledger, formats=formats, key=key
        )
        ledger.record_refunds(refunds)
        already += refund_lines.height - fresh_refunds.height + refunded_before
        result = ImportResult(
            path=path,
            source=source,
            read=loaded.counts["read"],
            decided=decided,
            already_imported=already,
            refunds=refunds,
            credited=credited,
        )
        if rejected_folder is not None:
            result = replace(result, rejected_file=write_rejected(result, rejected_folder))
    return result
