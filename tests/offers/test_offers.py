from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import polars as pl
from polars.testing import assert_frame_equal

from coupongen.analysis.affinity import mine_rules
from coupongen.config import CampaignConfig
from coupongen.offers import candidates
from coupongen.offers.candidates import OfferContext
from coupongen.offers.eligibility import restricted_categories
from coupongen.offers.guards import in_holdout
from coupongen.offers.planning import DECIDED_SCHEMA, plan_offers

AS_OF = date(2026, 11, 22)

PRODUCTS = pl.DataFrame(
    {
        "sku": ["PASTA", "SAUCE", "BEER", "CHIPS", "SALSA"],
        "name": ["Spaghetti", "Tomato sauce", "Lager", "Tortilla chips", "Salsa"],
        "category": ["pasta", "sauce", "beer", "snacks", "snacks"],
        "brand": ["a"] * 5,
        "price": [2.0, 3.0, 1.5, 2.5, 2.0],
        "promo_allowed": [True, True, False, True, True],
    }
)


def rules() -> pl.DataFrame:
    baskets = (
        [("PASTA", "SAUCE")] * 6
        + [("PASTA", "BEER")] * 8
        + [("CHIPS", "SALSA")] * 5
        + [("CHIPS", "BEER")] * 3
        + [("SAUCE",)] * 2
        + [("BEER",)] * 2
    )
    rows = [(f"R{i}", item) for i, b in enumerate(baskets) for item in b]
    frame = pl.DataFrame(rows, schema={"receipt_id": pl.String, "item": pl.String}, orient="row")
    return mine_rules(frame, min_support=0.01, min_confidence=0.1, min_lift=0.5)


def customers(n: int = 4, **overrides) -> pl.DataFrame:
    base = {
        "customer_id": [f"C{i}" for i in range(n)],
        "card_number": [f"2770{i:09d}" for i in range(n)],
        "rfm_segment": ["champions"] * n,
        "lifecycle": ["active"] * n,
        "nps_class": [None] * n,
        "recency_days": [10] * n,
        "frequency": [5] * n,
        "monetary": [100.0 + i for i in range(n)],
        "avg_basket": [20.0] * n,
        "visits": [5] * n,
        "nps_score": [None] * n,
        "birth_date": [None] * n,
    }
    base.update(overrides)
    return pl.DataFrame(
        base, schema_overrides={"nps_class": pl.String, "nps_score": pl.Int64, "birth_date": pl.Date}
    )


def bought(pairs) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": [c for c, _ in pairs],
            "sku": [s for _, s in pairs],
            "receipts": [3] * len(pairs),
            "in_lookback": [True] * len(pairs),
        },
        schema_overrides={"receipts": pl.Int32},
    )


def context(cust, bought_, categories=None) -> OfferContext:
    if categories is None:
        categories = pl.DataFrame(
            {"customer_id": [], "category": [], "spend": [], "share": []},
            schema={
                "customer_id": pl.String,
                "category": pl.String,
                "spend": pl.Float64,
                "share": pl.Float64,
            },
        )
    return OfferContext(
        customers=cust,
        bought=bought_,
        categories=categories,
        products=PRODUCTS,
        rules=rules(),
        as_of=AS_OF,
        lookback_days=365,
    )


def campaign(name="cs", type_="cross_sell", **kw) -> CampaignConfig:
    doc = {"name": name, "type": type_, "reward": {"type": "percent", "value": 15}, "holdout_share": 0.0}
    doc.update(kw)
    return CampaignConfig.model_validate(doc)


def test_cross_sell_never_offers_restricted_or_already_bought_products():
    ctx = context(customers(2), bought([("C0", "PASTA"), ("C1", "PASTA"), ("C1", "SAUCE")]))
    plan = plan_offers((campaign(),), ctx, max_per_customer=2, seed=1)
    offers = plan.offers
    # C0: PASTA -> BEER is the strongest rule, but beer may not be promoted: sauce instead
    assert offers.filter(pl.col("customer_id") == "C0")["target"].to_list() == ["SAUCE"]
    # C1 already buys the sauce and beer is restricted: nothing left to cross-sell
    assert "C1" not in offers["customer_id"].to_list()
    assert offers["target"].is_in(["BEER"]).sum() == 0
    reason = offers["reason"].item()
    assert reason.startswith("bought Spaghetti 3x in 365 days; Spaghetti -> Tomato sauce, lift")


