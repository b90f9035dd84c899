"""Per-customer and per-product facts as of a run date, net of returns.

Everything is computed from history strictly before ``as_of`` (the run's "today"), so a run for a past
date sees exactly what it would have seen that night. Returns and refunds are netted into spend and
quantities rather than dropped, and a purchase that was fully returned does not count as one.
Money is summed in whole cents, so the figures do not depend on the order rows are added in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Final

import polars as pl

from coupongen.analysis.customer_blocks import customer_ranges, in_range

MIN_CYCLE_PURCHASES = 3
"""Purchase days a product needs before its purchase cycle is trusted (two gaps at least)."""

TOP_FAVOURITES = 3
"""How many favourite categories and products each customer's features list."""

_KEYS = ["customer_id", "sku"]
BLOCK_LINES = 2_000_000
"""Lines whose per-product facts are computed at a time (see `_days_by_block`)."""
# The streaming engine groups and sorts millions of lines in a fraction of the in-memory engine's
# time and memory; both give the same frames.
_ENGINE: Final = "streaming"


@dataclass(frozen=True)
class CustomerFacts:
    """The three feature frames of one run date (see `describe_customers` for their columns)."""

    features: pl.DataFrame
    products: pl.DataFrame
    categories: pl.DataFrame
    earlier: dict[date, pl.DataFrame] = field(default_factory=dict)
    adoption: dict[date, pl.DataFrame] = field(default_factory=dict)


def describe_customers(
    transactions: pl.DataFrame | pl.LazyFrame,
    products: pl.DataFrame,
    *,
    as_of: date,
    lookback_days: int = 365,
    earlier: Sequence[date] = (),
    adopters: Mapping[date, pl.DataFrame] | None = None,
) -> CustomerFacts:
    """Compute `customer_features`, `customer_products` and `category_spend` in one pass.

    The three frames are the same as the three functions return, but the work they share (the lines
    before ``as_of``, the per-product history, the category spend) is done once. For each date of
    ``earlier`` (before ``as_of``), ``CustomerFacts.earlier`` holds the regular rows of
    `customer_products` as of that date, from the same per-day history. For each date ``adopters``
    maps to customers (a customer_id column), ``CustomerFacts.adoption`` holds per sku how many of
    them had bought it before that date (owners) and how many bought it first from that date on
    (hits), from the same pairs; skus neither counts are left out.
    """
    lines = _lines(transactions, as_of)
    adopters = adopters or {}
    bought, categories, by_category, by_product = [], [], [], []
    regular: dict[date, list[pl.DataFrame]] = {day: [] for day in earlier}
    adoption: dict[date, list[pl.DataFrame]] = {day: [] for day in adopters}
    for block in _days_by_block(lines):
        # Collected before the frames read it, so that the block's days are grouped once.
        days = block.collect(engine=_ENGINE).lazy()
        pairs = _pairs_of_days(days).collect(engine=_ENGINE).lazy()
        products_b, categories_b, *earlier_b = pl.collect_all(
            [
                _customer_products(pairs, as_of, lookback_days),
                _category_spend(pairs, products),
                *(
                    _customer_products(
                        _pairs_of_days(days.filter(pl.col("day") < day)), day, lookback_days
                    ).filter(pl.col("regular"))
                    for day in earlier
                ),
                *(_adoption_counts(pairs, customers, day) for day, customers in adopters.items()),
            ],
            engine=_ENGINE,
        )
        del pairs, days
        earlier_b, adoption_b = earlier_b[: len(earlier)], earlier_b[len(earlier) :]
        favourites = pl.collect_all(
            [_favourite_categories(categories_b.lazy()), _favourite_products(products_b.lazy())],
            engine=_ENGINE,
        )
        bought.append(products_b)
        categories.append(categories_b)
        by_category.append(favourites[0])
        by_product.append(favourites[1])
        for day, frame in zip(earlier, earlier_b, strict=True):
            regular[day].append(frame)
        for day, frame in zip(adopters, adoption_b, strict=True):
            adoption[day].append(frame)
    feats = _customer_features(
        lines, pl.concat(by_category).lazy(), pl.concat(by_product).lazy(), as_of, lookback_days
    )
    return CustomerFacts(
        features=feats.collect(engine=_ENGINE),
        products=pl.concat(bought),
        categories=pl.concat(categories),
        earlier={day: pl.concat(frames) for day, frames in regular.items()},
        adoption={day: _summed_counts(frames) for day, frames in adoption.items()},
    )


