from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from coupongen.config import CampaignConfig, Job, JobConfig, MoneyRule
from coupongen.config.loading import _validate
from coupongen.errors import ConfigError
from coupongen.offers.money import (
    DataFigures,
    data_figures,
    money_value,
    per_offer_reward,
    resolve_money,
    shown_amount,
)
from coupongen.offers.planning import plan_offers
from tests.offers.test_offers import bought, campaign, context, customers

AS_OF = date(2026, 11, 22)


def figures(baskets, spend=(100.0, 200.0, 300.0, 400.0, 500.0)) -> DataFigures:
    return DataFigures(
        baskets=pl.Series("amount", baskets, dtype=pl.Float64),
        spend=pl.Series("monetary", spend, dtype=pl.Float64),
        first=None,
        last=None,
    )


def test_baskets_are_receipt_totals_in_the_window_and_returns_are_left_out():
    tx = pl.DataFrame(
        {
            "receipt_id": ["A", "A", "B", "C", "D", "OLD"],
            "ts": [datetime(2026, 11, d) for d in (1, 1, 2, 3, 21)] + [datetime(2025, 1, 1)],
            "amount": [4.0, 6.0, 20.0, -5.0, 30.0, 999.0],
        }
    )
    found = data_figures(tx, customers(2), as_of=AS_OF, lookback_days=90)
    assert found.baskets.to_list() == [10.0, 20.0, 30.0]  # C is a return, OLD outside the window
    assert found.spend.to_list() == [100.0, 101.0]
    assert (found.first, found.last) == (datetime(2025, 1, 1), datetime(2026, 11, 21))


def test_whole_night_rules_resolve_against_baskets_and_spend():
    f = figures([10.0, 20.0, 30.0, 40.0])
    assert money_value(MoneyRule(median_basket=2), f) == 50.0  # 2 x 25
    assert money_value(MoneyRule(basket_percentile=75), f) == 32.5  # linear between 30 and 40
    assert money_value(MoneyRule(spend_percentile=50), f) == 300.0
    assert f.share_reaching(20.0) == 0.75
    assert figures([]).share_reaching(1.0) is None


def test_resolve_money_fills_the_campaigns_and_lists_what_it_resolved():
    camp = CampaignConfig.model_validate(
        {
            "name": "sp",
            "type": "second_purchase",
            "reward": {"type": "points", "value": {"median_basket": 0.1}},
            "min_basket": {"basket_percentile": 50},
            "budget": 40,
            "eligibility": {"min_spend": {"spend_percentile": 20}},
        }
    )
    job = Job(Path("job.toml"), JobConfig(point_value=0.01), (camp,))
    resolved, table = resolve_money(job, figures([10.0, 20.0, 30.0, 40.0]))
    c = resolved.campaigns[0]
    # 10% of the median basket 25 is 2.50, at 0.01 a point: 250 points
    assert (c.reward.value, c.min_basket, c.budget, c.eligibility.min_spend) == (250.0, 25.0, 40, 180.0)
    assert table.to_dicts() == [
        {"campaign": "sp", "setting": "reward", "rule": "0.1 x median basket", "value": 250.0},
        {"campaign": "sp", "setting": "eligibility.min_spend", "rule": "20th percentile of customer spend", "value": 180.0},
        {"campaign": "sp", "setting": "min_basket", "rule": "50th percentile of baskets", "value": 25.0},
    ]  # fmt: skip


def test_a_target_price_reward_is_priced_per_offer():
    ctx = context(customers(1), bought([("C0", "CHIPS")]))  # the cross-sell target is salsa at 2.00
    camp = campaign(reward={"type": "amount", "value": {"target_price": 0.2}})
    row = plan_offers((camp,), ctx, max_per_customer=1, seed=1).offers.row(0, named=True)
    assert (row["target"], row["reward_value"]) == ("SALSA", 0.4)
    assert row["expected_cost"] == round(0.05 * 0.4, 4)
    ctx_points = context(customers(1), bought([("C0", "CHIPS")]))
    points = campaign(reward={"type": "points", "value": {"target_price": 0.2}})
    plan = plan_offers((points,), ctx_points.__class__(**{**ctx_points.__dict__, "point_value": 0.01}),
                       max_per_customer=1, seed=1)  # fmt: skip
    assert plan.offers["reward_value"].to_list() == [40.0]  # 0.40 at 0.01 a point


