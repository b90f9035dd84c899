"""Who shops at the sample chain and when: card holders and anonymous shoppers, their visits.

Each shopper has a kind (how often and over which part of the history they come), a household type
and a personal taste for categories; their visits follow opening hours and busier weekends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from coupongen.synthetic.tables import BEHAVIOURS, CATEGORIES, HOUSEHOLD_TYPES, HOUSEHOLDS, NICHE, PLANS

CHUNK = 500_000
"""Shoppers or lines handled at a time, which bounds the memory of the large arrays."""

HOUR_WEIGHT = np.array(
    [0, 0, 0, 0, 0, 0, 0, 2, 4, 5, 6, 7, 8, 8, 7, 6, 7, 9, 10, 10, 8, 5, 2, 0], dtype=float
)
"""Relative number of receipts by hour of the day (the stores open 7:00 to 23:00)."""

RETURN_SHARE = 0.017
"""Share of sale lines that come back; visit rates are sized with the returns counted in."""

_PATTERNS = ("uniform", "steady", "slowing", "stopped", "recent")
_PET_SHARE = 0.22
_NICHE_DAMP = 0.06
_PET_BOOST = 4.0
_TASTE_CONCENTRATION = 30.0
_WEEKDAY_WEIGHT = np.array([0.85, 0.85, 0.90, 0.95, 1.15, 1.35, 1.20])  # Monday first


@dataclass(frozen=True)
class Shoppers:
    """Everyone who shops: card holders first, then anonymous shoppers (no card)."""

    behaviour: np.ndarray  # index into BEHAVIOURS, len(BEHAVIOURS) = anonymous
    household: np.ndarray
    taste: np.ndarray  # category preference per shopper (rows sum to 1), float32
    home_store: np.ndarray
    start: np.ndarray  # active window in days from the start of the history
    end: np.ndarray
    visits: np.ndarray
    pattern: np.ndarray  # index into _PATTERNS


@dataclass(frozen=True)
class Visits:
    """One row per sale receipt, sorted by shopper then time."""

    shopper: np.ndarray
    number: np.ndarray  # 0-based visit number of the shopper
    second: np.ndarray  # seconds from the start of the history
    store: np.ndarray


def make_shoppers(
    rng: np.random.Generator,
    customers: int,
    days: int,
    n_stores: int,
    anonymous_share: float,
    lines_per_customer: float,
) -> Shoppers:
    """Everyone who shops, card holders (`customers` of them) then as many anonymous shoppers as
    `anonymous_share` of the receipts needs, with visit counts sized to `lines_per_customer`.
    """
    known = [PLANS[b] for b in BEHAVIOURS]
    shares = np.array([p.share for p in known])
    behaviour = rng.choice(len(BEHAVIOURS), size=customers, p=shares / shares.sum())
    scale = _visit_scale(days, anonymous_share, lines_per_customer)
    anonymous = round(
        customers * _anonymous_visits_per_customer(scale, days, anonymous_share) / PLANS["anonymous"].visits
    )
    behaviour = np.concatenate([behaviour, np.full(anonymous, len(BEHAVIOURS))])
    n = len(behaviour)
    household_share = np.array([HOUSEHOLD_TYPES[h].share for h in HOUSEHOLDS])
    household = rng.choice(len(HOUSEHOLDS), size=n, p=household_share / household_share.sum())
    pattern = np.array([_PATTERNS.index(p) for p in plan_array("pattern")])[behaviour]
    start, end = _active_windows(rng, pattern, days)
    rate = plan_array("visits") * np.append(np.full(len(BEHAVIOURS), scale), 365.0 / days)
    expected = np.maximum(rate[behaviour] * (end - start) / 365.0, 1.0)
    visits = 1 + rng.poisson(expected - 1.0)
    store_weight = 1.0 / np.arange(1, n_stores + 1) ** 0.7
    home_store = rng.choice(n_stores, size=n, p=store_weight / store_weight.sum())
    return Shoppers(
        behaviour=behaviour,
        household=household,
        taste=_tastes(rng, household),
        home_store=home_store,
        start=start,
        end=end,
        visits=visits,
        pattern=pattern,
    )


def plan_array(field: str) -> np.ndarray:
    """One plan field per behaviour index, anonymous shoppers last."""
    return np.array([getattr(PLANS[b], field) for b in (*BEHAVIOURS, "anonymous")])


def _mean_window(pattern: str, days: int) -> float:
    return {
        "uniform": days,
        "steady": days,
        "slowing": days - min(37.0, 0.3 * days),
        "stopped": days - min(105.0, 0.5 * days) - 0.075 * days,
        "recent": min(22.0, float(days)),
    }[pattern]


def _mean_visits(rate: float, pattern: str, days: int) -> float:
    return max(rate * _mean_window(pattern, days) / 365.0, 1.0)


def _known_visits_per_customer(scale: float, days: int) -> float:
    return sum(
        p.share * _mean_visits(p.visits * scale, p.pattern, days) for p in (PLANS[b] for b in BEHAVIOURS)
    )


def _anonymous_visits_per_customer(scale: float, days: int, anonymous_share: float) -> float:
    return _known_visits_per_customer(scale, days) * anonymous_share / (1.0 - anonymous_share)


def _visit_scale(days: int, anonymous_share: float, lines_per_customer: float) -> float:
    """The factor on the planned visit rates that gives the requested lines per card holder."""

    def lines(scale: float) -> float:
        known = sum(
            p.share * _mean_visits(p.visits * scale, p.pattern, days) * p.lines_per_visit
            for p in (PLANS[b] for b in BEHAVIOURS)
        )
        anonymous = _anonymous_visits_per_customer(scale, days, anonymous_share)
        return (known + anonymous * PLANS["anonymous"].lines_per_visit) * (1 + RETURN_SHARE)

    target = lines_per_customer * days / 365.0
    low, high = 1e-3, 1e3
    for _ in range(60):
        mid = float(np.sqrt(low * high))
        low, high = (mid, high) if lines(mid) < target else (low, mid)
    return float(np.sqrt(low * high))


def _active_windows(
    rng: np.random.Generator, pattern: np.ndarray, days: int
) -> tuple[np.ndarray, np.ndarray]:
    n = len(pattern)
    start = np.zeros(n)
    end = np.full(n, float(days))
    slowing = pattern == _PATTERNS.index("slowing")
    end[slowing] = days - np.minimum(rng.uniform(14, 60, slowing.sum()), 0.3 * days)
    stopped = pattern == _PATTERNS.index("stopped")
    start[stopped] = rng.uniform(0, 0.15 * days, stopped.sum())
    end[stopped] = days - np.minimum(rng.uniform(60, 150, stopped.sum()), 0.5 * days)
    recent = pattern == _PATTERNS.index("recent")
    start[recent] = days - np.minimum(rng.uniform(3, 42, recent.sum()), days)
    return start, end


def _tastes(rng: np.random.Generator, household: np.ndarray) -> np.ndarray:
    """Each shopper's own category preference, drawn around their household type's profile."""
    base = np.array([c.weight for c in CATEGORIES])
    names = [c.name for c in CATEGORIES]
    profiles = np.empty((len(HOUSEHOLDS), len(CATEGORIES)))
    for h, name in enumerate(HOUSEHOLDS):
        multipliers = HOUSEHOLD_TYPES[name].multipliers
        damp = np.array([_NICHE_DAMP if c in NICHE and c not in multipliers else 1.0 for c in names])
        profiles[h] = base * damp * np.array([multipliers.get(c, 1.0) for c in names])
    pet = rng.random(len(household)) < _PET_SHARE
    pet_boost = np.array([_PET_BOOST / _NICHE_DAMP if NICHE.get(c) == "pet" else 1.0 for c in names])
    taste = np.empty((len(household), len(CATEGORIES)), dtype=np.float32)
    for lo in range(0, len(household), CHUNK):
        hi = min(lo + CHUNK, len(household))
        alpha = profiles[household[lo:hi]] * np.where(pet[lo:hi, None], pet_boost, 1.0)
        alpha *= _TASTE_CONCENTRATION / alpha.sum(axis=1, keepdims=True)
        g = rng.standard_gamma(alpha)
        taste[lo:hi] = g / np.maximum(g.sum(axis=1, keepdims=True), 1e-300)
    return taste


def make_visits(
    rng: np.random.Generator, shoppers: Shoppers, days: int, as_of: date, n_stores: int
) -> Visits:
    """Place every shopper's visits in their active window, at opening hours, mostly at their home store."""
    n = shoppers.visits
    owner = np.repeat(np.arange(len(n)), n)
    first = np.cumsum(n) - n
    k = np.arange(len(owner)) - first[owner]
    pattern = shoppers.pattern[owner]
    spread = np.where(pattern == _PATTERNS.index("steady"), 0.25, 0.35)
    phase = rng.random(len(n))[owner]
    grid = (k + phase + rng.normal(0.0, 1.0, len(owner)) * spread) / n[owner]
    random_place = (pattern == _PATTERNS.index("uniform")) | (pattern == _PATTERNS.index("recent"))
    u = np.clip(np.where(random_place, rng.random(len(owner)), grid), 0.0, 1.0)
    # Slowing down: visits crowd the early part of the window, the gaps widen towards its end,
    # and the last one still falls close to the end (they have not stopped yet).
    slowing = pattern == _PATTERNS.index("slowing")
    last = k == n[owner] - 1
    u = np.where(slowing, np.where(last, 1.0 - 0.03 * rng.random(len(owner)), u**2.2 * 0.9), u)
    start, end = shoppers.start[owner], shoppers.end[owner]
    t = start + u * (end - start)
    first_day = np.floor(start)
    last_day = np.maximum(first_day, np.minimum(np.ceil(end) - 1, days - 1))
    day = np.clip(_weekday_shift(rng, np.floor(t), as_of - timedelta(days=days)), first_day, last_day).astype(
        np.int64
    )
    hour = rng.choice(24, size=len(owner), p=HOUR_WEIGHT / HOUR_WEIGHT.sum())
    second = day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, len(owner))
    order = np.lexsort((second, owner))
    away = rng.random(len(owner)) < 0.15
    store = np.where(away, rng.integers(0, n_stores, len(owner)), shoppers.home_store[owner])
    return Visits(shopper=owner, number=k, second=second[order], store=store[order])


def _weekday_shift(rng: np.random.Generator, day: np.ndarray, start: date) -> np.ndarray:
    """Move each visit by up to three days so weekdays follow _WEEKDAY_WEIGHT (weekends busier)."""
    dow = (start.weekday() + day.astype(np.int64)) % 7
    shifts = np.arange(-3, 4)
    table = _WEEKDAY_WEIGHT[(np.arange(7)[:, None] + shifts[None, :]) % 7]
    cdf = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    pick = (cdf[dow] < rng.random(len(day))[:, None]).sum(axis=1)
    return day + shifts[np.minimum(pick, 6)]