def receipts(transactions: pl.DataFrame | pl.LazyFrame, *, as_of: date) -> pl.LazyFrame:
    """One row per receipt before ``as_of``: receipt_id, customer_id, day, amount (net), lines.

    A receipt with a positive net amount is a purchase visit; others are returns or refunds.
    """
    return _receipts(_lines(transactions, as_of)).select(
        "receipt_id", "customer_id", "day", (pl.col("cents") / 100).alias("amount"), "lines"
    )


def customer_features(
    transactions: pl.DataFrame | pl.LazyFrame,
    products: pl.DataFrame,
    *,
    as_of: date,
    lookback_days: int = 365,
) -> pl.DataFrame:
    """Facts per known customer with at least one purchase before ``as_of``, sorted by customer_id.

    Columns: customer_id; first_purchase, last_purchase (date of the first/last purchase visit);
    recency_days (as_of - last_purchase); tenure_days (as_of - first_purchase); frequency (purchase
    visits within the look-back window); monetary (net spend in the window, refunds deducted);
    avg_basket (monetary / frequency, null without a visit in the window); visits (purchase visits
    ever); median_gap_days (median days between visit days, null below three visit days);
    favourite_category and favourite_share (the category with the highest net spend and its share
    of the customer's positive category spend); favourite_categories (up to three categories, by
    net spend); favourite_products (up to three skus, by the number of purchase receipts, then net
    spend); regular_products (how many products the customer buys regularly, see
    `customer_products`). A purchase visit is a receipt whose net amount is positive; ties in the
    favourites go to the alphabetically first name, so the result never depends on row order.
    """
    return describe_customers(transactions, products, as_of=as_of, lookback_days=lookback_days).features


def category_spend(
    transactions: pl.DataFrame | pl.LazyFrame, products: pl.DataFrame, *, as_of: date
) -> pl.DataFrame:
    """Net spend per customer and category before ``as_of``, sorted by customer_id and category.

    Columns: customer_id, category, spend (net), share (of the customer's positive category spend;
    the shares of a customer add up to 1). Categories where returns outweigh purchases are left out.
    """
    lines = _lines(transactions, as_of)
    blocks = [_category_spend(pairs, products).collect(engine=_ENGINE) for pairs in _pairs_by_block(lines)]
    return pl.concat(blocks)


def customer_products(
    transactions: pl.DataFrame | pl.LazyFrame, *, as_of: date, lookback_days: int = 365
) -> pl.DataFrame:
    """What each customer bought, per sku, net of returns, before ``as_of``; sorted by customer and sku.

    A return is set against the customer's latest purchase day of the same sku on or before it;
    a purchase day whose quantity the returns cancel does not count as a purchase.

    Columns: customer_id, sku; receipts (purchase receipts holding the sku, on the days that
    count); quantity and spend (net of every return); first_day, last_day (first and last purchase
    day); days_since_last (as_of - last_day); cycle_days (the purchase cycle: median days between
    purchase days, null below MIN_CYCLE_PURCHASES days); regular (true when the cycle is known: the
    customer buys the product again and again); in_lookback (last bought within the look-back
    window). Pairs where returns cancel every purchase are left out: the customer does not have
    the product.
    """
    lines = _lines(transactions, as_of)
    blocks = [
        _customer_products(pairs, as_of, lookback_days).collect(engine=_ENGINE)
        for pairs in _pairs_by_block(lines)
    ]
    return pl.concat(blocks)


