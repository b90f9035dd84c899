"""The night's substitute share: cross-sell offers in a product type the customer already buys."""

from __future__ import annotations

import random
from dataclasses import replace

import polars as pl
import pytest

from coupongen.offers.candidates import OfferContext
from coupongen.offers.guards import budget_edge, within_budget
from coupongen.offers.planning import decided_tonight, plan_offers
from coupongen.offers.substitutes import (
    ALTERNATIVE,
    SUBSTITUTE,
    customers_of,
    held_for_budget,
    lowest_edge,
    resolved,
    substitute_share,
    with_alternatives,
)
from tests.offers.test_offers import PRODUCTS, bought, campaign, context, customers


def sent(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["customer_id", "target_kind", "target"], orient="row")


def test_a_product_of_a_type_bought_in_the_window_is_a_substitute():
    # CHIPS and SALSA share the category "snacks" (no subcategory column: the category is the type)
    ctx = context(customers(3), bought([("C0", "CHIPS"), ("C1", "PASTA"), ("C2", "SAUCE")]))
    offers = sent(
        [("C0", "sku", "SALSA"), ("C1", "sku", "SAUCE"), ("C2", "sku", "PASTA"), ("C2", "basket", "")]
    )
    # C0: salsa is another snack (substitute); C1, C2: a new type each; the basket offer is not counted
    assert substitute_share(offers, ctx) == round(1 / 3, 4)
    assert substitute_share(offers.filter(pl.col("target_kind") == "basket"), ctx) is None


def test_the_subcategory_is_the_type_where_the_products_have_one():
    products = PRODUCTS.with_columns(pl.Series("subcategory", ["long", "red", "lager", "chips", "dips"]))
    base = context(customers(1), bought([("C0", "CHIPS")]))
    ctx = type(base)(**{**base.__dict__, "products": products})
    assert substitute_share(sent([("C0", "sku", "SALSA")]), ctx) == 0.0  # snacks, but dips are new
    assert substitute_share(sent([("C0", "sku", "SALSA")]), base) == 1.0


def test_purchases_before_the_window_do_not_make_a_substitute():
    old = bought([("C0", "CHIPS")]).with_columns(pl.lit(False).alias("in_lookback"))
    assert substitute_share(sent([("C0", "sku", "SALSA")]), context(customers(1), old)) == 0.0


def test_the_plan_gives_each_cross_sell_campaign_its_share():
    ctx = context(customers(2), bought([("C0", "PASTA"), ("C1", "CHIPS")]))
    plan = plan_offers((campaign(), campaign("wb", "win_back")), ctx, max_per_customer=2, seed=1)
    funnel = {r["campaign"]: r for r in plan.funnel.to_dicts()}
    # C0 (pasta) gets the sauce, a new type; C1 (chips) gets the salsa, another snack
    assert sorted(plan.offers.filter(pl.col("campaign") == "cs").select("customer_id", "target").rows()) == [
        ("C0", "SAUCE"),
        ("C1", "SALSA"),
    ]
    assert funnel["cs"]["substitute_share"] == 0.5
    assert funnel["wb"]["substitute_share"] is None


