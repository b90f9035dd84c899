"""Campaign targets, schedules, lifetime budgets and per-customer caps, planned over several nights."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, timedelta

import polars as pl
import pytest

from coupongen.config import CampaignConfig
from coupongen.ledger import Ledger
from coupongen.offers.candidates import OfferContext
from coupongen.offers.planning import plan_offers
from coupongen.offers.targeting import target_products
from tests.offers.test_offers import customers

DEC1 = date(2026, 12, 1)

PRODUCTS = pl.DataFrame(
    {
        "sku": ["ESPRESSO", "CAPSULES", "GREEN", "WINE", "RIOJA"],
        "name": ["Espresso beans", "Coffee capsules", "Green tea", "Red wine", "Rioja Reserva"],
        "category": ["coffee", "coffee", "tea", "wine", "wine"],
        "brand": ["Lavazza", "Nescafe", "Lipton", "Bodega", "Bodega"],
        "price": [8.0, 4.0, 3.0, 9.0, 12.0],
        "promo_allowed": [True, True, True, False, True],
    }
)


def coffee_context(as_of: date = DEC1) -> OfferContext:
    """Six lapsed customers, each spending half their basket (20.00) on coffee, a third on tea."""
    n = 6
    cust = customers(n, lifecycle=["lapsed"] * n, recency_days=[200] * n)
    ids = cust["customer_id"].to_list()
    categories = pl.DataFrame(
        {
            "customer_id": ids * 2,
            "category": ["tea"] * n + ["coffee"] * n,
            "spend": [30.0] * n + [50.0] * n,
            "share": [0.3] * n + [0.5] * n,
        }
    )
    bought = pl.DataFrame(
        {
            "customer_id": ids,
            "sku": ["CAPSULES"] * n,
            "receipts": [3] * n,
            "in_lookback": [True] * n,
        },
        schema_overrides={"receipts": pl.Int32},
    )
    return OfferContext(
        customers=cust,
        bought=bought,
        categories=categories,
        products=PRODUCTS,
        rules=pl.DataFrame(),
        as_of=as_of,
        lookback_days=365,
    )


def coffee_campaign(**kw) -> CampaignConfig:
    doc = {
        "name": "coffee_december",
        "type": "win_back",
        "eligibility": {"lifecycle": ["lapsed"]},
        "target": {"categories": ["coffee"]},
        "reward": {"type": "percent", "value": 15},
        "start": DEC1,
        "end": date(2026, 12, 31),
        "expected_redemption_rate": 1.0,
        "holdout_share": 0.0,
        "frequency_cap_days": 0,
    }
    doc.update(kw)
    return CampaignConfig.model_validate(doc)


def test_the_coffee_campaign_discounts_only_coffee():
    plan = plan_offers((coffee_campaign(),), coffee_context(), max_per_customer=2, seed=1)
    offers = plan.offers
    assert offers.height == 6
    assert offers.select("target_kind", "target").unique().rows() == [("category", "coffee")]
    # 15% of the customer's coffee spend per visit (20.00 basket x 50% share) at a 100% rate
    assert offers["expected_cost"].to_list() == [1.5] * 6
    assert offers["reason"][0] == (
        "last visit 200 days ago (lapsed); favourite category coffee (50% of spend); "
        "coffee is 50% of their spend"
    )


def test_outside_its_dates_a_campaign_plans_nothing():
    camp = coffee_campaign()
    for night in (date(2026, 11, 30), date(2027, 1, 1)):
        plan = plan_offers((camp,), coffee_context(night), max_per_customer=2, seed=1)
        assert plan.offers.is_empty()
        assert plan.budgets.row(0, named=True)["runs_tonight"] is False
    assert camp.runs_on(DEC1) and camp.runs_on(date(2026, 12, 31))


def _codes():
    counter = itertools.count()

    def make(n: int) -> tuple[list[str], list[str]]:
        codes = [f"CODE{next(counter):06d}" for _ in range(n)]
        return codes, codes

    return make


def _three_nights(ledger: Ledger, camp: CampaignConfig, *, redeem_first: float | None = None) -> list[float]:
    """Plan and issue three consecutive nights; returns each night's expected cost."""
    make = _codes()
    costs = []
    for night in (DEC1 + timedelta(days=i) for i in range(3)):
        spent = ledger.campaign_spend(campaigns=[camp.name], before=night)
        reach = ledger.campaign_reach(campaigns=[camp.name], since=night - timedelta(days=90), before=night)
        plan = plan_offers(
            (camp,), coffee_context(night), max_per_customer=2, seed=1, spent=spent, reach=reach
        )
        run = ledger.start_run(job="nightly", as_of=night, config_hash="h")
        ledger.issue_coupons(plan.offers, run=run, make_codes=make)
        ledger.finish_run(run, status="succeeded")
        costs.append(round(float(plan.offers["expected_cost"].sum()), 4))
        if redeem_first is not None and night == DEC1:
            coupon = ledger.coupons(as_of=DEC1).row(0, named=True)
            ledger.record_redemptions(
                pl.DataFrame(
                    [(coupon["code"], 1, "2026-12-01T10:00:00", "S1", "R1", None, redeem_first, "r.csv", 2,
                      "accepted", None)],
                    schema=["code", "coupon_id", "redeemed_at", "store_id", "receipt_id", "card_number",
                            "discount", "source_file", "line", "status", "reason"],
                    orient="row",
                )
            )  # fmt: skip
    return costs


