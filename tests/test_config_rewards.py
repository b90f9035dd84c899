"""Campaign rewards: the item rewards and the referral's second side, their checks and their cost."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from coupongen.config import load_job
from coupongen.errors import ConfigError
from coupongen.offers.guards import expected_cost


def campaign_file(tmp_path: Path, reward: str, kind: str = "cross_sell") -> Path:
    (tmp_path / "c.toml").write_text(
        f'name = "c"\ntype = "{kind}"\nexpected_redemption_rate = 0.5\nreward = {reward}\n'
    )
    path = tmp_path / "job.toml"
    path.write_text('campaigns = ["c.toml"]\n')
    return path


@pytest.mark.parametrize(
    ("reward", "buy", "get", "value", "cost"),
    [
        ('{ type = "free_product" }', None, 1, 100.0, 0.5 * 80),
        ('{ type = "free_product", get = 2, value = 50 }', None, 2, 50.0, 0.5 * 80),
        ('{ type = "buy_x_get_y", buy = 2, get = 1 }', 2, 1, 100.0, 0.5 * 80),
        ('{ type = "cheapest_free", buy = 4 }', 4, 1, 100.0, 0.5 * 80 / 4),
        ('{ type = "percent", value = 10 }', None, None, 10.0, 0.5 * 8),
    ],
)
def test_item_rewards_load_with_their_defaults_and_cost(tmp_path, reward, buy, get, value, cost):
    campaign = load_job(campaign_file(tmp_path, reward)).campaigns[0]
    assert (campaign.reward.buy, campaign.reward.get, campaign.reward.value) == (buy, get, value)
    frame = pl.DataFrame({"base_value": [80.0]})
    got = frame.select(expected_cost(campaign, pl.col("base_value"), point_value=0.1)).item()
    assert got == pytest.approx(cost)


@pytest.mark.parametrize(
    ("reward", "kind", "message"),
    [
        (
            '{ type = "buy_x_get_y", buy = 2 }',
            "cross_sell",
            "a buy_x_get_y reward needs buy and get (e.g. buy = 2, get = 1)",
        ),
        (
            '{ type = "cheapest_free", buy = 2, get = 2 }',
            "cross_sell",
            "a cheapest_free reward's get must be less than buy",
        ),
        (
            '{ type = "percent", value = 10, buy = 2 }',
            "cross_sell",
            "buy applies only to buy_x_get_y and cheapest_free rewards",
        ),
        (
            '{ type = "amount", value = 10, get = 1 }',
            "cross_sell",
            "get applies only to free_product, buy_x_get_y and cheapest_free rewards",
        ),
        (
            '{ type = "free_product", value = 120 }',
            "cross_sell",
            "a free_product reward must be at most 100 (percent off)",
        ),
        (
            '{ type = "percent", value = 10, referrer_reward = { type = "points", value = 200 } }',
            "cross_sell",
            "reward.referrer_reward and reward.uses_per_friend apply only to referral campaigns",
        ),
    ],
)
def test_bad_rewards_are_refused_in_one_line_naming_the_file(tmp_path, reward, kind, message):
    path = campaign_file(tmp_path, reward, kind)
    with pytest.raises(ConfigError) as e:
        load_job(path)
    assert str(e.value).startswith(f"{tmp_path / 'c.toml'}: ")
    assert str(e.value).endswith(message)


def test_a_referral_names_the_referrers_reward_and_uses_per_friend(tmp_path):
    reward = '{ type = "percent", value = 10, uses_per_friend = 2, referrer_reward = { type = "amount", value = 5 } }'
    campaign = load_job(campaign_file(tmp_path, reward, "referral")).campaigns[0]
    assert campaign.reward.uses_per_friend == 2
    assert (campaign.reward.referrer_reward.type, campaign.reward.referrer_reward.value) == ("amount", 5.0)
