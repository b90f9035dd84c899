"""The learned cross-sell ranking: a gradient-boosted model orders the candidates of every source.

Each night the model learns from the retailer's own history by a time split inside it: candidates
are built as the history stood `horizon_days` before the run date, and a pair is a positive when
the customer bought the product for the first time in those last days. The fitted model (LightGBM,
binary objective, so a score is an estimated chance of taking the product up within the horizon)
then orders the candidates built on the full history. Nothing after the run date is looked at.

"New to the customer, not a substitute": with `prefer_new_types` a product of a type the customer
already buys (another brand of what they buy anyway) moves down the list, so that among the first
n offers of a customer at most ``max_substitute_share * n`` are substitutes while new types remain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import lightgbm as lgb
import numpy as np
import polars as pl

from coupongen.analysis.ranking_sources import (
    RECENT_DAYS,
    SOURCES,
    SourceSpec,
    candidates,
    history_before,
    product_types,
)

METHOD = "rerank"
"""The name the learned ranking goes by (`--method rerank`, the recommendations' source)."""

FEATURES = (
    *(f"{s}_{part}" for s in SOURCES for part in ("score", "rank")),
    "n_sources",
    "item_buyers",
    "item_new_buyers",
    "item_trend",
    "item_price",
    "type_buyers",
    "type_new_buyers",
    "customer_items",
    "customer_types",
    "customer_new_items",
    "customer_days_since_new",
    "category_share",
    "type_items",
    "type_new",
    "category_new",
)
"""The model's inputs, in column order."""


@dataclass(frozen=True)
class RankSpec:
    """Settings of the learned ranking.

    horizon_days: the time split: the model learns from the history cut this many days before
    the run date, labelled with the first purchases of those days. train_customers: at most this
    many customers (a seeded sample of those active at the split) train the model, which bounds
    the nightly training time. rounds, leaves, learning_rate: LightGBM's. prefer_new_types and
    max_substitute_share: see the module. lookback_days: the window of "what the customer buys".
    """

    horizon_days: int = 28
    train_customers: int = 50_000
    rounds: int = 200
    leaves: int = 15
    learning_rate: float = 0.05
    prefer_new_types: bool = True
    max_substitute_share: float = 0.2
    lookback_days: int = 365
    seed: int = 0
    sources: SourceSpec = field(default_factory=SourceSpec)

    @property
    def method(self) -> str:
        """The ranking's name, as a collaborative model's `ModelSpec.method`."""
        return METHOD

    def __post_init__(self) -> None:
        if self.horizon_days < 1 or self.train_customers < 1 or self.rounds < 1 or self.leaves < 2:
            raise ValueError("horizon_days, train_customers and rounds must be at least 1, leaves at least 2")
        if not 0.0 <= self.max_substitute_share <= 1.0:
            raise ValueError(f"max_substitute_share must be within 0 and 1, got {self.max_substitute_share}")


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

    Returns:
        customer_id, sku, rank (i32, 1 = best), score (the model's chance of a first purchase
        within the horizon), anchor (the purchase behind the collaborative score, or null),
        substitute (bool: the product's type is one the customer bought in the window); sorted by
        customer_id and rank.
    """
    spec = spec or RankSpec()
    types = product_types(products)
    model = train(bought, products, as_of=as_of, spec=spec, types=types)
    pool = candidates(bought, products, customers, as_of=as_of, spec=spec.sources)
    frame = features(pool, bought, types, as_of=as_of)
    if frame.is_empty():
        return _ranked(frame.with_columns(pl.lit(0.0).alias("score")), top_n, spec)
    x = frame.select(FEATURES).to_numpy().astype(np.float64)
    score = model.predict(x) if model is not None else _source_score(frame)
    return _ranked(frame.with_columns(pl.Series("score", score, dtype=pl.Float64)), top_n, spec)


def train(
    bought: pl.DataFrame,
    products: pl.DataFrame,
    *,
    as_of: date,
    spec: RankSpec,
    types: pl.DataFrame | None = None,
) -> lgb.Booster | None:
    """The model fitted by the time split, or None when the history holds no first purchase to learn."""
    types = product_types(products) if types is None else types
    split = as_of - timedelta(days=spec.horizon_days)
    before = history_before(bought, split, lookback_days=spec.lookback_days)
    active = before.filter(pl.col("in_lookback")).select("customer_id").unique()
    sample = (
        active.with_columns(pl.col("customer_id").hash(spec.seed).alias("draw"))
        .sort("draw", "customer_id")
        .head(spec.train_customers)["customer_id"]
    )
    pool = candidates(before, products, sample, as_of=split, spec=spec.sources)
    taken = bought.filter((pl.col("first_day") >= split) & (pl.col("first_day") < as_of)).select(
        "customer_id", "sku", pl.lit(1).alias("label")
    )
    frame = (
        features(pool, before, types, as_of=split)
        .join(taken, on=["customer_id", "sku"], how="left")
        .with_columns(pl.col("label").fill_null(0))
    )
    positives = int(frame["label"].sum()) if frame.height else 0
    if positives == 0 or positives == frame.height:
        return None
    params = {
        "objective": "binary",
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
    data = lgb.Dataset(
        frame.select(FEATURES).to_numpy().astype(np.float64),
        label=frame["label"].to_numpy(),
        feature_name=list(FEATURES),
        free_raw_data=True,
    )
    return lgb.train(params, data, num_boost_round=spec.rounds)


def features(pool: pl.DataFrame, bought: pl.DataFrame, types: pl.DataFrame, *, as_of: date) -> pl.DataFrame:
    """The candidates with every column of `FEATURES` plus `substitute` and `type`.

    Product facts count buyers in the window and first-time buyers in the recent weeks (their
    ratio is the trend); customer facts count their products, types and recent first purchases;
    pair facts say how much of the customer's products fall in the candidate's category and type
    and whether the customer ever bought that type or category. Only first and last purchase days
    are read, so facts cut at an earlier day (`history_before`) leak nothing from after it.
    """
    recent_start = as_of - timedelta(days=RECENT_DAYS)
    facts = bought.select("customer_id", "sku", "first_day", "in_lookback").join(
        types.select("sku", "category", "type"), on="sku", how="left"
    )
    window = facts.filter(pl.col("in_lookback"))
    new = (pl.col("first_day") >= recent_start).cast(pl.Int32)
    items = (
        window.group_by("sku")
        .agg(pl.len().alias("item_buyers"))
        .join(
            facts.group_by("sku").agg(new.sum().alias("item_new_buyers")), on="sku", how="full", coalesce=True
        )
    )
    kinds = (
        window.group_by("type")
        .agg(pl.col("customer_id").n_unique().alias("type_buyers"))
        .join(
            facts.filter(new == 1)
            .group_by("type")
            .agg(pl.col("customer_id").n_unique().alias("type_new_buyers")),
            on="type",
            how="full",
            coalesce=True,
        )
    )
    people = facts.group_by("customer_id").agg(
        pl.col("in_lookback").sum().alias("customer_items"),
        pl.col("type").filter(pl.col("in_lookback")).n_unique().alias("customer_types"),
        new.sum().alias("customer_new_items"),
        (pl.lit(as_of) - pl.col("first_day").max()).dt.total_days().alias("customer_days_since_new"),
    )
    in_category = window.group_by("customer_id", "category").agg(pl.len().alias("category_items"))
    in_type = window.group_by("customer_id", "type").agg(pl.len().alias("type_items"))
    ever_type = facts.select("customer_id", "type").unique().with_columns(pl.lit(0).alias("type_new"))
    ever_category = (
        facts.select("customer_id", "category").unique().with_columns(pl.lit(0).alias("category_new"))
    )
    return (
        pool.join(types, on="sku", how="left")
        .join(items, on="sku", how="left")
        .join(kinds, on="type", how="left")
        .join(people, on="customer_id", how="left")
        .join(in_category, on=["customer_id", "category"], how="left")
        .join(in_type, on=["customer_id", "type"], how="left")
        .join(ever_type, on=["customer_id", "type"], how="left")
        .join(ever_category, on=["customer_id", "category"], how="left")
        .with_columns(
            pl.col("item_buyers", "item_new_buyers", "type_buyers", "type_new_buyers").fill_null(0),
            pl.col(
                "customer_items", "customer_types", "customer_new_items", "category_items", "type_items"
            ).fill_null(0),
            pl.col("type_new", "category_new").fill_null(1),
        )
        .with_columns(
            (pl.col("item_new_buyers") / (pl.col("item_buyers") + 1)).alias("item_trend"),
            (pl.col("category_items") / pl.max_horizontal(pl.col("customer_items"), 1)).alias(
                "category_share"
            ),
            pl.col("price").cast(pl.Float64).alias("item_price"),
            (pl.col("type_items") > 0).alias("substitute"),
        )
        .sort("customer_id", "sku")
    )


def _source_score(frame: pl.DataFrame) -> np.ndarray:
    """Without a model (no first purchase in the horizon to learn from): reciprocal-rank votes."""
    return (
        frame.select(pl.sum_horizontal([1.0 / pl.col(f"{s}_rank") for s in SOURCES])).to_series().to_numpy()
    )


def _ranked(frame: pl.DataFrame, top_n: int, spec: RankSpec) -> pl.DataFrame:
    """Each customer's first `top_n` candidates, substitutes moved down as `spec` says."""
    ordered = frame.sort(["customer_id", "score", "sku"], descending=[False, True, False])
    if spec.prefer_new_types:
        ordered = ordered.with_columns(substitute_order(spec.max_substitute_share).alias("order")).sort(
            "customer_id", "order", maintain_order=True
        )
    return (
        ordered.with_columns((pl.int_range(pl.len()).over("customer_id") + 1).cast(pl.Int32).alias("rank"))
        .filter(pl.col("rank") <= top_n)
        .select("customer_id", "sku", "rank", "score", "anchor", "substitute")
    )


def substitute_order(share: float) -> pl.Expr:
    """A sort key per customer that lets at most `share` of any first n places go to substitutes.

    Over a customer's candidates sorted best first, with `substitute` a bool column: the j-th
    substitute is placed after max(the new-type products better than it, ceil(j / share) - j)
    new-type products, so among the first n places at most floor(share * n) are substitutes; each
    kind keeps its own order, and substitutes fill the places left when new types run out.
    """
    sub = pl.col("substitute")
    j = sub.cast(pl.Int64).cum_sum().over("customer_id")
    fresh_before = (~sub).cast(pl.Int64).cum_sum().over("customer_id")
    if share > 0:
        needed = (j.cast(pl.Float64) / share).ceil().cast(pl.Int64) - j
    else:
        needed = pl.lit(np.iinfo(np.int32).max, dtype=pl.Int64)
    after = pl.max_horizontal(fresh_before, needed).cast(pl.Float64) + 0.5
    return pl.when(sub).then(after).otherwise(fresh_before.cast(pl.Float64))
