"""How many of a night's cross-sell offers are substitutes of what the customer already buys, and
the hold that keeps them to a share of the coupons a budget lets out.

A product's type is its subcategory where the products file has one, else its category
(`ranking_sources.product_types`, as the ranking and the backtest read it). An offer is a
substitute when its customer bought a product of the target's type in the look-back window: another
brand of the eggs they buy is a discount on what they would buy anyway. The run's summary and
report give the share per cross-sell campaign, beside the backtest's measure of the same thing.

The ranking holds substitutes back within each customer's list (``relevance_hold``), but a budget
keeps the customers of the highest priorities, and a substitute is the likeliest purchase: on a
real grocery night the learned ranking's 300 likeliest first offers were 95% substitutes. So the
budget's cut holds them back too (`held_for_budget`): one factor on the substitutes' priorities,
the largest under which the coupons the budget pays for are at most the share substitutes.
"""

from __future__ import annotations

from typing import Protocol

import polars as pl

from coupongen.analysis.ranking_sources import product_types
from coupongen.offers.guards import DRAWN, in_holdout, within_budget


class Purchases(Protocol):
    """What the flags read (a `candidates.OfferContext`): the products, and each customer's
    purchases in the look-back window.
    """

    @property
    def products(self) -> pl.DataFrame:
        """The catalogue: sku, category and maybe subcategory (the products' types)."""
        ...

    def bought_recently_parts(self) -> list[pl.LazyFrame]:
        """(customer_id, sku) of the purchases in the look-back window, in parts that may overlap."""
        ...


SUBSTITUTE = "substitute"
"""The candidates' column `with_substitutes` adds (bool)."""

ALTERNATIVE = "alternative"
"""True on a candidate that stands in for its customer's substitute (`with_alternatives`)."""

BISECTIONS = 12
"""Halvings of the factor's interval: within 1/4096 of the largest that holds the share."""


def with_substitutes(cands: pl.DataFrame, ctx: Purchases) -> pl.DataFrame:
    """``cands`` (customer_id, target, and target_kind unless every target is a product) with
    `SUBSTITUTE`: true for a product offer whose type the customer bought in the look-back window
    (see the module).
    """
    if cands.is_empty():
        return cands.with_columns(pl.lit(False).alias(SUBSTITUTE))
    types = product_types(ctx.products).lazy().select(pl.col("sku").alias("target"), "type")
    # Only the candidates' customers' purchases, not the whole history.
    customers = cands.select("customer_id").unique().lazy()
    bought_types = (
        pl.concat(ctx.bought_recently_parts())
        .join(customers, on="customer_id", how="semi")
        .join(types.rename({"target": "sku"}), on="sku")
        .select("customer_id", "type")
        .unique()
        .with_columns(pl.lit(True).alias(SUBSTITUTE))
    )
    product = pl.col("target_kind") == "sku" if "target_kind" in cands.columns else pl.lit(True)
    flagged = (
        cands.lazy()
        .with_row_index("_row")
        .join(types, on="target", how="left")
        .join(bought_types, on=["customer_id", "type"], how="left")
        .with_columns((pl.col(SUBSTITUTE).fill_null(False) & product).alias(SUBSTITUTE))
        .sort("_row")
        .drop("_row", "type")
        .collect()
    )
    return flagged


def with_alternatives(listed: pl.DataFrame) -> pl.DataFrame:
    """Each customer's first offer of ``listed`` and, when it is a substitute, their best product
    of a new type as an `ALTERNATIVE` row (true) the budget's cut may take instead
    (`held_for_budget`).

    ``listed``: customer_id, target, rank (1 = best), `SUBSTITUTE` and any other columns, every
    row of each customer's list; ties go to the first target.
    """
    ordered = listed.sort("customer_id", "rank", "target")
    best = ordered.group_by("customer_id", maintain_order=True).first()
    instead = (
        ordered.filter(~pl.col(SUBSTITUTE))
        .join(best.filter(pl.col(SUBSTITUTE)).select("customer_id"), on="customer_id", how="semi")
        .group_by("customer_id", maintain_order=True)
        .first()
    )
    return pl.concat(
        [
            best.with_columns(pl.lit(False).alias(ALTERNATIVE)),
            instead.with_columns(pl.lit(True).alias(ALTERNATIVE)),
        ]
    ).sort("customer_id", ALTERNATIVE)


