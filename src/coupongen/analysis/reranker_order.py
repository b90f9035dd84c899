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

from coupongen.analysis.ranking_caps import exposure_capped, popularity_exponent, substitute_discount
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


def night_order(frame: pl.DataFrame, top_n: int, spec: RankSpec) -> NightOrder:
    """The night's order, found on scored candidates (`score` the chance) of a sample of customers."""
    exponent = discount_exponent(frame, top_n, spec)
    if not spec.prefer_new_types or frame.is_empty():
        return NightOrder(exponent, None)
    factor = substitute_discount(ordered(frame, NightOrder(exponent, None)), top_n, spec.max_substitute_share)
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
    held = frame
    if spec.prefer_new_types:
        factor = substitute_discount(frame, top_n, spec.max_substitute_share)
        held = frame.with_columns(
            pl.when(pl.col("substitute"))
            .then(pl.col("score") * factor)
            .otherwise(pl.col("score"))
            .alias("score")
        )
    return popularity_exponent(
        held.select(
            "customer_id",
            "sku",
            "score",
            pl.col("item_buyers").alias("buyers"),
            pl.col("ease_rank").alias("reference_rank"),
        ),
        top_n,
    )


def result(offers: pl.DataFrame) -> pl.DataFrame:
    """The offers' columns: customer_id, sku, rank, score (the chance), anchor, substitute."""
    return offers.select(
        "customer_id", "sku", "rank", pl.col("chance").alias("score"), "anchor", "substitute"
    )
