"""Tests of the sample's card holders: ids, card numbers, contact details, locales, birth dates, survey answers."""

from __future__ import annotations

import re
from datetime import date

import polars as pl
import pytest

from coupongen.synthetic.sample import SampleData
from tests.synthetic.sample_sets import (
    customer_summary,
    medium_sample,
    small_sample,
)


@pytest.fixture(scope="module")
def small() -> SampleData:
    return small_sample()


@pytest.fixture(scope="module")
def medium() -> SampleData:
    return medium_sample()


def test_ids_and_card_numbers_are_unique(small: SampleData) -> None:
    customers = small.customers
    assert customers["customer_id"].is_unique().all()
    assert customers["card_number"].is_unique().all()
    assert small.products["sku"].is_unique().all()


def ean13_check_digit(first_twelve: str) -> int:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(first_twelve)))
    return (10 - total % 10) % 10


def test_ean13_check_digit_known_answer() -> None:
    assert ean13_check_digit("400614457735") == 0


def test_card_numbers_are_13_digit_chain_cards_with_a_valid_check_digit(small: SampleData) -> None:
    for card in small.customers["card_number"]:
        assert re.fullmatch(r"2770\d{9}", card), card
        assert int(card[-1]) == ean13_check_digit(card[:12]), card


def test_contact_details_are_plausible(medium: SampleData) -> None:
    c = medium.customers
    emails = c["email"].drop_nulls()
    phones = c["phone"].drop_nulls()
    assert 0.05 <= c["email"].null_count() / c.height <= 0.2
    assert 0.02 <= c["phone"].null_count() / c.height <= 0.12
    assert emails.is_unique().all()
    assert phones.is_unique().all()
    assert emails.str.contains(r"^[a-z0-9._]+@[a-z]+\.[a-z]+$").all()
    assert phones.str.contains(r"^\+\d{11,12}$").all()
    assert c.filter(pl.col("email").is_null())["email_opt_in"].not_().all()
    assert c.filter(pl.col("phone").is_null())["sms_opt_in"].not_().all()


def test_locales_names_and_birth_dates(medium: SampleData) -> None:
    c = medium.customers
    assert set(c["locale"].unique()) == {"ru", "en"}
    assert 0.8 <= (c["locale"] == "ru").mean() <= 0.98
    russian = c.filter(locale="ru")["first_name"]
    assert russian.str.contains(r"^\p{Lu}[\p{Ll}]+$").all()
    assert russian.str.contains(r"\p{Cyrillic}").all()
    assert c.filter(locale="en")["first_name"].str.contains(r"^[A-Z][a-z]+$").all()
    assert 0.25 <= c["birth_date"].null_count() / c.height <= 0.35
    born = c["birth_date"].drop_nulls()
    assert born.min() >= date(1935, 1, 1)
    assert born.max() <= date(2008, 11, 22)


def test_nps_answers_are_sparse_and_follow_behaviour(medium: SampleData) -> None:
    c = medium.customers
    assert 0.6 <= c["nps_score"].null_count() / c.height <= 0.8
    scores = c["nps_score"].drop_nulls()
    assert scores.min() >= 0
    assert scores.max() <= 10
    s = customer_summary(medium).join(c, on="customer_id").drop_nulls("nps_score")
    promoter = pl.col("nps_score") >= 9
    detractor = pl.col("nps_score") <= 6

    def nps(frame: pl.DataFrame) -> float:
        return float(frame.select(promoter.mean() - detractor.mean()).item())

    active = s.filter(pl.col("receipts") >= 5, pl.col("last_days") <= 45)
    gone = s.filter(pl.col("last_days") >= 60, pl.col("receipts") >= 2)
    assert nps(active) > nps(gone) + 0.2
