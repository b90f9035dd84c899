"""The sample's transaction lines: basket lines priced (older ones before a year's inflation, some on
promotion), returns added on receipts of their own, receipts numbered in time order and every line
labelled with the export's ids.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from coupongen.synthetic.baskets import Lines
from coupongen.synthetic.catalogue import Catalogue
from coupongen.synthetic.export_format import format_id, id_width
from coupongen.synthetic.shoppers import HOUR_WEIGHT, RETURN_SHARE, Visits

_INFLATION = 0.07  # a year's price rise: older lines were cheaper
_PROMO_LINE_SHARE = 0.10


def make_transactions(
    rng: np.random.Generator,
    catalogue: Catalogue,
    visits: Visits,
    lines: Lines,
    as_of: date,
    days: int,
    customers: int,
) -> pl.DataFrame:
    """Price the lines (older ones before a year's inflation, some on promotion), add returns,
    number the receipts in time order and label everything with its codes.
    """
    second = visits.second[lines.visit]
    age_years = (days * 86_400 - second) / (365.0 * 86_400)
    unit = np.round(catalogue.price[lines.sku] / (1.0 + _INFLATION * age_years), 2)
    promo = catalogue.promo_allowed[lines.sku] & (rng.random(len(unit)) < _PROMO_LINE_SHARE)
    discount = np.where(promo, rng.choice([0.10, 0.15, 0.20, 0.25, 0.30], len(unit)), 0.0)
    amount = _cents(unit * lines.quantity * (1.0 - discount))
    r_src, r_second, r_store, r_quantity, r_amount = _returns(rng, catalogue, visits, lines, amount, days)
    n_sales = len(visits.shopper)
    receipt_second = np.concatenate([visits.second, r_second])
    receipt_shopper = np.concatenate([visits.shopper, visits.shopper[lines.visit[r_src]]])
    receipt_store = np.concatenate([visits.store, r_store])
    line_receipt = np.concatenate([lines.visit, n_sales + np.arange(len(r_src))])
    receipt_rank = np.empty(len(receipt_second), dtype=np.int64)
    receipt_rank[np.lexsort((rng.random(len(receipt_second)), receipt_second))] = np.arange(
        len(receipt_second)
    )
    rank = receipt_rank[line_receipt]
    sku = np.concatenate([lines.sku, lines.sku[r_src]])
    order = np.lexsort((catalogue.code[sku], rank))
    start = datetime(as_of.year, as_of.month, as_of.day) - timedelta(days=days)
    epoch_us = int((start - datetime(1970, 1, 1)).total_seconds()) * 1_000_000
    shopper = receipt_shopper[line_receipt][order]
    frame = pl.DataFrame(
        {
            "receipt": rank[order] + 1,
            "customer": np.where(shopper < customers, shopper, -1),
            "ts": epoch_us + receipt_second[line_receipt][order] * 1_000_000,
            "store": receipt_store[line_receipt][order] + 1,
            "sku_index": sku[order],
            "quantity": np.concatenate([lines.quantity, r_quantity])[order],
            "amount": np.concatenate([amount, r_amount])[order],
        }
    )
    return _label_transactions(frame, catalogue, customers, len(receipt_second))


def _cents(value: np.ndarray) -> np.ndarray:
    return np.round(value * 100.0) / 100.0


def _returns(
    rng: np.random.Generator,
    catalogue: Catalogue,
    visits: Visits,
    lines: Lines,
    amount: np.ndarray,
    days: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A few lines come back a few days later on a receipt of their own, in full or one unit."""
    chance = np.where(catalogue.weighed[lines.sku], 0.2, 1.0) * RETURN_SHARE
    src = np.flatnonzero(rng.random(len(lines.sku)) < chance)
    delay = 1 + np.minimum(rng.geometric(0.25, len(src)), 20)
    day = visits.second[lines.visit[src]] // 86_400 + delay
    keep = day < days
    src, day = src[keep], day[keep]
    hour = rng.choice(24, size=len(src), p=HOUR_WEIGHT / HOUR_WEIGHT.sum())
    second = day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, len(src))
    store = visits.store[lines.visit[src]]
    sold = lines.quantity[src]
    one_unit = (sold > 1) & (sold == np.floor(sold)) & (rng.random(len(src)) < 0.4)
    quantity = -np.where(one_unit, 1.0, sold)
    refund = -_cents(amount[src] * (-quantity) / sold)
    return src, second, store, quantity, refund


def _label_transactions(
    frame: pl.DataFrame, catalogue: Catalogue, customers: int, receipts: int
) -> pl.DataFrame:
    skus = catalogue.frame["sku"]
    return frame.select(
        receipt_id=format_id("R", pl.col("receipt"), max(8, len(str(receipts)))),
        customer_id=pl.when(pl.col("customer") >= 0).then(
            format_id("C", pl.col("customer") + 1, id_width(customers))
        ),
        ts=pl.col("ts").cast(pl.Datetime("us")),
        store_id=format_id("S", pl.col("store"), 3),
        sku=skus.gather(frame["sku_index"]),
        quantity=pl.col("quantity").cast(pl.Float64),
        amount=pl.col("amount").cast(pl.Float64),
    )
