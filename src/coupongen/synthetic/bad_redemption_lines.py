"""Deliberately bad lines planted in a simulated redemption file: unknown, mistyped, expired or early
codes, second uses, other cards, duplicates, bad times and promoters using their own referral code.

Each gets exactly the reason the redemption import should give it, so the import can be tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

import numpy as np
import polars as pl

from coupongen import codes
from coupongen.loop.redemptions import (
    ALREADY_REDEEMED,
    BAD_CHECK,
    DUPLICATE,
    EXPIRED,
    NOT_YET_VALID,
    OTHER_CARD,
    OWNER_CARD,
    UNKNOWN_CODE,
)
from coupongen.synthetic.simulated_visits import RECEIPT_PREFIX

BAD_LINE_KINDS: tuple[tuple[str, str], ...] = (
    ("unknown_code", UNKNOWN_CODE),
    ("mistyped_code", BAD_CHECK),
    ("expired", EXPIRED),
    ("second_use", ALREADY_REDEEMED),
    ("other_card", OTHER_CARD),
    ("duplicate", DUPLICATE),
    ("bad_time", "redeemed_at: not an ISO-8601 date-time"),
    ("too_early", NOT_YET_VALID),
    ("owner_referral", OWNER_CARD),
)
"""Kinds of deliberately bad redemption line, in the order they are planted, with the reason the
import gives them (a mistyped code is told from an unknown one only with the code formats)."""

REDEMPTION_FILE_COLUMNS = ("code", "redeemed_at", "store_id", "receipt_id", "card_number", "discount")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def plant_bad_lines(
    rng: np.random.Generator,
    good: pl.DataFrame,
    coupons: pl.DataFrame,
    customers: pl.DataFrame,
    count: int,
    formats: Mapping[str, codes.CodeFormat],
    sales: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The redemption file as text with ``count`` bad lines among the good, and what was planted.

    Each bad line uses a coupon of its own that no good line uses (apart from the second use and
    the duplicate, which copy a good line), so it gets exactly the reason planted.
    """
    text = _as_text(good.drop("offer_key"))
    if count == 0:
        return text, pl.DataFrame(schema={"line": pl.Int64, "kind": pl.String, "reason": pl.String})
    used = set(good["offer_key"].to_list())
    live = coupons.filter((pl.col("status") == "issued") & ~pl.col("offer_key").is_in(sorted(used)))
    spare = {
        "personal": live.filter((pl.col("kind") == "personal") & pl.col("card_number").is_not_null())
        .sort("offer_key")
        .rows(named=True),
        "referral": live.filter((pl.col("kind") == "referral") & pl.col("card_number").is_not_null())
        .sort("offer_key")
        .rows(named=True),
    }
    cards = customers["card_number"].drop_nulls().sort().to_list()
    stores = sales["store_id"].drop_nulls().unique().sort().to_list() or ["S001"]
    single = (
        good.join(coupons.select("offer_key", "max_uses"), on="offer_key")
        .filter(pl.col("max_uses") == 1)
        .sort("redeemed_at", "receipt_id", "offer_key")
    )
    first_day = str(coupons["valid_from"].min() or "2000-01-01")
    bad: list[tuple[dict[str, str | None], str, str, int | None]] = []
    made = 0
    for i in range(count * len(BAD_LINE_KINDS)):
        if made == count:
            break
        kind, reason = BAD_LINE_KINDS[i % len(BAD_LINE_KINDS)]
        line = _bad_line(kind, rng, spare, good, single, cards, stores, formats, made, first_day)
        if line is None:
            continue
        row, after = line
        if kind == "mistyped_code" and not formats:
            reason = UNKNOWN_CODE
        bad.append((row, kind, reason, after))
        made += 1
    return _insert(rng, text, bad)


