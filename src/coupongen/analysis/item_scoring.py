"""Scoring customers with a fitted item model: each customer's best products, ties to sku order.

Customers are scored in blocks (at most `item_models.BLOCK_CELLS` dense cells each) on a few
threads: scipy's product and numpy's selection release the GIL.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from coupongen.analysis.item_models import (
    ARGMAX_TOP,
    BLOCK_CELLS,
    TOP_N,
    ItemModel,
    PurchaseMatrix,
    first_per_row,
    top_per_row,
)

_SCORING_THREADS = min(4, os.cpu_count() or 1)

SPREAD_NOISE = 1e-9
"""A variance below this share of the scores' mean square is rounding noise (`score_spread`)."""

PAIR_CELLS = 1_000_000
"""Pairs of purchases per chunk of `score_spread` (each pair holds about ten numbers at once; a
customer with more pairs is a chunk of their own)."""

FLOOR_GROUP = 25
"""Columns per group whose maximum bounds a row's k-th largest score from below (`_kth_floor`)."""


def score_customers(
    purchases: PurchaseMatrix,
    model: ItemModel,
    *,
    top_n: int = TOP_N,
    allowed: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> pl.DataFrame:
    """The model's best `top_n` products per customer, with the purchase behind each.

    A product is a candidate when the model gives it a positive score, the customer did not buy
    it in the window and `allowed` (a bool per column of `purchases`) admits it. Customers are
    scored in blocks, so the dense scores never exceed a few million cells; `rows` limits the
    scoring to those matrix rows. Ties go to the product first in sku order.

    Returns:
        customer_id, sku, rank (1 = best), score, anchor: the customer's product i with the
        largest contribution x_i * weights[i, sku] to the score (ties: first in sku order).
    """
    r, c, s, a = score_rows(purchases, model, top_n=top_n, allowed=allowed, rows=rows)
    picked = np.arange(purchases.matrix.shape[0]) if rows is None else np.asarray(rows)
    r = picked[r]
    names = model.columns
    frame = pl.DataFrame(
        {
            "customer_id": purchases.customers.gather(r),
            "sku": purchases.items.gather(names[c]),
            "score": s,
            "anchor": purchases.items.gather(names[a]),
        }
    )
    return frame.with_columns(
        (pl.int_range(pl.len()).over("customer_id") + 1).cast(pl.Int32).alias("rank")
    ).select("customer_id", "sku", "rank", "score", "anchor")


def score_rows(
    purchases: PurchaseMatrix,
    model: ItemModel,
    *,
    top_n: int = TOP_N,
    allowed: np.ndarray | None = None,
    rows: np.ndarray | None = None,
    anchors: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`score_customers` as arrays: (positions in `rows` (or matrix rows), model columns of the
    products, scores, model columns of the anchors (empty without `anchors`: naming them reads
    each customer's purchases for every pair, most of the work of deep lists)), by row and then
    best first.
    """
    ok = np.ones(model.columns.size, bool) if allowed is None else np.asarray(allowed)[model.columns]
    picked = np.arange(purchases.matrix.shape[0]) if rows is None else np.asarray(rows)
    # Only the columns that may be recommended are scored: each column's score is its own sum, so
    # leaving the others out changes no score, and ties still go to the first in sku order.
    offered = np.flatnonzero(ok)
    scored_weights = model.weights[:, offered]
    if isinstance(scored_weights, np.ndarray):
        # numpy gives the selected columns in column-major order; the product reads the weights
        # a row per purchase, several times faster from rows laid out one after the other
        scored_weights = np.ascontiguousarray(scored_weights)
    size = max(1, BLOCK_CELLS // max(1, offered.size))

    def scored(start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        # the block's rows first, then the model's columns: slicing the columns of the whole
        # matrix would copy every customer's purchases for each call
        x = purchases.matrix[picked[start : start + size]][:, model.columns]
        r, c, s, a = _score_block(x, model.weights if anchors else None, scored_weights, offered, top_n)
        return r + start, c, s, a

    # Blocks are independent and scipy and numpy release the GIL while they work: a few threads
    # score them side by side; the blocks' results are taken in order, so nothing depends on it.
    starts = range(0, picked.size if offered.size else 0, size)
    with ThreadPoolExecutor(max_workers=_SCORING_THREADS) as pool:
        parts = list(pool.map(scored, starts))
    if not parts:
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty(0), empty
    r, c, s, a = (np.concatenate(p) for p in zip(*parts, strict=True))
    return r, c, s, a


def pair_scores(
    purchases: PurchaseMatrix, model: ItemModel, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """The model's score of given pairs: matrix row ``rows[p]`` (a customer) and model column
    ``cols[p]`` (a position in ``model.columns``), the sum of ``weights[i, cols[p]]`` over the
    customer's purchases i the model covers (0 where none does).

    For a few pairs per customer (the learned ranking's candidates) this reads each pair's
    purchases once, where scoring every product would multiply every purchase by every column.
    Pairs are taken in chunks of at most `BLOCK_CELLS` purchases, so memory stays bounded.
    """
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    out = np.zeros(rows.size)
    if not rows.size:
        return out
    matrix = purchases.matrix
    position = np.full(matrix.shape[1], -1, np.int64)
    position[model.columns] = np.arange(model.columns.size)
    counts = matrix.indptr[rows + 1] - matrix.indptr[rows]
    ends = np.cumsum(counts)
    start = 0
    while start < rows.size:
        # the pairs whose purchases fit in one chunk (at least one pair)
        stop = max(start + 1, int(np.searchsorted(ends, ends[start] - counts[start] + BLOCK_CELLS, "right")))
        n = counts[start:stop]
        pair = np.repeat(np.arange(stop - start), n)
        at = np.repeat(matrix.indptr[rows[start:stop]] - (np.cumsum(n) - n), n) + np.arange(int(n.sum()))
        item = position[matrix.indices[at]]
        kept = item >= 0
        values = matrix.data[at[kept]] * model.weights[item[kept], cols[start:stop][pair[kept]]]
        out[start:stop] = np.bincount(pair[kept], weights=values, minlength=stop - start)
        start = stop
    return out


@dataclass(frozen=True)
class Spread:
    """What the mean and spread of a dense model's scores over some of its columns need, summed
    once per model (`spread_of`).

    allowed: per model column, whether its score counts. total: per model row i, the sum of
    ``weights[i, j]`` over the allowed columns j. square: ``W @ W.T`` for W the weights' allowed
    columns (what a customer's sum of squared scores reads, two purchases at a time).
    """

    allowed: np.ndarray
    total: np.ndarray
    square: np.ndarray


def spread_of(model: ItemModel, allowed: np.ndarray) -> Spread:
    """The `Spread` of a dense model (EASE) over the model columns where `allowed` is true."""
    if not isinstance(model.weights, np.ndarray):
        raise TypeError("the spread of the scores needs a dense model (EASE)")
    ok = np.asarray(allowed, bool)
    kept = np.ascontiguousarray(model.weights[:, ok])
    # a product with its own transpose: numpy's symmetric kernel, half a general product's work
    return Spread(allowed=ok, total=kept.sum(axis=1), square=kept @ kept.T)


def score_spread(
    purchases: PurchaseMatrix, model: ItemModel, spread: Spread, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per matrix row of `rows` (a customer), the mean and standard deviation of the model's scores
    over the allowed columns the customer did not buy (0 and 0 for a customer without any).

    Every product's score is a sum over the customer's purchases, so its sum over the columns is a
    sum over the purchases of `Spread.total`, and its sum of squares a sum over pairs of purchases
    of `Spread.square`; the customer's own products' scores (left out) read pairs of purchases as
    well. The work grows with the square of each customer's purchases, never with the catalogue:
    a customer's standing among every product without scoring every product. Customers are taken
    in chunks of at most `PAIR_CELLS` pairs (a customer with more is a chunk of their own). A
    customer with at most one product left, or whose scores are all equal, has a spread of 0.
    """
    rows = np.asarray(rows, np.int64)
    if not rows.size:
        return np.zeros(0), np.zeros(0)
    weights = model.weights
    assert isinstance(weights, np.ndarray)
    x = purchases.matrix[rows][:, model.columns]
    cols, data = x.indices.astype(np.int64), x.data
    counts = np.diff(x.indptr).astype(np.int64)
    cell_row = np.repeat(np.arange(rows.size), counts)
    own = spread.allowed[cols]
    total = np.bincount(cell_row, weights=data * spread.total[cols], minlength=rows.size)
    left_out = np.bincount(cell_row, weights=own, minlength=rows.size)
    square, own_sum, own_square = np.zeros(rows.size), np.zeros(rows.size), np.zeros(rows.size)
    pairs = counts**2
    ends = np.cumsum(pairs)
    start = 0
    while start < rows.size:
        stop = max(start + 1, int(np.searchsorted(ends, ends[start] - pairs[start] + PAIR_CELLS, "right")))
        lo, hi = int(x.indptr[start]), int(x.indptr[stop])
        span = np.repeat(counts[start:stop], counts[start:stop])  # per cell, its row's purchases
        left = np.repeat(np.arange(lo, hi), span)
        # the cells of the left cell's row, in order
        first = np.repeat(np.repeat(x.indptr[start:stop], counts[start:stop]), span)
        right = first + np.arange(left.size) - np.repeat(np.cumsum(span) - span, span)
        a, b = cols[left], cols[right]
        row = cell_row[left] - start
        square[start:stop] = np.bincount(
            row, weights=data[left] * data[right] * spread.square[a, b], minlength=stop - start
        )
        mine = np.bincount(right - lo, weights=data[left] * weights[a, b], minlength=hi - lo)
        mine = np.where(own[lo:hi], mine, 0.0)
        here = cell_row[lo:hi] - start
        own_sum[start:stop] = np.bincount(here, weights=mine, minlength=stop - start)
        own_square[start:stop] = np.bincount(here, weights=mine * mine, minlength=stop - start)
        start = stop
    n = float(np.count_nonzero(spread.allowed)) - left_out
    counted = n > 0
    mean = np.divide(total - own_sum, n, out=np.zeros(rows.size), where=counted)
    second = np.divide(square - own_square, n, out=np.zeros(rows.size), where=counted)
    variance = second - mean * mean
    # the difference of two sums leaves rounding noise where the scores do not spread (a single
    # product left, or equal scores): that is no spread, not a tiny one to divide by
    flat = (n <= 1) | (variance <= SPREAD_NOISE * second)
    return mean, np.where(flat, 0.0, np.sqrt(np.maximum(variance, 0.0)))


def _score_block(
    x: sp.csr_matrix,
    weights: np.ndarray | sp.csr_matrix | None,
    scored_weights: np.ndarray | sp.csr_matrix,
    offered: np.ndarray,
    top_n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The best ``top_n`` positive scores of each row of ``x`` over the ``offered`` columns
    (``scored_weights`` is ``weights[:, offered]``), the customer's own purchases left out:
    (rows, model columns, scores, anchors: none without ``weights``).
    """
    live = np.flatnonzero(np.diff(x.indptr))
    if live.size < x.shape[0]:
        # a customer without a purchase the model covers scores 0 everywhere: never a candidate
        r, c, v, a = _score_block(x[live], weights, scored_weights, offered, top_n)
        return live[r], c, v, a
    scores = x @ scored_weights
    scores = np.asarray(scores.todense()) if sp.issparse(scores) else scores
    # The customer's own purchases among the offered columns are never recommended.
    position = np.full(x.shape[1], -1, np.int64)
    position[offered] = np.arange(offered.size)
    own_rows, own_cols = x.nonzero()
    own = position[own_cols]
    scores[own_rows[own >= 0], own[own >= 0]] = -np.inf
    rows, cols, vals = _top_positive(scores, top_n)
    cols = offered[cols]
    return rows, cols, vals, np.empty(0, np.int64) if weights is None else row_anchors(x, weights, rows, cols)


def _top_positive(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`item_models.top_per_row` over the positive values only: a row's largest values come first,
    so its positive ones among them are its (at most k) largest positive values.
    """
    n_rows, n_cols = values.shape
    if k <= ARGMAX_TOP or n_rows == 0 or k >= n_cols:
        rows, cols, vals = top_per_row(values, k)
        keep = vals > 0
        return rows[keep], cols[keep], vals[keep]
    # `top_by_partition` without its stand-ins for the missing values: here only the customer's
    # own products are missing (-inf), a few per row, and a positive value is kept when it is at
    # least a bound under the row's k-th largest: the values below the k-th come after the k
    # best in `first_per_row`'s order, so they are never among those kept
    floor = _kth_floor(values, k)
    rows, cols = np.nonzero((values >= floor[:, np.newaxis]) & (values > 0))
    return first_per_row(rows, cols, values[rows, cols], k)


def _kth_floor(values: np.ndarray, k: int) -> np.ndarray:
    """Per row, a value at most the row's k-th largest (k < the number of columns; no NaN, which
    the models never score: item-kNN's undefined similarities are -inf, EASE's ridge keeps its
    inverse finite).

    The k-th largest of the maxima of `FLOOR_GROUP` columns at a time: k groups hold a value at
    least that large, so the row holds k. Partitioning the few maxima costs a fraction of
    partitioning the whole rows, and the bound stays close to the k-th value.
    """
    n_cols = values.shape[1]
    starts = np.arange(0, n_cols, FLOOR_GROUP)
    if starts.size <= k:
        return np.partition(values, n_cols - k, axis=1)[:, n_cols - k]
    maxima = np.maximum.reduceat(values, starts, axis=1)
    return np.partition(maxima, starts.size - k, axis=1)[:, starts.size - k]


def row_anchors(
    x: sp.csr_matrix, weights: np.ndarray | sp.csr_matrix, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """For each (row, col) pair, the row's column i with the largest x[row, i] * weights[i, col]."""
    if rows.size == 0:
        return np.empty(0, np.int64)
    pair, cells, items, targets = anchor_cells(x, rows, cols)
    w = np.asarray(weights[items, targets]).ravel() if sp.issparse(weights) else weights[items, targets]
    return best_anchors(pair, items, x.data[cells] * w)


def anchor_cells(
    x: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every stored cell of each pair's row: the pair's number, the cell's index in ``x.data``,
    its column (the candidate anchor) and the pair's column (the target), as int64 arrays.
    """
    counts = np.diff(x.indptr)[rows]
    pair = np.repeat(np.arange(rows.size), counts)
    first = np.cumsum(counts) - counts
    cells = np.repeat(x.indptr[rows], counts) + (np.arange(pair.size) - np.repeat(first, counts))
    return pair, cells, x.indices[cells].astype(np.int64), np.repeat(cols, counts).astype(np.int64)


def best_anchors(pair: np.ndarray, items: np.ndarray, contribution: np.ndarray) -> np.ndarray:
    """Per pair, the item of the largest contribution (ties to the first item).

    `pair` is ascending (`anchor_cells`' order) and every pair has at least one cell: a pair's
    cells are a run, reduced in one pass each (no sort of all the cells).
    """
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    best = np.maximum.reduceat(contribution, starts)
    at_best = contribution == np.repeat(best, np.diff(np.r_[starts, pair.size]))
    return np.minimum.reduceat(np.where(at_best, items, np.iinfo(np.int64).max), starts)
