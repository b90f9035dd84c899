"""GS1 check digits, EAN-13 values, Global Coupon Numbers and GS1-128 element strings."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coupongen.codes.gs1 import (
    barcode_key,
    check_digit,
    check_digits,
    generate_ean13,
    generate_gcn_serials,
    global_coupon_number,
    gs1_128_payload,
    is_valid_ean13,
    parse_gs1_elements,
    read_gs1_date,
)
from coupongen.errors import CodeFormatError
from tests.codes.helpers import seeded_entropy


@pytest.mark.parametrize(
    ("data", "check"),
    [
        ("400614457735", "0"),  # GS1 General Specifications example: 4006144577350
        ("629104150021", "3"),  # 6291041500213
        ("501234567890", "0"),  # 5012345678900
        ("00000000000", "0"),
    ],
)
def test_gs1_check_digit_known_answers(data, check):
    assert check_digit(data) == check


@pytest.mark.parametrize(
    ("data", "check"),
    [
        ("61414112345", "2"),  # GTIN-12 614141123452, GS1's example GTIN
        ("10614141234567890", "8"),  # SSCC 106141412345678908, GS1's example SSCC
        ("401234500001", "6"),  # GCN 4012345000016 (GS1 Germany's example company prefix)
        # worked by hand: 0 6 1 4 1 4 1 0 0 0 4 1 weighted 1,3,... from the left -> 52 -> 8
        ("061414100041", "8"),
    ],
)
def test_gs1_check_digit_of_other_keys(data, check):
    assert check_digit(data) == check


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32), prefix=st.sampled_from(["99", "20", "29", "981"]))
def test_ean13_values_follow_the_gs1_rule(seed, prefix):
    values = generate_ean13(50, prefix=prefix, entropy=seeded_entropy(seed))
    assert len(set(values)) == 50
    for v in values:
        assert v.startswith(prefix) and len(v) == 13 and v.isdigit()
        assert v[12] == check_digit(v[:12])
        assert is_valid_ean13(v)


def test_ean13_serials_are_not_sequential():
    values = sorted(int(v[2:12]) for v in generate_ean13(200, prefix="99", entropy=seeded_entropy(9)))
    gaps = {b - a for a, b in itertools.pairwise(values)}
    assert 1 not in gaps


def test_ean13_refuses_a_prefix_too_long_for_the_count():
    with pytest.raises(CodeFormatError, match="too few"):
        generate_ean13(200_000, prefix="9912345")


def test_global_coupon_number_is_prefix_reference_and_check_digit():
    assert global_coupon_number("4012345", "00001") == "4012345000016"
    assert global_coupon_number("0614141", "00041") == "0614141000418"
    assert global_coupon_number("952123400001", "") == "9521234000013"
    with pytest.raises(CodeFormatError, match="12 digits together, got '401234500'"):
        global_coupon_number("4012345", "00")


def test_gs1_128_payload_is_the_element_string():
    assert gs1_128_payload("4012345000016", "123456", date(2026, 12, 31)) == (
        "(255)4012345000016123456(17)261231"
    )
    assert gs1_128_payload("4012345000016", "000000000042") == "(255)4012345000016000000000042"
    with pytest.raises(CodeFormatError, match="valid check digit"):
        gs1_128_payload("4012345000017", "1")
    with pytest.raises(CodeFormatError, match="1 to 12 digits"):
        gs1_128_payload("4012345000016", "1234567890123")


def test_barcode_key_is_the_gcn_with_serial_and_ignores_the_expiry():
    value = "(255)4012345000016123456(17)261231"
    assert barcode_key(value, "gs1_128") == "4012345000016123456"
    assert barcode_key("9912345678909", "ean13") == "9912345678909"
    assert parse_gs1_elements(value) == {"255": "4012345000016123456", "17": "261231"}
    assert parse_gs1_elements("4012345") is None


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32), length=st.integers(6, 12))
def test_gcn_serials_are_distinct_digit_strings_of_the_length(seed, length):
    serials = generate_gcn_serials(200, length=length, entropy=seeded_entropy(seed))
    assert len(set(serials)) == 200
    assert all(len(s) == length and s.isdigit() for s in serials)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.text(alphabet="0123456789", min_size=12, max_size=12), min_size=1, max_size=20))
def test_vectorised_check_digits_agree_with_the_single_one(rows):
    digits = np.array([[int(d) for d in row] for row in rows], dtype=np.int64)
    assert [str(c) for c in check_digits(digits)] == [check_digit(row) for row in rows]


def test_gs1_dates_day_00_is_the_last_day_of_the_month():
    assert read_gs1_date("261206") == date(2026, 12, 6)
    assert read_gs1_date("261200") == date(2026, 12, 31)
    assert read_gs1_date("280200") == date(2028, 2, 29)
    assert read_gs1_date("261301") is None
