"""The intervals and verdicts: known answers from the literature and their coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from coupongen.loop import statistics as stat


def test_wilson_and_newcombe_give_the_published_intervals():
    # Newcombe, "Interval estimation for the difference between independent proportions" (1998),
    # Table II, method 10; and the Wilson interval of 81/263 from his companion paper.
    cases = {
        (56, 70, 48, 80): (0.0524, 0.3339),
        (9, 10, 3, 10): (0.1705, 0.8090),
        (6, 7, 2, 7): (0.0582, 0.8062),
        (5, 56, 0, 29): (-0.0381, 0.1926),
    }
    for (k1, n1, k2, n2), (low, high) in cases.items():
        got = stat.newcombe(k1, n1, k2, n2)
        assert (round(got.low, 4), round(got.high, 4)) == (low, high)
    w = stat.wilson(81, 263)
    assert (round(w.low, 4), round(w.high, 4)) == (0.2553, 0.3662)


def test_welch_matches_scipy():
    x = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    y = np.array([0.0, 1.0, 1.0, 2.0])
    got = stat.welch(x, y)
    want = stats.ttest_ind(x, y, equal_var=False).confidence_interval()
    assert got.estimate == pytest.approx(3.0)
    assert (got.low, got.high) == pytest.approx((want.low, want.high))


def test_welch_and_newcombe_cover_a_zero_effect_about_95_times_in_100():
    rng = np.random.default_rng(11)
    welch_hits = newcombe_hits = 0
    reps = 2000
    for _ in range(reps):
        x = rng.lognormal(5, 1, 300) * (rng.random(300) < 0.4)
        y = rng.lognormal(5, 1, 60) * (rng.random(60) < 0.4)
        ci = stat.welch(x, y)
        welch_hits += ci.low <= 0 <= ci.high
        p = stat.newcombe(int((x > 0).sum()), 300, int((y > 0).sum()), 60)
        newcombe_hits += p.low <= 0 <= p.high
    assert 0.93 <= welch_hits / reps <= 0.97
    assert 0.93 <= newcombe_hits / reps <= 0.975


def test_verdicts_follow_the_interval():
    assert stat.verdict(stat.Interval(1.0, 0.1, 2.0)) == "effect detected"
    assert stat.verdict(stat.Interval(-1.0, -2.0, -0.1)) == "negative effect detected"
    assert stat.verdict(stat.Interval(0.5, -0.1, 1.0)) == "no effect detected"
    assert stat.verdict(stat.Interval(0.5, None, None)) == "not measurable"


def test_normal_quantiles_are_scipys():
    assert float(stats.norm.ppf(0.5 + stat.CONFIDENCE / 2)) == stat.Z
    assert float(stats.norm.ppf(stat.POWER)) == stat.Z_POWER
