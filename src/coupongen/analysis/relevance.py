"""Relevance: which products a customer is likely to buy next and has not bought yet.

A cross-sell coupon is worth sending for a product the customer will want, not for one they buy
anyway. A collaborative model (``item_models``) ranks products across histories; places it cannot
fill come from association rules, then popularity (``relevance_fills``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date

import polars as pl

from coupongen.analysis import relevance_hold, reranker
from coupongen.analysis.item_models import (
    FITTERS,
    TOP_N,
    WEIGHTINGS,
    ItemModel,
    ModelSpec,
    PurchaseMatrix,
    codes_of,
    fit,
    purchase_matrix,
)
from coupongen.analysis.item_scoring import score_customers
from coupongen.analysis.rank_spec import RankSpec
from coupongen.analysis.ranking_caps import sample_customers
from coupongen.analysis.relevance_fills import (
    RECOMMENDATION_SCHEMA,
    explain,
    fill_from_popular,
    fill_from_rules,
    popular_for,
)
from coupongen.analysis.relevance_hold import LISTS
from coupongen.config import Job
from coupongen.inputs.contract import require_columns

RANKINGS = (*FITTERS, reranker.METHOD)
"""The cross-sell rankings: one collaborative model, or the learned ranking over several sources."""

__all__ = [
    "FITTERS",
    "RANKINGS",
    "RECOMMENDATION_SCHEMA",
    "TOP_N",
    "WEIGHTINGS",
    "ModelSpec",
    "RankSpec",
    "model_spec",
    "popular_unbought",
    "ranking_spec",
    "recommend",
]


_SOURCE_ORDER = {"rule": 1, "popular": 2}


def ranking_spec(job: Job, method: str | None = None) -> ModelSpec | RankSpec:
    """The cross-sell ranking the job's ``[ranking]`` settings name (or `method` instead).

    The learned ranking is seeded with the job's seed, so a night is repeatable.
    """
    cfg = job.config.ranking
    chosen = method or cfg.method
    if chosen == reranker.METHOD:
        return RankSpec(
            prefer_new_types=cfg.prefer_new_types,
            max_substitute_share=cfg.max_substitute_share,
            popularity_discount=None if cfg.popularity_discount == "auto" else float(cfg.popularity_discount),
            max_product_share=cfg.max_product_share,
            lookback_days=job.config.segments.lookback_days,
            seed=job.config.seed,
        )
    return replace(model_spec(job), method=chosen)


def model_spec(job: Job) -> ModelSpec:
    """The collaborative model of the job's `[ranking]` (EASE when it ranks with the learned
    ranking), substitutes held back as it says: what a campaign's own target set is ranked with.
    """
    cfg = job.config.ranking
    method = "ease" if cfg.method == reranker.METHOD else cfg.method
    return ModelSpec(
        method=method, max_substitute_share=cfg.max_substitute_share if cfg.prefer_new_types else None
    )


# --- the stage -------------------------------------------------------------------------------------


def recommend(
    bought: pl.DataFrame,
    products: pl.DataFrame,
    *,
    rules: pl.DataFrame | None = None,
    customers: Iterable[str] | pl.Series | None = None,
    top_n: int = TOP_N,
    spec: ModelSpec | RankSpec | None = None,
    as_of: date | None = None,
    scored: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Rank, for each customer, the promotable products they did not buy in the look-back window.

    With a `RankSpec` the learned ranking (``reranker``) orders the candidates of several sources;
    it needs the run date `as_of` (default: the day the facts in `bought` were taken). Otherwise
    the model (`spec`, EASE by default) is fitted on every customer's purchases in `bought`
    (`features.customer_products`) and scores the customers in `customers` (default: everyone
    who bought in the window). Customers the model cannot fill `top_n` places for get products
    from the association `rules` their purchases fire (all antecedents bought; the best
    confidence, then lift, first), then the most-bought products. Products with
    `promo_allowed=false` or missing from `products` are never recommended. `scored`, when given
    for a model `spec`, is the model's best products per customer computed elsewhere
    (`score_customers`' columns, the Spark engine's relevance stage) for the same `spec` and
    `bought`, at least `relevance_hold.scoring_depth(spec, top_n)` of them (more than `top_n`
    when the spec holds substitutes back; fewer give other offers than a model fitted here):
    used instead of fitting the model here.

    Returns:
        One row per recommendation, sorted by customer_id and rank, with the columns
        `customer_id`, `sku` (str); `rank` (i32, 1 = best);
        `score` (f64): the model's score; for a rule, its confidence; for a popular product, the
        share of customers who bought it in the window;
        `source` (str): the model's method ("ease", "knn"), "rule" or "popular";
        `anchor` (str): the customer's own purchase the recommendation rests on (the largest
        contribution to the model's score, or the rule's antecedent they bought most often);
        null for a popular product;
        `lift`, `confidence` (f64): of the association rule anchor -> sku, null without one.

    Raises:
        InputError: a frame lacks a required column.
    """
    return Ranker(bought, products, rules=rules, top_n=top_n, spec=spec, as_of=as_of, scored=scored).rank(
        customers
    )


