"""What goes into each sample receipt: staples re-bought on a rhythm, favourites, fresh picks and
the planted complements, merged into one line per product with a quantity.

Favourites are fixed for life by hashing (shopper, category, slot), so they need no stored state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coupongen.synthetic.catalogue import Catalogue
from coupongen.synthetic.shoppers import CHUNK, Shoppers, Visits, plan_array
from coupongen.synthetic.tables import CATEGORIES, COMPLEMENTS

_STAPLE_SKIP = 0.12
_FAVOURITE_SLOTS = np.array([0.55, 0.25, 0.13, 0.07])


@dataclass(frozen=True)
class Lines:
    """Receipt lines of the sales: the visit (receipt), the product and the quantity."""

    visit: np.ndarray
    sku: np.ndarray
    quantity: np.ndarray


def fill_baskets(
    rng: np.random.Generator,
    salt: int,
    catalogue: Catalogue,
    shoppers: Shoppers,
    visits: Visits,
) -> Lines:
    """Fill every visit's basket: staples, free picks and complements, one line per product."""
    staple_visit, staple_sku = _staple_lines(rng, salt, catalogue, shoppers, visits)
    per_visit = np.bincount(staple_visit, minlength=len(visits.shopper))
    free_visit, free_sku = _free_lines(rng, salt, catalogue, shoppers, visits, per_visit)
    visit = np.concatenate([staple_visit, free_visit])
    sku = np.concatenate([staple_sku, free_sku])
    extra_visit, extra_sku = _complement_lines(rng, salt, catalogue, shoppers, visits, visit, sku)
    visit = np.concatenate([visit, extra_visit])
    sku = np.concatenate([sku, extra_sku])
    return _merge_lines(rng, catalogue, visit, sku)


def _staple_lines(
    rng: np.random.Generator,
    salt: int,
    catalogue: Catalogue,
    shoppers: Shoppers,
    visits: Visits,
) -> tuple[np.ndarray, np.ndarray]:
    """Staples: a few favourite products each shopper re-buys every m-th visit (m from the
    category's usual cycle and the shopper's visit rhythm), skipping one now and then.
    """
    ranges = plan_array("staples")[shoppers.behaviour]
    count = rng.integers(ranges[:, 0], ranges[:, 1] + 1)
    gap = (shoppers.end - shoppers.start) / shoppers.visits
    cycle = np.array([c.cycle for c in CATEGORIES])
    staple_weight = 1.0 / np.sqrt(cycle)
    out_visit, out_sku = [], []
    for slot in range(int(count.max(initial=0))):
        holders = np.flatnonzero(count > slot)
        weights = shoppers.taste[holders] * staple_weight
        cat = _sample_rows(rng, weights / weights.sum(axis=1, keepdims=True))
        sku = _favourite(
            salt, catalogue, shoppers.household[holders], holders, cat, np.zeros(len(holders), dtype=np.int64)
        )
        period = cycle[cat] * rng.lognormal(0.0, 0.35, len(holders))
        every = np.maximum(1, np.round(period / gap[holders])).astype(np.int64)
        offset = rng.integers(0, every)
        slot_every = np.zeros(len(count), dtype=np.int64)
        slot_every[holders] = every
        slot_offset = np.zeros(len(count), dtype=np.int64)
        slot_offset[holders] = offset
        slot_sku = np.full(len(count), -1, dtype=np.int64)
        slot_sku[holders] = sku
        m = slot_every[visits.shopper]
        due = (m > 0) & ((visits.number + slot_offset[visits.shopper]) % np.maximum(m, 1) == 0)
        due &= rng.random(len(due)) >= _STAPLE_SKIP
        hit = np.flatnonzero(due)
        out_visit.append(hit)
        out_sku.append(slot_sku[visits.shopper[hit]])
    if not out_visit:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(out_visit), np.concatenate(out_sku)


