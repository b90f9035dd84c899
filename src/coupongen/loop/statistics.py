"""Confidence intervals, tests and variance reduction for comparing coupon recipients with the holdout.

Small holdouts and rates near 0 are the rule here, so proportions get score intervals (Wilson,
Newcombe) rather than Wald's, means Welch's t, and a pre-night covariate (CUPED) takes out noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

CONFIDENCE = 0.95
# scipy.stats.norm.ppf(0.975) and norm.ppf(0.80) as written (a test holds them to scipy's values):
# scipy.stats takes seconds to import, and only t quantiles need it, imported where they are used.
Z = 1.959963984540054
POWER = 0.80
"""The power the minimum detectable lift is stated at."""
Z_POWER = 0.8416212335729143

DETECTED = "effect detected"
NEGATIVE = "negative effect detected"
NO_EFFECT = "no effect detected"
NOT_MEASURABLE = "not measurable"


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval (None where it cannot be computed)."""

    estimate: float | None
    low: float | None
    high: float | None


NOT_COMPUTED = Interval(None, None, None)
"""The interval of a comparison with an empty group."""


def wilson(k: int, n: int, z: float = Z) -> Interval:
    """Wilson score interval of a proportion k/n."""
    if n == 0:
        return NOT_COMPUTED
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def newcombe(k1: int, n1: int, k2: int, n2: int, z: float = Z) -> Interval:
    """Difference of two proportions k1/n1 - k2/n2 with Newcombe's hybrid score interval.

    Newcombe (1998), method 10: the Wilson intervals of both proportions combined. Unlike the Wald
    interval it stays inside [-1, 1] and keeps its coverage for small groups and rates near 0 or 1.
    """
    if n1 == 0 or n2 == 0:
        return NOT_COMPUTED
    a, b = wilson(k1, n1, z), wilson(k2, n2, z)
    assert a.estimate is not None and b.estimate is not None
    assert a.low is not None and a.high is not None and b.low is not None and b.high is not None
    d = a.estimate - b.estimate
    low = d - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = d + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(d, low, high)


def welch(x: np.ndarray, y: np.ndarray, confidence: float = CONFIDENCE) -> Interval:
    """Difference of means mean(x) - mean(y) with Welch's t interval (unequal variances)."""
    n1, n2 = len(x), len(y)
    if n1 < 2 or n2 < 2:
        return Interval(float(x.mean() - y.mean()) if n1 and n2 else None, None, None)
    v1, v2 = x.var(ddof=1) / n1, y.var(ddof=1) / n2
    d = float(x.mean() - y.mean())
    se = math.sqrt(v1 + v2)
    if se == 0:
        return Interval(d, d, d)
    df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    from scipy import stats

    t = float(stats.t.ppf(0.5 + confidence / 2, df))
    return Interval(d, d - t * se, d + t * se)


def mean_interval(x: np.ndarray, confidence: float = CONFIDENCE) -> Interval:
    """A group's mean with its t interval."""
    n = len(x)
    if n == 0:
        return NOT_COMPUTED
    m = float(x.mean())
    if n < 2:
        return Interval(m, None, None)
    from scipy import stats

    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * math.sqrt(x.var(ddof=1) / n)
    return Interval(m, m - half, m + half)


def ratio_lift(m1: float, v1: float, m2: float, v2: float, z: float = Z) -> Interval:
    """Relative lift m1/m2 - 1 with a delta-method interval on the log of the ratio.

    ``v1`` and ``v2`` are the variances of the two means (not of single values).
    """
    if m1 <= 0 or m2 <= 0:
        return Interval(m1 / m2 - 1 if m2 > 0 else None, None, None)
    se = math.sqrt(v1 / m1**2 + v2 / m2**2)
    log_ratio = math.log(m1 / m2)
    return Interval(m1 / m2 - 1, math.exp(log_ratio - z * se) - 1, math.exp(log_ratio + z * se) - 1)


def verdict(ci: Interval) -> str:
    """'effect detected' only when the interval excludes 0 from below, and so on."""
    if ci.low is None or ci.high is None:
        return NOT_MEASURABLE
    if ci.low > 0:
        return DETECTED
    if ci.high < 0:
        return NEGATIVE
    return NO_EFFECT


def cuped(frame: pl.DataFrame, metric: str, covariate: str) -> pl.DataFrame | None:
    """``frame`` with ``metric`` replaced by its CUPED adjustment, or None when it cannot help.

    Deng, Xu, Kohavi and Walker (2013): y - theta * (x - mean(x)), theta = cov(y, x) / var(x) over
    both groups, x a fact from before the treatment (the member's purchases before the night). By
    randomisation x has the same mean in both groups, so the expected difference stays what it
    was; the share of y that x predicts no longer adds noise, and a chance head start of one group
    before the night is taken out. One slope for both groups: slopes per group fit the small
    holdout's few large values too closely, and the intervals then cover less than they claim.
    """
    if covariate not in frame.columns or frame[covariate].null_count() or frame.height < 3:
        return None
    x = frame[covariate].cast(pl.Float64).to_numpy()
    y = frame[metric].cast(pl.Float64).to_numpy()
    if x.var() == 0:
        return None
    theta = float(np.cov(y, x, ddof=1)[0, 1] / x.var(ddof=1))
    return frame.with_columns(pl.Series(metric, y - theta * (x - x.mean()), dtype=pl.Float64))


def minimum_detectable_lift(diff: Interval, control_mean: float | None) -> float | None:
    """The smallest relative lift the comparison would find with POWER, from its interval's width."""
    if diff.low is None or diff.high is None or not control_mean or control_mean <= 0:
        return None
    se = (diff.high - diff.low) / (2 * Z)
    return (Z + Z_POWER) * se / control_mean
