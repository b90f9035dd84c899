"""Baskets as integers: receipts and items numbered once, so rule mining counts on integer columns.

Receipt ids and item names are strings; hashing and comparing them again at every step of the
mining cost more than the mining itself. Each is numbered once here, repeated lines dropped on the
numbers, and only the frequent items kept, numbered in the order of their names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

CODED_SCHEMA = pl.Schema({"basket": pl.UInt32(), "item": pl.UInt32()})
"""Columns of `CodedBaskets.lines`: the basket's number and the frequent item's number."""


@dataclass(frozen=True)
class CodedBaskets:
    """The frequent items' lines of a set of baskets, as numbers.

    `lines`: one row per distinct (basket, frequent item), columns `basket` and `item` (u32);
    `items`: the frequent items by number (item number i is `items[i]`), sorted by name;
    `item_counts`: how many baskets contain each frequent item, by number (i64);
    `n_baskets`: how many baskets there are, including those without any frequent item.
    """

    lines: pl.DataFrame
    items: pl.Series
    item_counts: np.ndarray
    n_baskets: int


def count_baskets(receipt_ids: pl.Series) -> int:
    """The number of distinct receipts among `receipt_ids` (nulls left out).

    Sorted receipts (build_baskets' order) are counted by runs, without hashing a string.
    """
    receipt_ids = receipt_ids.drop_nulls()
    if receipt_ids.is_empty():
        return 0
    if receipt_ids.is_sorted():
        return int(receipt_ids.rle_id()[-1]) + 1
    return receipt_ids.n_unique()


def encode_baskets(baskets: pl.DataFrame, min_count: Callable[[int], int] = lambda n: 1) -> CodedBaskets:
    """Number the receipts and items of `receipt_id, item` rows and keep the frequent items.

    An item is frequent when at least ``min_count(n_baskets)`` baskets contain it. Null receipts
    or items are left out and a line repeated within a receipt counts once.
    """
    lines = baskets.select(pl.col("receipt_id"), pl.col("item").cast(pl.String)).drop_nulls()
    if lines.is_empty():
        return _empty()
    receipts = lines["receipt_id"]
    in_runs = receipts.is_sorted()
    # Sorted receipts (build_baskets' order) are numbered by runs: no hashing of strings at all.
    basket = receipts.rle_id() if in_runs else _dense_codes(receipts.cast(pl.String))
    # A fresh set of categories numbers the items 0..k-1 in order of first appearance.
    categories = pl.Categories.random()
    categorical = lines["item"].cast(pl.Categorical(categories))
    # Read while the column holds them: the categories go with the last column using them.
    names = categories.to_series().alias("item")
    key = (
        basket.to_numpy().astype(np.uint64) << np.uint64(32)
    ) | categorical.to_physical().to_numpy().astype(np.uint64)
    n_baskets = int(basket.max()) + 1  # type: ignore[arg-type]  # numbers are dense: 0..n-1
    if not (in_runs and _distinct_in_runs(basket.to_numpy(), lines["item"])):
        key = pl.Series(key).unique().to_numpy()
    item_codes = (key & np.uint64(0xFFFFFFFF)).astype(np.int64)
    counts = np.bincount(item_codes, minlength=len(names)).astype(np.int64)
    frequent = np.flatnonzero(counts >= min_count(n_baskets))
    # Frequent items numbered in the order of their names, whatever order they came in.
    by_name = frequent[np.argsort(names.gather(frequent).to_numpy(), kind="stable")]
    renumber = np.full(len(names), -1, dtype=np.int64)
    renumber[by_name] = np.arange(len(by_name))
    new_item = renumber[item_codes]
    keep = new_item >= 0
    coded = pl.DataFrame(
        {"basket": (key[keep] >> np.uint64(32)).astype(np.uint32), "item": new_item[keep].astype(np.uint32)},
        schema=CODED_SCHEMA,
    )
    return CodedBaskets(coded, names.gather(by_name), counts[by_name], n_baskets)


def _distinct_in_runs(basket: np.ndarray, items: pl.Series) -> bool:
    """True when the items of each run of baskets are sorted and distinct (build_baskets' order),
    so that no line repeats and the costlier deduplication can be skipped.
    """
    if len(basket) < 2:
        return True
    same_basket = basket[1:] == basket[:-1]
    increasing = (items.slice(1) > items.slice(0, len(items) - 1)).to_numpy()
    return bool(np.all(~same_basket | increasing))


def _dense_codes(values: pl.Series) -> pl.Series:
    """Number distinct strings 0..k-1 in order of first appearance."""
    return values.cast(pl.Categorical(pl.Categories.random())).to_physical()


def _empty() -> CodedBaskets:
    return CodedBaskets(
        lines=pl.DataFrame(schema=CODED_SCHEMA),
        items=pl.Series("item", [], dtype=pl.String),
        item_counts=np.zeros(0, dtype=np.int64),
        n_baskets=0,
    )
