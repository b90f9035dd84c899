"""Breadth and caps on a ranked list of offers: few substitutes, no product everywhere.

The caps work on candidates sorted best first within each customer (a `score` column orders them
across customers too) and keep each customer's own order otherwise. `popularity_exponent` finds
the discount on popular products that spreads the offers as widely as the collaborative model.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import polars as pl

SAMPLE = 20_000
"""Customers the substitutes' factor is found on (bounds its cost on a large night)."""

BISECTIONS = 16

MAX_EXPONENT = 2.0
"""The strongest popularity discount: scores divided by (buyers + 1) to this power."""

MAX_ROUNDS = 25
"""Rounds of the exposure cap: each takes the over-cap pairs out and lets the next candidates up."""


def exposure_capped(
    ordered: pl.DataFrame,
    top_n: int,
    *,
    substitute_share: float | None,
    product_share: float,
    substitute_factor: float | None = None,
) -> pl.DataFrame:
    """Each customer's first `top_n` candidates under both caps, with `rank` (i32, 1 = best).

    With `substitute_share` (see `substitute_order`) substitutes move down each list. Then no
    product holds more than max(1, floor(product_share * offers)) of the offers, `offers` being
    the places filled without the cap (nor fewer than offers / the candidate products, so that a
    small catalogue can still fill them): in each round a product over its cap keeps the pairs of
    the highest scores (ties: customer_id) and loses the others, whose customers take their next
    candidates; after `MAX_ROUNDS` rounds, pairs still over a cap are dropped without replacement.

    Args:
        ordered: customer_id, sku, score (positive), substitute (bool) and any other columns,
            sorted by customer_id and best first within each customer.
        top_n: places per customer.
        substitute_share: at most this share of the places go to substitutes (None: no limit).
        product_share: at most this share of the places go to one product (1.0: no cap).
        substitute_factor: the factor on substitutes' scores when already found (on a sample of
            the night, `substitute_discount`); otherwise it is found on `ordered` once.
    """
    factor = substitute_factor
    if factor is None and substitute_share is not None:
        factor = substitute_discount(ordered, top_n, substitute_share)
    placed = _placed(ordered, top_n, factor)
    if product_share >= 1.0 or placed.is_empty():
        return placed
    products = ordered["sku"].n_unique()
    cap = max(1, math.floor(product_share * placed.height), math.ceil(placed.height / products))
    pool = ordered
    for _ in range(MAX_ROUNDS):
        over = _over_cap(placed, cap)
        if over.is_empty():
            return placed
        pool = pool.join(over, on=["customer_id", "sku"], how="anti", maintain_order="left")
        placed = _placed(pool, top_n, factor)
    return placed.join(_over_cap(placed, cap), on=["customer_id", "sku"], how="anti", maintain_order="left")


def _placed(pool: pl.DataFrame, top_n: int, factor: float | None) -> pl.DataFrame:
    """The first `top_n` of each customer, substitutes' scores times `factor` when given."""
    if factor is not None and factor < 1.0:
        discount = factor
        pool = pool.with_columns(
            pl.when(pl.col("substitute"))
            .then(pl.col("score") * discount)
            .otherwise(pl.col("score"))
            .alias("_order")
        ).sort(["customer_id", "_order"], descending=[False, True], maintain_order=True)
    return (
        pool.with_columns((pl.int_range(pl.len()).over("customer_id") + 1).cast(pl.Int32).alias("rank"))
        .filter(pl.col("rank") <= top_n)
        .drop("_order", strict=False)
    )


def substitute_discount(pool: pl.DataFrame, top_n: int, share: float, *, sample: int = SAMPLE) -> float:
    """The largest factor on substitutes' scores that keeps them to `share` of the first `top_n` places.

    Holding substitutes back by one factor for everybody keeps the offers of the highest scores
    under the share (a customer whose best products are all substitutes may get several, one with
    good new types none); a per-customer quota would give up better offers. The factor is found by
    bisection on a seeded sample of at most `sample` customers; 0 when even then substitutes fill
    more than the share (customers with too few new types), 1 when they stay under it anyway.
    Scores must be positive.
    """
    part = _sampled(pool, sample).select("customer_id", "score", "substitute")

    def held(factor: float) -> float:
        top = (
            part.with_columns(
                pl.when(pl.col("substitute"))
                .then(pl.col("score") * factor)
                .otherwise(pl.col("score"))
                .alias("o")
            )
            .sort(["customer_id", "o"], descending=[False, True])
            .group_by("customer_id", maintain_order=True)
            .head(top_n)
        )
        return int(top["substitute"].sum()) / top.height if top.height else 0.0

    return largest_factor(held, share)


