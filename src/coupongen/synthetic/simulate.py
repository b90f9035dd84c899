"""What the tills would send back after a night's coupons: purchases and redemptions, simulated.

For demos and tests of the redemption import and the evaluation. Every card holder keeps shopping
at their own recent rate, each visit a copy of one of their own past receipts; while a coupon is
valid its holder visits ``1 + effect`` times as often (``1 + k * effect`` with k coupons), so with
``effect = 0`` the holdout and the treated are exchangeable. A coupon is redeemed only on a visit
whose basket qualifies; the coupon itself changes nothing in the basket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
import polars as pl

from coupongen import codes
from coupongen.errors import InputError
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

RATE_DAYS = 182
"""A customer's visit rate is their receipts in this many days before the night, per day."""
RATE_FLOOR = 0.25
"""...but at least this share of their rate over the whole year, so a lull is not a full stop."""
HISTORY_DAYS = 365
"""Past receipts a visit is copied from."""
SCANNED = ("ean13", "gs1_128")
"""Symbologies whose barcode the till scans and reports instead of the code."""
RECEIPT_PREFIX = "RX"
"""Simulated receipts are numbered RX00000001, ...; real exports never use the prefix."""

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


@dataclass(frozen=True)
class Simulation:
    """A simulated return from the tills.

    purchases: receipt lines in the window in the transactions contract (receipt_id, customer_id,
    ts, store_id, sku, quantity, amount). redemptions: the POS redemption file, layout 1.0, as text
    (code, redeemed_at, store_id, receipt_id, card_number, discount). planted: the deliberately bad
    redemption lines: line (in the file, the header being 1), kind, reason (the import's).
    first_day, last_day: the window simulated.
    """

    purchases: pl.DataFrame
    redemptions: pl.DataFrame
    planted: pl.DataFrame
    first_day: date
    last_day: date


@dataclass(frozen=True)
class Money:
    """How points are valued when a points reward's discount is reported in money."""

    point_value: float = 1.0
    points_per_currency: float = 0.01


def simulate_returns(
    history: pl.DataFrame,
    products: pl.DataFrame,
    customers: pl.DataFrame,
    coupons: pl.DataFrame,
    controls: pl.DataFrame,
    *,
    as_of: date,
    effect: float,
    seed: int,
    redemption_rate: float = 0.5,
    bad_lines: int = 0,
    formats: Mapping[str, codes.CodeFormat] | None = None,
    money: Money | None = None,
) -> Simulation:
    """Simulate the purchases and redemptions that follow the night ``as_of``.

    ``history`` is the transactions input (typed, as the contract loads it); ``coupons`` and
    ``controls`` the ledger's frames of the night. The window runs from the earliest first valid
    day to the latest last valid day among them. ``redemption_rate`` is the chance that a holder
    with a qualifying visit (in the window, basket of at least ``min_basket``, holding the target
    product or category) uses the coupon on the first one; a referral code is used by that many
    friends in turn, up to ``max_uses``. ``bad_lines`` plants that many broken lines of the
    kinds in BAD_LINE_KINDS, round robin. Same arguments, same frames.
    """
    if not 0.0 <= redemption_rate <= 1.0:
        raise InputError(f"redemption rate must be between 0 and 1, got {redemption_rate}")
    if effect <= -1.0:
        raise InputError(f"effect must be above -1 (a relative change), got {effect}")
    members = _members(coupons, controls)
    if members.is_empty():
        raise InputError(f"no coupons and no holdout for {as_of}: nothing to simulate")
    rng = np.random.default_rng(seed)
    first = members["valid_from"].min()
    last = members["valid_to"].max()
    assert isinstance(first, date) and isinstance(last, date)
    sales = _past_sales(history, as_of)
    visits = _visits(rng, sales, coupons.filter(pl.col("status") == "issued"), as_of, first, last, effect)
    lines = _visit_lines(visits, sales)
    lines = _add_discoveries(rng, lines, visits, members, sales, products)
    purchases = _purchases(lines)
    good = _redemptions(rng, coupons, customers, purchases, products, redemption_rate, money or Money())
    file, planted = _plant_bad_lines(rng, good, coupons, customers, bad_lines, formats or {}, sales)
    return Simulation(purchases, file, planted, first, last)


