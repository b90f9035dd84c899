"""The learned ranking's night order: one popularity discount and one substitutes' factor for all.

The learned chances favour what many people buy, and products of a type the customer already
buys; ordered by them alone the offers crowd onto a few products and substitutes. The night's
order divides each chance by a power of the product's buyers (`popularity_discount`, "auto": the
weakest that spreads the offers as widely as EASE) and holds substitutes back by one factor, so at
most `max_substitute_share` of the offers are substitutes (`ranking_caps`). Both are found on a
sample of the night's customers, then every block of customers is ordered alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from coupongen.analysis.ranking_caps import (
    exposure_capped,
    popularity_exponent,
    reaches_reference,
    substitute_discount,
)
from coupongen.analysis.ranking_sources import SOURCES

if TYPE_CHECKING:
    from coupongen.analysis.rank_spec import RankSpec


KEPT = ("customer_id", "sku", "anchor", "substitute", "item_buyers", *(f"{s}_rank" for s in SOURCES))
"""The columns of a scored candidate the night's order reads."""


@dataclass(frozen=True)
class NightOrder:
    """How the night's chances are turned into an order: one popularity power, one substitutes' factor.

    exponent: chances are divided by (the product's buyers + 1) to this power. factor: the
    substitutes' discounted chances are multiplied by it (None: substitutes are not held back).
    """

    exponent: float
    factor: float | None


FIT_ROUNDS = 6
"""Rounds of fitting the automatic popularity power and the substitutes' factor to each other."""


def night_order(frame: pl.DataFrame, top_n: int, spec: RankSpec) -> NightOrder:
    """The night's order, found on scored candidates (`score` the chance) of a sample of customers.

    The automatic power is first found with substitutes held by the factor the undiscounted
    chances call for; the discounted chances call for another factor, which moves the offers a
    little (on a real retailer's history the 502 products EASE offers became 497). Until the
    power and the factor it calls for meet the reference's breadth together (at most
    `FIT_ROUNDS` rounds), the power is found again with substitutes held by that factor.
    """
    exponent = discount_exponent(frame, top_n, spec)
    if not spec.prefer_new_types or frame.is_empty():
        return NightOrder(exponent, None)
    share = spec.max_substitute_share
    factor = substitute_discount(ordered(frame, NightOrder(exponent, None)), top_n, share)
    for _ in range(FIT_ROUNDS if spec.popularity_discount is None else 0):
        pool = _reference_pool(frame, factor)
        if reaches_reference(pool, top_n, exponent):
            break
        exponent = popularity_exponent(pool, top_n)
        factor = substitute_discount(ordered(frame, NightOrder(exponent, None)), top_n, share)
    return NightOrder(exponent, factor)


def ordered(frame: pl.DataFrame, order: NightOrder) -> pl.DataFrame:
    """The candidates by discounted chance (`score`), best first per customer; `chance` kept."""
    return frame.with_columns(
        pl.col("score").alias("chance"),
        (pl.col("score") / (pl.col("item_buyers").cast(pl.Float64) + 1.0) ** order.exponent).alias("score"),
    ).sort(["customer_id", "score", "sku"], descending=[False, True, False])


def placed(frame: pl.DataFrame, top_n: int, order: NightOrder, *, product_share: float = 1.0) -> pl.DataFrame:
    """Each customer's first `top_n` of the `ordered` candidates, under the night's caps."""
    capped = exposure_capped(
        frame,
        top_n,
        substitute_share=None,
        product_share=product_share,
        substitute_factor=order.factor,
    )
    return capped.select("rank", "score", "chance", *(c for c in KEPT if c in capped.columns))


def order_offers(frame: pl.DataFrame, top_n: int, spec: RankSpec) -> pl.DataFrame:
    """Each customer's first `top_n` candidates of one frame, `score` the chance (see `rank`)."""
    order = night_order(frame, top_n, spec)
    return result(placed(ordered(frame, order), top_n, order, product_share=spec.max_product_share))


def discount_exponent(frame: pl.DataFrame, top_n: int, spec: RankSpec) -> float:
    """The power of the product's buyers the night's chances are divided by (see `RankSpec`).

    The automatic one is found on the chances with substitutes already held back (by the factor
    the undiscounted chances call for), as the offers will be.
    """
    if spec.popularity_discount is not None:
        return spec.popularity_discount
    if frame.is_empty():
        return 0.0
    factor = substitute_discount(frame, top_n, spec.max_substitute_share) if spec.prefer_new_types else None
    return popularity_exponent(_reference_pool(frame, factor), top_n)


def _reference_pool(frame: pl.DataFrame, factor: float | None) -> pl.DataFrame:
    """The candidates as `popularity_exponent` reads them, substitutes held by `factor` (None: not held)."""
    score = pl.col("score")
    if factor is not None:
        score = pl.when(pl.col("substitute")).then(score * factor).otherwise(score)
    return frame.select(
        "customer_id",
        "sku",
        score.alias("score"),
        pl.col("item_buyers").alias("buyers"),
        pl.col("ease_rank").alias("reference_rank"),
    )


def result(offers: pl.DataFrame) -> pl.DataFrame:
    """The offers' columns: customer_id, sku, rank, score (the chance), anchor, substitute."""
    return offers.select(
        "customer_id", "sku", "rank", pl.col("chance").alias("score"), "anchor", "substitute"
    )
