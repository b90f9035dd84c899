"""The cross-sell ranking scores only customers a cross-sell coupon can still reach tonight."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.analysis.night import analyse
from coupongen.config import load_job
from coupongen.inputs.loading import load_inputs
from coupongen.offers import planning
from coupongen.offers.eligibility import apply_never_promote
from tests.conftest import NIGHTLY, SAMPLE

AS_OF = date(2026, 11, 22)


def test_customers_under_a_frequency_cap_are_not_ranked_and_the_plan_is_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = load_job(NIGHTLY)
    inputs = load_inputs(SAMPLE / "transactions.csv", SAMPLE / "products.csv", SAMPLE / "customers.csv")
    analysis = analyse(job, inputs, AS_OF)
    products = apply_never_promote(inputs.products.kept, job.config.products.never_promote)
    # every third customer had a cross-sell coupon three nights ago: within the campaign's cap
    cross_sell = job.campaign("cross_sell")
    assert cross_sell.frequency_cap_days >= 3
    ids = analysis.segmented["customer_id"].sort()
    capped = ids.gather_every(3)
    recent = pl.DataFrame(
        {"customer_id": capped, "offer_type": "cross_sell", "as_of": AS_OF - timedelta(days=3)}
    )
    ranked_for: list[pl.Series] = []
    recommend = planning.recommend

    def watched(*args: object, customers: pl.Series, **kwargs: object) -> pl.DataFrame:
        ranked_for.append(customers)
        return recommend(*args, customers=customers, **kwargs)  # type: ignore[arg-type]

    def everyone(*args: object, customers: pl.Series, **kwargs: object) -> pl.DataFrame:
        return recommend(*args, customers=ids, **kwargs)  # type: ignore[arg-type]

    def night() -> planning.OfferPlan:
        return planning.plan_night(job, analysis, products, as_of=AS_OF, seed=job.config.seed, recent=recent)

    monkeypatch.setattr(planning, "recommend", watched)
    scoped = night()
    (scored,) = ranked_for
    assert scored.is_in(capped.implode()).sum() == 0
    assert scored.len() > 500
    monkeypatch.setattr(planning, "recommend", everyone)
    unscoped = night()
    assert_frame_equal(scoped.offers, unscoped.offers)
    assert_frame_equal(scoped.controls, unscoped.controls)
    assert_frame_equal(scoped.funnel, unscoped.funnel)
