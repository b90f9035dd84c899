from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from coupongen.config import CampaignConfig, Job, JobConfig, NeverPromote
from coupongen.errors import InputError
from coupongen.inputs.quarantine import oversized_purchases
from coupongen.offers.eligibility import apply_never_promote
from coupongen.offers.planning import plan_offers
from coupongen.offers.preflight import check_fresh, preflight
from tests.offers.test_money import figures
from tests.offers.test_offers import PRODUCTS, bought, campaign, context, customers

AS_OF = date(2026, 11, 22)


def test_inputs_older_than_stale_after_days_stop_the_run_in_one_line():
    last = datetime(2026, 9, 23, 18, 30)  # 60 days before the run date
    with pytest.raises(InputError) as e:
        check_fresh(last, AS_OF, 14)
    assert str(e.value) == (
        "transactions: the newest transaction is from 2026-09-23, 60 days before --as-of 2026-11-22 "
        "(stale_after_days = 14); pass --allow-stale to run on it anyway"
    )
    assert e.value.exit_code == 2
    check_fresh(last, AS_OF, 14, allow_stale=True)
    check_fresh(datetime(2026, 11, 8), AS_OF, 14)  # 14 days: still fresh


def job_of(*campaigns: CampaignConfig) -> Job:
    return Job(Path("job.toml"), JobConfig(), campaigns)


def findings_of(camps, ctx, baskets=(10.0, 20.0, 30.0, 40.0)) -> dict[tuple[str, str], tuple[str, str]]:
    plan = plan_offers(camps, ctx, max_per_customer=1, seed=1)
    found = preflight(job_of(*camps), plan, figures(list(baskets)), ctx.customers, PRODUCTS)
    return {(r["campaign"], r["check"]): (r["status"], r["detail"]) for r in found.to_dicts()}


def test_a_campaign_needing_a_column_without_values_cannot_fire():
    ctx = context(customers(2), bought([]))
    found = findings_of((campaign("bd", "birthday", reward={"type": "multiplier", "value": 3}),), ctx)
    assert found[("bd", "columns")] == (
        "cannot fire",
        "needs customer column birth_date, which holds no values",
    )
    assert ("bd", "eligible") not in found


def test_basket_reach_reward_worth_and_eligibility_are_checked():
    ctx = context(customers(2), bought([("C0", "CHIPS"), ("C1", "CHIPS")]))
    cheap = campaign("cs", min_basket=20, budget=100)
    rich = campaign("rich", reward={"type": "amount", "value": 1.5}, min_basket=41)
    nobody = campaign("vip", "vip_reward", eligibility={"min_spend": 1_000_000})
    found = findings_of((cheap, rich, nobody), ctx)
    assert found[("cs", "min_basket")] == ("ok", "75.0% of baskets reach min_basket 20.00")
    assert found[("cs", "reward")] == (
        "ok",
        "reward worth 15% of the target's price (median over its offers)",
    )
    assert found[("cs", "budget")] == ("ok", "expected cost 0.03 of budget 100.00")
    assert found[("rich", "min_basket")] == ("warning", "0.0% of baskets reach min_basket 41.00")
    assert found[("rich", "eligible")][0] == "cannot fire"  # every customer already took cs's slot
    assert found[("vip", "eligible")] == ("cannot fire", "no customer meets its eligibility tonight")


def test_an_amount_worth_more_than_half_the_target_is_flagged():
    ctx = context(customers(1), bought([("C0", "CHIPS")]))  # target: salsa at 2.00
    found = findings_of((campaign("cs", reward={"type": "amount", "value": 1.5}),), ctx)
    assert found[("cs", "reward")] == (
        "warning",
        "reward worth 75% of the target's price (median over its offers)",
    )


def test_never_promote_bans_by_category_brand_sku_and_name_pattern():
    products = PRODUCTS.with_columns(pl.Series("brand", ["a", "b", "a", "a", "a"]))
    cases = {
        NeverPromote(categories=("snacks",)): ["PASTA", "SAUCE"],
        NeverPromote(brands=("b",)): ["PASTA", "CHIPS", "SALSA"],
        NeverPromote(skus=("PASTA",)): ["SAUCE", "CHIPS", "SALSA"],
        NeverPromote(name_patterns=("^tortilla", "SAUCE")): ["PASTA", "SALSA"],
        NeverPromote(): ["PASTA", "SAUCE", "CHIPS", "SALSA"],  # the lager is promo_allowed=false
    }
    for rules, allowed in cases.items():
        assert apply_never_promote(products, rules).filter("promo_allowed")["sku"].to_list() == allowed, rules
    assert (
        apply_never_promote(products.drop("brand"), NeverPromote(brands=("b",)))["promo_allowed"].sum() == 4
    )


def test_lines_quarantined_only_for_their_size_still_count_as_bought():
    quarantined = pl.DataFrame(
        {
            "customer_id": ["C0", "C1", "C2"],
            "sku": ["SALSA", "SALSA", "SALSA"],
            "ts": ["2026-11-01T08:00:00-05:00", "2026-11-01", "2026-11-02"],
            "reason": [
                "quantity: beyond max_line_quantity (10000)",
                "quantity: beyond max_line_quantity (10000); sku: not in products",
                "amount: beyond max_line_amount (1000000)",
            ],
        }
    )
    found = oversized_purchases(quarantined)
    assert found.select("customer_id", "sku").rows() == [("C0", "SALSA"), ("C2", "SALSA")]
    assert found["ts"].to_list()[0] == datetime(2026, 11, 1, 8)
    ctx = context(customers(2), bought([("C0", "CHIPS"), ("C1", "CHIPS")]))
    plan = plan_offers((campaign(),), replace(ctx, also_bought=found), max_per_customer=1, seed=1)
    # Both would get salsa; C0 bought it on an oversized line, so only C1 does
    assert plan.offers.select("customer_id", "target").rows() == [("C1", "SALSA")]


def test_a_min_basket_almost_no_basket_reaches_is_not_shown_as_zero():
    ctx = context(customers(1), bought([("C0", "CHIPS")]))
    found = findings_of((campaign("cs", min_basket=100),), ctx, baskets=[1.0] * 2000 + [100.0])
    assert found[("cs", "min_basket")] == ("warning", "under 0.1% of baskets reach min_basket 100.00")


def test_a_campaign_whose_eligible_customers_were_all_offered_it_recently_is_fine_and_says_so():
    ctx = context(customers(2), bought([("C0", "CHIPS"), ("C1", "CHIPS")]))
    camps = (campaign("cs", frequency_cap_days=28),)
    recent = pl.DataFrame(
        {"customer_id": ["C0", "C1"], "offer_type": ["cross_sell"] * 2, "as_of": [date(2026, 11, 20)] * 2}
    )
    plan = plan_offers(camps, ctx, max_per_customer=1, seed=1, recent=recent)
    assert plan.funnel.select("eligible", "recently_offered", "candidates").row(0) == (2, 2, 0)
    found = preflight(job_of(*camps), plan, figures([10.0]), ctx.customers, PRODUCTS)
    assert found.filter(pl.col("check") == "eligible").select("status", "detail").row(0) == (
        "ok",
        "2 eligible, all offered it within its frequency_cap_days = 28: none tonight",
    )
    # one left under the cap: it is planned as before
    plan = plan_offers(camps, ctx, max_per_customer=1, seed=1, recent=recent.head(1))
    assert plan.funnel.select("eligible", "recently_offered", "candidates").row(0) == (2, 1, 1)
