"""Did the coupons work? Redemption rates, and the incremental effect against the holdout.

Holdout members were chosen for the same offer as the treated and, at random, sent nothing: during
a campaign's validity window their purchases show what the treated would have bought without the
coupon. The difference between the groups, with its 95% confidence interval, is the campaign's
incremental effect; set against the rewards paid out it gives the return on the spend.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from coupongen.delivery.publish import write_atomic
from coupongen.errors import InputError

METRICS = ("purchase_rate", "spend", "target_spend")
"""What is compared: the share who bought anything, net spend per customer, and net spend per
customer on the offer's own product or category (offers on the whole basket have none)."""
METRIC_LABELS = {
    "purchase_rate": "purchase rate",
    "spend": "spend per customer",
    "target_spend": "targeted spend",
}
CONFIDENCE = 0.95
Z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))
PRE_DAYS = 182
"""Days before the night whose purchases predict each member's behaviour (the covariates)."""
COVARIATES = {"purchase_rate": "pre_visits", "spend": "pre_spend", "target_spend": "pre_target_spend"}
"""The pre-night fact each metric is adjusted with."""
DEFAULT_MARGIN_RATE = 0.25
"""Gross margin on incremental spend when the caller gives none."""

DETECTED = "effect detected"
NEGATIVE = "negative effect detected"
NO_EFFECT = "no effect detected"
NOT_MEASURABLE = "not measurable"
TOO_FEW = "too few buyers to tell"
MIN_BUYERS = 10
"""A spend comparison needs this many customers with any such spend in each group, and a rate
this many buyers and as many non-buyers: below it the intervals' normal approximation fails
(most values are 0 and a few large ones decide the mean), so no verdict is given."""
MIN_POOLED_BUYERS = 5
"""A campaign-night joins a pooled comparison with this many buyers in each group (see ``_pooled``)."""
POWER = 0.80
"""The power the minimum detectable lift is stated at."""
ALL = "all"
"""The campaign or night of a pooled row."""

TREATED = "treated"
CONTROL = "control"

EFFECT_SCHEMA: dict[str, pl.DataType] = {
    "campaign": pl.String(),
    "as_of": pl.String(),
    "metric": pl.String(),
    "treated_n": pl.Int64(),
    "control_n": pl.Int64(),
    "treated_mean": pl.Float64(),
    "control_mean": pl.Float64(),
    "difference": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "lift": pl.Float64(),
    "lift_low": pl.Float64(),
    "lift_high": pl.Float64(),
    "treated_low": pl.Float64(),
    "treated_high": pl.Float64(),
    "control_low": pl.Float64(),
    "control_high": pl.Float64(),
    "mde": pl.Float64(),
    "method": pl.String(),
    "verdict": pl.String(),
    "valid_from": pl.String(),
    "valid_to": pl.String(),
    "complete": pl.Boolean(),
    "covers": pl.String(),
}
"""Columns of the effects table (see ``compare_groups``)."""


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval (None where it cannot be computed)."""

    estimate: float | None
    low: float | None
    high: float | None


_NONE = Interval(None, None, None)


# --- statistics ------------------------------------------------------------------------------------


def wilson(k: int, n: int, z: float = Z) -> Interval:
    """Wilson score interval of a proportion k/n."""
    if n == 0:
        return _NONE
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
        return _NONE
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
    t = float(stats.t.ppf(0.5 + confidence / 2, df))
    return Interval(d, d - t * se, d + t * se)


def mean_interval(x: np.ndarray, confidence: float = CONFIDENCE) -> Interval:
    """A group's mean with its t interval."""
    n = len(x)
    if n == 0:
        return _NONE
    m = float(x.mean())
    if n < 2:
        return Interval(m, None, None)
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


# --- members and outcomes --------------------------------------------------------------------------