def _free_lines(
    rng: np.random.Generator,
    salt: int,
    catalogue: Catalogue,
    shoppers: Shoppers,
    visits: Visits,
    staples_per_visit: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The rest of the basket: categories by personal taste; in each, a personal favourite (habit)
    or a fresh pick from the household type's choice shares (which is how new products come in).
    """
    behaviour = shoppers.behaviour[visits.shopper]
    extra = rng.poisson(plan_array("extra")[behaviour])
    extra = np.where(staples_per_visit == 0, np.maximum(extra, 1), extra)
    visit = np.repeat(np.arange(len(extra)), extra)
    owner = visits.shopper[visit]
    cat = np.empty(len(visit), dtype=np.int64)
    for lo in range(0, len(visit), CHUNK):
        part = owner[lo : lo + CHUNK]
        cat[lo : lo + CHUNK] = _sample_rows(rng, shoppers.taste[part])
    habit = rng.random(len(visit)) < plan_array("habit")[behaviour[visit]]
    slot = rng.choice(len(_FAVOURITE_SLOTS), size=len(visit), p=_FAVOURITE_SLOTS)
    favourite = _favourite(salt, catalogue, shoppers.household[owner], owner, cat, slot)
    fresh = _pick_sku(catalogue, shoppers.household[owner], cat, rng.random(len(visit)))
    return visit, np.where(habit, favourite, fresh)


def _complement_lines(
    rng: np.random.Generator,
    salt: int,
    catalogue: Catalogue,
    shoppers: Shoppers,
    visits: Visits,
    visit: np.ndarray,
    sku: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    index = {c.name: i for i, c in enumerate(CATEGORIES)}
    cat = catalogue.category[sku]
    out_visit, out_sku = [], []
    for first, second, probability in COMPLEMENTS:
        a, b = index[first], index[second]
        hit = np.flatnonzero((cat == a) & (rng.random(len(cat)) < probability))
        owner = visits.shopper[visit[hit]]
        favourite = _favourite(
            salt,
            catalogue,
            shoppers.household[owner],
            owner,
            np.full(len(hit), b),
            np.zeros(len(hit), dtype=np.int64),
        )
        partner = catalogue.partner[(a, b)][sku[hit]]
        out_visit.append(visit[hit])
        out_sku.append(np.where(rng.random(len(hit)) < 0.5, partner, favourite))
    return np.concatenate(out_visit), np.concatenate(out_sku)


def _merge_lines(rng: np.random.Generator, catalogue: Catalogue, visit: np.ndarray, sku: np.ndarray) -> Lines:
    """One line per product per receipt, with a quantity: weighed goods in kg, others in units."""
    order = np.lexsort((sku, visit))
    visit, sku = visit[order], sku[order]
    keep = np.ones(len(visit), dtype=bool)
    keep[1:] = (visit[1:] != visit[:-1]) | (sku[1:] != sku[:-1])
    copies = np.diff(np.append(np.flatnonzero(keep), len(visit)))
    visit, sku = visit[keep], sku[keep]
    units = copies + rng.poisson(catalogue.multibuy[sku])
    kilos = np.round(np.clip(rng.lognormal(np.log(0.8), 0.45, len(sku)), 0.1, 4.0), 3)
    quantity = np.where(catalogue.weighed[sku], kilos, units.astype(float))
    return Lines(visit=visit, sku=sku, quantity=quantity)


def _sample_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row, drawn with the row's weights (rows sum to 1)."""
    cdf = np.cumsum(weights, axis=1)
    pick = (cdf < rng.random(len(weights))[:, None] * cdf[:, -1:]).sum(axis=1)
    return np.minimum(pick, weights.shape[1] - 1)


def _pick_sku(catalogue: Catalogue, household: np.ndarray, category: np.ndarray, u: np.ndarray) -> np.ndarray:
    n_cats = len(CATEGORIES)
    n_skus = len(catalogue.category)
    key = household * n_cats + category + np.minimum(u, 1.0 - 1e-9)
    flat = np.searchsorted(catalogue.taste_cdf, key, side="right")
    return np.minimum(flat - household * n_skus, n_skus - 1)


def _favourite(
    salt: int,
    catalogue: Catalogue,
    household: np.ndarray,
    shopper: np.ndarray,
    category: np.ndarray,
    slot: np.ndarray,
) -> np.ndarray:
    """The shopper's `slot`-th favourite product in `category`: fixed for life, drawn from their
    household type's choice shares with a hash of (shopper, category, slot) as the uniform.
    """
    u = _hash_uniform(salt, shopper, category, slot)
    return _pick_sku(catalogue, household, category, u)


def _hash_uniform(salt: int, *keys: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = np.full(len(keys[0]), salt, dtype=np.uint64)
        for key in keys:
            x = _mix(x ^ key.astype(np.uint64))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash of x."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))
