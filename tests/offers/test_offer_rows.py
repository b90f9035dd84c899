from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from coupongen.ledger import Ledger
from coupongen.offers.offer_rows import OFFER_COLUMNS, REQUIRED_COLUMNS, SET_ASIDE_SCHEMA, split_incomplete


def offer(customer_id: str, target_kind: str = "sku", target: str | None = "SAUCE", **overrides) -> dict:
    row = {
        "offer_key": f"cs:2026-11-22:{customer_id}:0",
        "kind": "personal",
        "symbology": "code128",
        "as_of": "2026-11-22",
        "campaign": "cs",
        "offer_type": "cross_sell",
        "customer_id": customer_id,
        "card_number": None,
        "target_kind": target_kind,
        "target": target,
        "reward_type": "percent",
        "reward_value": 15.0,
        "reward_buy": None,
        "reward_get": None,
        "min_basket": 0.0,
        "valid_from": "2026-11-22",
        "valid_to": "2026-12-06",
        "max_uses": 1,
        "expected_cost": 0.02,
        "chance": None,
        "expected_value": None,
        "reason": "bought Spaghetti 3x in 365 days",
    }
    return row | overrides


def test_offers_missing_a_value_the_ledger_requires_are_set_aside_with_what_they_lack():
    rows = pl.DataFrame(
        [
            offer("C0"),
            offer("C1", reason=None),
            offer("C2", target=None),
            offer("C3", target_kind="basket", target=None),
            offer("C4", target_kind="category", target=None, reason=None),
        ],
        schema=OFFER_COLUMNS,
    )
    complete, set_aside = split_incomplete(rows)
    # an offer on the basket has no target by design
    assert_frame_equal(complete, rows.filter(pl.col("customer_id").is_in(["C0", "C3"])))
    expected = pl.DataFrame(
        {
            "campaign": ["cs"] * 3,
            "offer_type": ["cross_sell"] * 3,
            "customer_id": ["C1", "C2", "C4"],
            "target_kind": ["sku", "sku", "category"],
            "target": ["SAUCE", None, None],
            "problem": ["no reason", "no target", "no target; no reason"],
        },
        schema=SET_ASIDE_SCHEMA,
    )
    assert_frame_equal(set_aside, expected)


def test_complete_offers_set_nothing_aside():
    # a card number, an item reward's quantities and a chance may be missing
    rows = pl.DataFrame([offer("C0"), offer("C1", target_kind="basket", target=None)], schema=OFFER_COLUMNS)
    complete, set_aside = split_incomplete(rows)
    assert_frame_equal(complete, rows)
    assert_frame_equal(set_aside, pl.DataFrame(schema=SET_ASIDE_SCHEMA))
    empty, none = split_incomplete(rows.clear())
    assert empty.is_empty() and none.schema == pl.Schema(SET_ASIDE_SCHEMA)


def test_the_required_columns_are_the_offer_columns_the_ledger_refuses_without(tmp_path):
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        not_null = {
            row[1]
            for table in ("coupons", "controls")
            for row in ledger.conn.execute(f"PRAGMA table_info({table})")
            if row[3]
        }
    # a personal coupon's customer_id is required by a CHECK, a holdout place's by NOT NULL
    assert set(REQUIRED_COLUMNS) == not_null & set(OFFER_COLUMNS)
