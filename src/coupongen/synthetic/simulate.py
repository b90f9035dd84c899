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
from datetime import date

import numpy as np
import polars as pl

from coupongen import codes
from coupongen.errors import InputError
from coupongen.synthetic.bad_redemption_lines import BAD_LINE_KINDS, REDEMPTION_FILE_COLUMNS, plant_bad_lines
from coupongen.synthetic.simulated_redemptions import SCANNED, Money, redeem_coupons
from coupongen.synthetic.simulated_visits import (
    HISTORY_DAYS,
    RATE_DAYS,
    RATE_FLOOR,
    RECEIPT_PREFIX,
    add_discoveries,
    copy_visit_lines,
    draw_visits,
    order_purchases,
    select_past_sales,
)

__all__ = [
    "BAD_LINE_KINDS",
    "HISTORY_DAYS",
    "RATE_DAYS",
    "RATE_FLOOR",
    "RECEIPT_PREFIX",
    "REDEMPTION_FILE_COLUMNS",
    "SCANNED",
    "Money",
    "Simulation",
    "simulate_returns",
]


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
    sales = select_past_sales(history, as_of)
    visits = draw_visits(rng, sales, coupons.filter(pl.col("status") == "issued"), as_of, first, last, effect)
    lines = copy_visit_lines(visits, sales)
    lines = add_discoveries(rng, lines, visits, members, sales, products)
    purchases = order_purchases(lines)
    good = redeem_coupons(rng, coupons, customers, purchases, products, redemption_rate, money or Money())
    file, planted = plant_bad_lines(rng, good, coupons, customers, bad_lines, formats or {}, sales)
    return Simulation(purchases, file, planted, first, last)


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
