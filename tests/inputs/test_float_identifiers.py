"""Identifiers a Parquet file stores as floating point, as pandas writes a column of whole numbers
with missing values: read as the whole number's digits, so that a card number is the card the till
scans and an id matches the same id written as text; refused where the float cannot be the id.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from coupongen.errors import InputError
from coupongen.inputs.contract import Inputs
from coupongen.inputs.loading import load_inputs
from coupongen.inputs.quarantine import check_quarantine_share
from tests.inputs.inputs_data import PRODUCTS_CSV, write

T = datetime(2026, 3, 14, 10, 15)
CUSTOMERS = pl.DataFrame(
    {
        "customer_id": [1.0, 2.0, 7.0, 9.0],
        "card_number": [6036000000000003.0, None, 2.0**53 - 1, math.nan],
        "email": ["a@example.com", None, None, None],
        "phone": [None, None, None, None],
        "email_opt_in": [True, False, False, False],
        "sms_opt_in": [False, False, False, False],
    },
    schema_overrides={"phone": pl.String},
)
TRANSACTIONS = pl.DataFrame(
    {
        "receipt_id": [1.0, 1.0, 2.0, 3.0],
        "customer_id": [7.0, 7.0, None, 1.0],  # None: an anonymous purchase
        "ts": [T] * 4,
        "store_id": [12.0, 12.0, 12.0, None],
        "sku": ["A", "B", "A", "W"],
        "quantity": [1.0, 2.0, 1.0, 1.0],
        "amount": [1.2, 5.0, 1.2, 7.9],
    }
)


def _load(
    folder: Path, customers: pl.DataFrame = CUSTOMERS, transactions: pl.DataFrame = TRANSACTIONS
) -> Inputs:
    write(folder / "products.csv", PRODUCTS_CSV)
    customers.write_parquet(folder / "customers.parquet")
    transactions.write_parquet(folder / "transactions.parquet")
    return load_inputs(folder / "transactions.parquet", folder / "products.csv", folder / "customers.parquet")


def test_float_card_numbers_read_as_the_cards_digits_and_missing_cards_stay_blank(tmp_path: Path):
    # Guards the POS file: a card read as "6036000000000003.0" is a card no till ever scans.
    customers = _load(tmp_path).customers
    assert customers.quarantined.is_empty()
    assert customers.kept.select("customer_id", "card_number").rows() == [
        ("1", "6036000000000003"),
        ("2", None),
        ("7", "9007199254740991"),  # 2**53 - 1, the largest accepted
        ("9", None),  # NaN: how pandas marks a missing value
    ]


def test_float_customer_ids_in_transactions_match_the_customers_ids(tmp_path: Path):
    # Guards the transactions against "customer_id: not in customers" for every line of "7.0".
    inputs = _load(tmp_path)
    assert inputs.transactions.quarantined.is_empty()
    assert inputs.transactions.kept.select("receipt_id", "customer_id", "store_id").rows() == [
        ("1", "7", "12"),
        ("1", "7", "12"),
        ("2", None, "12"),
        ("3", "1", None),
    ]


def test_float_ids_match_the_same_ids_written_as_text_in_a_csv_file(tmp_path: Path):
    write(
        tmp_path / "customers.csv",
        "customer_id,card_number,email,phone,email_opt_in,sms_opt_in\n7,,,,,\n1,,,,,\n",
    )
    write(tmp_path / "products.csv", PRODUCTS_CSV)
    TRANSACTIONS.write_parquet(tmp_path / "transactions.parquet")
    inputs = load_inputs(
        tmp_path / "transactions.parquet", tmp_path / "products.csv", tmp_path / "customers.csv"
    )
    assert inputs.transactions.quarantined.is_empty()
    assert inputs.transactions.kept["customer_id"].to_list() == ["7", "7", None, "1"]


def test_csv_ids_are_text_and_are_read_as_written(tmp_path: Path):
    write(
        tmp_path / "customers.csv",
        "customer_id,card_number,email,phone,email_opt_in,sms_opt_in\n7.0,1e3,,,,\n",
    )
    write(tmp_path / "products.csv", PRODUCTS_CSV)
    write(
        tmp_path / "tx.csv",
        "receipt_id,customer_id,ts,store_id,sku,quantity,amount\nR1,7.0,2026-03-14,S1,A,1,1\n",
    )
    inputs = load_inputs(tmp_path / "tx.csv", tmp_path / "products.csv", tmp_path / "customers.csv")
    assert inputs.customers.kept.select("customer_id", "card_number").rows() == [("7.0", "1e3")]
    assert inputs.transactions.kept["customer_id"].to_list() == ["7.0"]


@pytest.mark.parametrize(
    "card",
    [
        2.0**53,  # also what 2**53 + 1 is stored as: past it, a float is not the number written
        6036000000000000003.0,  # a 19-digit card, stored as 6036000000000000000
    ],
)
def test_a_float_identifier_past_2_53_refuses_the_file_naming_the_column_not_the_value(
    tmp_path: Path, card: float
):
    customers = CUSTOMERS.with_columns(pl.Series("card_number", [card, None, 1.0, 2.0]))
    with pytest.raises(InputError) as e:
        _load(tmp_path, customers=customers)
    assert str(e.value) == (
        f"{tmp_path / 'customers.parquet'}: column 'card_number' is stored as floating point and holds "
        "a number of 9,007,199,254,740,992 (2**53) or more, where floating point no longer holds every "
        "whole number exactly; store identifiers as text or integers"
    )
    assert "6036" not in str(e.value)


@pytest.mark.parametrize("value", [7.5, math.inf])
def test_a_float_identifier_that_is_not_a_whole_number_refuses_the_file(tmp_path: Path, value: float):
    transactions = TRANSACTIONS.with_columns(pl.Series("customer_id", [7.0, value, None, 1.0]))
    with pytest.raises(InputError) as e:
        _load(tmp_path, transactions=transactions)
    assert str(e.value) == (
        f"{tmp_path / 'transactions.parquet'}: column 'customer_id' is stored as floating point and "
        "holds a number that is not a whole number; store identifiers as text or integers"
    )


def test_float_columns_that_are_not_identifiers_keep_their_numbers(tmp_path: Path):
    inputs = _load(tmp_path)
    assert inputs.transactions.kept["amount"].to_list() == [1.2, 5.0, 1.2, 7.9]


def test_ids_stored_as_numbers_that_match_no_customer_say_so_when_the_share_fails(tmp_path: Path):
    # Guards the hint: numbers lose an id's leading zeros, so 0007 in customers never matches 7.0.
    write(
        tmp_path / "customers.csv", "customer_id,card_number,email,phone,email_opt_in,sms_opt_in\n0007,,,,,\n"
    )
    write(tmp_path / "products.csv", PRODUCTS_CSV)
    TRANSACTIONS.write_parquet(tmp_path / "transactions.parquet")
    inputs = load_inputs(
        tmp_path / "transactions.parquet", tmp_path / "products.csv", tmp_path / "customers.csv"
    )
    with pytest.raises(InputError) as e:
        check_quarantine_share(inputs, 0.05, None)
    assert str(e.value) == (
        f"{tmp_path / 'transactions.parquet'}: 3 of 4 rows rejected (75.0%, more than max_quarantine_share "
        "5.0%); most common reason: customer_id: not in customers (3 rows); customer_id is stored as "
        "numbers in transactions.parquet, where ids lose their leading zeros (0007 reads as 7): store "
        "identifiers as text"
    )