def test_a_reason_speaks_of_the_history_when_it_is_shorter_than_the_look_back_window():
    facts = bought([("C0", "PASTA")]).with_columns(pl.lit(AS_OF - timedelta(days=28)).alias("first_day"))
    plan = plan_offers((campaign(),), context(customers(1), facts), max_per_customer=1, seed=1)
    assert plan.offers["reason"].item().startswith("bought Spaghetti 3x in 28 days; ")


def test_offer_rows_carry_validity_reward_and_key():
    ctx = context(customers(1), bought([("C0", "CHIPS")]))
    camp = campaign(valid_from_offset_days=1, valid_days=14, min_basket=10, max_uses=2)
    row = plan_offers((camp,), ctx, max_per_customer=1, seed=1).offers.row(0, named=True)
    assert row["offer_key"] == "cs:2026-11-22:C0:0"
    assert (row["valid_from"], row["valid_to"]) == ("2026-11-23", "2026-12-06")
    assert (row["reward_type"], row["reward_value"], row["min_basket"], row["max_uses"]) == (
        "percent",
        15.0,
        10.0,
        2,
    )
    assert row["target"] == "SALSA"
    # expected cost: 5% redemption x 15% of the salsa's price 2.00
    assert row["expected_cost"] == round(0.05 * 0.15 * 2.0, 4)


def test_a_budget_too_small_for_anyone_issues_nothing():
    ctx = context(customers(3), bought([("C0", "PASTA"), ("C1", "PASTA"), ("C2", "CHIPS")]))
    plan = plan_offers((campaign(budget=0.001),), ctx, max_per_customer=2, seed=1)
    assert plan.offers.height == 0
    funnel = plan.funnel.row(0, named=True)
    assert (funnel["candidates"], funnel["within_budget"], funnel["treated"]) == (3, 0, 0)


def test_budget_is_filled_by_priority_and_never_exceeded():
    ctx = context(customers(3), bought([("C0", "PASTA"), ("C1", "PASTA"), ("C2", "CHIPS")]))
    costs = plan_offers((campaign(),), ctx, max_per_customer=2, seed=1).offers
    one = costs["expected_cost"].max()
    plan = plan_offers((campaign(budget=one * 1.5),), ctx, max_per_customer=2, seed=1)
    assert plan.offers["expected_cost"].sum() <= one * 1.5
    assert plan.offers.height == 1


def test_a_customer_eligible_for_everything_gets_at_most_the_cap_first_campaigns_first():
    cust = customers(1, lifecycle=["lapsing"])
    cats = pl.DataFrame(
        {
            "customer_id": ["C0", "C0"],
            "category": ["beer", "snacks"],
            "spend": [50.0, 10.0],
            "share": [0.83, 0.17],
        }
    )
    ctx = context(cust, bought([("C0", "CHIPS")]), cats)
    camps = (
        campaign("wb", "win_back", eligibility={"lifecycle": ["lapsing"]}),
        campaign("cs"),
    )
    plan = plan_offers(camps, ctx, max_per_customer=1, seed=1)
    assert plan.offers["campaign"].to_list() == ["wb"]
    # beer is restricted: the win-back goes to the favourite category that may be promoted
    assert plan.offers["target"].to_list() == ["snacks"]
    assert plan.offers["reason"].to_list() == [
        "last visit 10 days ago (lapsing); favourite category snacks (17% of spend)"
    ]
    # the reason names the category as the products' display names do
    named = replace(ctx, products=PRODUCTS.with_columns(pl.lit("Chips & Dips").alias("category_name")))
    shown = plan_offers(camps, named, max_per_customer=1, seed=1).offers["reason"].to_list()
    assert shown == ["last visit 10 days ago (lapsing); favourite category Chips & Dips (17% of spend)"]
    both = plan_offers(camps, ctx, max_per_customer=2, seed=1)
    assert sorted(both.offers["campaign"].to_list()) == ["cs", "wb"]


def test_an_empty_segment_gives_no_offers_and_no_error():
    ctx = context(customers(2), bought([("C0", "PASTA")]))
    plan = plan_offers((campaign(eligibility={"segments": ["lost"]}),), ctx, max_per_customer=2, seed=1)
    assert plan.offers.height == 0 and plan.controls.height == 0
    assert plan.funnel.row(0, named=True)["eligible"] == 0