def customers_of(cands: pl.DataFrame) -> int:
    """The customers of candidates that may hold `ALTERNATIVE` rows (one offer each in the end)."""
    if ALTERNATIVE not in cands.columns:
        return cands.height
    return cands.filter(~pl.col(ALTERNATIVE)).height


def substitute_share(sent: pl.DataFrame, ctx: Purchases) -> float | None:
    """The share of ``sent``'s product offers (target_kind "sku") that are substitutes (see the
    module); None without a product offer.
    """
    items = sent.filter(pl.col("target_kind") == "sku").select("customer_id", "target_kind", "target")
    if items.is_empty():
        return None
    return round(float(with_substitutes(items, ctx)[SUBSTITUTE].mean()), 4)  # type: ignore[arg-type]


def held_for_budget(
    free: pl.DataFrame, budget: float | None, *, share: float, salt: str, holdout_share: float
) -> pl.DataFrame:
    """One candidate per customer of ``free`` (with `SUBSTITUTE`, maybe `ALTERNATIVE` rows), the
    substitutes held back so that the coupons `guards.within_budget` then sends are at most
    ``share`` substitutes; the holdout drawn (`guards.DRAWN`).

    One factor for the night multiplies the substitutes' positive priorities: the largest that
    holds the share (within 1/4096; 0 when none does). A customer whose substitute's priority so
    lowered falls below their alternative's takes the alternative. With a factor of 1 (the
    coupons hold the share anyway) every customer keeps their first offer and its priority. What
    an earlier run of the night recorded stays and counts.
    """
    if free.is_empty() or SUBSTITUTE not in free.columns:
        return free
    drawn = free
    if DRAWN not in drawn.columns:
        drawn = drawn.with_columns(
            in_holdout(drawn["customer_id"], salt=salt, share=holdout_share).alias(DRAWN)
        )

    def sent(factor: float) -> pl.DataFrame:
        kept = within_budget(resolved(drawn, factor), budget, salt=salt, share=holdout_share)
        return kept.filter(~pl.col("held"))

    if _share(sent(1.0)) <= share:
        return resolved(drawn, 1.0)
    low, high = 0.0, 1.0
    for _ in range(BISECTIONS):
        middle = (low + high) / 2
        if _share(sent(middle)) <= share:
            low = middle
        else:
            high = middle
    return resolved(drawn, low)


def resolved(free: pl.DataFrame, factor: float) -> pl.DataFrame:
    """One row per customer of ``free``: substitutes' positive priorities times ``factor`` (below
    1), and a customer's `ALTERNATIVE` instead of their substitute when it is now the higher.
    """
    if SUBSTITUTE not in free.columns:
        return free
    if ALTERNATIVE not in free.columns:
        first, instead = free, None
    else:
        first, instead = free.filter(~pl.col(ALTERNATIVE)), free.filter(pl.col(ALTERNATIVE))
    if factor >= 1.0:
        return first.drop(ALTERNATIVE, strict=False)
    priority = pl.col("priority")
    held = first.with_columns(
        pl.when(pl.col(SUBSTITUTE) & (priority > 0))
        .then(priority * factor)
        .otherwise(priority)
        .alias("priority")
    )
    if instead is None or instead.is_empty():
        return held
    switched = instead.join(
        held.select("customer_id", pl.col("priority").alias("_held")), on="customer_id"
    ).filter(pl.col("priority") > pl.col("_held"))
    return pl.concat(
        [
            held.drop(ALTERNATIVE).join(switched.select("customer_id"), on="customer_id", how="anti"),
            switched.select(held.drop(ALTERNATIVE).columns),
        ]
    )


def _share(sent: pl.DataFrame) -> float:
    """The share of substitutes among ``sent`` (0 when empty)."""
    return float(sent[SUBSTITUTE].mean()) if sent.height else 0.0  # type: ignore[arg-type]