class Ranker:
    """`recommend` prepared once for many groups of customers: the purchase matrix and the fitted
    model are built on the first need and kept, so ranking customers in groups costs what ranking
    them at once does, and each customer's ranking is the same whatever group they come in.
    """

    def __init__(
        self,
        bought: pl.DataFrame,
        products: pl.DataFrame,
        *,
        rules: pl.DataFrame | None = None,
        top_n: int = TOP_N,
        spec: ModelSpec | RankSpec | None = None,
        as_of: date | None = None,
        scored: pl.DataFrame | None = None,
    ) -> None:
        self.spec = spec or ModelSpec()
        require_columns(
            bought.columns, ["customer_id", "in_lookback", "receipts", "sku"], source="bought frame"
        )
        held = isinstance(self.spec, ModelSpec) and self.spec.max_substitute_share is not None
        needed = ["promo_allowed", "sku", *(["category"] if held else [])]
        require_columns(products.columns, needed, source="products frame")
        self.bought, self.products, self.rules = bought, products, rules
        self.top_n, self.as_of, self.scored = top_n, as_of, scored
        if isinstance(self.spec, RankSpec):
            self.purchases = purchase_matrix(bought)
        else:
            self.purchases = purchase_matrix(
                bought, weighting=self.spec.weighting, half_life_days=self.spec.half_life_days
            )
        self.promotable = products.filter(pl.col("promo_allowed"))["sku"]
        self.allowed = self.purchases.items.is_in(self.promotable.implode()).to_numpy()
        self._model: ItemModel | None = None
        self._factor: float | None = None
        self._types: relevance_hold.BoughtTypes | None = None

    @property
    def model(self) -> ItemModel | None:
        """The fitted item model of a model `spec` (fitted on first use); None for the learned
        ranking, for scores computed elsewhere, or without purchases.
        """
        if self._model is None and self.fits_here:
            self._model = fit(self.purchases, self.spec)  # type: ignore[arg-type]
        return self._model

    @property
    def fits_here(self) -> bool:
        """True when the ranking scores customers with an item model fitted here."""
        return isinstance(self.spec, ModelSpec) and self.scored is None and bool(self.purchases.items.len())

    def modelled(self, wanted: pl.DataFrame) -> pl.DataFrame:
        """The model's best `top_n` for the `wanted` customers (`wanted`'s rows), substitutes held
        back under a spec that says so (`relevance_hold`); `score_customers`' columns.
        """
        spec = self.spec
        assert isinstance(spec, ModelSpec)
        present = wanted.filter(pl.col("row").is_not_null())
        share = spec.max_substitute_share
        if self.scored is not None:
            # lazy: the wanted customers' lists are copied once, in order, not once per step
            lists = self.scored.lazy().join(
                present.lazy().select("customer_id"), on="customer_id", how="semi"
            )
            if share is None:
                return (
                    lists.filter(pl.col("rank") <= self.top_n)
                    .select(LISTS.names())
                    .sort("customer_id", "rank")
                    .collect()
                )
            deep = lists.filter(pl.col("rank") <= self.depth).select(LISTS.names())
            return self._scored_hold().lists(deep, self.top_n, self.hold_factor(share))
        if not present.height or (model := self.model) is None:
            return LISTS.to_frame()
        rows = present["row"].to_numpy()
        if share is None:
            return score_customers(self.purchases, model, top_n=self.top_n, allowed=self.allowed, rows=rows)
        return self._fitted_hold(model).lists(rows, self.depth, self.top_n, self.hold_factor(share))

    @property
    def depth(self) -> int:
        """Products scored per customer: more than the offers when substitutes are held back."""
        return relevance_hold.scoring_depth(self.spec, self.top_n)  # type: ignore[arg-type]

    def hold_factor(self, share: float) -> float:
        """The night's factor on substitutes' scores, found once on a seeded sample of everyone who
        bought in the window, so that a customer's list is the same whatever group they come in.
        """
        if self._factor is None:
            drawn = self.wanted(sample_customers(self.purchases.customers))
            if self.scored is not None:
                lists = self.scored.join(drawn, on="customer_id", how="semi")
                sample = self._scored_hold().sample(lists.filter(pl.col("rank") <= self.depth))
            elif (model := self.model) is not None:
                sample = self._fitted_hold(model).sample(drawn["row"].drop_nulls().to_numpy(), self.depth)
            else:
                sample = pl.DataFrame()
            self._factor = relevance_hold.hold_factor(sample, self.top_n, share)
        return self._factor

    def _bought_types(self) -> relevance_hold.BoughtTypes:
        if self._types is None:
            self._types = relevance_hold.BoughtTypes.of(self.purchases, self.products)
        return self._types

    def _fitted_hold(self, model: ItemModel) -> relevance_hold.FittedHold:
        return relevance_hold.FittedHold(self.purchases, model, self.allowed, self._bought_types())

    def _scored_hold(self) -> relevance_hold.ScoredHold:
        return relevance_hold.ScoredHold(self.purchases, self._bought_types())

    def wanted(self, customers: Iterable[str] | pl.Series | None) -> pl.DataFrame:
        """The customers to rank with their matrix row (null when they bought nothing in the window)."""
        return _wanted(self.purchases, customers)

    def rank(self, customers: Iterable[str] | pl.Series | None = None) -> pl.DataFrame:
        """`recommend`'s ranking of ``customers`` (default: everyone who bought in the window)."""
        spec, top_n, purchases = self.spec, self.top_n, self.purchases
        wanted = self.wanted(customers)
        modelled = LISTS.to_frame()
        if isinstance(spec, RankSpec):
            day = self.as_of or _facts_day(self.bought)
            if day is not None and wanted.height:
                modelled = reranker.rank(
                    self.bought, self.products, wanted["customer_id"], as_of=day, top_n=top_n, spec=spec
                ).drop("substitute")
        else:
            modelled = self.modelled(wanted).cast(LISTS)
        recent = self.bought.filter(pl.col("in_lookback")).select("customer_id", "sku", "receipts")
        ranked = explain(modelled.with_columns(pl.lit(spec.method).alias("source")), self.rules)
        ranked = fill_from_rules(ranked, wanted, recent, self.rules, self.promotable, top_n)
        ranked = fill_from_popular(ranked, wanted, recent, purchases, self.allowed, top_n)
        order = pl.col("source").replace_strict(_SOURCE_ORDER, default=0, return_dtype=pl.Int32)
        return (
            ranked.sort(["customer_id", order, "rank"])
            .with_columns((pl.int_range(pl.len()).over("customer_id") + 1).cast(pl.Int32).alias("rank"))
            .filter(pl.col("rank") <= top_n)
            .select(RECOMMENDATION_SCHEMA.names())
            .cast(RECOMMENDATION_SCHEMA)
        )


