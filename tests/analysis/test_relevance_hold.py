"""Substitutes held back in a collaborative model's lists (`relevance_hold`, the `Ranker`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.analysis.item_models import ModelSpec, fit, purchase_matrix
from coupongen.analysis.item_scoring import score_customers
from coupongen.analysis.relevance import Ranker, model_spec, ranking_spec, recommend, relevance_hold
from coupongen.config import CampaignConfig, Job, JobConfig
from coupongen.config.job import RankingConfig
from coupongen.errors import InputError
from coupongen.offers.candidates import OfferContext, cross_sell_candidates
from tests.analysis.test_relevance import bought as window_facts
from tests.analysis.test_relevance import scores

# Each of five customers bought the milk M1; the model (scores given, as from another engine)
# puts another milk first and a product of a new type second, the milk's lead shrinking from U1
# to U5. One offer each.
LEADS = {"U1": 9.0, "U2": 3.0, "U3": 1.5, "U4": 1.2, "U5": 1.1}


def _catalogue(types: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sku": list(types),
            "category": [t.split("/")[0] for t in types.values()],
            "subcategory": [t.split("/")[1] for t in types.values()],
            "promo_allowed": [True] * len(types),
        }
    )


def _given_lists() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    bought = window_facts({c: ["M1"] for c in LEADS})
    catalogue = _catalogue({"M1": "DAIRY/MILK", "M2": "DAIRY/MILK", "J1": "SPREADS/JAM"})
    scored = scores(
        [row for c, lead in LEADS.items() for row in ((c, "M2", 1, lead, "M1"), (c, "J1", 2, 1.0, "M1"))]
    )
    return bought, catalogue, scored


@pytest.mark.parametrize(
    ("share", "milk"),
    [
        (None, ["U1", "U2", "U3", "U4", "U5"]),
        (1.0, ["U1", "U2", "U3", "U4", "U5"]),
        (0.4, ["U1", "U2"]),
        (0.2, ["U1"]),
        (0.0, []),
    ],
)
def test_one_factor_keeps_the_substitutes_of_the_customers_they_lead_most(share, milk):
    bought, catalogue, scored = _given_lists()
    ranked = recommend(bought, catalogue, top_n=1, spec=ModelSpec(max_substitute_share=share), scored=scored)
    assert ranked.filter(pl.col("sku") == "M2")["customer_id"].to_list() == milk
    assert ranked.height == 5 and set(ranked["sku"]) <= {"M2", "J1"}
    assert (ranked["rank"] == 1).all()


def test_the_depth_scored_follows_the_hold():
    assert relevance_hold.scoring_depth(ModelSpec(), 5) == 5
    assert (
        relevance_hold.scoring_depth(ModelSpec(max_substitute_share=0.2), 5) == 5 * relevance_hold.HELD_DEPTH
    )
    with pytest.raises(ValueError, match="max_substitute_share"):
        ModelSpec(max_substitute_share=1.5)
    bought, catalogue = _history()
    with pytest.raises(InputError, match="category"):
        recommend(bought, catalogue.drop("category"), spec=ModelSpec(max_substitute_share=0.2))


def _history(seed: int = 3) -> tuple[pl.DataFrame, pl.DataFrame]:
    """300 customers over 60 products of 20 types: each leans to two types and buys within them."""
    rng = np.random.default_rng(seed)
    types = {f"P{i:02d}": f"C{i % 4}/T{i % 20}" for i in range(60)}
    by_type = [[s for s, t in types.items() if t.endswith(f"/T{k}")] for k in range(20)]
    baskets = {}
    for n in range(300):
        liked = rng.choice(20, size=2, replace=False)
        picks = {str(rng.choice(by_type[k])) for k in liked for _ in range(3)}
        picks |= {str(s) for s in rng.choice(list(types), size=2, replace=False)}
        baskets[f"U{n:03d}"] = sorted(picks)
    return window_facts(baskets), _catalogue(types)


def _substitute_share(ranked: pl.DataFrame, history: pl.DataFrame, catalogue: pl.DataFrame) -> float:
    """The share of offers of a type (category/subcategory) the customer bought in the window."""
    kinds = catalogue.select("sku", pl.format("{}/{}", "category", "subcategory").alias("type"))
    theirs = (
        history.filter(pl.col("in_lookback")).join(kinds, on="sku").select("customer_id", "type").unique()
    )
    offered = ranked.select("customer_id", "sku").join(kinds, on="sku")
    return offered.join(theirs, on=["customer_id", "type"], how="semi").height / offered.height


@pytest.mark.parametrize("method", ["ease", "knn"])
def test_a_fitted_model_s_offers_keep_substitutes_to_the_share(method):
    bought, catalogue = _history()
    free = recommend(bought, catalogue, top_n=3, spec=ModelSpec(method=method))
    held = recommend(bought, catalogue, top_n=3, spec=ModelSpec(method=method, max_substitute_share=0.2))
    assert _substitute_share(free, bought, catalogue) > 0.4
    modelled = held.filter(pl.col("source") == method)
    assert modelled.height > 0.9 * held.height
    assert _substitute_share(modelled, bought, catalogue) <= 0.2
    # a share nothing exceeds keeps the model's own lists, anchors named the same way
    same = recommend(bought, catalogue, top_n=3, spec=ModelSpec(method=method, max_substitute_share=1.0))
    assert_frame_equal(same, free)


@pytest.mark.parametrize("method", ["ease", "knn"])
def test_lists_scored_elsewhere_are_held_as_a_model_fitted_here_holds_them(method):
    bought, catalogue = _history(seed=11)
    spec = ModelSpec(method=method, max_substitute_share=0.2)
    matrix = purchase_matrix(bought)
    allowed = np.ones(matrix.items.len(), bool)
    scored = score_customers(
        matrix, fit(matrix, spec), top_n=relevance_hold.scoring_depth(spec, 3), allowed=allowed
    )
    here = recommend(bought, catalogue, top_n=3, spec=spec)
    assert_frame_equal(recommend(bought, catalogue, top_n=3, spec=spec, scored=scored), here)
    assert _substitute_share(here.filter(pl.col("source") == method), bought, catalogue) <= 0.2


def test_lists_held_a_block_of_customers_at_a_time_are_the_lists_held_at_once(monkeypatch):
    bought, catalogue = _history(seed=11)
    spec = ModelSpec(max_substitute_share=0.2)
    matrix = purchase_matrix(bought)
    allowed = np.ones(matrix.items.len(), bool)
    scored = score_customers(
        matrix, fit(matrix, spec), top_n=relevance_hold.scoring_depth(spec, 3), allowed=allowed
    ).sample(fraction=1.0, shuffle=True, seed=3)  # lists may come in any order
    at_once = recommend(bought, catalogue, top_n=3, spec=spec, scored=scored)
    assert matrix.customers.len() > 3 * 7
    monkeypatch.setattr(relevance_hold, "BLOCK_CUSTOMERS", 7)
    assert_frame_equal(recommend(bought, catalogue, top_n=3, spec=spec, scored=scored), at_once)
    assert_frame_equal(recommend(bought, catalogue, top_n=3, spec=spec), at_once)


def test_a_customer_s_offers_do_not_depend_on_the_group_they_are_ranked_in():
    bought, catalogue = _history(seed=5)
    spec = ModelSpec(max_substitute_share=0.2)
    everyone = Ranker(bought, catalogue, top_n=3, spec=spec).rank()
    ranker = Ranker(bought, catalogue, top_n=3, spec=spec)
    ids = everyone["customer_id"].unique().sort()
    parts = [ranker.rank(ids.gather_every(2, offset)) for offset in (1, 0)]
    assert_frame_equal(pl.concat(parts).sort("customer_id", "rank"), everyone)


def test_the_job_s_collaborative_model_holds_substitutes_as_its_ranking_says():
    def job(**ranking) -> Job:
        return Job(Path("job.toml"), JobConfig(ranking=RankingConfig(**ranking)), ())

    assert model_spec(job()) == ModelSpec(max_substitute_share=0.2)
    assert model_spec(job(method="rerank", max_substitute_share=0.1)) == ModelSpec(max_substitute_share=0.1)
    assert model_spec(job(method="knn", prefer_new_types=False)) == ModelSpec(method="knn")
    assert ranking_spec(job(method="knn")) == ModelSpec(method="knn", max_substitute_share=0.2)


def test_a_cross_sell_pick_ranked_on_the_spot_holds_substitutes_back():
    bought, catalogue = _history(seed=7)
    catalogue = catalogue.with_columns(pl.col("sku").alias("name"), pl.lit(1.0).alias("price"))
    eligible = bought.select("customer_id").unique().sort("customer_id")
    campaign = CampaignConfig.model_validate(
        {"name": "cs", "type": "cross_sell", "reward": {"type": "percent", "value": 15}}
    )

    def picked_substitutes(model: ModelSpec | None) -> float:
        ctx = OfferContext(
            customers=eligible,
            bought=bought,
            categories=pl.DataFrame(),
            products=catalogue,
            rules=pl.DataFrame(),
            as_of=date(2026, 11, 22),
            lookback_days=365,
            model=model,
        )
        picks = cross_sell_candidates(eligible, ctx, campaign).select(
            "customer_id", pl.col("target").alias("sku")
        )
        assert picks.height > 0.9 * eligible.height
        return _substitute_share(picks, bought, catalogue)

    assert picked_substitutes(None) > 0.4
    assert picked_substitutes(ModelSpec(max_substitute_share=0.2)) < 0.25
