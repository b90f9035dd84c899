"""The cross-sell ranking scores only customers a cross-sell coupon can still reach tonight, and
with a budget only those who could make its cut: the plan is the one ranking everyone gives."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.analysis.night import Analysis, analyse
from coupongen.analysis.relevance import Ranker
from coupongen.config import Job, load_job
from coupongen.inputs.loading import load_inputs
from coupongen.offers import bounded_cut, planning
from coupongen.offers.eligibility import apply_never_promote
from coupongen.offers.substitutes import resolved
from tests.conftest import NIGHTLY, SAMPLE

AS_OF = date(2026, 11, 22)


@pytest.fixture(scope="module")
def night() -> Iterator[tuple[Job, Analysis, pl.DataFrame]]:
    job = load_job(NIGHTLY)
    inputs = load_inputs(SAMPLE / "transactions.csv", SAMPLE / "products.csv", SAMPLE / "customers.csv")
    products = apply_never_promote(inputs.products.kept, job.config.products.never_promote)
    yield job, analyse(job, inputs, AS_OF), products


def _watch(monkeypatch: pytest.MonkeyPatch, everyone: pl.Series | None = None) -> list[pl.Series]:
    """Record the customers each ranking call gets; with ``everyone``, rank those instead."""
    ranked_for: list[pl.Series] = []
    rank = Ranker.rank

    def watched(self: Ranker, customers: Any = None) -> pl.DataFrame:
        ranked_for.append(pl.Series(customers, dtype=pl.String))
        return rank(self, everyone if everyone is not None else customers)

    monkeypatch.setattr(Ranker, "rank", watched)
    return ranked_for


def _with_budget(job: Job, budget: float) -> Job:
    campaigns = tuple(
        c.model_copy(update={"budget": budget}) if c.name == "cross_sell" else c for c in job.campaigns
    )
    return Job(job.path, job.config, campaigns)


def _same_as_ranking_everyone(
    monkeypatch: pytest.MonkeyPatch,
    plan: planning.OfferPlan,
    again: Callable[[], planning.OfferPlan],
    everyone: pl.Series,
) -> None:
    """``plan`` equals the plan ``again`` makes ranking ``everyone``, with no budget bound."""
    with monkeypatch.context() as patched:
        _watch(patched, everyone=everyone)
        patched.setattr(planning, "can_bound", lambda campaign, ranker: False)
        _same(plan, again())


def _same(a: planning.OfferPlan, b: planning.OfferPlan) -> None:
    assert_frame_equal(a.offers, b.offers)
    assert_frame_equal(a.controls, b.controls)
    assert_frame_equal(a.funnel, b.funnel)


def test_customers_under_a_frequency_cap_are_not_ranked_and_the_plan_is_the_same(
    monkeypatch: pytest.MonkeyPatch, night: tuple[Job, Analysis, pl.DataFrame]
) -> None:
    job, analysis, products = night
    # every third customer had a cross-sell coupon three nights ago: within the campaign's cap
    cross_sell = job.campaign("cross_sell")
    assert cross_sell.frequency_cap_days >= 3
    ids = analysis.segmented["customer_id"].sort()
    capped = ids.gather_every(3)
    recent = pl.DataFrame(
        {"customer_id": capped, "offer_type": "cross_sell", "as_of": AS_OF - timedelta(days=3)}
    )

    def plan() -> planning.OfferPlan:
        return planning.plan_night(job, analysis, products, as_of=AS_OF, seed=job.config.seed, recent=recent)

    with monkeypatch.context() as patched:
        ranked_for = _watch(patched)
        scoped = plan()
    scored = pl.concat(ranked_for)
    assert scored.is_in(capped.implode()).sum() == 0
    assert scored.len() > 500
    _same_as_ranking_everyone(monkeypatch, scoped, plan, ids)


def test_a_budget_ranks_only_the_customers_who_could_make_its_cut(
    monkeypatch: pytest.MonkeyPatch, night: tuple[Job, Analysis, pl.DataFrame]
) -> None:
    job, analysis, products = night
    job = _with_budget(job, 30.0)
    ids = analysis.segmented["customer_id"].sort()

    def plan() -> planning.OfferPlan:
        return planning.plan_night(job, analysis, products, as_of=AS_OF, seed=job.config.seed)

    monkeypatch.setattr(bounded_cut, "FIRST_BLOCK", 60)
    lowered: list[int] = []
    hold = planning.held_for_budget

    def watched_hold(free: pl.DataFrame, budget: float | None, **kw: Any) -> pl.DataFrame:
        held = hold(free, budget, **kw)
        first = resolved(free, 1.0).select("customer_id", pl.col("priority").alias("first"))
        lowered.append(held.join(first, on="customer_id").filter(pl.col("priority") < pl.col("first")).height)
        return held

    with monkeypatch.context() as patched:
        ranked_for = _watch(patched)
        patched.setattr(planning, "held_for_budget", watched_hold)
        bounded = plan()
    # the cut held substitutes back (the sample's first offers are more than a fifth substitutes)
    assert lowered and lowered[-1] > 0
    funnel = bounded.funnel.filter(pl.col("campaign") == "cross_sell").row(0, named=True)
    assert funnel["substitute_share"] <= 0.2
    # the budget binds: far fewer kept than candidates, and far fewer ranked than eligible
    assert 0 < funnel["within_budget"] < funnel["capped"] // 4
    scored = pl.concat(ranked_for)
    assert len(ranked_for) >= 2
    assert scored.n_unique() == scored.len()
    assert funnel["within_budget"] <= scored.len() < funnel["eligible"] // 4
    _same_as_ranking_everyone(monkeypatch, bounded, plan, ids)


def test_an_earlier_run_of_the_night_is_built_on_the_same_way(
    monkeypatch: pytest.MonkeyPatch, night: tuple[Job, Analysis, pl.DataFrame]
) -> None:
    job, analysis, products = night
    job = _with_budget(job, 30.0)
    monkeypatch.setattr(bounded_cut, "FIRST_BLOCK", 60)
    first = planning.plan_night(job, analysis, products, as_of=AS_OF, seed=job.config.seed)
    kept = pl.concat([first.offers, first.controls]).filter(pl.col("campaign") == "cross_sell")
    # a rerun with a larger budget: what was recorded stands and is paid for first
    decided = planning.decided_tonight(
        kept.filter(pl.col("offer_key").is_in(first.offers["offer_key"].implode())), kept.clear()
    ).head(10)
    bigger = _with_budget(job, 60.0)

    def plan() -> planning.OfferPlan:
        return planning.plan_night(
            bigger, analysis, products, as_of=AS_OF, seed=job.config.seed, decided=decided
        )

    bounded = plan()
    with monkeypatch.context() as patched:
        patched.setattr(planning, "can_bound", lambda campaign, ranker: False)
        _same(bounded, plan())
    assert bounded.earlier.height == 10