def popular_unbought(
    bought: pl.DataFrame,
    products: pl.DataFrame,
    customers: Iterable[str] | pl.Series,
    *,
    top_n: int,
    exclude_bought: bool = True,
) -> pl.DataFrame:
    """The most-bought promotable products, per customer, without those they bought in the window.

    Popularity is the number of customers who bought the product in the look-back window (ties:
    sku order). With ``exclude_bought=False`` everyone gets the same global list.

    Returns:
        customer_id, sku, rank (i32, 1 = best), score (share of customers who bought it).
    """
    purchases = purchase_matrix(bought)
    promotable = products.filter(pl.col("promo_allowed"))["sku"]
    allowed = purchases.items.is_in(promotable.implode()).to_numpy()
    wanted = _wanted(purchases, customers).select("customer_id")
    recent = bought.filter(pl.col("in_lookback")).select("customer_id", "sku")
    if not exclude_bought:
        recent = recent.clear()
    return popular_for(wanted, recent, purchases, allowed, top_n, have=None)


def _facts_day(bought: pl.DataFrame) -> date | None:
    """The day customer facts were taken: a last purchase day plus the days since it."""
    if bought.is_empty() or not {"last_day", "days_since_last"} <= set(bought.columns):
        return None
    day: date | None = bought.select(
        (pl.col("last_day") + pl.duration(days=pl.col("days_since_last"))).max()
    ).item()
    return day


def _wanted(purchases: PurchaseMatrix, customers: Iterable[str] | pl.Series | None) -> pl.DataFrame:
    """The customers to rank with their matrix row (null when they bought nothing in the window)."""
    codes = codes_of(purchases.customers, "customer_id", "row")
    if customers is None:
        return codes
    if isinstance(customers, pl.Series):
        ids = customers.cast(pl.String).rename("customer_id")
    else:
        ids = pl.Series("customer_id", list(customers), dtype=pl.String)
    return (
        pl.DataFrame({"customer_id": ids})
        .drop_nulls()
        .unique()
        .join(codes, on="customer_id", how="left")
        .sort("customer_id")
    )