def test_frequency_cap_skips_customers_who_recently_got_the_same_offer_type():
    ctx = context(customers(2), bought([("C0", "PASTA"), ("C1", "CHIPS")]))
    recent = pl.DataFrame(
        {
            "customer_id": ["C0", "C1"],
            "offer_type": ["cross_sell", "cross_sell"],
            "as_of": [date(2026, 11, 15), date(2026, 11, 1)],
        }
    )
    plan = plan_offers((campaign(frequency_cap_days=14),), ctx, max_per_customer=2, seed=1, recent=recent)
    # C0 had a cross-sell 7 days ago (inside the 14-day cap); C1's was 21 days ago
    assert plan.offers["customer_id"].to_list() == ["C1"]
    off = plan_offers((campaign(frequency_cap_days=0),), ctx, max_per_customer=2, seed=1, recent=recent)
    assert off.offers.height == 2


def test_holdout_is_deterministic_salted_and_about_the_share():
    ids = pl.Series("customer_id", [f"C{i:05d}" for i in range(20_000)])
    a = in_holdout(ids, salt="cs:1", share=0.1)
    assert a.equals(in_holdout(ids, salt="cs:1", share=0.1))
    assert 0.09 < a.mean() < 0.11
    b = in_holdout(ids, salt="wb:1", share=0.1)
    overlap = (a & b).sum() / a.sum()
    assert overlap < 0.2  # a different campaign holds out different people


def test_holdout_members_are_recorded_as_controls_not_offers():
    cust = customers(200)
    ctx = context(cust, bought([(f"C{i}", "PASTA") for i in range(200)]))
    plan = plan_offers((campaign(holdout_share=0.25),), ctx, max_per_customer=2, seed=7)
    assert plan.offers.height + plan.controls.height == 200
    assert 30 <= plan.controls.height <= 70
    assert not set(plan.offers["customer_id"]) & set(plan.controls["customer_id"])
    again = plan_offers((campaign(holdout_share=0.25),), ctx, max_per_customer=2, seed=7)
    assert again.controls.equals(plan.controls)


def test_restricted_categories():
    assert restricted_categories(PRODUCTS).to_list() == ["beer"]


def test_second_purchase_targets_one_visit_customers_with_a_basket_offer():
    cust = customers(3, visits=[1, 2, 1], lifecycle=["new", "new", "active"])
    ctx = context(cust, bought([]))
    camp = campaign(
        "sp", "second_purchase", eligibility={"lifecycle": ["new"]}, reward={"type": "amount", "value": 5}
    )
    offers = plan_offers((camp,), ctx, max_per_customer=2, seed=1).offers
    assert offers.select("customer_id", "target_kind", "target").rows() == [("C0", "basket", None)]
    assert offers["expected_cost"].item() == 0.05 * 5


def test_birthday_in_the_validity_window_including_29_february():
    born = [date(1990, 11, 25), date(1985, 12, 30), date(2000, 2, 29), None]
    cust = customers(4, birth_date=born)
    camp = campaign("bd", "birthday", valid_from_offset_days=1, valid_days=7)
    got = plan_offers((camp,), context(cust, bought([])), max_per_customer=2, seed=1).offers
    assert got["customer_id"].to_list() == ["C0"]
    assert got["reason"].item() == "birthday on 25 November"
    leap = OfferContext(**{**context(cust, bought([])).__dict__, "as_of": date(2027, 2, 25)})
    got = plan_offers((camp,), leap, max_per_customer=2, seed=1).offers
    assert got["customer_id"].to_list() == ["C2"]  # 2027 has no 29 February: celebrated on the 28th


def test_replenishment_offers_the_most_overdue_regular_promotable_product():
    regular = pl.DataFrame(
        {
            "customer_id": ["C0", "C0", "C0", "C1"],
            "sku": ["PASTA", "SAUCE", "BEER", "CHIPS"],
            "receipts": [6, 4, 9, 5],
            "in_lookback": [True] * 4,
            "cycle_days": [10.0, 20.0, 7.0, 10.0],
            "days_since_last": pl.Series([12, 30, 20, 45], dtype=pl.Int32),
        },
        schema_overrides={"receipts": pl.Int32},
    )
    camp = campaign("rp", "replenishment", reward={"type": "points", "value": 100})
    got = plan_offers((camp,), context(customers(2), regular), max_per_customer=2, seed=1).offers
    # C0: sauce is 1.5 cycles overdue, pasta 1.2, beer may not be promoted; C1 gave up on chips (4.5 cycles)
    assert got.select("customer_id", "target").rows() == [("C0", "SAUCE")]
    assert got["reason"].item() == "buys Tomato sauce every ~20 days (4x); last bought 30 days ago"
    assert got["expected_cost"].item() == round(0.05 * 100 * 1.0, 4)


