"""The learned cross-sell ranking: a gradient-boosted model orders the candidates of every source.

Each night the model learns from the retailer's own history by time splits inside it: candidates
are built as the history stood `horizon_days` (and multiples of it) before the run date, and a pair
is a positive when the customer bought the product for the first time in the following days. The
most recent split validates (it picks the boosting rounds and calibrates the scores into chances of
a first purchase within the horizon); the model fitted on every split then orders the candidates
built on the full history, a block of customers at a time (`rank`). Nothing after the run date is
looked at.

"New to the customer, not a substitute": with `prefer_new_types` a product of a type the customer
already buys (another brand of what they buy anyway) moves down the list, one factor for the whole
night, so that at most ``max_substitute_share`` of the night's offers are substitutes. Breadth: the
offers are ordered by the chance divided by a power of the product's buyers, the weakest power that
spreads them over as many products as the collaborative model would (`popularity_discount`);
optionally no product takes more than `max_product_share` of all offers (``ranking_caps``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from coupongen.analysis.rank_spec import METHOD, RankSpec
from coupongen.analysis.ranking_caps import sample_customers
from coupongen.analysis.ranking_sources import (
    SOURCES,
    candidates,
    fit_sources,
    history_before,
    offer_anchors,
    product_types,
    propose,
)
from coupongen.analysis.reranker_features import FEATURES, features, product_facts
from coupongen.analysis.reranker_order import KEPT, night_order, ordered, placed, result

if TYPE_CHECKING:
    import lightgbm as lgb

__all__ = [
    "FEATURES",
    "METHOD",
    "Model",
    "RankSpec",
    "features",
    "platt",
    "rank",
    "train",
]

EVAL_AT = 5
"""LambdaRank's validation metric is NDCG over a customer's first this many candidates (the first offers)."""

STOPPING_METRICS = {"binary": "binary_logloss", "lambdarank": "ndcg"}
"""The validation metric that stops the rounds, the one each objective minimises (or maximises)."""

_PATIENCE = 30

BLOCK_THREADS = 2
"""Blocks of customers scored side by side (the machine's two cores)."""


@dataclass(frozen=True)
class Model:
    """A fitted ranking model: raw scores, and the logistic map that turns them into chances."""

    booster: lgb.Booster
    slope: float
    intercept: float

    def chance(self, x: np.ndarray) -> np.ndarray:
        """The calibrated chance of a first purchase within the horizon of each row of `x`."""
        raw = np.asarray(self.booster.predict(x), dtype=np.float64)
        with np.errstate(over="ignore"):  # exp's overflow is a chance of 0, as it should be
            return 1.0 / (1.0 + np.exp(-(self.slope * raw + self.intercept)))


def rank(
    bought: pl.DataFrame,
    products: pl.DataFrame,
    customers: pl.Series,
    *,
    as_of: date,
    top_n: int,
    spec: RankSpec | None = None,
) -> pl.DataFrame:
    """Each customer's best `top_n` unbought promotable products by the learned model.

    The sources are fitted and the product facts counted once; the candidates, their features and
    their scores are then built for `spec.block_customers` customers at a time, so memory stays
    at one block's candidates whatever the night's size. The night's popularity discount and
    substitutes' factor are found first on a seeded sample of the customers
    (`ranking_caps.sample_customers`), so every block is ordered alike and the offers are the
    same as in one block.

    Returns:
        customer_id, sku, rank (i32, 1 = best), score (the calibrated chance of a first purchase
        within the horizon), anchor (the purchase behind the collaborative score, or null),
        substitute (bool: the product's type is one the customer bought in the window); sorted by
        customer_id and rank.
    """
    spec = spec or RankSpec()
    types = product_types(products)
    model = train(bought, products, as_of=as_of, spec=spec, types=types)
    sources = fit_sources(bought, products, as_of=as_of, spec=spec.sources)
    facts = product_facts(bought, types, as_of=as_of)

    def scored(block: pl.Series) -> pl.DataFrame:
        pool = propose(sources, block, anchors=False)
        frame = features(pool, _facts_of(bought, block), types, as_of=as_of, products=facts)
        if frame.is_empty():
            score = np.empty(0)
        else:
            score = model.chance(_matrix(frame)) if model is not None else _source_score(frame)
        return frame.select(*KEPT).with_columns(pl.Series("score", score, dtype=pl.Float64))

    wanted = customers.cast(pl.String).drop_nulls().unique().sort()
    order = night_order(scored(sample_customers(wanted)), top_n, spec)
    capped = spec.max_product_share < 1.0
    parts = [ordered(scored(wanted.clear()), order)]
    blocks = [
        wanted.slice(start, spec.block_customers) for start in range(0, wanted.len(), spec.block_customers)
    ]
    # blocks are independent and their work (numpy, scipy, polars, LightGBM) runs without the
    # GIL: two at a time keep both cores busy; their results are taken in block order
    with ThreadPoolExecutor(max_workers=BLOCK_THREADS) as threads:
        for part in threads.map(lambda block: ordered(scored(block), order), blocks):
            # without a product cap each block's offers are final; with one, the night's every
            # candidate waits for the cap (which weighs each product's offers across all customers)
            parts.append(part if capped else placed(part, top_n, order))
    if capped:
        offers = placed(pl.concat(parts), top_n, order, product_share=spec.max_product_share)
    else:
        offers = pl.concat(parts[1:]) if len(parts) > 1 else placed(parts[0], top_n, order)
    return result(offer_anchors(sources, offers))


def _facts_of(bought: pl.DataFrame, block: pl.Series) -> pl.DataFrame:
    """The rows of `bought` from the block's first customer to its last, when `bought` is sorted
    by customer (as `features.customer_products` gives it): the block's features then look at
    its own customers' facts, not every customer's. Otherwise `bought` itself.
    """
    ids = bought["customer_id"]
    if block.is_empty() or ids.dtype != pl.String or not ids.is_sorted():
        return bought
    low = ids.search_sorted(str(block.min()), side="left")
    high = ids.search_sorted(str(block.max()), side="right")
    return bought.slice(low, high - low)


def train(
    bought: pl.DataFrame,
    products: pl.DataFrame,
    *,
    as_of: date,
    spec: RankSpec,
    types: pl.DataFrame | None = None,
) -> Model | None:
    """The model fitted by the time splits, or None when the history holds no first purchase to learn.

    With one split (or no first purchase in the older ones) the rounds are `spec.rounds` and the
    calibration is fitted on the training split itself.
    """
    types = product_types(products) if types is None else types
    # the splits are independent: two at a time, one's single-threaded steps (the co-purchase
    # counts, the models' selections) run beside the other's; results taken in split order
    splits = [as_of - timedelta(days=k * spec.horizon_days) for k in range(1, spec.splits + 1)]
    with ThreadPoolExecutor(max_workers=BLOCK_THREADS) as threads:
        frames = list(threads.map(lambda split: _labelled(bought, products, types, split, spec), splits))
    usable = [f for f in frames if f.height and 0 < int(f["label"].sum()) < f.height]
    if not usable:
        return None
    validation, older = usable[0], usable[1:]
    rounds = spec.rounds
    if older:
        first = _fit(pl.concat(older), spec, rounds, validation=validation)
        rounds = max(1, first.best_iteration or spec.rounds)
        raw = np.asarray(first.predict(_matrix(validation), num_iteration=rounds))
        booster = _fit(pl.concat(usable), spec, rounds)
    else:
        booster = _fit(validation, spec, rounds)
        raw = np.asarray(booster.predict(_matrix(validation)))
    slope, intercept = platt(raw, validation["label"].to_numpy())
    return Model(booster=booster, slope=slope, intercept=intercept)


def _labelled(
    bought: pl.DataFrame, products: pl.DataFrame, types: pl.DataFrame, split: date, spec: RankSpec
) -> pl.DataFrame:
    """Candidates as of `split` for a seeded sample of customers, labelled 1 when taken up after it."""
    end = split + timedelta(days=spec.horizon_days)
    before = history_before(bought, split, lookback_days=spec.lookback_days)
    active = before.filter(pl.col("in_lookback")).select("customer_id").unique()
    sample = (
        active.with_columns(pl.col("customer_id").hash(spec.seed).alias("draw"))
        .sort("draw", "customer_id")
        .head(spec.train_customers)["customer_id"]
    )
    pool = candidates(before, products, sample, as_of=split, spec=spec.sources, anchors=False)
    taken = bought.filter((pl.col("first_day") >= split) & (pl.col("first_day") < end)).select(
        "customer_id", "sku", pl.lit(1).alias("label")
    )
    return (
        features(pool, before, types, as_of=split)
        .join(taken, on=["customer_id", "sku"], how="left")
        .with_columns(pl.col("label").fill_null(0))
        .select("customer_id", *FEATURES, "label")
    )


def _matrix(frame: pl.DataFrame) -> np.ndarray:
    # cast by polars, column by column on all cores: the same column-major float64 array as a
    # conversion of the mixed columns followed by numpy's cast, in a third of the time
    return frame.select(pl.col(FEATURES).cast(pl.Float64)).to_numpy()


def _dataset(frame: pl.DataFrame, spec: RankSpec, reference: lgb.Dataset | None = None) -> lgb.Dataset:
    """Rows sorted by customer (each customer one query of the ranking objective)."""
    _passive_openmp()
    import lightgbm as lgb  # imported where a model is trained: a command that trains none starts faster

    rows = frame.sort("customer_id", maintain_order=True)
    groups = rows.group_by("customer_id", maintain_order=True).len()["len"].to_numpy()
    return lgb.Dataset(
        _matrix(rows),
        label=rows["label"].to_numpy(),
        group=groups,
        feature_name=list(FEATURES),
        reference=reference,
        free_raw_data=True,
    )


def _fit(
    frame: pl.DataFrame, spec: RankSpec, rounds: int, validation: pl.DataFrame | None = None
) -> lgb.Booster:
    """LightGBM on the labelled frame; with `validation`, early stopping on the objective's own metric.

    The binary objective stops on the log-loss of the validation split, LambdaRank on NDCG at
    `EVAL_AT` (`STOPPING_METRICS`).
    """
    _passive_openmp()
    import lightgbm as lgb

    params = {
        "objective": spec.objective,
        "metric": STOPPING_METRICS[spec.objective],
        "eval_at": [EVAL_AT],
        "num_leaves": spec.leaves,
        "learning_rate": spec.learning_rate,
        "min_data_in_leaf": 20,
        "feature_fraction": 0.9,
        "bagging_fraction": 1.0,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 2,
        "seed": spec.seed,
        "verbosity": -1,
    }
    data = _dataset(frame, spec)
    if validation is None:
        return lgb.train(params, data, num_boost_round=rounds)
    valid = _dataset(validation, spec, reference=data)
    stop = lgb.early_stopping(_PATIENCE, first_metric_only=True, verbose=False)
    return lgb.train(params, data, num_boost_round=rounds, valid_sets=[valid], callbacks=[stop])


def _passive_openmp() -> None:
    """LightGBM's OpenMP threads sleep while they wait instead of spinning (unless the environment says).

    Spinning threads fight for the cores with everything else on a busy machine: one boosting
    round on a few thousand rows took ten times as long with two spinning threads as with one. It
    only takes effect before OpenMP starts, that is before LightGBM is first imported.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def platt(raw: np.ndarray, label: np.ndarray, *, steps: int = 50) -> tuple[float, float]:
    """Slope and intercept of the logistic map from raw scores to chances (Platt scaling).

    Newton's method on the log-loss with Platt's smoothed targets, so a split where every pair
    has the same label still gives finite values.
    """
    positives = float(label.sum())
    negatives = float(label.size - positives)
    target = np.where(label > 0, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    a, b = 1.0, float(np.log((positives + 1) / (negatives + 1)))
    for _ in range(steps):
        with np.errstate(over="ignore"):  # exp's overflow is a chance of 0, as it should be
            p = 1.0 / (1.0 + np.exp(-(a * raw + b)))
        w = np.maximum(p * (1 - p), 1e-12)
        g = np.array([np.dot(p - target, raw), np.sum(p - target)])
        h = np.array([[np.dot(w * raw, raw), np.dot(w, raw)], [np.dot(w, raw), np.sum(w)]])
        h[np.diag_indices_from(h)] += 1e-9
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(b)


def _source_score(frame: pl.DataFrame) -> np.ndarray:
    """Without a model (no first purchase in the horizon to learn from): reciprocal-rank votes."""
    return (
        frame.select(pl.sum_horizontal([1.0 / pl.col(f"{s}_rank") for s in SOURCES])).to_series().to_numpy()
    )
