"""Absurd settings are refused up front: inf and nan anywhere, rewards past any sane amount, job
names with control characters.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from coupongen.config.campaigns import Reward
from coupongen.config.job import JobConfig


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e308, 1e10])
def test_absurd_rewards_are_refused(value):
    with pytest.raises(ValidationError):
        Reward(type="points", value=value)


def test_a_sane_reward_passes():
    assert Reward(type="amount", value=500.0).value == 500.0


@pytest.mark.parametrize("name", ["night\nly", "a\rb", "x\x1b[31m", "", "n" * 65])
def test_job_names_with_control_characters_are_refused(name):
    with pytest.raises(ValidationError, match="name"):
        JobConfig(name=name)


def test_inf_is_refused_in_any_setting():
    with pytest.raises(ValidationError, match="point_value"):
        JobConfig(point_value=float("inf"))
