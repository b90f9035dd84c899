"""Blocks of lines: ranges of customer ids (or receipt ids) holding about as many lines each.

Facts that are each customer's own (per customer and product, per customer and category) can be
computed one block of customers at a time, and baskets one block of receipts at a time, so that
their sorts and groups hold one block's lines, not all lines. Ranges follow the order of the ids,
so blocks computed in turn and put one after the other are in the order of the ids.
"""

from __future__ import annotations

import itertools

import polars as pl

SAMPLE_EVERY = 20
"""Every how many lines a customer id is sampled to place the ranges' bounds."""

Range = tuple[str | None, str | None]


def customer_ranges(lines: pl.LazyFrame, size: int, column: str = "customer_id") -> list[Range]:
    """Ranges [low, high) of the lines' customer ids (None: open) of about ``size`` lines each.

    The bounds are quantiles of a sample of the lines' customer ids (every `SAMPLE_EVERY`-th line),
    so the ranges hold about equal numbers of lines; a customer's lines are all in one range.
    Lines without a customer are in none. ``column`` ranges another text column instead.
    """
    known = lines.select(pl.col(column).cast(pl.String).drop_nulls())
    count = known.select(pl.len()).collect().item()
    if count <= size:
        return [(None, None)]
    blocks = -(-count // size)
    sample = known.gather_every(SAMPLE_EVERY).collect().to_series().sort()
    picks = [sample.len() * i // blocks for i in range(1, blocks)]
    bounds = sample.gather(picks).unique(maintain_order=True).to_list()
    edges: list[str | None] = [None, *bounds, None]
    return list(itertools.pairwise(edges))


def in_range(block: Range, column: str = "customer_id") -> pl.Expr:
    """True for the lines whose customer_id (or ``column``) is in ``block``."""
    low, high = block
    key = pl.col(column).cast(pl.String)
    inside = key.is_not_null()
    if low is not None:
        inside &= key >= low
    if high is not None:
        inside &= key < high
    return inside