# --- lazy building blocks ----------------------------------------------------------------------


def _lines(transactions: pl.DataFrame | pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """Lines before ``as_of`` with their day and their amount in whole cents."""
    cutoff = datetime.combine(as_of, time())
    return (
        transactions.lazy()
        .filter(pl.col("ts") < cutoff)
        .select(
            "receipt_id",
            "customer_id",
            pl.col("ts").dt.date().alias("day"),
            "sku",
            "quantity",
            (pl.col("amount") * 100).round(0).cast(pl.Int64).alias("cents"),
        )
    )


def _days_to(as_of: date, col: str) -> pl.Expr:
    return (pl.lit(as_of) - pl.col(col)).dt.total_days().cast(pl.Int32)


def _money(cents: pl.Expr) -> pl.Expr:
    return cents.cast(pl.Float64) / 100


def _window_start(as_of: date, lookback_days: int) -> date:
    return as_of - timedelta(days=lookback_days)


def _receipts(lines: pl.LazyFrame) -> pl.LazyFrame:
    return lines.group_by("receipt_id").agg(
        pl.col("customer_id").first(),
        pl.col("day").min(),
        pl.col("cents").sum(),
        pl.len().alias("lines"),
    )


def _first_of_key(keys: list[str]) -> pl.Expr:
    """True on the first row of each key in a frame sorted by the keys."""
    same = pl.all_horizontal([pl.col(k) == pl.col(k).shift(1) for k in keys]).fill_null(False)
    return ~same


def _gap(keys: list[str], counted: pl.Expr) -> pl.Expr:
    """Days since the key's previous counted day, on counted rows after the key's first.

    The frame must be sorted by ``keys`` and ``day``. Shifts over the sorted rows do what a window
    per key would, at a fraction of the cost on millions of keys.
    """
    previous_day = pl.when(counted).then(pl.col("day")).forward_fill().shift(1)
    # The key of the latest counted row before this one: a previous day of another key is no gap.
    same_key = pl.all_horizontal(
        [pl.col(k) == pl.when(counted).then(pl.col(k)).forward_fill().shift(1) for k in keys]
    ).fill_null(False)
    return pl.when(counted & same_key).then((pl.col("day") - previous_day).dt.total_days())


def _cycle(n_days: pl.Expr, gap: pl.Expr) -> pl.Expr:
    """Median gap between counted days, null below MIN_CYCLE_PURCHASES days."""
    return pl.when(n_days >= MIN_CYCLE_PURCHASES).then(gap.median().cast(pl.Float64)).otherwise(None)


def _days(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Per customer, sku and day: net quantity, purchase (a line with a positive quantity), cents
    and purchase receipts; sorted by customer_id, sku and day. Lines without a customer are left out.
    """
    q = pl.col("quantity")
    # Sorted before grouping, groups in that order: cheaper than sorting the groups.
    return (
        lines.filter(pl.col("customer_id").is_not_null())
        .sort(*_KEYS, "day")
        .group_by(*_KEYS, "day", maintain_order=True)
        .agg(
            q.sum().alias("net"),
            (q > 0).any().alias("purchase"),
            pl.col("cents").sum(),
            # Receipts buying the sku that day: n_unique counts the null of the other lines once.
            (pl.when(q > 0).then(pl.col("receipt_id")).n_unique() - (q <= 0).any().cast(pl.UInt32)).alias(
                "receipts"
            ),
        )
    )


def _pairs_of_days(per_day: pl.LazyFrame) -> pl.LazyFrame:
    """Per customer and sku of the lines' `_days`, returns netted: every pair, also those whose
    returns cancel it all. The days before a date give the pairs as of that date.

    Columns: customer_id, sku, receipts, quantity, cents, first_day, last_day, cycle_days,
    bought_day (the first day with a purchase line, returned or not); sorted by customer_id and sku.
    """
    # A return counts against the latest purchase day of its sku on or before it: each purchase
    # day starts a run of rows, and the return-only days after it join its run. Runs and keys are
    # numbered along the sorted rows, so they are sorted too and group in slices.
    starts = _first_of_key(_KEYS)
    runs = per_day.with_columns(
        starts.cum_sum().set_sorted().alias("key_index"),
        (starts | pl.col("purchase")).cum_sum().set_sorted().alias("run"),
    ).with_columns(pl.col("net").sum().over("run").alias("run_net"))
    counted = pl.col("purchase") & (pl.col("run_net") > 0)
    kept = runs.with_columns(_gap(["key_index"], counted).alias("gap"))
    counted_day = pl.when(counted).then(pl.col("day"))
    return (
        kept.group_by("key_index", maintain_order=True)
        .agg(
            pl.col(*_KEYS).first(),
            pl.when(counted).then(pl.col("receipts")).sum().cast(pl.Int32).alias("receipts"),
            pl.col("net").sum().alias("quantity"),
            pl.col("cents").sum(),
            counted_day.min().alias("first_day"),
            counted_day.max().alias("last_day"),
            _cycle(counted.sum(), pl.col("gap")).alias("cycle_days"),
            pl.col("day").filter(pl.col("purchase")).first().alias("bought_day"),
        )
        .drop("key_index")
    )


def _days_by_block(lines: pl.LazyFrame) -> Iterator[pl.LazyFrame]:
    """`_days` of ``lines``, one lazy frame per block of customers, in customer_id order.

    Each block holds a range of customer ids with about `BLOCK_LINES` lines, so sorting and
    grouping the lines per customer and sku takes the memory of one block, not of all lines. Every
    figure of a pair is the customer's own, so the blocks together give the pairs of all lines,
    in the same order. A block is built lazily when the next one is asked for.
    """
    for block in customer_ranges(lines, BLOCK_LINES):
        yield _days(lines.filter(in_range(block)))


def _pairs_by_block(lines: pl.LazyFrame) -> Iterator[pl.LazyFrame]:
    """`_pairs_of_days` of ``lines`` per block of customers (see `_days_by_block`)."""
    for days in _days_by_block(lines):
        yield _pairs_of_days(days)


def _customer_products(pairs: pl.LazyFrame, as_of: date, lookback_days: int) -> pl.LazyFrame:
    window_start = _window_start(as_of, lookback_days)
    return (
        pairs.filter((pl.col("quantity") > 0) & pl.col("last_day").is_not_null())
        .with_columns(
            _money(pl.col("cents")).alias("spend"),
            _days_to(as_of, "last_day").alias("days_since_last"),
            pl.col("cycle_days").is_not_null().alias("regular"),
            (pl.col("last_day") >= window_start).alias("in_lookback"),
        )
        .select(
            *_KEYS,
            "receipts",
            "quantity",
            "spend",
            "first_day",
            "last_day",
            "days_since_last",
            "cycle_days",
            "regular",
            "in_lookback",
        )
    )


def _adoption_counts(pairs: pl.LazyFrame, customers: pl.DataFrame, split: date) -> pl.LazyFrame:
    """Per sku of ``pairs``, of ``customers``' pairs: owners (first bought before ``split``) and
    hits (first bought on or after it).
    """
    bought_day = pl.col("bought_day")
    return (
        pairs.join(customers.lazy().select("customer_id"), on="customer_id", how="semi")
        .group_by("sku")
        .agg((bought_day < split).sum().alias("owners"), (bought_day >= split).sum().alias("hits"))
    )


def _summed_counts(blocks: list[pl.DataFrame]) -> pl.DataFrame:
    """`_adoption_counts` of every block of customers, summed per sku; sorted by sku."""
    return (
        pl.concat(blocks)
        .group_by("sku")
        .agg(pl.col("owners", "hits").sum())
        .filter((pl.col("owners") > 0) | (pl.col("hits") > 0))
        .sort("sku")
    )


def _category_spend(pairs: pl.LazyFrame, products: pl.DataFrame) -> pl.LazyFrame:
    return (
        pairs.join(products.lazy().select("sku", "category"), on="sku", how="left")
        .group_by("customer_id", "category")
        .agg(pl.col("cents").sum())
        .filter(pl.col("cents") > 0)
        .with_columns(
            _money(pl.col("cents")).alias("spend"),
            (pl.col("cents") / pl.col("cents").sum().over("customer_id")).alias("share"),
        )
        .select("customer_id", "category", "spend", "share")
        .sort("customer_id", "category")
    )


# Highest first; ties go to the alphabetically first name, whatever the row order. One sort of
# the whole frame costs less than sorting a million small groups one by one.
def _favourite_categories(categories: pl.LazyFrame) -> pl.LazyFrame:
    """Per customer of `_category_spend`: favourite_categories (top three) and favourite_share."""
    return (
        categories.sort(["customer_id", "share", "category"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .agg(
            pl.col("category").head(TOP_FAVOURITES).alias("favourite_categories"),
            pl.col("share").first().alias("favourite_share"),
        )
    )


def _favourite_products(bought: pl.LazyFrame) -> pl.LazyFrame:
    """Per customer of `_customer_products`: favourite_products (top three) and regular_products."""
    return (
        bought.sort(["customer_id", "receipts", "spend", "sku"], descending=[False, True, True, False])
        .group_by("customer_id", maintain_order=True)
        .agg(
            pl.col("sku").head(TOP_FAVOURITES).alias("favourite_products"),
            pl.col("regular").sum().cast(pl.Int32).alias("regular_products"),
        )
    )


def _customer_features(
    lines: pl.LazyFrame,
    favourite_categories: pl.LazyFrame,
    favourite_products: pl.LazyFrame,
    as_of: date,
    lookback_days: int,
) -> pl.LazyFrame:
    window_start = _window_start(as_of, lookback_days)
    rc = _receipts(lines).filter(pl.col("customer_id").is_not_null())
    in_window = pl.col("day") >= window_start
    visit = pl.col("cents") > 0
    per_customer = (
        rc.group_by("customer_id")
        .agg(
            visit.sum().cast(pl.Int32).alias("visits"),
            (visit & in_window).sum().cast(pl.Int32).alias("frequency"),
            _money(pl.when(in_window).then(pl.col("cents")).sum()).alias("monetary"),
        )
        .filter(pl.col("visits") > 0)
    )
    visit_days = (
        rc.filter(visit)
        .select("customer_id", "day")
        .sort("customer_id", "day")
        .unique(maintain_order=True)
        .with_columns(_gap(["customer_id"], pl.lit(True)).alias("gap"))
        .group_by("customer_id", maintain_order=True)
        .agg(
            pl.col("day").min().alias("first_purchase"),
            pl.col("day").max().alias("last_purchase"),
            _cycle(pl.len(), pl.col("gap")).alias("median_gap_days"),
        )
    )
    return (
        per_customer.join(visit_days, on="customer_id", how="inner")
        .join(favourite_categories, on="customer_id", how="left")
        .join(favourite_products, on="customer_id", how="left")
        .with_columns(
            _days_to(as_of, "last_purchase").alias("recency_days"),
            _days_to(as_of, "first_purchase").alias("tenure_days"),
            pl.when(pl.col("frequency") > 0)
            .then((pl.col("monetary") / pl.col("frequency")).round(2))
            .otherwise(None)
            .alias("avg_basket"),
            pl.col("favourite_categories").list.first().alias("favourite_category"),
            pl.col("favourite_categories").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            pl.col("favourite_products").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            pl.col("regular_products").fill_null(0),
        )
        .select(
            "customer_id",
            "first_purchase",
            "last_purchase",
            "recency_days",
            "tenure_days",
            "frequency",
            "monetary",
            "avg_basket",
            "visits",
            "median_gap_days",
            "favourite_category",
            "favourite_share",
            "favourite_categories",
            "favourite_products",
            "regular_products",
        )
        .sort("customer_id")
    )
