"""Tests of the whole input contract: properties over generated inputs, and the documentation.

Every line read is kept or quarantined, and every reason the validators give is in docs/data.md.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from coupongen.errors import InputError
from coupongen.inputs.contract import (
    CUSTOMERS,
    PRODUCTS,
    REASON_COL,
    TRANSACTIONS,
)
from coupongen.inputs.parsing import parse_timestamp, parse_timestamps
from coupongen.inputs.validation import validate_customers, validate_products, validate_transactions
from tests.inputs.inputs_data import (
    CUSTOMERS_CSV,
    KEPT_TX,
    PRODUCTS_CSV,
    TX_HEADER,
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


# --- properties -----------------------------------------------------------------------------------

GOOD = ("R{i}", "C1", "2026-03-14T10:{m:02d}:00", "S1", "A", "1", "1.20")
BAD_KINDS = {
    "bad_ts": ({2: "14.03.2026"}, "ts: not an ISO-8601 date-time"),
    "empty_sku": ({4: ""}, "sku: empty"),
    "unknown_sku": ({4: "ZZ"}, "sku: not in products"),
    "bad_amount": ({6: "1,20"}, "amount: not a number"),
    "unknown_customer": ({1: "C404"}, "customer_id: not in customers"),
    "huge_quantity": ({5: "1e9"}, "quantity: beyond max_line_quantity (10000)"),
}
KINDS = st.sampled_from(["good", "good", "good", "return", "duplicate", *BAD_KINDS])


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(KINDS, max_size=40), st.booleans())
def test_every_line_is_either_kept_or_quarantined_with_its_reason(kinds: list[str], parquet: bool):
    rows: list[tuple[str, ...]] = []
    expected_kept: list[tuple[str, ...]] = []
    expected_reasons: list[tuple[int, str]] = []
    for i, kind in enumerate(kinds):
        row = list(GOOD)
        row[0], row[2] = row[0].format(i=i), row[2].format(m=i % 60)
        if kind == "duplicate" and expected_kept:
            row = list(expected_kept[0])
            expected_reasons.append((i + 2, "exact duplicate of an earlier line"))
        elif kind in BAD_KINDS:
            changes, reason = BAD_KINDS[kind]
            for col, value in changes.items():
                row[col] = value
            expected_reasons.append((i + 2, reason))
        else:
            if kind == "return":
                row[5], row[6] = "-1", "-1.20"
            expected_kept.append(tuple(row))
        rows.append(tuple(row))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write(folder / "products.csv", PRODUCTS_CSV)
        write(folder / "customers.csv", CUSTOMERS_CSV)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([TX_HEADER.strip().split(","), *rows])
        if parquet:
            source = folder / "transactions.parquet"
            pl.read_csv(io.StringIO(buf.getvalue()), infer_schema=False).write_parquet(source)
        else:
            source = write(folder / "transactions.csv", buf.getvalue())
        tx = load(folder, source.name).transactions

    assert tx.counts["read"] == len(rows) == tx.counts["kept"] + tx.counts["quarantined"]
    # Parquet rows are numbered from 1, CSV lines from 2 (the header is line 1)
    shift = 1 if parquet else 0
    assert reasons(tx) == [(line - shift, reason) for line, reason in expected_reasons]
    expected = pl.DataFrame(
        [list(r) for r in expected_kept] or None,
        schema={c.name: pl.String for c in TRANSACTIONS.columns},
        orient="row",
    ).with_columns(
        pl.col("ts").str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us"),
        pl.col("quantity", "amount").cast(pl.Float64),
    )
    assert_frame_equal(tx.kept, expected)


ISO_PIECES = st.tuples(
    st.integers(1900, 2100),
    st.integers(0, 13),
    st.integers(0, 32),
    st.sampled_from(["", "T", " ", "X"]),
    st.integers(0, 25),
    st.integers(0, 61),
    st.sampled_from(["", ":{:02d}", ":{}"]),
    st.sampled_from(["", ".5", ".123456", ".123456789", ",25", "."]),
    st.sampled_from(["", "Z", "+03:00", "-0500", "+01", "+1"]),
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(ISO_PIECES, min_size=1, max_size=20))
def test_the_fast_timestamp_path_agrees_with_the_general_one(pieces):
    texts = []
    for y, mo, d, sep, h, mi, sec_fmt, frac, off in pieces:
        text = f"{y:04d}-{mo:02d}-{d:02d}"
        if sep:
            text += f"{sep}{h:02d}:{mi:02d}" + sec_fmt.format(mi) + (frac if sec_fmt else "") + off
        texts.append(text)
    frame = pl.DataFrame({"t": texts})
    fast = parse_timestamps(frame, "t")
    general = frame.select(parse_timestamp(pl.col("t"))).to_series()
    assert fast.to_list() == general.to_list()


def test_product_and_customer_specs_list_their_required_columns():
    assert PRODUCTS.required == ["sku", "name", "category"]
    assert CUSTOMERS.required == [
        "customer_id",
        "card_number",
        "email",
        "phone",
        "email_opt_in",
        "sms_opt_in",
    ]
    assert TRANSACTIONS.required == [c.name for c in TRANSACTIONS.columns]


# --- the documentation -----------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "data.md"


def test_the_documented_example_inputs_load_without_a_rejected_row(tmp_path: Path):
    blocks = DOCS.read_text().split("## Examples", 1)[1].split("```csv\n")[1:]
    for name, block in zip(("products", "customers", "transactions"), blocks, strict=True):
        write(tmp_path / f"{name}.csv", block.split("```")[0])
    inputs = load(tmp_path)
    assert [x.counts["quarantined"] for x in inputs.all()] == [0, 0, 0]
    assert [x.counts["kept"] for x in inputs.all()] == [3, 2, 4]


def test_every_reason_the_validators_give_is_documented():
    products = validate_products(
        text_frame(
            [
                {"sku": "A", "name": "", "category": "c", "price": "-1", "promo_allowed": "?"},
                {"sku": "A", "name": "n", "category": "c", "price": "x"},
            ],
            "products",
        )
    )
    customers = validate_customers(
        text_frame(
            [
                {"customer_id": "C", "card_number": "1", "nps_score": "11", "birth_date": "x"},
                {"customer_id": "C", "card_number": "1", "nps_score": "1.5", "sms_opt_in": "?"},
                {"customer_id": None},
            ],
            "customers",
        )
    )
    transactions = validate([{}, {}, {"ts": "x", "quantity": "1e9", "amount": "1e9"}])
    transactions_more = validate_transactions(
        text_frame(
            [{"sku": "Q", "customer_id": "CQ"}, {"sku": "Z", "customer_id": "CZ"}], "transactions"
        ).with_columns(pl.lit("more fields than the header").alias(REASON_COL)),
        skus=pl.Series(["A"]),
        customer_ids=pl.Series(["C1"]),
        quarantined_skus=pl.Series(["Q"]),
        quarantined_customer_ids=pl.Series(["CQ"]),
    )
    found = set()
    for loaded in (products, customers, transactions, transactions_more):
        for reason in loaded.quarantined[REASON_COL].to_list():
            found.update(reason.split("; "))
    assert len(found) >= 20
    docs = DOCS.read_text()
    for reason in sorted(found):
        what = reason.partition(": ")[2]
        generic = f"`<column>: {what}`"
        assert f"`{reason}`" in docs or generic in docs, reason


def test_a_damaged_parquet_file_is_read_or_refused_in_one_line(tmp_path: Path, inputs_dir: Path):
    """Guards against reader errors (and reader panics) escaping as tracebacks."""
    import random

    good = tmp_path / "good.parquet"
    KEPT_TX.write_parquet(good)
    data = good.read_bytes()
    rnd = random.Random(20261122)
    outcomes = set()
    for _ in range(60):
        damaged = bytearray(data)
        for _ in range(rnd.randint(1, 4)):
            damaged[rnd.randrange(len(damaged))] = rnd.randrange(256)
        write(inputs_dir / "tx.parquet", bytes(damaged))
        try:
            load(inputs_dir, "tx.parquet")
            outcomes.add("read")
        except InputError as e:
            assert str(e).startswith(f"{inputs_dir}/tx.parquet: ")
            assert "\n" not in str(e)
            outcomes.add("refused")
    assert "refused" in outcomes