def campaign_members(coupons: pl.DataFrame, controls: pl.DataFrame) -> pl.DataFrame:
    """One row per member of a campaign-night: treated (an issued coupon) or control (holdout).

    Columns: campaign, as_of, offer_type, customer_id, group (treated, control), target_kind,
    target, valid_from, valid_to (dates). Holdout members take their campaign-night's validity
    window from its coupons; a campaign-night without a single coupon has no window and is left
    out. Void coupons are left out: they were withdrawn.
    """
    columns = ["campaign", "as_of", "offer_type", "customer_id", "target_kind", "target"]
    windows = coupons.group_by("campaign", "as_of").agg(pl.col("valid_from").min(), pl.col("valid_to").max())
    treated = coupons.filter(pl.col("status") == "issued").select(
        *columns, pl.lit(TREATED).alias("group"), "valid_from", "valid_to"
    )
    held = controls.join(windows, on=["campaign", "as_of"], how="inner").select(
        *columns, pl.lit(CONTROL).alias("group"), "valid_from", "valid_to"
    )
    return (
        pl.concat([treated, held])
        .with_columns(pl.col("target").cast(pl.String), pl.col("valid_from", "valid_to").str.to_date())
        .sort("campaign", "as_of", "group", "customer_id")
    )


def measure_outcomes(
    members: pl.DataFrame,
    purchases: pl.DataFrame,
    products: pl.DataFrame,
    *,
    history: pl.DataFrame | None = None,
    pre_days: int = PRE_DAYS,
) -> pl.DataFrame:
    """Each member's purchases in their own validity window (first and last day included).

    ``purchases`` are receipt lines in the transactions contract. Adds: purchased (bought anything,
    bool), spend (net: purchases minus refunds), target_spend (net spend on the target sku or
    category; null for offers on the whole basket). With ``history`` (receipt lines before the
    night), also the same facts over the ``pre_days`` days before the night, which the coupon cannot
    have changed: pre_visits (receipts with a purchase), pre_spend, pre_target_spend.
    """
    outcomes = _window_sums(members, purchases, products).drop("visits")
    if history is None:
        return outcomes
    night = pl.col("as_of").str.to_date()
    before = members.with_columns(
        (night - pl.duration(days=pre_days)).alias("valid_from"),
        (night - pl.duration(days=1)).alias("valid_to"),
    )
    pre = _window_sums(before, history, products)
    return outcomes.with_columns(
        pre["visits"].cast(pl.Float64).alias("pre_visits"),
        pre["spend"].alias("pre_spend"),
        pre["target_spend"].alias("pre_target_spend"),
    )


