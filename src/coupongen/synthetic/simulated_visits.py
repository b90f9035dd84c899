"""The purchases a simulation invents: card holders keep shopping at their own recent rate, each visit
a copy of one of their own past receipts, more often while they hold valid coupons; now and then a
campaign member picks up the offered product for the first time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import polars as pl

RATE_DAYS = 182
"""A customer's visit rate is their receipts in this many days before the night, per day."""
RATE_FLOOR = 0.25
"""...but at least this share of their rate over the whole year, so a lull is not a full stop."""
HISTORY_DAYS = 365
"""Past receipts a visit is copied from."""
RECEIPT_PREFIX = "RX"
"""Simulated receipts are numbered RX00000001, ...; real exports never use the prefix."""


def select_past_sales(history: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Card holders' sale lines of the year before the night (returns and refunds left out)."""
    start = datetime.combine(as_of - timedelta(days=HISTORY_DAYS), time())
    return history.filter(
        pl.col("customer_id").is_not_null()
        & pl.col("ts").is_between(start, datetime.combine(as_of, time()), closed="left")
        & (pl.col("quantity") > 0)
        & (pl.col("amount") > 0)
    )


def draw_visits(
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


def copy_visit_lines(visits: pl.DataFrame, sales: pl.DataFrame) -> pl.DataFrame:
    """The lines of every visit: the source receipt's lines under the visit's receipt, time, store."""
    return visits.join(
        sales.select("customer_id", pl.col("receipt_id").alias("source"), "sku", "quantity", "amount"),
        on=["customer_id", "source"],
    ).select("receipt_id", "customer_id", "ts", "store_id", "sku", "quantity", "amount")


def add_discoveries(
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


def order_purchases(lines: pl.DataFrame) -> pl.DataFrame:
    """The simulated lines in the transactions contract's columns and order."""
    return lines.select("receipt_id", "customer_id", "ts", "store_id", "sku", "quantity", "amount").sort(
        "ts", "receipt_id", "sku"
    )