def test_nps_driven_offers_pick_detractors_and_promoters():
    cust = customers(3, nps_class=["detractor", "promoter", None], nps_score=[3, 10, None])
    sorry = plan_offers(
        (campaign("sr", "service_recovery"),), context(cust, bought([])), max_per_customer=2, seed=1
    )
    assert sorry.offers["customer_id"].to_list() == ["C0"]
    assert "answered 3 of 10" in sorry.offers["reason"].item()
    invite = plan_offers((campaign("rf", "referral"),), context(cust, bought([])), max_per_customer=2, seed=1)
    assert invite.offers["customer_id"].to_list() == ["C1"]


def test_vip_reward_goes_to_the_eligible_segment():
    cust = customers(2, rfm_segment=["champions", "lost"])
    camp = campaign(
        "vip",
        "vip_reward",
        eligibility={"segments": ["champions"]},
        reward={"type": "multiplier", "value": 3},
    )
    got = plan_offers((camp,), context(cust, bought([])), max_per_customer=2, seed=1).offers
    assert got["customer_id"].to_list() == ["C0"]
    # two extra points per 100 of the 20.00 average basket at 1.00 a point, 5% redemption
    assert got["expected_cost"].item() == round(20.0 * 0.01 * 2 * 1.0 * 0.05, 4)


def test_the_budget_pays_for_sent_coupons_and_the_holdout_is_cut_at_the_same_place():
    n = 400
    cust = customers(n, monetary=[float(i) for i in range(n)])
    ctx = context(cust, bought([(f"C{i}", "PASTA") for i in range(n)]))
    unlimited = plan_offers((campaign(holdout_share=0.25),), ctx, max_per_customer=1, seed=3)
    one = unlimited.offers["expected_cost"].max()
    budget = one * 100.5
    plan = plan_offers((campaign(holdout_share=0.25, budget=budget),), ctx, max_per_customer=1, seed=3)
    sent = plan.offers["expected_cost"].sum()
    assert sent <= budget and plan.offers.height == 100  # held-out customers cost nothing
    assert 15 <= plan.controls.height <= 55
    # the cut is one place in one order: every customer above it is either sent or held out
    cands = pl.concat([plan.offers, plan.controls])
    assert cands.height == plan.offers.height + plan.controls.height
    assert set(cands["customer_id"]) < set(unlimited.offers["customer_id"]) | set(
        unlimited.controls["customer_id"]
    )


def test_an_offer_cut_by_its_budget_leaves_the_slot_to_the_next_campaign():
    cust = customers(1, lifecycle=["lapsing"])
    cats = pl.DataFrame({"customer_id": ["C0"], "category": ["snacks"], "spend": [10.0], "share": [1.0]})
    ctx = context(cust, bought([("C0", "CHIPS")]), cats)
    camps = (
        campaign("wb", "win_back", eligibility={"lifecycle": ["lapsing"]}, budget=0.0),
        campaign("cs"),
    )
    plan = plan_offers(camps, ctx, max_per_customer=1, seed=1)
    assert plan.offers["campaign"].to_list() == ["cs"]