def test_a_lifetime_budget_holds_over_three_nights(tmp_path):
    camp = coffee_campaign(budget=1.5, lifetime_budget=4.0, per_customer={"max": 1, "days": 90})
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        costs = _three_nights(ledger, camp)
        # 1.50 a night until the lifetime budget has only 1.00 left: too little for a coupon
        assert costs == [1.5, 1.5, 0.0]
        coupons = ledger.coupons()
        # the cap of one per customer in 90 days: a different customer each night, best first
        assert coupons.sort("as_of").select("as_of", "customer_id").rows() == [
            ("2026-12-01", "C5"),
            ("2026-12-02", "C4"),
        ]
        assert coupons["expected_cost"].sum() <= 4.0


def test_real_cost_of_imported_redemptions_counts_against_the_lifetime_budget(tmp_path):
    camp = coffee_campaign(budget=1.5, lifetime_budget=4.0, per_customer={"max": 1, "days": 90})
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        # the first night's coupon was used for a 0.50 discount: 2.50 is left after night two
        costs = _three_nights(ledger, camp, redeem_first=0.5)
        assert costs == [1.5, 1.5, 1.5]
        spend = ledger.campaign_spend(campaigns=[camp.name], before=date(2026, 12, 4)).row(0, named=True)
        assert spend == {
            "campaign": "coffee_december",
            "coupons": 3,
            "redeemed": 1,
            "expected_cost": 3.0,
            "real_cost": 0.5,
            "spent": 3.5,
        }


def test_target_products_keep_the_never_promote_guard():
    target = CampaignConfig.model_validate(
        {
            "name": "x",
            "type": "vip_reward",
            "reward": {"type": "percent", "value": 5},
            "target": {"brands": ["Bodega"], "name_patterns": ["^espresso"]},
        }
    ).target
    assert target is not None
    # the Bodega wine may not be promoted; the pattern ignores case
    assert target_products(PRODUCTS, target)["sku"].to_list() == ["ESPRESSO", "RIOJA"]


def test_a_category_holding_a_restricted_product_is_never_the_target():
    camp = coffee_campaign(target={"categories": ["wine"]})
    plan = plan_offers((camp,), coffee_context(), max_per_customer=2, seed=1)
    assert plan.offers.is_empty()


def test_product_targets_pick_the_customers_own_product_and_the_model_never_what_they_bought():
    ctx = coffee_context()
    plain = coffee_campaign(target={"skus": ["ESPRESSO", "CAPSULES"]})
    offers = plan_offers((plain,), ctx, max_per_customer=2, seed=1).offers
    assert offers.select("target_kind", "target").unique().rows() == [("sku", "CAPSULES")]
    # another customer buys both: the model can link espresso beans to the capsules
    both = pl.DataFrame(
        {
            "customer_id": ["C9", "C9"],
            "sku": ["CAPSULES", "ESPRESSO"],
            "receipts": [2, 2],
            "in_lookback": [True] * 2,
        },
        schema_overrides={"receipts": pl.Int32},
    )
    ctx = replace(ctx, bought=pl.concat([ctx.bought, both]))
    model = coffee_campaign(target={"skus": ["ESPRESSO", "CAPSULES"], "rule": "model"})
    offers = plan_offers((model,), ctx, max_per_customer=2, seed=1).offers
    assert offers.select("target_kind", "target").unique().rows() == [("sku", "ESPRESSO")]


