"""The redemptions a simulation invents: holders use their coupon on a qualifying visit, friends use
referral codes, and each use is reported with the discount the till would grant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

SCANNED = ("ean13", "gs1_128")
"""Symbologies whose barcode the till scans and reports instead of the code."""


@dataclass(frozen=True)
class Money:
    """How points are valued when a points reward's discount is reported in money."""

    point_value: float = 1.0
    points_per_currency: float = 0.01


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


def redeem_coupons(
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
    card holder other than the promoter who has not used this code yet, on one of their qualifying
    visits (each visit used once).
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
        friends: set[str] = set()
        for _ in range(int(max_uses)):
            if rng.random() >= rate:
                break
            free = options.filter(
                ~pl.col("receipt_id").is_in(sorted(taken)) & ~pl.col("card_number").is_in(sorted(friends))
            )
            if free.is_empty():
                break
            pick = free.row(int(rng.integers(free.height)), named=True)
            taken.add(pick["receipt_id"])
            friends.add(pick["card_number"])
            rows.append({c: pick[c] for c in columns})
    return pl.DataFrame(rows, schema=pool.select(columns).schema)
