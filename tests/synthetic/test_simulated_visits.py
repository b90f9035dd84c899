"""Simulated purchases: in the validity window, in the transactions layout, and a planted effect on
the holders' visits."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from coupongen.inputs.loading import load_inputs
from coupongen.synthetic import simulate
from coupongen.synthetic.export_format import TRANSACTION_SCHEMA
from coupongen.synthetic.writing import write_transactions
from tests.conftest import SAMPLE
from tests.synthetic.simulation_setup import night_frames, sample_inputs, simulated


@pytest.fixture(scope="module")
def inputs():
    return sample_inputs()


@pytest.fixture(scope="module")
def night(sample_run):
    return night_frames(sample_run.ledger)


def test_purchases_cover_the_validity_windows_in_the_transactions_layout(inputs, night, tmp_path):
    coupons, _ = night
    sim = simulated(inputs, night)
    assert (sim.first_day, sim.last_day) == (
        date.fromisoformat(coupons["valid_from"].min()),
        date.fromisoformat(coupons["valid_to"].max()),
    )
    days = sim.purchases["ts"].dt.date()
    assert days.min() >= sim.first_day and days.max() <= sim.last_day
    assert sim.purchases["receipt_id"].str.starts_with(simulate.RECEIPT_PREFIX).all()
    # Written the way the sample data is, the purchases load through the data contract untouched.
    path = write_transactions(sim.purchases, tmp_path / "transactions.csv")
    loaded = load_inputs(path, SAMPLE / "products.csv", SAMPLE / "customers.csv").transactions
    assert loaded.counts == {"read": sim.purchases.height, "kept": sim.purchases.height, "quarantined": 0}


def test_the_planted_effect_multiplies_visits_while_a_coupon_is_valid():
    # 600 identical shoppers, one receipt every other day for a year; half hold a coupon valid for
    # the 30 days after the night, and 200 of the others are its holdout.
    night_ = date(2026, 3, 1)
    start = datetime(2025, 3, 1, 10)
    rows = [
        (f"R{c:03d}{d:03d}", f"C{c:03d}", start + timedelta(days=d), "S1", "P1", 1.0, 10.0)
        for c in range(600)
        for d in range(0, 365, 2)
    ]
    history = pl.DataFrame(rows, schema=TRANSACTION_SCHEMA, orient="row")
    products = pl.DataFrame({"sku": ["P1"], "name": ["p"], "category": ["c"], "price": [10.0]})
    customers = pl.DataFrame(
        {"customer_id": [f"C{c:03d}" for c in range(600)], "card_number": [f"9{c:03d}" for c in range(600)]}
    )

    def members(ids: range) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "offer_key": [f"k{c}" for c in ids],
                "kind": "personal",
                "code": [f"X{c:03d}" for c in ids],
                "barcode_value": [f"X{c:03d}" for c in ids],
                "symbology": "code128",
                "campaign": "c",
                "customer_id": [f"C{c:03d}" for c in ids],
                "card_number": [f"9{c:03d}" for c in ids],
                "target_kind": "basket",
                "target": None,
                "reward_type": "amount",
                "reward_value": 1.0,
                "min_basket": 0.0,
                "valid_from": "2026-03-01",
                "valid_to": "2026-03-30",
                "max_uses": 1,
                "status": "issued",
            }
        )

    coupons = members(range(300))
    controls = members(range(300, 500)).select("campaign", "customer_id", "target_kind", "target")
    for effect, low, high in ((0.0, 0.93, 1.07), (1.0, 1.85, 2.15)):
        sim = simulate.simulate_returns(
            history, products, customers, coupons, controls, as_of=night_, effect=effect, seed=3
        )
        visits = sim.purchases.group_by("customer_id").agg(pl.col("receipt_id").n_unique().alias("n"))
        held = visits.filter(pl.col("customer_id") < "C300")["n"].sum() / 300
        rest = visits.filter(pl.col("customer_id") >= "C300")["n"].sum() / 300
        assert low < held / rest < high, (effect, held, rest)
        assert rest == pytest.approx(15, rel=0.08)  # half a visit a day for 30 days