def _window_sums(members: pl.DataFrame, purchases: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    """``members`` with purchased, visits, spend and target_spend between valid_from and valid_to."""
    units = members.with_row_index("unit")
    if units.is_empty():
        return units.drop("unit").with_columns(
            pl.lit(False).alias("purchased"),
            pl.lit(0, dtype=pl.UInt32).alias("visits"),
            pl.lit(0.0).alias("spend"),
            pl.lit(0.0).alias("target_spend"),
        )
    first, last = units["valid_from"].min(), units["valid_to"].max()
    lines = (
        purchases.filter(pl.col("customer_id").is_not_null())
        .with_columns(pl.col("ts").dt.date().alias("day"))
        .filter(pl.col("day").is_between(first, last))
        .join(products.select("sku", "category"), on="sku", how="left")
    )
    on_target = ((pl.col("target_kind") == "sku") & (pl.col("sku") == pl.col("target"))) | (
        (pl.col("target_kind") == "category") & (pl.col("category") == pl.col("target"))
    )
    sums = (
        units.select("unit", "customer_id", "valid_from", "valid_to", "target_kind", "target")
        .join(lines, on="customer_id")
        .filter(pl.col("day").is_between(pl.col("valid_from"), pl.col("valid_to")))
        .group_by("unit")
        .agg(
            (pl.col("amount") > 0).any().alias("purchased"),
            pl.col("receipt_id").filter(pl.col("amount") > 0).n_unique().alias("visits"),
            pl.col("amount").sum().alias("spend"),
            pl.when(on_target).then(pl.col("amount")).otherwise(0.0).sum().alias("target_spend"),
        )
    )
    return (
        units.join(sums, on="unit", how="left")
        .sort("unit")
        .drop("unit")
        .with_columns(
            pl.col("purchased").fill_null(False),
            pl.col("visits").fill_null(0),
            pl.col("spend").fill_null(0.0),
            pl.when(pl.col("target_kind") == "basket")
            .then(None)
            .otherwise(pl.col("target_spend").fill_null(0.0))
            .alias("target_spend"),
        )
    )


# --- comparing the groups --------------------------------------------------------------------------


def _values(frame: pl.DataFrame, metric: str, group: str) -> np.ndarray:
    column = frame.filter(pl.col("group") == group)[metric]
    return column.cast(pl.Float64).to_numpy()


ADJUSTED = "CUPED-adjusted for the purchases before the night"


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


def _stratum_row(frame: pl.DataFrame, metric: str, adjust: bool) -> dict[str, Any]:
    """One campaign-night's comparison of ``metric``: adjusted values by Welch's t when ``adjust``
    and the covariate is there, else Newcombe for the purchase rate and Welch for spend.
    """
    adjusted = cuped(frame, metric, COVARIATES[metric]) if adjust else None
    if adjusted is not None:
        x, y = _values(adjusted, metric, TREATED), _values(adjusted, metric, CONTROL)
        n1, n2 = len(x), len(y)
        diff, g1, g2 = welch(x, y), mean_interval(x), mean_interval(y)
        v1 = x.var(ddof=1) / n1 if n1 > 1 else 0.0
        v2 = y.var(ddof=1) / n2 if n2 > 1 else 0.0
        lift = ratio_lift(float(x.mean()), v1, float(y.mean()), v2) if n1 and n2 else _NONE
        if n1 < 2 or n2 < 2:
            diff, lift = Interval(diff.estimate, None, None), Interval(lift.estimate, None, None)
        return _row(metric, n1, n2, g1, g2, diff, lift, f"Welch t, {ADJUSTED}")
    x, y = _values(frame, metric, TREATED), _values(frame, metric, CONTROL)
    n1, n2 = len(x), len(y)
    if metric == "purchase_rate":
        k1, k2 = int(x.sum()), int(y.sum())
        diff, g1, g2, method = (
            newcombe(k1, n1, k2, n2),
            wilson(k1, n1),
            wilson(k2, n2),
            "Newcombe hybrid score",
        )
        v1 = x.mean() * (1 - x.mean()) / n1 if n1 else 0.0
        v2 = y.mean() * (1 - y.mean()) / n2 if n2 else 0.0
    else:
        diff, g1, g2, method = welch(x, y), mean_interval(x), mean_interval(y), "Welch t"
        v1 = x.var(ddof=1) / n1 if n1 > 1 else 0.0
        v2 = y.var(ddof=1) / n2 if n2 > 1 else 0.0
    lift = ratio_lift(float(x.mean()), v1, float(y.mean()), v2) if n1 and n2 else _NONE
    if n1 < 2 or n2 < 2:
        diff = Interval(diff.estimate, None, None)
        lift = Interval(lift.estimate, None, None)
    return _row(metric, n1, n2, g1, g2, diff, lift, method)


def _enough(frame: pl.DataFrame, metric: str, minimum: int = MIN_BUYERS) -> bool:
    """True when both groups hold ``minimum`` buyers (and, for a rate, non-buyers); see MIN_BUYERS."""
    for group in (TREATED, CONTROL):
        values = frame.filter(pl.col("group") == group)[metric].cast(pl.Float64)
        buyers = int((values != 0).sum())
        if buyers < minimum or (metric == "purchase_rate" and values.len() - buyers < minimum):
            return False
    return True


def _mde(diff: Interval, control_mean: float | None) -> float | None:
    """The smallest relative lift the comparison would find with POWER, from its interval's width."""
    if diff.low is None or diff.high is None or not control_mean or control_mean <= 0:
        return None
    se = (diff.high - diff.low) / (2 * Z)
    return (Z + float(stats.norm.ppf(POWER))) * se / control_mean


def _row(
    metric: str, n1: int, n2: int, g1: Interval, g2: Interval, diff: Interval, lift: Interval, method: str
) -> dict[str, Any]:
    return {
        "metric": metric,
        "treated_n": n1,
        "control_n": n2,
        "treated_mean": g1.estimate,
        "control_mean": g2.estimate,
        "difference": diff.estimate,
        "ci_low": diff.low,
        "ci_high": diff.high,
        "lift": lift.estimate,
        "lift_low": lift.low,
        "lift_high": lift.high,
        "treated_low": g1.low,
        "treated_high": g1.high,
        "control_low": g2.low,
        "control_high": g2.high,
        "mde": _mde(diff, g2.estimate),
        "method": method,
        "verdict": verdict(diff),
    }


def _pooled_row(
    frame: pl.DataFrame, metric: str, method: str = "stratified, clustered by customer"
) -> dict[str, Any]:
    """All campaign-nights together: the treated-weighted average of their differences.

    Each campaign-night weighs by its treated count (the effect on the treated as a whole). The
    estimate is linear in the members' outcomes, so its variance is the sum over customers of
    their squared contributions: a customer who is in several campaigns counts once, as one
    cluster, which the per-campaign tests cannot do. The interval is normal.
    """
    stats_ = frame.group_by("stratum", "group").agg(pl.len().alias("n"), pl.col(metric).mean().alias("mean"))
    wide = stats_.pivot("group", index="stratum", values=["n", "mean"])
    needed = [f"n_{TREATED}", f"n_{CONTROL}"]
    if any(c not in wide.columns for c in needed):
        n1 = int(frame.filter(pl.col("group") == TREATED).height)
        n2 = int(frame.filter(pl.col("group") == CONTROL).height)
        return _row(metric, n1, n2, _NONE, _NONE, _NONE, _NONE, method)
    wide = wide.drop_nulls(needed)
    total = wide[f"n_{TREATED}"].sum()
    wide = wide.with_columns((pl.col(f"n_{TREATED}") / total).alias("w"))
    t_mean = float((wide["w"] * wide[f"mean_{TREATED}"]).sum())
    c_mean = float((wide["w"] * wide[f"mean_{CONTROL}"]).sum())
    units = frame.join(
        wide.select("stratum", "w", *needed, f"mean_{TREATED}", f"mean_{CONTROL}"), on="stratum"
    )
    treated = pl.col("group") == TREATED
    share = pl.col("w") / pl.when(treated).then(pl.col(f"n_{TREATED}")).otherwise(pl.col(f"n_{CONTROL}"))
    resid = pl.col(metric).cast(pl.Float64) - pl.when(treated).then(pl.col(f"mean_{TREATED}")).otherwise(
        pl.col(f"mean_{CONTROL}")
    )
    infl = (
        units.select(
            "customer_id",
            pl.when(treated).then(share * resid).otherwise(0.0).alias("t"),
            pl.when(treated).then(0.0).otherwise(share * resid).alias("c"),
        )
        .group_by("customer_id")
        .agg(pl.col("t").sum(), pl.col("c").sum())
    )
    clusters = infl.height
    scale = clusters / (clusters - 1) if clusters > 1 else 1.0
    t, c = infl["t"].to_numpy(), infl["c"].to_numpy()
    var_t, var_c, var_d = (scale * float((v**2).sum()) for v in (t, c, t - c))
    d = t_mean - c_mean
    sd = math.sqrt(var_d)
    diff = Interval(d, d - Z * sd, d + Z * sd)
    g1 = Interval(t_mean, t_mean - Z * math.sqrt(var_t), t_mean + Z * math.sqrt(var_t))
    g2 = Interval(c_mean, c_mean - Z * math.sqrt(var_c), c_mean + Z * math.sqrt(var_c))
    if t_mean > 0 and c_mean > 0:
        var_log = scale * float(((t / t_mean - c / c_mean) ** 2).sum())
        ratio = t_mean / c_mean
        spread = Z * math.sqrt(var_log)
        lift = Interval(ratio - 1, ratio * math.exp(-spread) - 1, ratio * math.exp(spread) - 1)
    else:
        lift = Interval(t_mean / c_mean - 1 if c_mean > 0 else None, None, None)
    n1 = int(wide[f"n_{TREATED}"].sum())
    n2 = int(wide[f"n_{CONTROL}"].sum())
    return _row(metric, n1, n2, g1, g2, diff, lift, method)


def _pooled(frame: pl.DataFrame, metric: str, adjust: bool) -> tuple[dict[str, Any], pl.DataFrame]:
    """The pooled row over the campaign-nights with at least MIN_POOLED_BUYERS buyers in each group.

    A campaign-night with (nearly) no buyers in a group has a sample variance of (nearly) 0, which
    would make the pooled interval far too narrow: it is left out, and the method says how many
    were used. With none left, the row covers them all; like any row it gives a verdict only with
    MIN_BUYERS buyers in each group.
    """
    parts = frame.partition_by("stratum", maintain_order=True)
    usable = [p for p in parts if _enough(p, metric, MIN_POOLED_BUYERS)]
    chosen = usable or parts
    enough = bool(usable) and _enough(pl.concat(chosen), metric)
    method = f"stratified over {len(usable)} of {len(parts)} campaign-nights, clustered by customer"
    if adjust:
        # A campaign-night whose covariate cannot help (all equal) keeps its plain values.
        adjusted = [cuped(p, metric, COVARIATES[metric]) for p in chosen]
        if any(a is not None for a in adjusted):
            chosen = [p if a is None else a for p, a in zip(chosen, adjusted, strict=True)]
            method += f", {ADJUSTED}"
    used = pl.concat(chosen)
    row = _pooled_row(used, metric, method)
    if row["verdict"] != NOT_MEASURABLE and not enough:
        row["verdict"] = TOO_FEW
    return row, used


def compare_groups(
    outcomes: pl.DataFrame, *, purchases_until: date | None = None, adjust: bool = True
) -> pl.DataFrame:
    """Treated against control for every campaign-night and metric, plus a pooled row.

    ``outcomes`` is ``measure_outcomes`` output. Per campaign-night, with ``adjust`` and the
    pre-night covariates in ``outcomes``: every metric CUPED-adjusted (see ``cuped``) and compared by
    Welch's t; otherwise the purchase rate by Newcombe's hybrid score interval and spend and
    targeted spend by Welch's t. With more than one campaign-night, a pooled row (campaign or
    as_of ``all``; see ``_pooled``). Targeted spend is left out for offers on the whole basket.
    ``purchases_until`` (the last day the purchases cover) marks windows not yet over as
    incomplete; ``covers`` lists the campaign-nights a row compares. Columns: EFFECT_SCHEMA; lift
    is relative (0.12 = +12%), mde the smallest lift the comparison finds with 80% power; the
    verdict is "effect detected" only when the interval lies above 0 and both groups hold enough
    buyers (MIN_BUYERS).
    """
    frame = outcomes.with_columns(
        pl.col("purchased").cast(pl.Float64).alias("purchase_rate"),
        pl.format("{}|{}", "campaign", "as_of").alias("stratum"),
    )
    rows: list[dict[str, Any]] = []
    strata = frame.select("campaign", "as_of").unique().sort("campaign", "as_of").rows()
    for campaign, as_of in strata:
        part = frame.filter((pl.col("campaign") == campaign) & (pl.col("as_of") == as_of))
        for metric in METRICS:
            measured = part.drop_nulls(metric)
            if measured.is_empty():
                continue
            row = _stratum_row(measured, metric, adjust)
            if row["verdict"] != NOT_MEASURABLE and not _enough(measured, metric):
                row["verdict"] = TOO_FEW
            rows.append({"campaign": campaign, "as_of": as_of, **row, **_window(measured, purchases_until)})
    if len(strata) > 1:
        campaigns = {c for c, _ in strata}
        nights = {n for _, n in strata}
        name = next(iter(campaigns)) if len(campaigns) == 1 else ALL
        night = next(iter(nights)) if len(nights) == 1 else ALL
        for metric in METRICS:
            measured = frame.drop_nulls(metric)
            if measured.is_empty():
                continue
            row, used = _pooled(measured, metric, adjust)
            rows.append({"campaign": name, "as_of": night, **row, **_window(used, purchases_until)})
    return pl.DataFrame(rows, schema=EFFECT_SCHEMA)


def _window(frame: pl.DataFrame, purchases_until: date | None) -> dict[str, Any]:
    """The row's window, whether the purchases cover all of it, and the campaign-nights it covers."""
    first, last = frame["valid_from"].min(), frame["valid_to"].max()
    assert isinstance(first, date) and isinstance(last, date)
    strata = frame.select("campaign", "as_of").unique().sort("campaign", "as_of").rows()
    return {
        "valid_from": first.isoformat(),
        "valid_to": last.isoformat(),
        "complete": purchases_until is None or purchases_until >= last,
        "covers": COVER_SEPARATOR.join(f"{c}@{n}" for c, n in strata),
    }


COVER_SEPARATOR = "; "
"""Between the ``campaign@night`` entries of an effects row's ``covers``."""


# --- redemptions and money -------------------------------------------------------------------------


RATE_DIMENSIONS = ("campaign", "offer_type", "segment", "channel")
"""What redemption rates are broken down by."""


def redemption_rates(
    coupons: pl.DataFrame,
    uses: pl.DataFrame,
    *,
    segments: pl.DataFrame | None = None,
    channels: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Share of issued coupons used at least once, by campaign, offer type, segment and channel.

    ``uses`` is ``Ledger.redemption_counts`` (code, uses, discount). ``segments`` (customer_id,
    as_of, segment) and ``channels`` (customer_id, as_of, channel) describe the customers on the
    night; missing ones show as ``unknown`` and ``none``. Columns: dimension, value, coupons,
    redeemed (coupons used at least once), rate, uses (accepted redemptions), discount (their sum).
    """
    live = coupons.filter(pl.col("status") == "issued").join(
        uses.select("code", "uses", "discount"), on="code", how="left"
    )
    live = _describe(live, segments, "segment", "unknown")
    live = _describe(live, channels, "channel", "none")
    parts = [
        live.group_by(pl.col(dim).cast(pl.String).alias("value"))
        .agg(
            pl.len().alias("coupons"),
            (pl.col("uses").fill_null(0) > 0).sum().alias("redeemed"),
            pl.col("uses").fill_null(0).sum().alias("uses"),
            pl.col("discount").fill_null(0.0).sum().round(2).alias("discount"),
        )
        .with_columns(pl.lit(dim).alias("dimension"))
        .sort("value")
        for dim in RATE_DIMENSIONS
    ]
    schema = {"dimension": pl.String, "value": pl.String, "coupons": pl.Int64, "redeemed": pl.Int64,
              "rate": pl.Float64, "uses": pl.Int64, "discount": pl.Float64}  # fmt: skip
    if live.is_empty():
        return pl.DataFrame(schema=schema)
    return (
        pl.concat(parts)
        .with_columns((pl.col("redeemed") / pl.col("coupons")).alias("rate"))
        .select(list(schema))
        .cast(schema)  # type: ignore[arg-type]
    )


def _describe(frame: pl.DataFrame, facts: pl.DataFrame | None, column: str, missing: str) -> pl.DataFrame:
    if facts is None or facts.is_empty():
        return frame.with_columns(pl.lit(missing).alias(column))
    return frame.join(
        facts.select("customer_id", "as_of", column).unique(["customer_id", "as_of"]),
        on=["customer_id", "as_of"],
        how="left",
    ).with_columns(pl.col(column).fill_null(missing))


def economics(
    effects: pl.DataFrame, coupons: pl.DataFrame, uses: pl.DataFrame, *, margin_rate: float
) -> pl.DataFrame:
    """Cost of the rewards against the margin the incremental spend brought, per effects row.

    cost: discounts given on the accepted redemptions of the coupons of the campaign-nights the
    row's spend comparison covers (a pooled row leaves out those with too few buyers).
    incremental_margin:
    the spend difference per customer x ``margin_rate`` x treated customers, with the interval's
    ends likewise. roi: (incremental margin - cost) / cost, and at the interval's ends (null when
    nothing was paid out). verdict: the spend comparison's, which says whether the margin is more
    than noise. Columns: campaign, as_of, treated_n, redemptions, cost, incremental_spend,
    margin_rate, incremental_margin, margin_low, margin_high, roi, roi_low, roi_high, verdict.
    """
    paid = coupons.filter(pl.col("status") == "issued").join(
        uses.select("code", "uses", "discount"), on="code"
    )
    rows = []
    for r in effects.filter(pl.col("metric") == "spend").iter_rows(named=True):
        covered = [tuple(entry.split("@", 1)) for entry in str(r["covers"]).split(COVER_SEPARATOR)]
        pairs = pl.DataFrame(covered, schema={"campaign": pl.String, "as_of": pl.String}, orient="row")
        mine = paid.join(pairs, on=["campaign", "as_of"], how="semi")
        cost = round(float(mine["discount"].sum()), 2)

        def margin(value: float | None, n: int = r["treated_n"]) -> float | None:
            return None if value is None else round(value * margin_rate * n, 2)

        def roi(value: float | None, cost: float = cost) -> float | None:
            return None if value is None or cost <= 0 else (value - cost) / cost

        gain, low, high = margin(r["difference"]), margin(r["ci_low"]), margin(r["ci_high"])
        rows.append(
            {
                "campaign": r["campaign"],
                "as_of": r["as_of"],
                "treated_n": r["treated_n"],
                "redemptions": int(mine["uses"].sum()),
                "cost": cost,
                "incremental_spend": r["difference"],
                "margin_rate": margin_rate,
                "incremental_margin": gain,
                "margin_low": low,
                "margin_high": high,
                "roi": roi(gain),
                "roi_low": roi(low),
                "roi_high": roi(high),
                "verdict": r["verdict"],
            }
        )
    schema = {"campaign": pl.String, "as_of": pl.String, "treated_n": pl.Int64, "redemptions": pl.Int64,
              "cost": pl.Float64, "incremental_spend": pl.Float64, "margin_rate": pl.Float64,
              "incremental_margin": pl.Float64, "margin_low": pl.Float64, "margin_high": pl.Float64,
              "roi": pl.Float64, "roi_low": pl.Float64, "roi_high": pl.Float64,
              "verdict": pl.String}  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


# --- the whole evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """The effects (EFFECT_SCHEMA), redemption rates and economics of a set of campaign-nights."""

    effects: pl.DataFrame
    rates: pl.DataFrame
    economics: pl.DataFrame
    margin_rate: float
    purchases_until: date | None


def evaluate(
    coupons: pl.DataFrame,
    controls: pl.DataFrame,
    uses: pl.DataFrame,
    purchases: pl.DataFrame,
    products: pl.DataFrame,
    *,
    history: pl.DataFrame | None = None,
    segments: pl.DataFrame | None = None,
    channels: pl.DataFrame | None = None,
    margin_rate: float = DEFAULT_MARGIN_RATE,
    adjust: bool = True,
) -> Evaluation:
    """Evaluate the campaign-nights of ``coupons`` and ``controls`` (ledger frames) on ``purchases``.

    ``history`` holds the purchases before the nights, for the CUPED adjustment (``adjust``);
    without it the groups are compared unadjusted. InputError when there is nothing to evaluate,
    or the purchases end before any coupon's validity window starts (the evaluation needs the
    purchases made after the night).
    """
    if not 0 <= margin_rate <= 1:
        raise InputError(f"margin rate must be between 0 and 1, got {margin_rate}")
    members = campaign_members(coupons, controls)
    if members.is_empty():
        raise InputError("no coupons to evaluate: the ledger holds none for this selection")
    last_day = purchases["ts"].max()
    until = last_day.date() if isinstance(last_day, datetime) else None
    starts = members["valid_from"].min()
    assert isinstance(starts, date)
    if until is None or until < starts:
        seen = "hold no purchase" if until is None else f"end on {until}"
        raise InputError(
            f"the purchases {seen}, before the coupons' validity starts on {starts}: nothing to "
            "measure yet (give the purchases made since the night with --purchases)"
        )
    outcomes = measure_outcomes(members, purchases, products, history=history if adjust else None)
    effects = compare_groups(outcomes, purchases_until=until, adjust=adjust)
    return Evaluation(
        effects=effects,
        rates=redemption_rates(coupons, uses, segments=segments, channels=channels),
        economics=economics(effects, coupons, uses, margin_rate=margin_rate),
        margin_rate=margin_rate,
        purchases_until=until,
    )


# --- a night's outputs, and writing the evaluation ---------------------------------------------------


def read_segments(out_dir: Path, nights: Iterable[str]) -> pl.DataFrame:
    """customer_id, as_of, segment (the RFM segment) from each night's analysis/segments.parquet."""
    frames = []
    for night in sorted(set(nights)):
        path = out_dir / night / "analysis" / "segments.parquet"
        if path.is_file():
            frames.append(
                pl.read_parquet(path, columns=["customer_id", "rfm_segment"]).select(
                    "customer_id", pl.lit(night).alias("as_of"), pl.col("rfm_segment").alias("segment")
                )
            )
    return (
        pl.concat(frames)
        if frames
        else pl.DataFrame(schema={"customer_id": pl.String, "as_of": pl.String, "segment": pl.String})
    )


