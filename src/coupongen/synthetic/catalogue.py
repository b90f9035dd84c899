"""The sample chain's catalogue: products named, priced and ranked by popularity, category by category.

Besides the products table it keeps what the shoppers need to choose: each household type's taste
for each product, and for each planted complement the partner product of every product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from coupongen.synthetic.export_format import PRODUCT_SCHEMA
from coupongen.synthetic.tables import (
    CATEGORIES,
    COMPLEMENTS,
    HOUSEHOLD_TYPES,
    HOUSEHOLDS,
    RESTRICTED_CATEGORIES,
    VARIANTS,
)

WEIGHED = "per kg"
"""The size of loose goods, sold by weight."""

_TYPE_TILT = 1.8  # spread of a household type's own liking of each product


@dataclass(frozen=True)
class Catalogue:
    """Products in category-block order: sku index i is the i-th row of every array."""

    frame: pl.DataFrame  # the products table, same row order
    code: np.ndarray  # the number in each sku code
    category: np.ndarray  # category index per sku
    price: np.ndarray
    weighed: np.ndarray
    multibuy: np.ndarray
    promo_allowed: np.ndarray
    taste_cdf: np.ndarray  # per household: cumulative choice share within each category block
    partner: dict[tuple[int, int], np.ndarray]  # complement pair -> partner sku per sku (or -1)


def make_catalogue(rng: np.random.Generator, n_skus: int) -> Catalogue:
    """Make `n_skus` products spread over the categories, with what shoppers need to choose."""
    counts = _split_counts(rng, np.array([c.breadth for c in CATEGORIES]), n_skus, minimum=3)
    parts = [_category_products(rng, i, int(n)) for i, n in enumerate(counts)]
    frame = pl.concat(parts)
    codes = rng.permutation(n_skus) + 1
    width = max(6, len(str(n_skus)))
    frame = frame.with_columns(
        sku=pl.concat_str([pl.lit("P"), pl.Series(codes).cast(pl.String).str.zfill(width)])
    )
    category = frame["category_index"].to_numpy().astype(np.int64)
    promo = ~np.isin(frame["category"].to_numpy(), list(RESTRICTED_CATEGORIES))
    frame = frame.with_columns(promo_allowed=pl.Series(promo))
    starts = np.concatenate([[0], np.cumsum(counts)])
    taste_cdf = _household_taste_cdf(rng, frame, category, starts)
    partner = _complement_partners(frame, category, starts)
    products = frame.select(list(PRODUCT_SCHEMA))
    return Catalogue(
        frame=products,
        code=codes,
        category=category,
        price=frame["price"].to_numpy(),
        weighed=frame["weighed"].to_numpy(),
        multibuy=np.array([CATEGORIES[c].multibuy for c in range(len(CATEGORIES))])[category],
        promo_allowed=promo,
        taste_cdf=taste_cdf,
        partner=partner,
    )


def _split_counts(rng: np.random.Generator, weights: np.ndarray, total: int, minimum: int) -> np.ndarray:
    """Split `total` into integer parts roughly proportional to `weights`, each >= `minimum`."""
    minimum = min(minimum, total // len(weights))
    spare = total - minimum * len(weights)
    share = weights * rng.lognormal(0.0, 0.15, len(weights))
    raw = share / share.sum() * spare
    counts = np.floor(raw).astype(np.int64)
    short = spare - counts.sum()
    counts[np.argsort(-(raw - counts), kind="stable")[:short]] += 1
    return counts + minimum


def _category_products(rng: np.random.Generator, index: int, n: int) -> pl.DataFrame:
    cat = CATEGORIES[index]
    nb, ni, nv, ns = len(cat.brands), len(cat.items), len(VARIANTS), len(cat.sizes)
    grid = np.indices((nv, nb, ni, ns)).reshape(4, -1)
    # Plain names first, then variants; a random order inside each variant rank.
    order = np.lexsort((rng.random(grid.shape[1]), grid[0]))
    pick = order[np.arange(n) % grid.shape[1]]
    repeat = np.arange(n) // grid.shape[1]
    v, b, i, s = grid[:, pick]
    brand_share = _zipf(rng, nb, 1.0)
    item_share = _zipf(rng, ni, 0.8)
    size_share = rng.dirichlet(np.full(ns, 3.0))
    popularity = (
        brand_share[b]
        * item_share[i]
        * size_share[s]
        / (1.0 + 2.5 * v)
        * rng.lognormal(0.0, 0.6, n)
        / (1.0 + repeat)
    )
    lo, hi = cat.price
    brand_f = rng.lognormal(0.0, 0.25, nb)
    item_f = rng.lognormal(0.0, 0.15, ni)
    size_f = (1.0 + s) ** 0.6 / (1.0 + (ns - 1) / 2) ** 0.6
    raw = np.sqrt(lo * hi) * brand_f[b] * item_f[i] * size_f * rng.lognormal(0.0, 0.08, n)
    price = _shelf_price(np.clip(raw, lo, hi))
    sizes = np.array(cat.sizes)[s]
    popularity *= np.where(sizes == WEIGHED, 3.0, 1.0)  # loose produce outsells the packs
    names = [
        " ".join(part for part in (cat.brands[bb], cat.items[ii], VARIANTS[vv], ss) if part)
        + (f" No. {rr + 1}" if rr else "")
        for bb, ii, vv, ss, rr in zip(b, i, v, sizes, repeat, strict=True)
    ]
    return pl.DataFrame(
        {
            "name": names,
            "category": [cat.name] * n,
            "category_index": np.full(n, index),
            "brand": np.array(cat.brands)[b],
            "price": price,
            "weighed": sizes == WEIGHED,
            "popularity": popularity,
        }
    )


def _zipf(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    return 1.0 / (1.0 + rng.permutation(n)) ** exponent


def _shelf_price(raw: np.ndarray) -> np.ndarray:
    """Round to the price endings shops use: 89.99 below 100, 129.90 above."""
    cheap = np.ceil(raw) - 0.01
    dear = np.ceil(raw / 10.0) * 10.0 - 0.10
    return np.round(np.where(raw < 100, cheap, dear), 2)


def _household_taste_cdf(
    rng: np.random.Generator, frame: pl.DataFrame, category: np.ndarray, starts: np.ndarray
) -> np.ndarray:
    """Per household type, the cumulative product choice shares inside each category block.

    Row h lives in (h * C + c, h * C + c + 1] for category c, so one searchsorted over the
    flattened array picks a product given (household, category, uniform).
    """
    popularity = frame["popularity"].to_numpy()
    price = frame["price"].to_numpy()
    cat_median = np.array([np.median(price[starts[c] : starts[c + 1]]) for c in range(len(CATEGORIES))])
    rel_price = np.log(price / cat_median[category])
    n_cats = len(CATEGORIES)
    rows = []
    for h, name in enumerate(HOUSEHOLDS):
        tilt = HOUSEHOLD_TYPES[name].price_tilt
        w = popularity * np.exp(tilt * rel_price) * rng.lognormal(0.0, _TYPE_TILT, len(price))
        block_sum = np.add.reduceat(w, starts[:-1])
        within = np.cumsum(w) - np.repeat(np.cumsum(block_sum) - block_sum, np.diff(starts))
        cdf = within / np.repeat(block_sum, np.diff(starts))
        cdf[starts[1:] - 1] = 1.0
        rows.append(h * n_cats + category + cdf)
    return np.concatenate(rows)


def _complement_partners(
    frame: pl.DataFrame, category: np.ndarray, starts: np.ndarray
) -> dict[tuple[int, int], np.ndarray]:
    """For each planted pair, the product a shopper adds next to a given one: the best seller of
    the same brand when the second category has it, else the product of the same popularity rank.
    """
    index = {c.name: i for i, c in enumerate(CATEGORIES)}
    popularity = frame["popularity"].to_numpy()
    brands = frame["brand"].to_numpy()
    partners = {}
    for first, second, _ in COMPLEMENTS:
        a, b = index[first], index[second]
        a_skus = np.arange(starts[a], starts[a + 1])
        b_skus = np.arange(starts[b], starts[b + 1])
        a_rank = np.argsort(np.argsort(-popularity[a_skus], kind="stable"), kind="stable")
        b_by_pop = b_skus[np.argsort(-popularity[b_skus], kind="stable")]
        best_of_brand: dict[str, int] = {}
        for sku in b_by_pop:
            best_of_brand.setdefault(str(brands[sku]), int(sku))
        fallback = b_by_pop[a_rank % len(b_by_pop)]
        same_brand = np.array([best_of_brand.get(str(brands[s]), -1) for s in a_skus])
        mapping = np.full(len(category), -1, dtype=np.int64)
        mapping[a_skus] = np.where(same_brand >= 0, same_brand, fallback)
        partners[(a, b)] = mapping
    return partners