def largest_factor(
    share_at: Callable[[float], float], share: float, *, bisections: int = BISECTIONS
) -> float:
    """The largest factor within 0 and 1 at which ``share_at(factor)`` is at most ``share``, by
    bisection (the share falling as the factor does): 1 when it holds at 1, 0 when it holds at no
    factor tried.
    """
    if share_at(1.0) <= share:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(bisections):
        middle = (low + high) / 2
        if share_at(middle) <= share:
            low = middle
        else:
            high = middle
    return low


def _over_cap(placed: pl.DataFrame, cap: int) -> pl.DataFrame:
    """customer_id, sku of the placed pairs past their product's first `cap` by score."""
    return (
        placed.select("customer_id", "sku", "score")
        .sort(["sku", "score", "customer_id"], descending=[False, True, False])
        .filter(pl.int_range(pl.len()).over("sku") >= cap)
        .select("customer_id", "sku")
    )


def popularity_exponent(pool: pl.DataFrame, top_n: int, *, sample: int = SAMPLE) -> float:
    """The weakest discount on popular products that offers as many products as the reference model.

    A learned chance favours what many people buy; ordered by it alone the night's offers crowd
    onto a few products. Ordering by ``score / (buyers + 1) ** a`` instead spreads them: this is
    the smallest `a` (within 0 and `MAX_EXPONENT`, by bisection) for which the customers' first
    `top_n` products are at least as many distinct products as the reference model's first
    `top_n` (its rank in `reference_rank`) for the same customers: the learned ranking never
    concentrates the offers more than the collaborative model would, and gives up as little of
    its order as that takes. Both are counted on one seeded sample of at most `sample` customers.

    Args:
        pool: customer_id, sku, score (positive), buyers (the product's buyers) and
            reference_rank (the reference model's rank of the pair, above `top_n` when it did not
            rank it).
        top_n: places per customer.
        sample: customers the products are counted on.
    """
    part, wanted, spread = _spreads(pool, top_n, sample)
    if part.is_empty() or spread(0.0) >= wanted:
        return 0.0
    if spread(MAX_EXPONENT) < wanted:
        return MAX_EXPONENT
    low, high = 0.0, MAX_EXPONENT
    for _ in range(BISECTIONS):
        middle = (low + high) / 2
        if spread(middle) >= wanted:
            high = middle
        else:
            low = middle
    return high


def reaches_reference(pool: pl.DataFrame, top_n: int, exponent: float, *, sample: int = SAMPLE) -> bool:
    """Whether ordering by ``score / (buyers + 1) ** exponent`` offers at least as many distinct
    products as the reference model (`popularity_exponent`'s test, on the same sample).
    """
    part, wanted, spread = _spreads(pool, top_n, sample)
    return part.is_empty() or spread(exponent) >= wanted


def _spreads(pool: pl.DataFrame, top_n: int, sample: int) -> tuple[pl.DataFrame, int, Callable[[float], int]]:
    """The sampled pool, the reference's distinct products and the count at a given exponent."""
    part = _sampled(pool, sample).select(
        "customer_id",
        "sku",
        pl.col("score").log().alias("log_score"),
        pl.col("buyers").cast(pl.Float64).log1p().alias("log_buyers"),
        "reference_rank",
    )
    wanted = part.filter(pl.col("reference_rank") <= top_n)["sku"].n_unique()

    def spread(exponent: float) -> int:
        return (
            part.with_columns((pl.col("log_score") - exponent * pl.col("log_buyers")).alias("o"))
            .sort(["customer_id", "o", "sku"], descending=[False, True, False])
            .group_by("customer_id", maintain_order=True)
            .head(top_n)["sku"]
            .n_unique()
        )

    return part, wanted, spread


def sample_customers(customers: pl.Series, sample: int = SAMPLE) -> pl.Series:
    """A seeded sample of at most `sample` of the distinct `customers` (the same whatever their order)."""
    return (
        pl.DataFrame({"customer_id": customers.cast(pl.String)})
        .drop_nulls()
        .unique()
        .with_columns(pl.col("customer_id").hash(0).alias("d"))
        .sort("d", "customer_id")
        .head(sample)["customer_id"]
        .sort()
    )


def _sampled(pool: pl.DataFrame, sample: int) -> pl.DataFrame:
    """The rows of a seeded sample of at most `sample` of the pool's customers."""
    drawn = sample_customers(pool["customer_id"], sample)
    return pool.join(pl.DataFrame({"customer_id": drawn}), on="customer_id", how="semi")
