"""Every offer type's backtest figures on tiny hand-computed histories."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from coupongen.config import CampaignConfig
from coupongen.loop.backtest_scoring import LevelView, campaign_metrics, score_offers
from coupongen.loop.backtest_types import type_rows
from coupongen.offers.candidates import OfferContext

CUTOFF = date(2026, 10, 1)


def campaign(kind: str) -> CampaignConfig:
    return CampaignConfig.model_validate(
        {"name": kind, "type": kind, "reward": {"type": "percent", "value": 10}}
    )


PRODUCTS = pl.DataFrame(
    {
        "sku": ["MILK", "EGGS", "BREAD", "BEER"],
        "name": ["Milk", "Eggs", "Bread", "Beer"],
        "category": ["dairy", "dairy", "bakery", "alcohol"],
        "price": [1.0, 2.0, 1.5, 3.0],
        "promo_allowed": [True, True, True, False],
    }
)

# U1 buys milk every 7 days (last 8 days ago: due) and eggs every 20 days (last 5 days ago: not
# due); U2 buys bread every 10 days (last 12 days ago: due) and milk (no cycle); U3 beer, due but
# never promoted.
BOUGHT = pl.DataFrame(
    {
        "customer_id": ["U1", "U1", "U2", "U2", "U3"],
        "sku": ["MILK", "EGGS", "BREAD", "MILK", "BEER"],
        "receipts": [9, 4, 5, 1, 6],
        "cycle_days": [7.0, 20.0, 10.0, None, 5.0],
        "days_since_last": [8, 5, 12, 30, 6],
        "in_lookback": [True, True, True, True, True],
    }
)

CUSTOMERS = pl.DataFrame(
    {
        "customer_id": ["U1", "U2", "U3", "U4", "U5"],
        "lifecycle": ["active", "lapsing", "active", "lapsed", "lapsing"],
        "visits": [12, 6, 6, 1, 1],
        "monetary": [50.0, 20.0, 18.0, 4.0, 3.0],
        "avg_basket": [4.0, 3.0, 3.0, 4.0, 3.0],
        "recency_days": [5, 70, 6, 200, 80],
    }
)

CATEGORIES = pl.DataFrame(
    {
        "customer_id": ["U1", "U2", "U2", "U4", "U5"],
        "category": ["dairy", "bakery", "dairy", "dairy", "bakery"],
        "spend": [40.0, 15.0, 5.0, 4.0, 3.0],
        "share": [1.0, 0.75, 0.25, 1.0, 1.0],
    }
)


def context() -> OfferContext:
    return OfferContext(
        customers=CUSTOMERS,
        bought=BOUGHT,
        categories=CATEGORIES,
        products=PRODUCTS,
        rules=pl.DataFrame(),
        as_of=CUTOFF,
        lookback_days=365,
    )


def view(later: list[tuple[str, str]]) -> LevelView:
    return LevelView(
        bought=BOUGHT,
        products=PRODUCTS,
        rules=pl.DataFrame(),
        later=pl.DataFrame(later, schema=["customer_id", "target"], orient="row"),
        types=PRODUCTS.select(pl.col("sku").alias("target"), pl.col("category").alias("type")),
    )


def metrics_of(rows, scored, active: int) -> dict[str, dict]:
    frames = [
        campaign_metrics(scored, r.campaign, r.method, r.admitted, active=active, level="sku", label=r.label)
        for r in rows
    ]
    return {m["method"]: m for m in pl.concat(frames).iter_rows(named=True)}


def test_replenishment_ranks_due_products_and_compares_with_everyone_who_bought_them():
    rows = type_rows(campaign("replenishment"), CUSTOMERS, CUSTOMERS, context(), top_n=2)
    made = pl.concat([r.offers for r in rows if r.offers is not None])
    offers = made.select("method", "customer_id", "target", "rank").rows()
    assert offers == [
        # due: U1 milk (8/7 of a cycle), U2 bread (12/10); eggs are not due, beer never promoted
        ("replenishment", "U1", "MILK", 1),
        ("replenishment", "U2", "BREAD", 1),
        # everyone who bought milk or bread
        ("bought_it", "U1", "MILK", 1),
        ("bought_it", "U2", "BREAD", 1),
        ("bought_it", "U2", "MILK", 1),
        # each customer's most bought promotable products
        ("favourites", "U1", "MILK", 1),
        ("favourites", "U1", "EGGS", 2),
        ("favourites", "U2", "BREAD", 1),
        ("favourites", "U2", "MILK", 2),
    ]
    # in the window U1 buys milk again, U2 buys eggs (a first), U3 beer
    scored = score_offers(made, view([("U1", "MILK"), ("U2", "EGGS"), ("U3", "BEER")]))
    got = metrics_of(rows, scored, active=5)
    assert (got["replenishment"]["hit_rate"], got["replenishment"]["coverage"]) == (0.5, 2 / 5)
    assert got["replenishment"]["active_coverage"] == 2 / 5
    assert got["bought_it"]["hit_rate"] == 1 / 3
    assert got["favourites"]["hit_rate"] == 1 / 4
    assert got["replenishment"]["came_back_rate"] == 1.0
    assert got["replenishment"]["distinct_targets"] == 2


def test_win_back_counts_who_came_back_per_lifecycle_state_against_all_of_them():
    lapsing_or_lapsed = CUSTOMERS.filter(pl.col("customer_id").is_in(["U2", "U4"]))
    rows = type_rows(campaign("win_back"), lapsing_or_lapsed, CUSTOMERS, context(), top_n=5)
    assert [(r.method, r.label, r.admitted.height) for r in rows] == [
        ("win_back", None, 2),
        ("win_back", "win_back, lapsing", 1),
        ("win_back", "win_back, lapsed", 1),
        ("all_lapsing", None, 2),
        ("all_lapsed", None, 1),
    ]
    made = pl.concat([r.offers for r in rows if r.offers is not None])
    # U2 comes back and buys milk (not bakery, the favourite); U5 buys bread; U4 stays away
    scored = score_offers(made, view([("U2", "MILK"), ("U5", "BREAD")]))
    assert scored.filter(pl.col("method") == "win_back").select(
        "customer_id", "target", "hit", "came_back"
    ).rows() == [
        ("U2", "bakery", False, True),
        ("U4", "dairy", False, False),
    ]
    got = metrics_of(rows, scored, active=5)
    assert got["win_back"]["came_back_rate"] == 0.5
    assert got["win_back"]["hit_rate"] == 0.0
    assert got["win_back, lapsing"]["came_back_rate"] == 1.0
    assert got["win_back, lapsed"]["came_back_rate"] == 0.0
    assert got["all_lapsing"]["came_back_rate"] == 1.0
    assert got["all_lapsing"]["hit_rate"] == 0.5  # U5 bought bread, its favourite category
    assert got["all_lapsed"]["came_back_rate"] == 0.0


def test_second_purchase_is_a_second_visit_against_every_one_visit_customer():
    new = CUSTOMERS.filter(pl.col("customer_id") == "U4")
    rows = type_rows(campaign("second_purchase"), new, CUSTOMERS, context(), top_n=5)
    made = pl.concat([r.offers for r in rows if r.offers is not None])
    scored = score_offers(made, view([("U5", "BREAD")]))
    assert scored.select("method", "customer_id", "target_kind", "target", "hit").rows() == [
        ("second_purchase", "U4", "basket", None, False),
        ("all_one_visit", "U4", "basket", None, False),
        ("all_one_visit", "U5", "basket", None, True),
    ]
    got = metrics_of(rows, scored, active=5)
    assert (got["second_purchase"]["hit_rate"], got["all_one_visit"]["hit_rate"]) == (0.0, 0.5)
    assert got["all_one_visit"]["active_coverage"] == 2 / 5
    assert got["all_one_visit"]["new_item_hit_rate"] == 0.0


def test_a_category_target_at_sku_level_is_a_hit_on_any_product_of_it():
    made = pl.DataFrame(
        {
            "campaign": "w",
            "offer_type": "win_back",
            "method": "win_back",
            "customer_id": ["U1", "U2"],
            "target_kind": "category",
            "target": ["dairy", "alcohol"],
            "rank": [1, 1],
            "reason": None,
        }
    )
    scored = score_offers(made, view([("U1", "EGGS"), ("U2", "BREAD")]))
    expected = pl.DataFrame(
        {
            "customer_id": ["U1", "U2"],
            "hit": [True, False],
            "new_item": [False, True],  # U2 never bought alcohol
            "substitute": [True, False],
            "came_back": [True, True],
        }
    )
    assert_frame_equal(scored.select(expected.columns), expected)


def test_each_offer_carries_the_chance_the_nightly_run_estimates_for_the_window():
    from coupongen.offers.chances import CHANCE_SCHEMA

    chances = pl.DataFrame(
        [
            ("cycle", 28, "*", 10, 5, 0.5),
            ("cycle", 28, "<1.2", 10, 3, 0.3),
            ("cycle", 28, "<1.6", 10, 7, 0.7),
        ],
        schema=CHANCE_SCHEMA,
        orient="row",
    )
    ctx = replace(context(), chances=chances)
    rows = type_rows(campaign("replenishment"), CUSTOMERS, CUSTOMERS, ctx, top_n=1)
    made = rows[0].offers
    # U1's milk is 8 / 7 = 1.14 cycles overdue, U2's bread 12 / 10 = 1.2
    assert made.select("customer_id", "chance").rows() == [("U1", 0.3), ("U2", 0.7)]
    assert rows[1].offers["chance"].is_null().all()  # baselines estimate nothing
    scored = score_offers(made, view([("U1", "MILK")]))
    got = campaign_metrics(scored, rows[0].campaign, "replenishment", CUSTOMERS, active=5, level="sku")
    assert got["expected_rate"].item() == 0.5
    assert got["hit_rate"].item() == 0.5