@pytest.mark.parametrize(
    ("eligibility", "admitted"),
    [
        ({"visits": {"at_least": 6}}, []),
        ({"spend": {"between": [102, 104]}}, ["C2", "C3", "C4"]),
        ({"spend": {"at_most": 100.5}}, ["C0"]),
        ({"age": {"between": [30, 39]}}, ["C1"]),
        ({"columns": {"card_number": ["2770000000003"]}}, ["C3"]),
        ({"customers_file": "list.txt"}, ["C0", "C4"]),
    ],
)
def test_audience_filters(eligibility, admitted):
    from coupongen.offers.eligibility import eligible_customers, with_audience_facts

    births = [date(2000, 12, 2), date(1990, 12, 1), None, date(1980, 1, 1), date(2010, 6, 6), None]
    cust = with_audience_facts(customers(6, birth_date=births), as_of=DEC1)
    camp = coffee_campaign(eligibility=eligibility)
    listed = frozenset({"C0", "2770000000004"})
    assert eligible_customers(cust, camp, listed=listed)["customer_id"].to_list() == admitted


def test_age_is_full_years_on_the_night():
    from coupongen.offers.eligibility import with_audience_facts

    births = [date(2000, 12, 2), date(2000, 12, 1), None]
    ages = with_audience_facts(customers(3, birth_date=births), as_of=DEC1)["age"].to_list()
    assert ages == [25, 26, None]


def test_home_store_is_where_most_receipts_were():
    from coupongen.offers.eligibility import with_audience_facts

    tx = pl.DataFrame(
        {
            "receipt_id": ["R1", "R2", "R3", "R4", "R5"],
            "customer_id": ["C0", "C0", "C0", "C1", "C1"],
            "ts": [
                "2026-11-01T10:00:00", "2026-11-02T10:00:00", "2026-11-03T10:00:00",
                "2026-11-01T10:00:00", "2026-11-02T10:00:00",
            ],
            "store_id": ["S2", "S1", "S2", "S9", "S3"],
        }
    ).with_columns(pl.col("ts").str.to_datetime())  # fmt: skip
    facts = with_audience_facts(customers(3), as_of=DEC1, transactions=tx)
    assert facts["home_store"].to_list() == ["S2", "S3", None]


def test_a_filter_on_a_missing_column_names_the_campaign_and_key():
    from coupongen.errors import ConfigError
    from coupongen.offers.eligibility import eligible_customers

    camp = coffee_campaign(eligibility={"columns": {"loyalty_tier": "gold"}})
    with pytest.raises(ConfigError) as e:
        eligible_customers(customers(2), camp)
    assert str(e.value) == (
        "campaign 'coffee_december': eligibility.columns.loyalty_tier: the customer table has no "
        "column 'loyalty_tier'"
    )


def test_an_exclusive_campaigns_customers_get_no_other_offer_that_night():
    ctx = coffee_context()
    sorry = coffee_campaign(
        name="sorry",
        type="vip_reward",
        target=None,
        eligibility={"spend": {"at_least": 104}},
        reward={"type": "amount", "value": 3},
        exclusive=True,
    )
    coffee = coffee_campaign()
    plan = plan_offers((sorry, coffee), ctx, max_per_customer=2, seed=1)
    by_campaign = plan.offers.group_by("campaign").agg(pl.col("customer_id").sort()).sort("campaign")
    assert by_campaign.rows() == [
        ("coffee_december", ["C0", "C1", "C2", "C3"]),
        ("sorry", ["C4", "C5"]),
    ]
    # listed after another campaign, an exclusive one skips the customers that one chose
    plan = plan_offers((coffee, sorry), ctx, max_per_customer=2, seed=1)
    assert plan.offers.filter(pl.col("campaign") == "sorry").is_empty()


def test_a_cross_sell_pick_in_a_target_set_is_explained_by_a_purchase_outside_it():
    ctx = coffee_context()
    ids = ctx.customers["customer_id"].to_list()
    bought = pl.DataFrame(
        {
            "customer_id": [*ids, "C9", "C9"],
            "sku": ["GREEN"] * len(ids) + ["GREEN", "ESPRESSO"],
            "receipts": [3] * len(ids) + [2, 2],
            "in_lookback": [True] * (len(ids) + 2),
        },
        schema_overrides={"receipts": pl.Int32},
    )
    camp = coffee_campaign(type="cross_sell", eligibility={}, target={"categories": ["coffee"]})
    offers = plan_offers((camp,), replace(ctx, bought=bought), max_per_customer=1, seed=1).offers
    assert offers.height == len(ids)
    assert offers["target"].unique().to_list() == ["ESPRESSO"]
    # the tea the customer buys is named, though only coffee may be offered
    assert offers["reason"].unique().to_list() == [
        "bought Green tea 3x in 365 days; customers who buy Green tea also buy Espresso beans"
    ]