def test_a_rerun_counts_what_the_night_already_issued_against_caps_and_budgets():
    cust = customers(3, lifecycle=["lapsing"] * 3)
    cats = pl.DataFrame(
        {
            "customer_id": ["C0", "C1", "C2"],
            "category": ["snacks"] * 3,
            "spend": [10.0] * 3,
            "share": [1.0] * 3,
        }
    )
    ctx = context(cust, bought([("C0", "CHIPS"), ("C1", "CHIPS"), ("C2", "CHIPS")]), cats)
    camps = (campaign("wb", "win_back", eligibility={"lifecycle": ["lapsing"]}), campaign("cs"))
    first = plan_offers(camps, ctx, max_per_customer=1, seed=1)
    assert sorted(first.offers["campaign"]) == ["wb", "wb", "wb"]
    # the first run issued C0's win-back only; a rerun sees it and issues the rest once
    decided = pl.DataFrame(
        {"campaign": ["wb"], "customer_id": ["C0"], "held": [False], "expected_cost": [0.5]},
        schema=DECIDED_SCHEMA,
    )
    rerun = plan_offers(camps, ctx, max_per_customer=1, seed=1, decided=decided)
    assert sorted(rerun.offers["customer_id"]) == ["C1", "C2"]
    assert set(rerun.offers["campaign"]) == {"wb"}
    assert rerun.funnel.row(0, named=True)["treated"] == 3
    # a customer recorded in the holdout stays there, whatever the seed now draws
    held = decided.with_columns(pl.lit(True).alias("held"))
    other_seed = plan_offers(camps, ctx, max_per_customer=1, seed=99, decided=held)
    assert "C0" not in other_seed.offers["customer_id"].to_list()


def test_a_rerun_counts_an_issued_coupon_at_what_it_was_recorded_to_cost():
    # three cross-sell candidates; the earlier run issued C0's coupon, recorded at the whole budget
    # (its price has since fallen): nothing is left for a new coupon tonight
    ctx = context(customers(3), bought([("C0", "PASTA"), ("C1", "PASTA"), ("C2", "PASTA")]))
    cs = campaign("cs", budget=1.0)
    assert plan_offers((cs,), ctx, max_per_customer=1, seed=1).offers.height == 3
    decided = pl.DataFrame(
        {"campaign": ["cs"], "customer_id": ["C0"], "held": [False], "expected_cost": [1.0]},
        schema=DECIDED_SCHEMA,
    )
    rerun = plan_offers((cs,), ctx, max_per_customer=1, seed=1, decided=decided)
    assert rerun.offers.is_empty()
    assert rerun.funnel.row(0, named=True)["expected_cost"] == 1.0


def test_an_offer_without_a_reason_is_set_aside_and_keeps_its_place(monkeypatch):
    propose = candidates.OFFER_TYPES["cross_sell"]

    def no_reason_for_c1(eligible, ctx, camp):
        proposed = propose(eligible, ctx, camp)
        return proposed.with_columns(
            pl.when(pl.col("customer_id") != "C1").then(pl.col("reason")).alias("reason")
        )

    ctx = context(customers(3), bought([("C0", "PASTA"), ("C1", "PASTA"), ("C2", "CHIPS")]))
    whole = plan_offers((campaign(),), ctx, max_per_customer=1, seed=1)
    monkeypatch.setitem(candidates.OFFER_TYPES, "cross_sell", no_reason_for_c1)
    plan = plan_offers((campaign(),), ctx, max_per_customer=1, seed=1)
    assert_frame_equal(plan.offers, whole.offers.filter(pl.col("customer_id") != "C1"))
    assert plan.set_aside.to_dicts() == [
        {
            "campaign": "cs",
            "offer_type": "cross_sell",
            "customer_id": "C1",
            "target_kind": "sku",
            "target": "SAUCE",
            "problem": "no reason",
        }
    ]
    funnel = plan.funnel.select("within_budget", "treated", "control", "set_aside").row(0)
    assert funnel == (3, 2, 0, 1)
    assert plan.funnel["expected_cost"].item() == round(plan.offers["expected_cost"].sum(), 2)
    assert whole.set_aside.is_empty() and whole.funnel["set_aside"].to_list() == [0]


def test_a_campaign_whose_lifetime_budget_is_spent_records_no_holdout_and_leaves_the_slot():
    n = 40
    cust = customers(n, monetary=[float(i) for i in range(n)])
    ctx = context(cust, bought([(f"C{i}", "PASTA") for i in range(n)]))
    camps = (campaign("a", lifetime_budget=100, holdout_share=0.3), campaign("b"))
    spent = pl.DataFrame({"campaign": ["a"], "spent": [100.0]})
    plan = plan_offers(camps, ctx, max_per_customer=1, seed=0, spent=spent)
    assert plan.controls.filter(pl.col("campaign") == "a").is_empty()
    assert plan.offers.filter(pl.col("campaign") == "a").is_empty()
    free = plan_offers((campaign("b"),), ctx, max_per_customer=1, seed=0)
    assert sorted(plan.offers["customer_id"]) == sorted(free.offers["customer_id"])