def test_a_target_price_reward_is_held_within_its_bounds_per_offer():
    prices = pl.DataFrame({"price": [0.15, 2.0, 40.0, 1000.0]})

    def given(reward: dict) -> list[float]:
        camp = campaign(reward=reward)
        return prices.select(per_offer_reward(camp, pl.col("price"), 0.01))["price"].to_list()

    # a fifth of the price in points at 0.01 a point: 3, 40, 800 and 20,000 points
    assert given({"type": "points", "value": {"target_price": 0.2}}) == [3.0, 40.0, 800.0, 20000.0]
    bounded = {"type": "points", "value": {"target_price": 0.2}, "min_value": 10, "max_value": 500}
    assert given(bounded) == [10.0, 40.0, 500.0, 500.0]
    # an amount's floor never takes more off than the product costs
    assert given({"type": "amount", "value": {"target_price": 0.1}, "min_value": 0.5}) == [
        0.15,
        0.5,
        4.0,
        100.0,
    ]
    # the run's money table says so
    camp = campaign(name="rp", reward=bounded)
    _, table = resolve_money(Job(Path("job.toml"), JobConfig(), (camp,)), figures([10.0]))
    assert table.filter(pl.col("setting") == "reward")["rule"].to_list() == [
        "20% of the target's price, at least 10, at most 500"
    ]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"reward": {"type": "amount", "value": 5, "min_value": 1}},
            "c.toml: reward: min_value and max_value apply only to a value = { target_price = ... } reward",
        ),
        (
            {"reward": {"type": "points", "value": {"target_price": 0.1}, "min_value": 2.5}},
            "c.toml: reward: a points reward's min_value and max_value are whole points",
        ),
        (
            {"reward": {"type": "amount", "value": {"target_price": 0.1}, "min_value": 5, "max_value": 1}},
            "c.toml: reward: min_value must be at most max_value",
        ),
        (
            {"min_basket": {"median_basket": 1, "basket_percentile": 50}},
            "c.toml: min_basket: a relative money value needs exactly one of median_basket, "
            "basket_percentile, spend_percentile, target_price",
        ),
        (
            {"min_basket": {"target_price": 0.2}},
            "c.toml: min_basket: target_price applies only to a reward's value",
        ),
        (
            {"reward": {"type": "percent", "value": {"median_basket": 1}}},
            "c.toml: reward: a relative value applies only to amount and points rewards",
        ),
        (
            {"budget": {"median": 2}},
            "c.toml: unknown key 'budget.median' (allowed here: basket_percentile, median_basket, "
            "spend_percentile, target_price)",
        ),
        (
            {"min_basket": {"basket_percentile": 300}},
            "c.toml: min_basket.basket_percentile: Input should be less than or equal to 100 (got 300)",
        ),
        ({"min_basket": -1}, "c.toml: min_basket: Input should be greater than or equal to 0 (got -1)"),
    ],
)
def test_a_bad_money_setting_is_one_line_naming_the_key(doc, message):
    base = {"name": "a", "type": "cross_sell", "reward": {"type": "amount", "value": 5}}
    with pytest.raises(ConfigError) as e:
        _validate(Path("c.toml"), CampaignConfig, base | doc)
    assert str(e.value) == message


def test_a_money_setting_shows_as_its_number_or_its_rule():
    from coupongen.config.money import show

    assert show(15000.0, "{:,.0f}") == "15,000"
    assert show(None) == "none"
    assert show(MoneyRule(target_price=0.2)) == "20% of the target's price"
    assert show(MoneyRule(basket_percentile=75)) == "75th percentile of baskets"


def test_a_min_basket_from_the_data_reads_as_a_round_amount_never_above_the_rule():
    camp = CampaignConfig.model_validate(
        {"name": "cs", "type": "cross_sell", "reward": {"type": "percent", "value": 15},
         "min_basket": {"basket_percentile": 50}}
    )  # fmt: skip
    job = Job(Path("job.toml"), JobConfig(), (camp,))
    resolved, _ = resolve_money(job, figures([14.0, 16.01, 16.01, 30.0]))
    assert resolved.campaigns[0].min_basket == 16.0  # the median basket, 16.01, as customers read it
    assert [shown_amount(v) for v in (16.01, 7.37, 1874.87, 99.99, 0.87, 25.0)] == [
        16.0,
        7.3,
        1800.0,
        99.0,
        0.87,
        25.0,
    ]
