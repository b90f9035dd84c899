"""Chances measured on a tiny history, and each offer's expected value, computed by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.analysis.features import describe_customers
from coupongen.inputs.loading import load_inputs
from coupongen.offers.chances import (
    CHANCE_SCHEMA,
    MODELS,
    active_customers,
    active_splits,
    combined,
    estimate_chances,
    split_days,
)
from coupongen.offers.planning import plan_offers
from coupongen.offers.value import margin_source, with_values
from tests.offers.test_offers import PRODUCTS, bought, campaign, context, customers

AS_OF = date(2026, 10, 15)

# The split is 10 days before the run date (2026-10-05). Before it: A buys milk weekly
# (4 visits, last 13 days before the split: 1.86 cycles, due), B once (milk and bread, 5 days
# before), C once long ago (bread, 65 days before), D bread every 5 days (3 visits, last 5 days
# before: 1 cycle, due). In the 10 days after it: A buys milk again, B a first egg box.
LINES = [
    ("r1", "A", "2026-09-01", "MILK"),
    ("r2", "A", "2026-09-08", "MILK"),
    ("r3", "A", "2026-09-15", "MILK"),
    ("r4", "A", "2026-09-22", "MILK"),
    ("r5", "B", "2026-09-30", "MILK"),
    ("r5", "B", "2026-09-30", "BREAD"),
    ("r6", "C", "2026-08-01", "BREAD"),
    ("r7", "D", "2026-09-20", "BREAD"),
    ("r8", "D", "2026-09-25", "BREAD"),
    ("r9", "D", "2026-09-30", "BREAD"),
    ("r10", "A", "2026-10-07", "MILK"),
    ("r11", "B", "2026-10-10", "EGGS"),
    ("r12", "B", "2026-10-15", "EGGS"),  # on the run date: not history yet
]


def transactions() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "receipt_id": [r for r, *_ in LINES],
            "customer_id": [c for _, c, *_ in LINES],
            "ts": [datetime.fromisoformat(d + "T10:00:00") for _, _, d, _ in LINES],
            "store_id": ["S1"] * len(LINES),
            "sku": [s for *_, s in LINES],
            "quantity": [1.0] * len(LINES),
            "amount": [2.0] * len(LINES),
        }
    )


def table(model: str, rows: list[tuple[str, int, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(model, 10, key, cases, hits, rate) for key, cases, hits, rate in rows],
        schema=CHANCE_SCHEMA,
        orient="row",
    )


def test_chances_are_shares_of_the_history_shrunk_toward_the_models_rate():
    got = estimate_chances(
        transactions(),
        as_of=AS_OF,
        horizons={model: [10] for model in MODELS},
        lookback_days=365,
        due=(0.9, 3.0),
    )
    part = {m: got.filter(pl.col("model") == m) for m in ("visit", "cycle", "adoption")}
    # visit: A and B came back, C and D did not: 2 of 4. Each recency group is shrunk toward 1/2
    # with the weight of 20 cases, and each finer group toward its recency group's rate
    assert_frame_equal(
        part["visit"],
        table(
            "visit",
            [
                ("*", 4, 2, 0.5),
                ("<=14", 1, 1, 11 / 21),
                ("<=14|<=4|<=2", 1, 1, (1 + 20 * 11 / 21) / 21),  # 13 days after the last: 1.86 gaps of 7
                ("<=7", 2, 1, 0.5),
                ("<=7|<=1|once", 1, 1, 11 / 21),
                ("<=7|<=4|<=1", 1, 0, 10 / 21),  # 5 days: one gap of 5 days
                ("<=90", 1, 0, 10 / 21),
                ("<=90|<=1|once", 1, 0, (20 * 10 / 21) / 21),
            ],
        ),
    )
    # cycle: A's milk (13 / 7 = 1.86 cycles) was bought again, D's bread (5 / 5) was not
    assert_frame_equal(
        part["cycle"],
        table("cycle", [("*", 2, 1, 0.5), ("<1.2", 1, 0, 10 / 21), ("<2.2", 1, 1, 11 / 21)]),
    )
    # adoption: of the 4 active customers, 2 never had milk, 1 never had bread, 4 never had
    # eggs; B bought eggs for the first time (A's milk is not a first): 1 of 7 overall
    overall = 1 / 7
    assert_frame_equal(
        part["adoption"],
        table(
            "adoption",
            [
                ("*", 7, 1, overall),
                ("BREAD", 1, 0, 20 * overall / 21),
                ("EGGS", 4, 1, (1 + 20 * overall) / 24),
                ("MILK", 2, 0, 20 * overall / 22),
            ],
        ),
    )


def test_no_history_before_the_split_gives_no_chance():
    late = transactions().filter(pl.col("ts") >= datetime(2026, 10, 6))
    got = estimate_chances(
        late, as_of=AS_OF, horizons={model: [10] for model in MODELS}, lookback_days=365, due=(0.9, 3.0)
    )
    assert got.is_empty() and got.schema == pl.Schema(CHANCE_SCHEMA)


def test_the_cycle_and_adoption_models_from_the_analysis_counts_are_the_same():
    sample = Path(__file__).resolve().parents[2] / "sample_data"
    inputs = load_inputs(sample / "transactions.csv", sample / "products.csv", sample / "customers.csv")
    lines, as_of = inputs.transactions.kept, date(2026, 11, 22)
    # A return before the split of a product bought after it, and a purchase fully returned before
    # it: a first purchase is the first purchase line, whatever was returned.
    first = lines.filter(pl.col("customer_id").is_not_null()).row(0, named=True)
    returned = [
        {**first, "receipt_id": "R-ret", "ts": datetime(2026, 11, 1, 9), "sku": "P-NEW", "quantity": -1.0},
        {**first, "receipt_id": "R-new", "ts": datetime(2026, 11, 15, 9), "sku": "P-NEW", "quantity": 1.0},
        {**first, "receipt_id": "R-buy", "ts": datetime(2026, 11, 2, 9), "sku": "P-BACK", "quantity": 1.0},
        {**first, "receipt_id": "R-back", "ts": datetime(2026, 11, 3, 9), "sku": "P-BACK", "quantity": -1.0},
    ]
    lines = pl.concat([lines, pl.DataFrame(returned, schema=lines.schema)])
    horizons = {"visit": [7, 14], "cycle": [10, 30], "adoption": [14, 30]}
    whole = estimate_chances(lines, as_of=as_of, horizons=horizons, lookback_days=365, due=(0.9, 3.0))
    days = split_days(as_of, horizons, "cycle")
    assert days == [date(2026, 11, 12), date(2026, 10, 23)]
    active = active_customers(lines, as_of=as_of, splits=active_splits(as_of, horizons), lookback_days=365)
    adopters = {day: active[day] for day in split_days(as_of, horizons, "adoption")}
    facts = describe_customers(lines, inputs.products.kept, as_of=as_of, earlier=days, adopters=adopters)
    assert facts.adoption.keys() == adopters.keys()
    visit = estimate_chances(
        lines, as_of=as_of, horizons={"visit": horizons["visit"]}, lookback_days=365, due=(0.9, 3.0)
    )
    later = estimate_chances(
        lines,
        as_of=as_of,
        horizons={m: horizons[m] for m in ("cycle", "adoption")},
        lookback_days=365,
        due=(0.9, 3.0),
        regular=facts.earlier,
        active=active,
        adoption=facts.adoption,
    )
    assert later.select("model", "horizon").unique().sort("model", "horizon").rows() == [
        ("adoption", 14),
        ("adoption", 30),
        ("cycle", 10),
        ("cycle", 30),
    ]
    assert_frame_equal(combined([visit, later]), whole)
    counted = {row["key"]: row for row in later.filter(pl.col("horizon") == 14).iter_rows(named=True)}
    assert counted["P-NEW"]["hits"] == 1 and counted["P-BACK"]["hits"] == 0
    # The given counts are the ones read: none given, no product has a chance of its own.
    none = {day: frame.head(0) for day, frame in facts.adoption.items()}
    adoption_of_none = estimate_chances(
        lines, as_of=as_of, horizons={"adoption": [14]}, lookback_days=365, due=(0.9, 3.0), adoption=none
    )
    assert adoption_of_none["key"].to_list() == ["*"]
    # The given products are the ones read: none given as regular, no pair is due.
    none = {day: frame.head(0) for day, frame in facts.earlier.items()}
    cycle_of_none = estimate_chances(
        lines, as_of=as_of, horizons={"cycle": [10, 30]}, lookback_days=365, due=(0.9, 3.0), regular=none
    )
    assert cycle_of_none.is_empty()


@pytest.mark.parametrize("split_receipt", [False, True])
def test_several_horizons_give_what_each_gives_alone(split_receipt):
    lines = transactions()
    if split_receipt:  # r4 also has a line the next day: receipts are no longer one day each
        extra = lines.filter(pl.col("receipt_id") == "r4").with_columns(ts=datetime(2026, 9, 23, 1))
        lines = pl.concat([lines, extra])
    horizons = {"visit": [5, 10, 20], "cycle": [10], "adoption": [20]}
    together = estimate_chances(lines, as_of=AS_OF, horizons=horizons, lookback_days=365, due=(0.9, 3.0))
    alone = [
        estimate_chances(lines, as_of=AS_OF, horizons={m: [h]}, lookback_days=365, due=(0.9, 3.0))
        for h in (5, 10, 20)
        for m, days in horizons.items()
        if h in days
    ]
    assert together.height > 10
    assert_frame_equal(together, pl.concat(alone).sort("horizon", maintain_order=True))


CHANCES = pl.concat(
    [
        table("adoption", [("*", 100, 1, 0.01), ("SAUCE", 50, 2, 0.04)]),
        table("cycle", [("*", 10, 5, 0.5), ("<1.6", 10, 6, 0.6)]),
        table("visit", [("*", 10, 3, 0.3), ("<=14", 20, 7, 0.35), ("<=14|<=1|once", 10, 4, 0.4)]),
    ]
)


def test_cross_sell_value_is_the_products_first_purchase_rate_times_margin_less_reward():
    ctx = replace(context(customers(2), bought([("C0", "PASTA"), ("C1", "CHIPS")])), chances=CHANCES)
    plan = plan_offers((campaign(valid_days=10),), ctx, max_per_customer=1, seed=1)
    got = plan.offers.select("customer_id", "target", "chance", "expected_value").rows()
    # sauce 3.00: margin 25% = 0.75, reward 15% = 0.45; salsa 2.00 (margin 0.50, reward 0.30) has
    # no rate of its own: the overall 0.01
    assert got == [("C0", "SAUCE", 0.04, round(0.04 * (0.75 - 0.45), 4)), ("C1", "SALSA", 0.01, 0.002)]
    funnel = plan.funnel.row(0, named=True)
    assert funnel["expected_value"] == round(0.012 + 0.002, 2)
    assert funnel["value_per_coupon"] == round((0.012 + 0.002) / 2, 4)
    assert (funnel["mean_chance"], funnel["negative_value"]) == (0.025, 0)
    assert funnel["margin_source"] == "job's margin_rate 0.25"


def test_a_learned_rankings_score_is_the_chance_and_the_products_cost_its_margin():
    ctx = context(customers(1), bought([("C0", "PASTA")]))
    costed = PRODUCTS.with_columns(pl.Series("cost", [1.0, 2.4, None, None, None]))
    ctx = replace(ctx, chances=CHANCES, calibrated=True, products=costed)
    cands = pl.DataFrame(
        {
            "customer_id": ["C0"],
            "target_kind": ["sku"],
            "target": ["SAUCE"],
            "priority": [0.3],
            "base_value": [3.0],
        }
    )
    got = with_values(cands, campaign(valid_days=10), ctx).row(0, named=True)
    # margin (3.00 - 2.40) = 0.60, reward 15% of 3.00 = 0.45
    assert (got["chance"], got["margin"], got["reward_cost"]) == (0.3, 0.6, 0.45)
    assert got["expected_value"] == pytest.approx(0.3 * 0.15)
    assert margin_source(costed, 0.25) == "products file's cost"


def test_replenishment_takes_its_cycle_group_and_a_basket_offer_its_visit_group():
    regular = bought([("C0", "SAUCE")]).with_columns(
        pl.lit(20.0).alias("cycle_days"), pl.Series("days_since_last", [30], dtype=pl.Int32)
    )
    ctx = replace(context(customers(1), regular), chances=CHANCES)
    refill = campaign("rp", "replenishment", reward={"type": "points", "value": 100}, valid_days=10)
    row = plan_offers((refill,), ctx, max_per_customer=1, seed=1).offers.row(0, named=True)
    # 1.5 cycles overdue: 0.6; 100 points of 1.00 cost 100 against a margin of 0.75
    assert (row["chance"], row["expected_value"]) == (0.6, round(0.6 * (0.75 - 100), 4))
    # a second visit of a one-visit customer 10 days after it: visit group "<=14|<=1|once"; the
    # basket is at least
    # min_basket 50 (the average basket is 20): margin 12.50 less 10 off
    once = customers(1, visits=[1], tenure_days=[10])
    ctx = replace(context(once, regular), chances=CHANCES)
    second = campaign(
        "sp", "second_purchase", reward={"type": "amount", "value": 10}, min_basket=50, valid_days=10
    )
    row = plan_offers((second,), ctx, max_per_customer=1, seed=1).offers.row(0, named=True)
    assert (row["chance"], row["expected_value"]) == (0.4, round(0.4 * (12.5 - 10), 4))
    # a group the split never saw ("<=14|<=4|<=1": 3 visits over 30 days) takes its recency
    # group's rate; without one, the overall rate
    regular = customers(2, visits=[3, 3], tenure_days=[40, 100], recency_days=[10, 70])
    cands = pl.DataFrame(
        {
            "customer_id": ["C0", "C1"],
            "target_kind": ["basket", "basket"],
            "target": [None, None],
            "priority": [1.0, 1.0],
            "base_value": [20.0, 20.0],
        },
        schema_overrides={"target": pl.String},
    )
    got = with_values(cands, second, replace(ctx, customers=regular))
    assert got["chance"].to_list() == [0.35, 0.3]


def test_ranking_by_expected_value_orders_the_budget_and_cuts_offers_that_lose_money():
    pairs = bought([("C0", "PASTA"), ("C1", "CHIPS"), ("C2", "SAUCE")])
    ctx = replace(context(customers(3), pairs), chances=CHANCES)
    by_priority = plan_offers((campaign(valid_days=10),), ctx, max_per_customer=1, seed=1).offers
    assert by_priority.select("customer_id", "target").rows() == [
        ("C0", "SAUCE"),
        ("C1", "SALSA"),
        ("C2", "PASTA"),
    ]
    # 40% off: salsa and pasta (rate 0.01) lose 0.3 and 0.3 x their price per use; sauce too
    losing = campaign(valid_days=10, rank_by="expected_value", reward={"type": "percent", "value": 40})
    assert plan_offers((losing,), ctx, max_per_customer=1, seed=1).offers.is_empty()
    # 10% off: every offer is worth making; the budget (one coupon's cost) goes to the best value
    ranked = campaign(valid_days=10, rank_by="expected_value", reward={"type": "percent", "value": 10})
    cost = 0.05 * 0.10 * 3.0
    plan = plan_offers((ranked,), ctx, max_per_customer=1, seed=1)
    assert plan.offers["expected_value"].to_list() == [round(0.04 * 0.15 * 3.0, 4), 0.003, 0.003]
    capped = campaign(
        valid_days=10, rank_by="expected_value", reward={"type": "percent", "value": 10}, budget=cost
    )
    got = plan_offers((capped,), ctx, max_per_customer=1, seed=1).offers
    assert got.select("customer_id", "target").rows() == [("C0", "SAUCE")]
    # by the offer type's priority the same budget goes to the pasta, worth a sixth as much
    by_rank = capped.model_copy(update={"rank_by": "priority"})
    got = plan_offers((by_rank,), ctx, max_per_customer=1, seed=1).offers
    assert got.select("customer_id", "target").rows() == [("C2", "PASTA")]
