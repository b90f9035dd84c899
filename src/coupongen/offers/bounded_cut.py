"""A cross-sell budget cut that ranks only the customers who could make it.

A cross-sell campaign with a budget keeps its candidates by descending priority, the relevance
score of each customer's best product, until the budget runs out: a few thousand coupons out of
hundreds of thousands of eligible customers. Ranking them all costs most of a night. Instead the
customers are taken in order of an upper bound of their priority (`relevance_bounds`) and ranked
in blocks; after each block the budget's edge (`guards.budget_edge`) is found among the ranked
ones, and when every customer left has a bound below it, none of them could be kept: the cut is
the one ranking everyone would give. The customers left out are still counted as candidates,
which they certainly are (each has a product to be offered).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from coupongen.analysis.relevance import Ranker
from coupongen.analysis.relevance_bounds import priority_bounds
from coupongen.config import CampaignConfig, MoneyRule
from coupongen.offers.guards import budget_edge

FIRST_BLOCK = 20_000
"""Customers ranked before the budget's edge is first looked for (besides those always ranked)."""


@dataclass(frozen=True)
class BoundedCut:
    """What the blocks gave: the ranked customers' candidates (``cands``) and those under the
    caps (``free``), the budget they were cut against, and the customers never ranked
    (``unranked``: customer_id), each of whom has a candidate.
    """

    cands: pl.DataFrame
    free: pl.DataFrame
    budget: float | None
    unranked: pl.DataFrame


def can_bound(campaign: CampaignConfig, ranker: Ranker | None) -> bool:
    """True for a cross-sell campaign whose cut `bounded_cut` can find: a budget, the priority
    order, no target of its own, a reward not priced off the pick, and an item model fitted here.
    """
    return (
        ranker is not None
        and ranker.fits_here
        and campaign.type == "cross_sell"
        and campaign.rank_by == "priority"
        and campaign.target is None
        and (campaign.budget is not None or campaign.lifetime_budget is not None)
        and not isinstance(campaign.reward.value, MoneyRule)
    )


def bounded_cut(
    ranker: Ranker,
    customers: pl.Series,
    always: pl.Series,
    free_of: Callable[[pl.Series], tuple[pl.DataFrame, pl.DataFrame]],
    budget_of: Callable[[pl.DataFrame], float | None],
    *,
    salt: str,
    share: float,
    held: Callable[[pl.DataFrame, float | None], pl.DataFrame] | None = None,
) -> BoundedCut | None:
    """Rank ``customers`` in blocks by descending bound until the rest cannot make the cut.

    ``always``: customers ranked in the first block whatever their bound (those an earlier run of
    the night recorded, those with purchases outside the analysis); customers not certain to get a
    candidate are ranked too. ``free_of(ids)`` gives the candidates of those customers and those
    of them under the caps (with expected_cost and, for recorded ones, recorded_held);
    ``budget_of(cands)`` the budget, from the first block's candidates. ``held(free, budget)``,
    when given, makes the candidates under the caps one per customer, priorities lowered
    (`substitutes.resolved`): the edge is found in that order, and since priorities only go
    down, a bound still bounds. None when the ranking has no bounds.
    """
    bounds = priority_bounds(ranker, customers)
    if bounds is None:
        return None
    first = pl.col("customer_id").is_in(always.implode()) | ~pl.col("listed")
    queue = bounds.sort(["bound", "customer_id"], descending=[True, False])
    block = pl.concat([queue.filter(first), queue.filter(~first).head(FIRST_BLOCK)])
    rest = queue.filter(~first).slice(FIRST_BLOCK)
    cands_parts: list[pl.DataFrame] = []
    free_parts: list[pl.DataFrame] = []
    budget: float | None = None
    while True:
        cands, free = free_of(block["customer_id"])
        if not cands_parts:
            budget = budget_of(cands)
        cands_parts.append(cands)
        free_parts.append(free)
        if rest.is_empty():
            break
        edge = None
        if budget is not None:
            ranked = pl.concat(free_parts) if held is None else held(pl.concat(free_parts), budget)
            edge = budget_edge(ranked, budget, salt=salt, share=share)
        if edge is not None and float(rest["bound"][0]) < edge:
            break
        # Everyone whose bound reaches the edge is needed; without an edge, twice as many as so far.
        take = _reaching(rest, edge, queue.height - rest.height)
        block, rest = rest.head(take), rest.slice(take)
    return BoundedCut(cands=pl.concat(cands_parts), free=pl.concat(free_parts), budget=budget, unranked=rest)


def _reaching(rest: pl.DataFrame, edge: float | None, ranked: int) -> int:
    """How many of ``rest`` (by descending bound) to rank next: those whose bound reaches ``edge``,
    or as many as were ranked so far when there is no edge yet; at least one.
    """
    if edge is None:
        return max(1, ranked)
    return max(1, rest.height - int((rest["bound"] < edge).sum()))