def lists(rows: list[tuple[str, str, int, float, bool]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema=["customer_id", "target", "rank", "priority", SUBSTITUTE], orient="row"
    ).cast({"rank": pl.Int32})


def test_a_customer_whose_best_is_a_substitute_gets_their_best_new_type_as_an_alternative():
    listed = lists(
        [
            ("C0", "S", 1, 0.5, True),
            ("C0", "T", 2, 0.4, True),
            ("C0", "N", 3, 0.3, False),
            ("C0", "M", 4, 0.2, False),
            ("C1", "N", 1, 0.3, False),
            ("C1", "S", 2, 0.2, True),
            ("C2", "S", 1, 0.5, True),
        ]
    )
    rows = with_alternatives(listed).select("customer_id", "target", ALTERNATIVE).rows()
    # C1's best is of a new type already; C2 has nothing new in their list
    assert rows == [("C0", "S", False), ("C0", "N", True), ("C1", "N", False), ("C2", "S", False)]
    assert customers_of(with_alternatives(listed)) == 3


def candidates(rows: list[tuple[str, float, bool, bool]]) -> pl.DataFrame:
    """customer_id, priority, substitute, alternative; every coupon costs 1, nobody held out."""
    frame = pl.DataFrame(rows, schema=["customer_id", "priority", SUBSTITUTE, ALTERNATIVE], orient="row")
    return frame.with_columns(pl.col("customer_id").alias("target"), pl.lit(1.0).alias("expected_cost"))


def sent_by(free: pl.DataFrame, budget: float | None) -> list[str]:
    kept = within_budget(free, budget, salt="s", share=0.0)
    return sorted(kept.filter(~pl.col("held"))["customer_id"].to_list())


def held(free: pl.DataFrame, budget: float | None, share: float) -> pl.DataFrame:
    return held_for_budget(free, budget, share=share, salt="s", holdout_share=0.0)


def test_without_a_budget_the_customers_who_give_up_least_take_their_alternative():
    free = candidates(
        [
            ("C0", 0.50, True, False),
            ("C0", 0.10, False, True),  # a fifth of the substitute's priority
            ("C1", 0.50, True, False),
            ("C1", 0.40, False, True),  # four fifths: gives up least
            ("C2", 0.50, True, False),  # nothing new to take instead
            ("C3", 0.30, False, False),
        ]
    )
    assert held(free, None, 0.75).sort("customer_id")["priority"].to_list() == [0.5, 0.5, 0.5, 0.3]
    half = held(free, None, 0.5).sort("customer_id")
    assert half.height == 4  # one offer per customer
    assert half.filter(pl.col(SUBSTITUTE))["customer_id"].to_list() == ["C0", "C2"]
    assert half.filter(pl.col("customer_id") == "C1")["priority"].item() == 0.4
    # C2 keeps a substitute whatever the factor: a quarter is the best there is
    assert held(free, None, 0.0).sort("customer_id")[SUBSTITUTE].to_list() == [False, False, True, False]


def test_the_budget_cut_holds_substitutes_to_the_share_of_the_coupons_it_pays_for():
    flags = [True, True, True, False, True, False, False, False]
    free = candidates([(f"C{i}", float(8 - i), s, False) for i, s in enumerate(flags)])
    assert sent_by(free.drop(ALTERNATIVE), 4) == ["C0", "C1", "C2", "C3"]  # 3 of 4 substitutes by priority
    # the best substitute stays, at most a quarter of the coupons; the best others take the rest
    assert sent_by(held(free, 4, 0.25), 4) == ["C0", "C3", "C5", "C6"]
    assert sent_by(held(free, 4, 0.5), 4) == ["C0", "C1", "C3", "C5"]
    # nothing to hold: the same cut, the same priorities
    unheld = held(free, 4, 0.75)
    assert sent_by(unheld, 4) == ["C0", "C1", "C2", "C3"]
    assert unheld["priority"].to_list() == free["priority"].to_list()


def catalogue(rows: list[tuple[str, str, float | None]]) -> pl.DataFrame:
    """Promotable products of (sku, category, price) rows, each named by its sku."""
    frame = pl.DataFrame(rows, schema=["sku", "category", "price"], orient="row")
    return frame.with_columns(
        pl.col("sku").alias("name"), pl.lit("a").alias("brand"), pl.lit(True).alias("promo_allowed")
    )


def ranked(rows: list[tuple[str, str, int, float]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=["customer_id", "sku", "rank", "score"], orient="row")
    return frame.with_columns(
        pl.col("rank").cast(pl.Int32),
        pl.lit("ease").alias("source"),
        pl.lit(None, dtype=pl.String).alias("anchor"),
        pl.lit(None, dtype=pl.Float64).alias("lift"),
        pl.lit(None, dtype=pl.Float64).alias("confidence"),
    )


def test_a_cross_sell_campaign_holds_substitutes_to_the_share_among_its_coupons():
    # both bought chips; salsa (another snack) is each one's best; C0 has pasta next, nearly as
    # likely, C1 sauce, less so: C0 gives up least
    base = context(customers(2), bought([("C0", "CHIPS"), ("C1", "CHIPS")]))
    relevance = ranked(
        [("C0", "SALSA", 1, 0.5), ("C0", "PASTA", 2, 0.4), ("C1", "SALSA", 1, 0.5), ("C1", "SAUCE", 3, 0.3)]
    )
    unheld = replace(base, relevance=relevance)
    holding = replace(unheld, max_substitute_share=0.5)
    plans = [plan_offers((campaign(),), ctx, max_per_customer=1, seed=1) for ctx in (unheld, holding)]
    assert [p.funnel["substitute_share"][0] for p in plans] == [1.0, 0.5]
    assert sorted(plans[1].offers.select("customer_id", "target").rows()) == [
        ("C0", "PASTA"),
        ("C1", "SALSA"),
    ]


def test_a_learned_ranking_offer_without_an_anchor_gives_its_chance_not_a_popularity_claim():
    base = context(customers(1), bought([("C0", "PASTA")]))
    relevance = ranked([("C0", "SAUCE", 1, 0.123)])
    reasons = [
        plan_offers(
            (campaign(),), replace(base, relevance=relevance, calibrated=learned), max_per_customer=1, seed=1
        )
        .offers["reason"]
        .item()
        for learned in (False, True)
    ]
    assert reasons == [
        "Tomato sauce is one of the most bought products (12% of customers in 365 days)",
        "the learned ranking gives Tomato sauce a 12.3% chance of a first purchase by this customer",
    ]


def test_when_a_dear_alternative_makes_the_share_rise_again_the_factor_found_still_holds_it():
    # a factor of 0.5 sends 2 substitutes of 5; 0.75 sends none: the bisection's first step
    # (0.5) fails, so the search must look above it
    free = pl.DataFrame(
        [
            ("C0", "N0", 0.60, False, False, 1.0),
            ("C1", "S1", 0.56, True, False, 1.0),
            ("C2", "S2", 0.42, True, False, 1.0),
            ("C3", "S3", 0.74, True, False, 4.0),
            ("C3", "A3", 0.71, False, True, 1.0),
            ("C4", "S4", 0.67, True, False, 4.0),
            ("C4", "A4", 0.38, False, True, 1.0),
            ("C5", "S5", 0.40, True, False, 1.0),
        ],
        schema=["customer_id", "target", "priority", SUBSTITUTE, ALTERNATIVE, "expected_cost"],
        orient="row",
    )
    kept = within_budget(held(free, 5.0, 0.25), 5.0, salt="s", share=0.0).filter(~pl.col("held"))
    assert kept.height > 0 and kept[SUBSTITUTE].mean() <= 0.25


def test_a_customer_left_with_only_their_alternative_is_offered_it():
    # a filter (a reward priced off a target without a price) took the substitute out
    free = candidates([("C0", 0.4, False, True), ("C1", 0.5, True, False)])
    assert sorted(resolved(free, 0.5)["customer_id"].to_list()) == ["C0", "C1"]
    assert sorted(resolved(free, 1.0)["customer_id"].to_list()) == ["C0", "C1"]


@pytest.mark.parametrize("seed", range(40))
def test_the_bounded_cuts_edge_is_at_or_below_the_edge_of_every_factor(seed):
    # priorities and costs drawn at random; each substitute's alternative cheaper or dearer
    rng = random.Random(seed)
    rows = []
    for c in range(rng.randint(2, 9)):
        priority, substitute = round(rng.random(), 3), rng.random() < 0.6
        rows.append((f"C{c}", priority, substitute, False, float(rng.randint(1, 6))))
        if substitute and rng.random() < 0.7:
            rows.append((f"C{c}", round(priority * rng.random(), 3), False, True, float(rng.randint(1, 6))))
    free = pl.DataFrame(
        rows, schema=["customer_id", "priority", SUBSTITUTE, ALTERNATIVE, "expected_cost"], orient="row"
    ).with_columns(pl.col("customer_id").alias("target"))
    budget = float(rng.randint(1, 12))
    lowest = budget_edge(lowest_edge(free), budget, salt="s", share=0.0)
    for factor in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0):
        edge = budget_edge(resolved(free, factor), budget, salt="s", share=0.0)
        assert lowest is None or (edge is not None and lowest <= edge)


def test_a_rerun_keeps_each_customer_on_the_product_they_were_given_and_within_the_budget():
    # C1, C3 and C4 have a substitute first and an alternative, C1's and C3's dearer
    products = catalogue(
        [
            ("S1", "t1", 3.0),
            ("H1", "t1", 1.0),
            ("A1", "a1", 4.0),
            ("N2", "t2", 2.0),
            ("S3", "t3", 1.0),
            ("H3", "t3", 1.0),
            ("A3", "a3", 4.0),
            ("S4", "t4", 3.0),
            ("H4", "t4", 1.0),
            ("A4", "a4", 1.0),
            ("N0", "t0", 5.0),
            ("N5", "t5", 6.0),
        ],
    )
    relevance = ranked(
        [
            ("C0", "N0", 1, 0.362),
            ("C1", "S1", 1, 0.715),
            ("C1", "A1", 2, 0.389),
            ("C2", "N2", 1, 0.822),
            ("C3", "S3", 1, 0.609),
            ("C3", "A3", 2, 0.564),
            ("C4", "S4", 1, 0.072),
            ("C4", "A4", 2, 0.057),
            ("C5", "N5", 1, 0.204),
        ]
    )
    base = context(customers(6), bought([("C1", "H1"), ("C3", "H3"), ("C4", "H4")]))
    ctx = replace(base, products=products, relevance=relevance, max_substitute_share=0.5)
    unit = 0.15 * campaign().expected_redemption_rate  # a coupon's expected cost per unit of price

    def plan(budget: float, decided: pl.DataFrame | None = None):
        return plan_offers(
            (campaign(budget=budget * unit),), ctx, max_per_customer=1, seed=1, decided=decided
        )

    first = plan(10)
    decided = decided_tonight(first.offers, first.controls)
    same = plan(10, decided)
    assert same.offers.is_empty()
    assert same.funnel.drop("budget").equals(first.funnel.drop("budget"))
    bigger = plan(20, decided)
    spent = first.offers["expected_cost"].sum() + bigger.offers["expected_cost"].sum()
    assert spent <= 20 * unit + 1e-9
    assert bigger.funnel["expected_cost"][0] == round(spent, 2)
    assert set(bigger.offers["customer_id"]).isdisjoint(first.offers["customer_id"])


def priceless_substitute_night(relevance: pl.DataFrame) -> OfferContext:
    """C0 bought HAD; SUB (HAD's type) has no price, ALT is of a new type."""
    products = catalogue(
        [
            ("X", "x", 10.0),
            ("SUB", "snacks", None),
            ("HAD", "snacks", 1.0),
            ("ALT", "alt", 10.0),
            ("N1", "n1", 10.0),
            ("N2", "n2", 10.0),
        ],
    )
    base = context(customers(3), bought([("C0", "HAD")]))
    return replace(base, products=products, relevance=relevance, max_substitute_share=0.5)


PRICED = {"type": "amount", "value": {"target_price": 0.3}}
"""A reward priced off the target: a target without a price cannot be offered."""


def test_a_customer_whose_priceless_substitute_gives_way_to_their_alternative_is_a_candidate():
    ctx = priceless_substitute_night(
        ranked([("C0", "SUB", 1, 0.9), ("C0", "ALT", 2, 0.5), ("C1", "N1", 1, 0.45)])
    )
    plan = plan_offers((campaign(reward=PRICED),), ctx, max_per_customer=1, seed=1)
    assert sorted(plan.offers.select("customer_id", "target").rows()) == [("C0", "ALT"), ("C1", "N1")]
    funnel = plan.funnel.row(0, named=True)
    assert funnel["candidates"] == funnel["capped"] == funnel["treated"] == 2


def test_a_rerun_keeps_a_recorded_customer_whose_product_is_gone_and_spends_no_more():
    unit = 3 * campaign().expected_redemption_rate  # one coupon's expected cost (a reward of 3)
    cs = campaign(reward=PRICED, budget=round(1.5 * unit, 4))
    first_night = priceless_substitute_night(
        ranked([("C0", "X", 1, 0.9), ("C1", "N1", 1, 0.5), ("C2", "N2", 1, 0.4)])
    )
    first = plan_offers((cs,), first_night, max_per_customer=1, seed=1)
    assert first.offers.select("customer_id", "target").rows() == [("C0", "X")]
    # the ranking moved before the rerun: C0's best is now the priceless substitute, then ALT
    moved = ranked([("C0", "SUB", 1, 0.9), ("C0", "ALT", 2, 0.8), ("C1", "N1", 1, 0.5), ("C2", "N2", 1, 0.4)])
    rerun = plan_offers(
        (cs, campaign(name="cs2", reward={"type": "amount", "value": 1})),
        replace(first_night, relevance=moved),
        max_per_customer=1,
        seed=1,
        decided=decided_tonight(first.offers, first.controls),
    )
    assert rerun.offers.filter(pl.col("campaign") == "cs").is_empty()  # the budget is spent
    assert "C0" not in rerun.offers["customer_id"].to_list()  # C0's place is taken
    assert rerun.funnel.row(0, named=True)["expected_cost"] == round(unit, 2)
