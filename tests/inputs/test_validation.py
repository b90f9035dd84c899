"""Tests of row validation: exact kept frames (dtypes included) and exact reasons per input."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.errors import InputError
from coupongen.inputs.validation import validate_customers, validate_products, validate_transactions
from tests.inputs.inputs_data import (
    CUSTOMER_SCHEMA,
    CUSTOMERS_CSV,
    KEPT_TX,
    PRODUCT_SCHEMA,
    TX_HEADER,
    TX_SCHEMA,
    load,
    reasons,
    text_frame,
    validate,
    write,
    write_inputs,
)


@pytest.fixture
def inputs_dir(tmp_path: Path) -> Path:
    return write_inputs(tmp_path)


# --- products -------------------------------------------------------------------------------------


def test_products_need_sku_name_category_and_a_unique_sku():
    raw = text_frame(
        [
            {
                "sku": "A",
                "name": "Pasta",
                "category": "pasta",
                "price": "1.5",
                "promo_allowed": "no",
            },
            {"sku": "A", "name": "Pasta again", "category": "pasta"},
            {"sku": " ", "name": "Nameless", "category": "misc"},
            {"sku": "B", "name": "", "category": None},
            {"sku": "C", "name": "Gift card", "category": "gifts", "price": "-5"},
            {
                "sku": "D",
                "name": "Cheese",
                "category": "dairy",
                "price": "2,5",
                "promo_allowed": "maybe",
            },
            {"sku": "E", "name": "Tea", "category": "tea", "promo_allowed": "TRUE"},
            {"sku": "F", "name": "Rice", "category": "rice", "price": "2", "cost": "-1"},
        ],
        "products",
    )
    loaded = validate_products(raw)
    assert reasons(loaded) == [
        (2, "sku: duplicate of an earlier product"),
        (3, "sku: empty"),
        (4, "name: empty; category: empty"),
        (5, "price: negative"),
        (6, "price: not a number; promo_allowed: not true/false"),
        (8, "cost: negative"),
    ]
    assert_frame_equal(
        loaded.kept,
        pl.DataFrame(
            {
                "sku": ["A", "E"],
                "name": ["Pasta", "Tea"],
                "category": ["pasta", "tea"],
                "category_name": [None, None],
                "subcategory": [None, None],
                "brand": [None, None],
                "price": [1.5, None],
                "cost": [None, None],
                "promo_allowed": [False, True],
            },
            schema=PRODUCT_SCHEMA,
        ),
    )


# --- customers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("Y", True),
        ("t", True),
        ("false", False),
        ("0", False),
        ("No", False),
        ("n", False),
        ("F", False),
        ("", False),
        (None, False),
        ("  ", False),  # consent must be explicit
    ],
)
def test_consent_words_and_blank_consent(text, value):
    loaded = validate_customers(
        text_frame([{"customer_id": "C1", "email_opt_in": text, "sms_opt_in": text}], "customers")
    )
    assert loaded.kept.select("email_opt_in", "sms_opt_in", "push_opt_in").row(0) == (
        value,
        value,
        False,
    )


def test_customers_have_unique_ids_and_cards_and_nps_from_0_to_10():
    raw = text_frame(
        [
            {
                "customer_id": "C1",
                "card_number": "111",
                "nps_score": "10",
                "birth_date": "1980-05-01",
            },
            {
                "customer_id": "C2",
                "card_number": None,
                "nps_score": "0",
                "birth_date": "1980-05-01T00:00:00",
            },
            {"customer_id": "C3", "card_number": "", "nps_score": "7.0"},
            {"customer_id": "C1", "card_number": "333"},
            {"customer_id": "C4", "card_number": "111"},
            {"customer_id": "C5", "nps_score": "11"},
            {"customer_id": "C6", "nps_score": "-1"},
            {"customer_id": "C7", "nps_score": "7.5"},
            {"customer_id": "C8", "nps_score": "ten"},
            {"customer_id": "C9", "nps_score": "1e30"},
            {"customer_id": "C10", "birth_date": "01.05.1980", "email_opt_in": "maybe"},
            {"customer_id": None, "email": "x@example.com"},
        ],
        "customers",
    )
    loaded = validate_customers(raw)
    assert reasons(loaded) == [
        (4, "customer_id: duplicate of an earlier customer"),
        (5, "card_number: already used by an earlier customer"),
        (6, "nps_score: outside 0-10"),
        (7, "nps_score: outside 0-10"),
        (8, "nps_score: not a whole number"),
        (9, "nps_score: not a whole number"),
        (10, "nps_score: outside 0-10"),
        (11, "email_opt_in: not true/false; birth_date: not an ISO-8601 date (YYYY-MM-DD)"),
        (12, "customer_id: empty"),
    ]
    kept = loaded.kept.select("customer_id", "card_number", "birth_date", "nps_score")
    assert_frame_equal(
        kept,
        pl.DataFrame(
            {
                "customer_id": ["C1", "C2", "C3"],
                "card_number": ["111", None, None],  # no card is not a duplicate card
                "birth_date": [date(1980, 5, 1), date(1980, 5, 1), None],
                "nps_score": [10, 0, 7],
            },
            schema={k: CUSTOMER_SCHEMA[k] for k in kept.columns},
        ),
    )
    assert loaded.kept.schema == pl.Schema(CUSTOMER_SCHEMA)


# --- transactions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2026-03-14T10:15:00", datetime(2026, 3, 14, 10, 15)),
        ("2026-03-14 10:15:00", datetime(2026, 3, 14, 10, 15)),
        ("2026-03-14T10:15", datetime(2026, 3, 14, 10, 15)),
        ("2026-03-14 10:15", datetime(2026, 3, 14, 10, 15)),
        ("2026-03-14", datetime(2026, 3, 14)),
        ("2026-03-14T10:15:00Z", datetime(2026, 3, 14, 10, 15)),  # offsets are dropped:
        ("2026-03-14T10:15:00+03:00", datetime(2026, 3, 14, 10, 15)),  # store wall time
        ("2026-03-14T10:15:00-0500", datetime(2026, 3, 14, 10, 15)),
        ("2026-03-14T10:15+01", datetime(2026, 3, 14, 10, 15)),
        ("2026-03-14T10:15:00.5", datetime(2026, 3, 14, 10, 15, 0, 500000)),
        ("2026-03-14T10:15:00,25Z", datetime(2026, 3, 14, 10, 15, 0, 250000)),
        ("2026-03-14 10:15:00.123456789", datetime(2026, 3, 14, 10, 15, 0, 123456)),
        ("2026-03-14 10:15:00.000000+03:00", datetime(2026, 3, 14, 10, 15)),
    ],
)
def test_accepted_timestamps(text, value):
    loaded = validate([{"ts": text}])
    assert loaded.quarantined.height == 0
    assert loaded.kept["ts"].to_list() == [value]


@pytest.mark.parametrize(
    "text",
    [
        "14.03.2026",
        "03/14/2026",
        "2026-3-14",
        "2026-02-30",
        "2026-03-14T24:00",
        "2026-03-14T10:60",
        "2026-03-14T10:15:60",
        "2026-03-14Z",
        "2026-03-14T10",
        "+2026-03-14T10:15:0",
        "20260314",
        "today",
    ],
)
def test_rejected_timestamps(text):
    loaded = validate([{"ts": text}])
    assert reasons(loaded) == [(1, "ts: not an ISO-8601 date-time")]


def test_transaction_row_reasons():
    loaded = validate(
        [
            {},
            {"quantity": "-1", "amount": "-1.20"},  # a return: kept
            {"customer_id": None},  # anonymous: kept
            {"customer_id": "  "},
            {"sku": ""},
            {"sku": "Z"},
            {"customer_id": "C9"},
            {"amount": "1,20"},
            {"amount": "abc", "quantity": "two"},
            {"amount": "inf"},
            {"amount": "NaN"},
            {"amount": "2000000"},
            {"quantity": "-20000", "amount": "-1"},
            {"receipt_id": None, "ts": None, "quantity": None, "amount": ""},
            {},  # exact duplicate of the first line
        ]
    )
    assert reasons(loaded) == [
        (5, "sku: empty"),
        (6, "sku: not in products"),
        (7, "customer_id: not in customers"),
        (8, "amount: not a number"),
        (9, "quantity: not a number; amount: not a number"),
        (10, "amount: not a number"),
        (11, "amount: not a number"),
        (12, "amount: beyond max_line_amount (1000000)"),
        (13, "quantity: beyond max_line_quantity (10000)"),
        (14, "receipt_id: empty; ts: empty; quantity: empty; amount: empty"),
        (15, "exact duplicate of an earlier line"),
    ]
    assert loaded.kept.select("customer_id", "quantity", "amount").rows() == [
        ("C1", 1.0, 1.2),
        ("C1", -1.0, -1.2),
        (None, 1.0, 1.2),
        (None, 1.0, 1.2),
    ]
    assert loaded.kept.schema == pl.Schema(TX_SCHEMA)


def test_limits_come_from_the_job():
    loaded = validate([{"quantity": "6", "amount": "60.5"}], max_quantity=5, max_amount=60.25)
    assert reasons(loaded) == [
        (1, "quantity: beyond max_line_quantity (5); amount: beyond max_line_amount (60.25)")
    ]


def test_duplicates_keep_the_first_line_and_compare_the_text_as_read():
    loaded = validate([{}, {"amount": "1.2"}, {}, {"amount": "1.2"}, {}, {"sku": "B"}])
    assert reasons(loaded) == [
        (3, "exact duplicate of an earlier line"),
        (4, "exact duplicate of an earlier line"),
        (5, "exact duplicate of an earlier line"),
    ]
    assert loaded.kept.height == 3


def test_lines_of_a_quarantined_product_or_customer_say_so():
    raw = text_frame(
        [
            {
                "receipt_id": "R1",
                "customer_id": "C1",
                "ts": "2026-03-14",
                "sku": "Q",
                "quantity": "1",
                "amount": "1",
            },
            {
                "receipt_id": "R2",
                "customer_id": "CQ",
                "ts": "2026-03-14",
                "sku": "A",
                "quantity": "1",
                "amount": "1",
            },
        ],
        "transactions",
    )
    loaded = validate_transactions(
        raw,
        skus=pl.Series(["A"]),
        customer_ids=pl.Series(["C1"]),
        quarantined_skus=pl.Series(["Q"]),
        quarantined_customer_ids=pl.Series([" CQ"]),
    )
    assert reasons(loaded) == [
        (1, "sku: its product row is quarantined"),
        (2, "customer_id: its customer row is quarantined"),
    ]


def test_without_any_kept_customer_every_line_of_a_customer_is_quarantined():
    raw = text_frame(
        [
            {
                "receipt_id": "R1",
                "customer_id": "C1",
                "ts": "2026-03-14",
                "sku": "A",
                "quantity": "1",
                "amount": "1",
            },
            {
                "receipt_id": "R2",
                "customer_id": "",
                "ts": "2026-03-14",
                "sku": "A",
                "quantity": "1",
                "amount": "1",
            },
        ],
        "transactions",
    )
    loaded = validate_transactions(raw, skus=pl.Series(["A"]), customer_ids=pl.Series([], dtype=pl.String))
    assert reasons(loaded) == [(1, "customer_id: not in customers")]
    assert loaded.kept["receipt_id"].to_list() == ["R2"]  # an anonymous line needs no customer


def test_a_bad_customer_row_takes_its_transactions_along_in_load(inputs_dir: Path):
    write(
        inputs_dir / "customers.csv",
        CUSTOMERS_CSV.replace("C2,222,b@example.com,+4922,yes", "C2,222,b@example.com,+4922,ja"),
    )
    inputs = load(inputs_dir)
    assert reasons(inputs.customers) == [(3, "email_opt_in: not true/false")]
    assert reasons(inputs.transactions) == [(4, "customer_id: its customer row is quarantined")]


def test_validation_of_a_frame_with_only_the_required_columns():
    raw = pl.DataFrame({"sku": ["A"], "name": ["Pasta"], "category": ["pasta"]})
    kept = validate_products(raw).kept
    assert kept.schema == pl.Schema(PRODUCT_SCHEMA)
    assert kept.row(0) == ("A", "Pasta", "pasta", None, None, None, None, None, True)
    with pytest.raises(InputError) as e:
        validate_products(pl.DataFrame({"sku": ["A"]}))
    assert str(e.value) == "products: missing required columns 'name', 'category'"


def test_an_empty_input_gives_empty_typed_frames(inputs_dir: Path):
    write(inputs_dir / "transactions.csv", TX_HEADER)
    tx = load(inputs_dir).transactions
    assert_frame_equal(tx.kept, KEPT_TX.clear())
    assert tx.counts == {"read": 0, "kept": 0, "quarantined": 0}
