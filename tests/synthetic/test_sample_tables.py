"""Tests of the sample generator's data tables: every name they share agrees, every share adds up."""

from __future__ import annotations

import pytest

from coupongen.synthetic.tables import (
    BEHAVIOURS,
    CATEGORIES,
    COMPLEMENTS,
    HOUSEHOLD_TYPES,
    HOUSEHOLDS,
    MAIL_DOMAINS,
    NICHE,
    NPS_MIX,
    PLANS,
    RESTRICTED_CATEGORIES,
    VARIANTS,
)

NAMES = {c.name for c in CATEGORIES}


def test_categories_are_unique_and_complete() -> None:
    assert len(NAMES) == len(CATEGORIES) == 40
    assert RESTRICTED_CATEGORIES <= NAMES
    for c in CATEGORIES:
        assert c.brands and c.items and c.sizes, c.name
        assert 0 < c.price[0] < c.price[1], c.name
        assert c.weight > 0 and c.breadth > 0 and c.cycle > 0, c.name


def test_tables_name_only_known_categories() -> None:
    for first, second, probability in COMPLEMENTS:
        assert {first, second} <= NAMES
        assert 0 < probability < 1
    for household in HOUSEHOLD_TYPES.values():
        assert set(household.multipliers) <= NAMES
    assert set(NICHE) <= NAMES
    assert set(NICHE.values()) == {"baby", "pet"}


def test_known_answers_from_the_files() -> None:
    assert COMPLEMENTS[0] == ("pasta", "pasta_sauce", 0.45)
    assert CATEGORIES[0].name == "bread"
    assert CATEGORIES[0].price == (35.0, 140.0)
    assert VARIANTS[:2] == ("", "Classic")
    assert BEHAVIOURS == ("occasional", "regular", "big_spender", "lapsing", "lapsed", "new")
    assert HOUSEHOLDS[0] == "family_baby"
    assert HOUSEHOLD_TYPES["student"].ages == (18, 26)


def test_every_card_holder_kind_has_a_plan_and_a_survey_mix() -> None:
    assert set(PLANS) == {*BEHAVIOURS, "anonymous"}
    assert set(NPS_MIX) == set(BEHAVIOURS)
    for rate, shares in NPS_MIX.values():
        assert 0 < rate < 1
        assert sum(shares) == pytest.approx(1.0)
    assert sum(PLANS[b].share for b in BEHAVIOURS) == pytest.approx(1.0)
    assert sum(h.share for h in HOUSEHOLD_TYPES.values()) == pytest.approx(1.0)


def test_mail_domain_shares_add_up_per_locale() -> None:
    assert set(MAIL_DOMAINS) == {"ru", "en"}
    for shares in MAIL_DOMAINS.values():
        assert sum(shares.values()) == pytest.approx(1.0)