# --- who shops, how often ------------------------------------------------------------------------


def _members(coupons: pl.DataFrame, controls: pl.DataFrame) -> pl.DataFrame:
    """Treated and holdout members of the night: customer_id, target_kind, target, window (dates)."""
    columns = ["customer_id", "target_kind", "target", "valid_from", "valid_to"]
    treated = coupons.filter(pl.col("status") == "issued").select(columns)
    held = controls.join(
        coupons.select("campaign", "valid_from", "valid_to").unique("campaign"), on="campaign", how="left"
    ).select(columns)
    # A campaign whose every member is held out has no coupon to give its window: left out.
    return (
        pl.concat([treated, held])
        .drop_nulls(["valid_from"])
        .with_columns(pl.col("target").cast(pl.String), pl.col("valid_from", "valid_to").str.to_date())
    )


def _past_sales(history: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Card holders' sale lines of the year before the night (returns and refunds left out)."""
    start = datetime.combine(as_of - timedelta(days=HISTORY_DAYS), time())
    return history.filter(
        pl.col("customer_id").is_not_null()
        & pl.col("ts").is_between(start, datetime.combine(as_of, time()), closed="left")
        & (pl.col("quantity") > 0)
        & (pl.col("amount") > 0)
    )


def _visits(
    rng: np.random.Generator,
    sales: pl.DataFrame,
    coupons: pl.DataFrame,
    as_of: date,
    first: date,
    last: date,
    effect: float,
) -> pl.DataFrame:
    """One row per simulated visit: visit, customer_id, ts, store_id, source receipt_id.

    Visits per day are Poisson at the customer's rate times ``1 + effect * k`` (k: their coupons
    valid that day); each copies one of the customer's past receipts, at its time of day.
    """
    receipts = (
        sales.group_by("customer_id", "receipt_id")
        .agg(pl.col("ts").min(), pl.col("store_id").first())
        .sort("customer_id", "ts", "receipt_id")
    )
    people = receipts.group_by("customer_id", maintain_order=True).agg(
        pl.len().alias("receipts"),
        (pl.col("ts") >= datetime.combine(as_of - timedelta(days=RATE_DAYS), time())).sum().alias("recent"),
    )
    n_people, days = people.height, (last - first).days + 1
    rate = np.maximum(
        people["recent"].to_numpy().astype(np.float64) / RATE_DAYS,
        RATE_FLOOR * people["receipts"].to_numpy().astype(np.float64) / HISTORY_DAYS,
    )
    held = _coupons_held(people["customer_id"], coupons, first, days)
    expected = rate[:, None] * np.clip(1.0 + effect * held, 0.0, None)
    counts = rng.poisson(expected).ravel()
    cell = np.repeat(np.arange(n_people * days), counts)
    person, day = cell // days, cell % days
    sizes = people["receipts"].to_numpy().astype(np.int64)
    starts = np.cumsum(sizes) - sizes
    source = starts[person] + (rng.random(len(cell)) * sizes[person]).astype(np.int64)
    picked = receipts[source].with_columns(pl.Series("day", day, dtype=pl.Int64))
    ts = pl.lit(datetime.combine(first, time())).dt.cast_time_unit("us") + pl.duration(
        days=pl.col("day"),
        seconds=pl.col("ts").dt.hour().cast(pl.Int64) * 3600
        + pl.col("ts").dt.minute().cast(pl.Int64) * 60
        + pl.col("ts").dt.second().cast(pl.Int64),
    )
    frame = picked.select(
        "customer_id", pl.col("receipt_id").alias("source"), "store_id", ts.alias("ts")
    ).sort("ts", "customer_id", "source")
    width = max(8, len(str(frame.height)))
    return frame.with_columns(
        pl.format(
            "{}{}", pl.lit(RECEIPT_PREFIX), pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(width)
        ).alias("receipt_id")
    )


def _coupons_held(people: pl.Series, coupons: pl.DataFrame, first: date, days: int) -> np.ndarray:
    """Customers x days: how many of the customer's coupons are valid on each day of the window."""
    index = {cid: i for i, cid in enumerate(people.to_list())}
    diff = np.zeros((len(index), days + 1), dtype=np.int64)
    for cid, start, end in coupons.select("customer_id", "valid_from", "valid_to").iter_rows():
        row = index.get(cid)
        if row is None:
            continue
        a = max((date.fromisoformat(start) - first).days, 0)
        b = min((date.fromisoformat(end) - first).days, days - 1)
        if a <= b:
            diff[row, a] += 1
            diff[row, b + 1] -= 1
    return np.cumsum(diff, axis=1)[:, :days]


def _visit_lines(visits: pl.DataFrame, sales: pl.DataFrame) -> pl.DataFrame:
    """The lines of every visit: the source receipt's lines under the visit's receipt, time, store."""
    return visits.join(
        sales.select("customer_id", pl.col("receipt_id").alias("source"), "sku", "quantity", "amount"),
        on=["customer_id", "source"],
    ).select("receipt_id", "customer_id", "ts", "store_id", "sku", "quantity", "amount")


def _add_discoveries(
    rng: np.random.Generator,
    lines: pl.DataFrame,
    visits: pl.DataFrame,
    members: pl.DataFrame,
    sales: pl.DataFrame,
    products: pl.DataFrame,
) -> pl.DataFrame:
    """Now and then a campaign member picks up the offered product although they never bought it.

    On each visit in the window, a member whose offer targets a product buys one unit of it with
    the chance that any receipt of the year held it: the same for the treated and the holdout.
    """
    receipts = sales["receipt_id"].n_unique()
    if receipts == 0:
        return lines
    share = sales.group_by("sku").agg((pl.col("receipt_id").n_unique() / receipts).alias("share"))
    price = products.select("sku", pl.col("price").alias("unit")).join(
        sales.group_by("sku").agg((pl.col("amount") / pl.col("quantity")).median().alias("paid")),
        on="sku",
        how="left",
    )
    offered = (
        members.filter(pl.col("target_kind") == "sku")
        .select("customer_id", pl.col("target").alias("sku"), "valid_from", "valid_to")
        .join(share, on="sku")
        .join(price, on="sku", how="left")
    )
    candidates = (
        visits.join(offered, on="customer_id")
        .filter(pl.col("ts").dt.date().is_between(pl.col("valid_from"), pl.col("valid_to")))
        .join(lines.select("receipt_id", "sku").unique(), on=["receipt_id", "sku"], how="anti")
        .unique(["receipt_id", "sku"])
        .sort("receipt_id", "sku")
    )
    drawn = rng.random(candidates.height)
    found = candidates.filter(pl.Series(drawn) < pl.col("share")).select(
        "receipt_id",
        "customer_id",
        "ts",
        "store_id",
        "sku",
        pl.lit(1.0).alias("quantity"),
        pl.coalesce("unit", "paid").round(2).alias("amount"),
    )
    return pl.concat([lines, found.filter(pl.col("amount").is_not_null())])


def _purchases(lines: pl.DataFrame) -> pl.DataFrame:
    """The simulated lines in the transactions contract's columns and order."""
    return lines.select("receipt_id", "customer_id", "ts", "store_id", "sku", "quantity", "amount").sort(
        "ts", "receipt_id", "sku"
    )


# --- redemptions ---------------------------------------------------------------------------------


def _qualifying_visits(
    coupons: pl.DataFrame, purchases: pl.DataFrame, products: pl.DataFrame, *, by: str
) -> pl.DataFrame:
    """(offer_key, visit) pairs where the visit qualifies for the coupon: in its window, a basket
    of at least min_basket, holding its target product or category. ``by`` joins coupons to
    visits: ``customer_id`` (the holder's visits) or ``all`` (anyone's, for referral codes).
    """
    baskets = purchases.group_by("receipt_id").agg(
        pl.col("customer_id").first(),
        pl.col("ts").min(),
        pl.col("store_id").first(),
        pl.col("amount").sum().alias("total"),
    )
    held = pl.concat(
        [
            purchases.select("receipt_id", pl.lit("sku").alias("target_kind"), pl.col("sku").alias("target")),
            purchases.join(products.select("sku", "category"), on="sku").select(
                "receipt_id", pl.lit("category").alias("target_kind"), pl.col("category").alias("target")
            ),
        ]
    ).unique()
    terms = coupons.select(
        "offer_key",
        pl.col("customer_id").alias("holder"),
        "target_kind",
        pl.col("target").cast(pl.String),
        "min_basket",
        pl.col("valid_from", "valid_to").str.to_date(),
    )
    if by == "customer_id":
        pairs = terms.join(baskets, left_on="holder", right_on="customer_id")
        pairs = pairs.with_columns(pl.col("holder").alias("customer_id"))
    else:
        pairs = terms.join(baskets, how="cross").filter(pl.col("customer_id") != pl.col("holder"))
    pairs = pairs.filter(
        pl.col("ts").dt.date().is_between(pl.col("valid_from"), pl.col("valid_to"))
        & (pl.col("total") >= pl.col("min_basket"))
    )
    targeted = pairs.filter(pl.col("target_kind") != "basket").join(
        held, on=["receipt_id", "target_kind", "target"], how="semi"
    )
    return pl.concat([pairs.filter(pl.col("target_kind") == "basket"), targeted]).sort(
        "offer_key", "ts", "receipt_id"
    )


def _discounts(
    chosen: pl.DataFrame, coupons: pl.DataFrame, purchases: pl.DataFrame, products: pl.DataFrame, money: Money
) -> pl.DataFrame:
    """offer_key, receipt_id and the money value of the reward on that receipt, to the cent."""
    lines = purchases.join(products.select("sku", "category"), on="sku", how="left")
    on_target = (
        chosen.select("offer_key", "receipt_id", "target_kind", "target")
        .join(lines, on="receipt_id", how="left")
        .group_by("offer_key", "receipt_id", maintain_order=True)
        .agg(
            pl.when(
                (pl.col("target_kind") == "basket")
                | ((pl.col("target_kind") == "sku") & (pl.col("sku") == pl.col("target")))
                | ((pl.col("target_kind") == "category") & (pl.col("category") == pl.col("target")))
            )
            .then(pl.col("amount"))
            .otherwise(0.0)
            .sum()
            .alias("base")
        )
    )
    priced = on_target.join(
        chosen.select("offer_key", "receipt_id", "total"), on=["offer_key", "receipt_id"]
    ).join(coupons.select("offer_key", "reward_type", "reward_value"), on="offer_key")
    value = pl.col("reward_value")
    discount = (
        pl.when(pl.col("reward_type") == "percent")
        .then(pl.col("base") * value / 100)
        .when(pl.col("reward_type") == "amount")
        .then(pl.min_horizontal(value, pl.col("total")))
        .when(pl.col("reward_type") == "points")
        .then(value * money.point_value)
        .otherwise(pl.col("total") * money.points_per_currency * (value - 1) * money.point_value)
    )
    return priced.select("offer_key", "receipt_id", discount.round(2).alias("discount"))


def _redemptions(
    rng: np.random.Generator,
    coupons: pl.DataFrame,
    customers: pl.DataFrame,
    purchases: pl.DataFrame,
    products: pl.DataFrame,
    rate: float,
    money: Money,
) -> pl.DataFrame:
    """Good redemption lines: offer_key, code, redeemed_at (datetime), store_id, receipt_id,
    card_number, discount, sorted by time.
    """
    live = coupons.filter(pl.col("status") == "issued").sort("offer_key")
    personal = live.filter(pl.col("kind") != "referral")
    own = _qualifying_visits(personal, purchases, products, by="customer_id")
    firsts = own.group_by("offer_key", maintain_order=True).first()
    draw = rng.random(firsts.height)
    chosen = firsts.filter(pl.Series(draw) < rate).with_columns(pl.col("offer_key").alias("key"))
    chosen = chosen.join(live.select("offer_key", "card_number"), on="offer_key", how="left")
    friends = _friend_uses(
        rng, live.filter(pl.col("kind") == "referral"), customers, purchases, products, rate
    )
    picked = pl.concat(
        [
            chosen.select(
                "offer_key", "receipt_id", "ts", "store_id", "total", "target_kind", "target", "card_number"
            ),
            friends,
        ]
    )
    if picked.is_empty():
        return pl.DataFrame(
            schema={"offer_key": pl.String, "code": pl.String, "redeemed_at": pl.Datetime("us"),
                    "store_id": pl.String, "receipt_id": pl.String, "card_number": pl.String,
                    "discount": pl.Float64}
        )  # fmt: skip
    shown = (
        pl.when(pl.col("symbology").is_in(SCANNED)).then(pl.col("barcode_value")).otherwise(pl.col("code"))
    )
    return (
        picked.join(_discounts(picked, live, purchases, products, money), on=["offer_key", "receipt_id"])
        .join(live.select("offer_key", "code", "barcode_value", "symbology"), on="offer_key", how="left")
        .select(
            "offer_key",
            shown.alias("code"),
            pl.col("ts").alias("redeemed_at"),
            "store_id",
            "receipt_id",
            "card_number",
            "discount",
        )
        .sort("redeemed_at", "receipt_id", "offer_key")
    )


def _friend_uses(
    rng: np.random.Generator,
    referrals: pl.DataFrame,
    customers: pl.DataFrame,
    purchases: pl.DataFrame,
    products: pl.DataFrame,
    rate: float,
) -> pl.DataFrame:
    """Friends' uses of referral codes: each qualifying use slot is taken with chance ``rate``, by a
    card holder other than the promoter, on one of their qualifying visits (each visit used once).
    """
    columns = ["offer_key", "receipt_id", "ts", "store_id", "total", "target_kind", "target", "card_number"]
    if referrals.is_empty():
        return pl.DataFrame(
            schema={
                c: (pl.Datetime("us") if c == "ts" else pl.Float64 if c == "total" else pl.String)
                for c in columns
            }
        )
    pool = (
        _qualifying_visits(referrals, purchases, products, by="all")
        .join(
            customers.select("customer_id", "card_number").filter(pl.col("card_number").is_not_null()),
            on="customer_id",
        )
        .sort("offer_key", "ts", "receipt_id")
    )
    by_key = {k[0]: part for k, part in pool.partition_by("offer_key", as_dict=True).items()}
    taken: set[str] = set()
    rows = []
    for key, max_uses in referrals.select("offer_key", "max_uses").iter_rows():
        options = by_key.get(key, pool.clear())
        for _ in range(int(max_uses)):
            if rng.random() >= rate:
                break
            free = options.filter(~pl.col("receipt_id").is_in(sorted(taken)))
            if free.is_empty():
                break
            pick = free.row(int(rng.integers(free.height)), named=True)
            taken.add(pick["receipt_id"])
            rows.append({c: pick[c] for c in columns})
    return pl.DataFrame(rows, schema=pool.select(columns).schema)


# --- deliberately bad lines ----------------------------------------------------------------------


def _plant_bad_lines(
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
