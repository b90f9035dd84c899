"""The learned ranking's settings (`RankSpec`): its time splits, model, night order and blocks."""

from __future__ import annotations

from dataclasses import dataclass, field

from coupongen.analysis.ranking_caps import MAX_EXPONENT
from coupongen.analysis.ranking_sources import SourceSpec

METHOD = "rerank"
"""The name the learned ranking goes by (`--method rerank`, the recommendations' source)."""

OBJECTIVES = ("binary", "lambdarank")
"""LightGBM objectives the model may learn with: each pair's chance alone, or each customer's list's order."""


@dataclass(frozen=True)
class RankSpec:
    """Settings of the learned ranking.

    horizon_days and splits: the time splits: the model learns from the history cut `k * horizon_days`
    before the run date for k = 1..splits, each labelled with the first purchases of the following
    `horizon_days`. The most recent split validates: it picks the number of boosting rounds (at most
    `rounds`, early stopping on the objective's metric) and calibrates the scores into chances of a
    first purchase within the horizon; the model is then fitted again on every split with those rounds.
    train_customers: at most this many customers per split (a seeded sample of those active at the
    split), which bounds the nightly training time. objective: "binary" (each pair's chance, early
    stopping on log-loss) or "lambdarank" (the order of each customer's candidates, early stopping on
    NDCG): the night's order compares chances across customers and products (one substitutes' factor and
    one popularity power for all), which a pointwise chance is fitted for and a per-customer order is
    not. leaves, learning_rate: LightGBM's. prefer_new_types and max_substitute_share: see the module.
    popularity_discount: the offers are ordered by the chance divided by (the product's buyers + 1) to
    this power; None ("auto") finds the weakest power that offers as many distinct products as EASE
    would to the same customers (`ranking_caps.popularity_exponent`). max_product_share: no product
    takes more than this share of all offers (1.0: no cap). lookback_days: the window of "what the
    customer buys". block_customers: the night's candidates are built and scored for this many customers
    at a time (bounds memory; the offers do not depend on it).
    """

    horizon_days: int = 28
    splits: int = 2
    train_customers: int = 20_000
    rounds: int = 400
    objective: str = "binary"
    leaves: int = 15
    learning_rate: float = 0.05
    prefer_new_types: bool = True
    max_substitute_share: float = 0.2
    popularity_discount: float | None = None
    max_product_share: float = 1.0
    lookback_days: int = 365
    seed: int = 0
    block_customers: int = 25_000
    sources: SourceSpec = field(default_factory=SourceSpec)

    @property
    def method(self) -> str:
        """The ranking's name, as a collaborative model's `ModelSpec.method`."""
        return METHOD

    def __post_init__(self) -> None:
        counts = (self.horizon_days, self.train_customers, self.rounds, self.block_customers)
        if min(counts) < 1 or self.leaves < 2:
            raise ValueError(
                "horizon_days, train_customers, rounds and block_customers must be at least 1, "
                "leaves at least 2"
            )
        if self.splits < 1:
            raise ValueError(f"splits must be at least 1, got {self.splits}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"Unknown objective {self.objective!r}; allowed: {', '.join(OBJECTIVES)}")
        if not 0.0 <= self.max_substitute_share <= 1.0:
            raise ValueError(f"max_substitute_share must be within 0 and 1, got {self.max_substitute_share}")
        if self.popularity_discount is not None and not 0.0 <= self.popularity_discount <= MAX_EXPONENT:
            raise ValueError(
                f"popularity_discount must be within 0 and {MAX_EXPONENT}, got {self.popularity_discount}"
            )
        if not 0.0 < self.max_product_share <= 1.0:
            raise ValueError(f"max_product_share must be above 0 and at most 1, got {self.max_product_share}")
