"""The cross-sell candidates in integer codes: customers and products numbered once a night.

`ranking_sources.propose` gathers every source's candidates for a block of customers. Joined and
sorted on text ids, those lists cost more than the sources' models at a million customers; here
the promotable products are numbered in sku order and a block's customers in id order, so a pair
is one integer, "not bought in the window" is a binary search and the union of the sources is a
sort of integers. The codes keep the order of the ids, so every order (and every tie broken by
sku) is the one the text ids give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from coupongen.analysis.item_models import PurchaseMatrix


@dataclass(frozen=True)
class Codes:
    """The night's numbering, shared by every block.

    skus: the promotable products, sorted and distinct (a product's code is its position).
    customers: the customers who bought in the window, sorted and distinct (likewise).
    owned_start, owned_sku: the codes of the promotable products each customer bought in the
    window, ascending, customer c's at ``owned_sku[owned_start[c]:owned_start[c + 1]]``.
    item_sku: per column of the purchase matrix, its product's code (-1: not promotable).
    matrix_row: per customer, their row of the purchase matrix (-1: none).
    segment: per customer, their segment's number (-1: none).
    segment_sku, segment_score: per segment, its list of products best first (codes, -1 past
    the list's end) and their scores.
    """

    skus: pl.Series
    customers: pl.Series
    owned_start: np.ndarray
    owned_sku: np.ndarray
    item_sku: np.ndarray
    matrix_row: np.ndarray
    segment: np.ndarray
    segment_sku: np.ndarray
    segment_score: np.ndarray


@dataclass(frozen=True)
class Block:
    """One block's customers: ids sorted (a customer's position is their block code), each one's
    night code (-1: no purchase in the window) and the keys of the pairs they bought in the window.
    """

    customers: pl.Series
    known: np.ndarray
    owned: np.ndarray


@dataclass(frozen=True)
class Part:
    """One source's candidates: block code of the customer, product code, score, rank (1 = best)
    and the anchor's purchase-matrix column (-1: none), by customer.
    """

    customer: np.ndarray
    sku: np.ndarray
    score: np.ndarray
    rank: np.ndarray
    anchor: np.ndarray | None = None

    @property
    def size(self) -> int:
        """The number of candidates."""
        return int(self.customer.size)


def encode(
    recent: pl.DataFrame,
    promotable: pl.Series,
    purchases: PurchaseMatrix,
    segments: pl.DataFrame,
    segment_lists: pl.DataFrame,
) -> Codes:
    """Number the night's products and customers (see `Codes`).

    recent: customer_id, sku, each pair bought in the window once. segments: customer_id, segment.
    segment_lists: segment, sku, score, each segment's list best first.
    """
    skus = promotable.cast(pl.String).drop_nulls().unique().sort()
    sku_codes = pl.DataFrame({"sku": skus}).with_row_index("s").with_columns(pl.col("s").cast(pl.Int64))
    customers, c, s = _owned(recent, sku_codes)
    starts = np.zeros(customers.len() + 1, np.int64)
    np.cumsum(np.bincount(c, minlength=customers.len()), out=starts[1:])
    segment_names = segments["segment"].unique().sort()
    numbered = _numbered(segment_names, "segment", "g")
    listed = (
        segment_lists.join(numbered, on="segment", maintain_order="left")
        .join(sku_codes, on="sku", maintain_order="left")
        .with_columns(pl.int_range(pl.len()).over("g").alias("place"))
    )
    g, place = listed["g"].to_numpy(), listed["place"].to_numpy()
    width = int(place.max()) + 1 if place.size else 0
    segment_sku = np.full((segment_names.len(), width), -1, np.int64)
    segment_score = np.zeros((segment_names.len(), width))
    segment_sku[g, place] = listed["s"].to_numpy()
    segment_score[g, place] = listed["score"].to_numpy()
    segment = np.full(customers.len(), -1, np.int64)
    mine = segments.join(_numbered(customers, "customer_id", "c"), on="customer_id").join(
        numbered, on="segment"
    )
    segment[mine["c"].to_numpy()] = mine["g"].to_numpy()
    matrix_row = np.full(customers.len(), -1, np.int64)
    matrix_row[positions(customers, purchases.customers)] = np.arange(purchases.customers.len())
    return Codes(
        skus=skus,
        customers=customers,
        owned_start=starts,
        owned_sku=s,
        item_sku=positions(skus, purchases.items, missing=-1),
        matrix_row=matrix_row,
        segment=segment,
        segment_sku=segment_sku,
        segment_score=segment_score,
    )


def _owned(recent: pl.DataFrame, sku_codes: pl.DataFrame) -> tuple[pl.Series, np.ndarray, np.ndarray]:
    """The customers of `recent` (sorted, distinct) and its promotable pairs as (customer code,
    product code), by customer and product. Facts already by customer (`customer_products`'
    order) are numbered by runs of customers, without hashing or sorting their ids.
    """
    ids = recent["customer_id"]
    if ids.null_count() or not ids.is_sorted():
        customers = ids.drop_nulls().unique().sort()
        coded = recent.join(_numbered(customers, "customer_id", "c"), on="customer_id")
    else:
        coded = recent.with_columns(ids.rle_id().cast(pl.Int64).alias("c"))
        runs = coded["c"].to_numpy()
        customers = ids.gather(np.flatnonzero(np.r_[True, runs[1:] != runs[:-1]]) if runs.size else [])
    coded = coded.join(sku_codes, on="sku", maintain_order="left").select("c", "s")
    c, s = coded["c"].to_numpy(), coded["s"].to_numpy()
    key = c * max(1, sku_codes.height) + s
    if key.size and not bool(np.all(key[1:] > key[:-1])):
        order = np.argsort(key, kind="stable")
        c, s = c[order], s[order]
    return customers, c, s


def positions(dictionary: pl.Series, values: pl.Series, *, missing: int | None = None) -> np.ndarray:
    """Each value's position in the sorted, distinct `dictionary`; a value not in it gets
    `missing` (by default every value must be in it).
    """
    if dictionary.is_empty():
        return np.full(values.len(), -1 if missing is None else missing, np.int64)
    at = dictionary.search_sorted(values.cast(dictionary.dtype)).to_numpy().astype(np.int64)
    clipped = np.minimum(at, dictionary.len() - 1)
    found = (dictionary.gather(clipped) == values).fill_null(False).to_numpy()
    if missing is None:
        return at
    return np.where(found, clipped, missing)


def block_of(codes: Codes, customers: pl.Series) -> Block:
    """The block of `customers` (sorted, distinct ids), with what they bought in the window."""
    known = positions(codes.customers, customers, missing=-1)
    mine = np.flatnonzero(known >= 0)
    first, last = codes.owned_start[known[mine]], codes.owned_start[known[mine] + 1]
    cells = _ranges(first, last)
    who = np.repeat(mine, last - first)
    return Block(customers=customers, known=known, owned=who * codes.skus.len() + codes.owned_sku[cells])


def listed(codes: Codes, block: Block, skus: np.ndarray, scores: np.ndarray, top: int) -> Part:
    """One list for every customer of the block: each one's first `top` products not bought."""
    size = block.customers.len()
    customer = np.repeat(np.arange(size, dtype=np.int64), skus.size)
    return _first_unbought(codes, block, customer, np.tile(skus, size), np.tile(scores, size), skus.size, top)


def segmented(codes: Codes, block: Block, top: int) -> Part:
    """Each customer's segment's list: their first `top` products not bought."""
    width = codes.segment_sku.shape[1]
    mine = np.flatnonzero(block.known >= 0)
    mine = mine[codes.segment[block.known[mine]] >= 0]
    group = codes.segment[block.known[mine]]
    customer = np.repeat(mine, width)
    return _first_unbought(
        codes,
        block,
        customer,
        codes.segment_sku[group].ravel(),
        codes.segment_score[group].ravel(),
        width,
        top,
    )


def ranked(customer: np.ndarray) -> np.ndarray:
    """1, 2, 3... along each run of equal customers (the candidates' order within each)."""
    if not customer.size:
        return np.empty(0, np.int64)
    starts = np.flatnonzero(np.r_[True, customer[1:] != customer[:-1]])
    return np.arange(customer.size) - np.repeat(starts, np.diff(np.r_[starts, customer.size])) + 1


def union(parts: dict[str, Part], depth: dict[str, int], cap: int, n_skus: int) -> dict[str, np.ndarray]:
    """Every proposed pair once with each source's score and rank, each customer's best `cap`.

    A source that did not propose a pair gives it score 0 and rank depth + 1. The customer's best
    pairs have the best rank over the sources first, then the most reciprocal-rank votes (summed
    in `depth`'s order), then the first sku. Returns arrays by customer and sku: customer, sku,
    `<source>_score`, `<source>_rank` (i32), n_sources (i32) and anchor (the first source's with
    one, in `depth`'s order; -1: none).
    """
    present = {name: part for name, part in parts.items() if part.size}
    keys = np.concatenate(
        [
            np.empty(0, np.int64),
            *(present[n].customer * n_skus + present[n].sku for n in depth if n in present),
        ]
    )
    # the distinct pairs by polars' hash on all cores, each key's place by a binary search: the
    # same arrays as `np.unique(keys, return_inverse=True)` in two thirds of its time
    distinct = pl.Series(keys).unique().sort()
    pairs, where = distinct.to_numpy(), distinct.search_sorted(pl.Series(keys), side="left").to_numpy()
    out: dict[str, np.ndarray] = {}
    anchor = np.full(pairs.size, -1, np.int64)
    start = 0
    for name, top in depth.items():
        score, rank = np.zeros(pairs.size), np.full(pairs.size, top + 1, np.int32)
        part = present.get(name)
        if part is not None:
            at = where[start : start + part.size]
            start += part.size
            score[at], rank[at] = part.score, part.rank
            if part.anchor is not None:
                free = anchor[at] < 0
                anchor[at[free]] = part.anchor[free]
        out[f"{name}_score"], out[f"{name}_rank"] = score, rank
    customer, sku = pairs // n_skus, pairs % n_skus
    # polars adds the votes up (its own order of additions: the same ties as ever, to the bit) and
    # sorts each customer's pairs apart on all cores (the pairs come by customer), several times
    # faster than `np.lexsort` on these millions of pairs and faster than one sort of them all
    kept = (
        pl.DataFrame({name: out[f"{name}_rank"] for name in depth})
        .select(
            pl.Series("customer", customer),
            pl.min_horizontal(pl.all()).alias("best"),
            pl.sum_horizontal([1.0 / pl.col(name) for name in depth]).alias("votes"),
            pl.Series("sku", sku),
        )
        .with_row_index("pair")
        .group_by("customer", maintain_order=True)
        .agg(pl.col("pair").sort_by(["best", "votes", "sku"], descending=[False, True, False]).head(cap))[
            "pair"
        ]
        .explode()
        .sort()
        .to_numpy()
    )
    chosen = {name: values[kept] for name, values in out.items()}
    proposed = sum((chosen[f"{name}_rank"] <= top).astype(np.int32) for name, top in depth.items())
    return {
        "customer": customer[kept],
        "sku": sku[kept],
        **chosen,
        "n_sources": np.asarray(proposed, np.int32),
        "anchor": anchor[kept],
    }


def _first_unbought(
    codes: Codes,
    block: Block,
    customer: np.ndarray,
    sku: np.ndarray,
    score: np.ndarray,
    width: int,
    top: int,
) -> Part:
    """Lists of `width` products (-1: none) per customer, in order: each one's first `top` not
    bought in the window.
    """
    if not customer.size:
        return _nothing()
    keys = customer * codes.skus.len() + sku
    at = np.minimum(np.searchsorted(block.owned, keys), max(block.owned.size - 1, 0))
    bought = block.owned[at] == keys if block.owned.size else np.zeros(keys.size, bool)
    free = (sku >= 0) & ~bought
    place = np.cumsum(free.reshape(-1, width), axis=1).ravel()
    keep = free & (place <= top)
    return Part(customer[keep], sku[keep], score[keep], place[keep])


def _nothing() -> Part:
    empty = np.empty(0, np.int64)
    return Part(empty, empty, np.empty(0), empty)


def _ranges(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """The indices first[i]..last[i] - 1 of every range, one after the other."""
    counts = last - first
    offsets = np.cumsum(counts) - counts
    return np.repeat(first - offsets, counts) + np.arange(int(counts.sum()))


def _numbered(values: pl.Series, name: str, index: str) -> pl.DataFrame:
    return pl.DataFrame({name: values}).with_row_index(index).with_columns(pl.col(index).cast(pl.Int64))