_CHANNEL_FILES = (("email", "merge.csv"), ("sms", "messages.csv"), ("app", "messages.jsonl"))


def read_channels(out_dir: Path, nights: Iterable[str]) -> pl.DataFrame:
    """customer_id, as_of, channel: who was sent their coupons by which channel, from each night's
    published email/, sms/ and app/ folders.
    """
    frames = []
    for night in sorted(set(nights)):
        for channel, name in _CHANNEL_FILES:
            path = out_dir / night / channel / name
            if not path.is_file():
                continue
            if name.endswith(".jsonl"):
                ids = [
                    json.loads(line)["customer_id"]
                    for line in path.read_text(encoding="utf-8").splitlines()
                    if line
                ]
                people = pl.DataFrame({"customer_id": ids}, schema={"customer_id": pl.String})
            else:
                people = pl.read_csv(
                    path, columns=["customer_id"], schema_overrides={"customer_id": pl.String}
                )
            frames.append(people.with_columns(pl.lit(night).alias("as_of"), pl.lit(channel).alias("channel")))
    if not frames:
        return pl.DataFrame(schema={"customer_id": pl.String, "as_of": pl.String, "channel": pl.String})
    return pl.concat(frames).unique(["customer_id", "as_of"], keep="first", maintain_order=True)


def write_evaluation(evaluation: Evaluation, folder: Path, *, title: str) -> dict[str, Path]:
    """Write effects.csv, redemption_rates.csv, economics.csv, effects.png and evaluation.json.

    Returns the paths by name. Each file is written aside and renamed into place.
    """
    from coupongen.report import charts  # matplotlib is slow to import; only writing needs it

    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        write_atomic(folder / name, lambda path: path.write_bytes(data))
        written[name] = folder / name

    for name, frame in (
        ("effects.csv", evaluation.effects),
        ("redemption_rates.csv", evaluation.rates),
        ("economics.csv", evaluation.economics),
    ):
        put(name, frame.write_csv(float_precision=None).encode("utf-8"))
    put("effects.png", charts.plot_effects(evaluation.effects, title=title))
    doc = {
        "title": title,
        "confidence": CONFIDENCE,
        "margin_rate": evaluation.margin_rate,
        "purchases_until": None
        if evaluation.purchases_until is None
        else evaluation.purchases_until.isoformat(),
        "effects": evaluation.effects.to_dicts(),
        "redemption_rates": evaluation.rates.to_dicts(),
        "economics": evaluation.economics.to_dicts(),
    }
    put("evaluation.json", (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return written