def _bad_line(
    kind: str,
    rng: np.random.Generator,
    spare: dict[str, list[dict[str, object]]],
    good: pl.DataFrame,
    single: pl.DataFrame,
    cards: list[str],
    stores: list[str],
    formats: Mapping[str, codes.CodeFormat],
    n: int,
    first_day: str,
) -> tuple[dict[str, str | None], int | None] | None:
    """One bad line of ``kind`` and the good line it must follow (or None), or None if impossible."""
    receipt = f"{RECEIPT_PREFIX}BAD{n + 1:05d}"
    store = stores[int(rng.integers(len(stores)))]

    def line(code: str, at: datetime | str, card: object, discount: str = "0.00") -> dict[str, str | None]:
        stamp = at if isinstance(at, str) else at.strftime(_TIME_FORMAT)
        return {"code": code, "redeemed_at": stamp, "store_id": store, "receipt_id": receipt,
                "card_number": None if card is None else str(card), "discount": discount}  # fmt: skip

    def noon(day: str, shift: int = 0) -> datetime:
        return datetime.combine(date.fromisoformat(day) + timedelta(days=shift), time(12))

    if kind in ("second_use", "duplicate"):
        source = single if kind == "second_use" else good
        if source.is_empty():
            return None
        pick = source.row(int(rng.integers(source.height)), named=True)
        position = good["offer_key"].to_list().index(pick["offer_key"])
        if kind == "duplicate":
            return _as_text(good.drop("offer_key").slice(position, 1)).row(0, named=True), position
        later = pick["redeemed_at"] + timedelta(hours=1)
        return line(pick["code"], later, pick["card_number"]), None
    if kind == "unknown_code":
        return line(_unknown_code(rng, formats), noon(first_day), cards[0] if cards else None), None
    pool = spare["referral" if kind == "owner_referral" else "personal"]
    usable = [i for i, c in enumerate(pool) if kind != "mistyped_code" or c["campaign"] in formats]
    if not usable:
        return None
    coupon = pool.pop(usable[int(rng.integers(len(usable)))])
    code, card = str(coupon["code"]), coupon["card_number"]
    if kind == "mistyped_code":
        return line(
            _mistype(code, rng, formats.get(str(coupon["campaign"]))), noon(str(coupon["valid_from"])), card
        ), None
    if kind == "expired":
        return line(code, noon(str(coupon["valid_to"]), 2), card), None
    if kind == "too_early":
        return line(code, noon(str(coupon["valid_from"]), -1), card), None
    if kind == "other_card":
        others = [c for c in cards if c != card]
        return line(code, noon(str(coupon["valid_from"])), others[int(rng.integers(len(others)))]), None
    if kind == "bad_time":
        return line(code, noon(str(coupon["valid_from"])).strftime("%d.%m.%Y %H:%M"), card), None
    return line(code, noon(str(coupon["valid_from"])), card), None  # owner_referral


def _unknown_code(rng: np.random.Generator, formats: Mapping[str, codes.CodeFormat]) -> str:
    """A well-formed code of the first campaign's format (right check character) never issued."""
    if not formats:
        return "NOSUCHCODE"
    fmt = next(iter(formats.values()))
    body = "".join(
        fmt.alphabet[int(i)] for i in rng.integers(len(fmt.alphabet), size=fmt.length + fmt.signature_length)
    )
    return fmt.prefix + body + codes.check_character(body, fmt.alphabet)


def _mistype(code: str, rng: np.random.Generator, fmt: codes.CodeFormat | None) -> str:
    """``code`` with one body character replaced by another of the alphabet."""
    alphabet = fmt.alphabet if fmt else "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    start = len(fmt.prefix) if fmt else 1
    at = start + int(rng.integers(len(code) - start - 1))
    other = [ch for ch in alphabet if ch != code[at]]
    return code[:at] + other[int(rng.integers(len(other)))] + code[at + 1 :]


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Redemption lines as the POS writes them: ISO times, discounts to the cent."""
    return frame.select(
        "code",
        pl.col("redeemed_at").dt.strftime(_TIME_FORMAT),
        "store_id",
        "receipt_id",
        "card_number",
        pl.Series("discount", [f"{x:.2f}" for x in frame["discount"].to_list()], dtype=pl.String),
    )


def _insert(
    rng: np.random.Generator,
    text: pl.DataFrame,
    bad: list[tuple[dict[str, str | None], str, str, int | None]],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Put bad lines among the good at random places (a copy right after its original)."""
    slots: list[list[tuple[dict[str, str | None], str, str]]] = [[] for _ in range(text.height + 1)]
    for row, kind, reason, after in bad:
        place = after + 1 if after is not None else int(rng.integers(text.height + 1))
        slots[place].append((row, kind, reason))
    rows: list[dict[str, str | None]] = []
    planted: list[dict[str, object]] = []
    good_rows = text.rows(named=True)
    for place, extra in enumerate(slots):
        for row, kind, reason in extra:
            rows.append(row)
            planted.append({"line": len(rows) + 1, "kind": kind, "reason": reason})
        if place < len(good_rows):
            rows.append(good_rows[place])
    file = pl.DataFrame(rows, schema=dict.fromkeys(REDEMPTION_FILE_COLUMNS, pl.String))
    return file, pl.DataFrame(planted, schema={"line": pl.Int64, "kind": pl.String, "reason": pl.String})
