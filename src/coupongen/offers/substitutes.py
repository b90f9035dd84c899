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

from coupongen.analysis.ranking_caps import largest_factor
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

GRID = 32
"""Factors k / GRID tried when the bisection's does not hold the share (see `held_for_budget`)."""


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
    return cands["customer_id"].n_unique()


def substitute_share(sent: pl.DataFrame, ctx: Purchases) -> float | None:
    """The share of ``sent``'s product offers (target_kind "sku") that are substitutes (see the
    module); None without a product offer.
    """
    items = sent.filter(pl.col("target_kind") == "sku")
    if items.is_empty():
        return None
    if SUBSTITUTE not in items.columns:  # not flagged for the budget's cut
        items = with_substitutes(items.select("customer_id", "target_kind", "target"), ctx)
    return round(float(items[SUBSTITUTE].mean()), 4)  # type: ignore[arg-type]


def held_for_budget(
    free: pl.DataFrame, budget: float | None, *, share: float, salt: str, holdout_share: float
) -> pl.DataFrame:
    """One candidate per customer of ``free`` (with `SUBSTITUTE`, maybe `ALTERNATIVE` rows), the
    substitutes held back so that the coupons `guards.within_budget` then sends are at most
    ``share`` substitutes; the holdout drawn (`guards.DRAWN`).

    One factor for the night multiplies the substitutes' positive priorities (`resolved`): the
    largest that holds the share, found by bisection and checked; since an alternative may cost
    more than the substitute it replaces, the share need not fall as the factor does, so a factor
    the bisection finds that does not hold the share gives way to the largest of `GRID` that does,
    or, when none does, to the one that sends the fewest substitutes. With a factor of 1 (the
    coupons hold the share anyway) every customer keeps their first offer and its priority.
    """
    if free.is_empty() or SUBSTITUTE not in free.columns:
        return free
    drawn = free
    if DRAWN not in drawn.columns:
        drawn = drawn.with_columns(
            in_holdout(drawn["customer_id"], salt=salt, share=holdout_share).alias(DRAWN)
        )
    shares: dict[float, float] = {}

    def sent_share(factor: float) -> float:
        if factor not in shares:
            kept = within_budget(resolved(drawn, factor), budget, salt=salt, share=holdout_share)
            shares[factor] = _share(kept.filter(~pl.col("held")))
        return shares[factor]

    low = largest_factor(sent_share, share, bisections=BISECTIONS)
    if sent_share(low) > share:
        grid = [k / GRID for k in range(GRID - 1, -1, -1)]
        low = next((f for f in grid if sent_share(f) <= share), min(grid, key=lambda f: (sent_share(f), -f)))
    return resolved(drawn, low)


def resolved(free: pl.DataFrame, factor: float) -> pl.DataFrame:
    """One row per customer of ``free``: with a ``factor`` below 1, substitutes' positive
    priorities times it, and a customer's `ALTERNATIVE` instead of their substitute when it is
    now the higher. An alternative whose customer has no first row (a filter took it out) is
    that customer's row.
    """
    if SUBSTITUTE not in free.columns:
        return free
    if ALTERNATIVE not in free.columns:
        first, instead = free, free.clear()
    else:
        first, instead = free.filter(~pl.col(ALTERNATIVE)), free.filter(pl.col(ALTERNATIVE))
        orphans = instead.join(first.select("customer_id"), on="customer_id", how="anti")
        first = pl.concat([first, orphans]).drop(ALTERNATIVE)
        instead = instead.join(orphans.select("customer_id"), on="customer_id", how="anti").drop(ALTERNATIVE)
    if factor >= 1.0:
        return first
    priority = pl.col("priority")
    held = first.with_columns(
        pl.when(pl.col(SUBSTITUTE) & (priority > 0))
        .then(priority * factor)
        .otherwise(priority)
        .alias("priority")
    )
    switched = instead.join(
        held.select("customer_id", pl.col("priority").alias("_held")), on="customer_id"
    ).filter(pl.col("priority") > pl.col("_held"))
    return pl.concat(
        [
            held.join(switched.select("customer_id"), on="customer_id", how="anti"),
            switched.select(held.columns),
        ]
    )


def lowest_edge(free: pl.DataFrame) -> pl.DataFrame:
    """One row per customer of ``free`` whose budget's edge is at or below the edge of any factor
    (`held_for_budget`): substitutes at a priority of 0 or their alternative's, each customer's row
    at the cost of their cheapest. A customer's priority under any factor is at least this one and
    their cost at least this one, so the budget runs out no sooner here: every customer whose bound
    reaches this edge is all a budget's cut (`bounded_cut`) has to rank.
    """
    if SUBSTITUTE not in free.columns:
        return free
    cheapest = free.group_by("customer_id").agg(pl.col("expected_cost").min().alias("_cheapest"))
    return (
        resolved(free, 0.0)
        .join(cheapest, on="customer_id")
        .with_columns(pl.col("_cheapest").alias("expected_cost"))
        .drop("_cheapest")
    )


def pinned(free: pl.DataFrame, earlier: pl.DataFrame) -> pl.DataFrame:
    """``free`` with each customer an earlier run of the night recorded (``earlier``: customer_id,
    target) held to the row of the target they were given, when ``free`` still has it (else to
    their first row, or their alternative when a filter took the first out): their coupon or
    holdout place stands, and counts at what it is.
    """
    if ALTERNATIVE not in free.columns or "target" not in earlier.columns or earlier.is_empty():
        return free
    recorded = earlier.select("customer_id", pl.col("target").alias("_given")).drop_nulls()
    marked = free.join(recorded, on="customer_id", how="left").with_columns(
        (pl.col("target") == pl.col("_given")).fill_null(False).alias("_same")
    )
    found = pl.col("_same").any().over("customer_id")
    first = ~pl.col(ALTERNATIVE) | ~(~pl.col(ALTERNATIVE)).any().over("customer_id")  # or the only row
    keep = pl.col("_given").is_null() | pl.col("_same") | (~found & first)
    return (
        marked.filter(keep)
        .with_columns((pl.col(ALTERNATIVE) & pl.col("_given").is_null()).alias(ALTERNATIVE))
        .drop("_given", "_same")
    )


def _share(sent: pl.DataFrame) -> float:
    """The share of substitutes among ``sent`` (0 when empty)."""
    return float(sent[SUBSTITUTE].mean()) if sent.height else 0.0  # type: ignore[arg-type]
