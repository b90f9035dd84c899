"""Simulated returns from the tills: deterministic, in the input layouts, redemptions only by
coupon holders, a planted effect on the holders' visits, and bad lines the import recognises."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.config import load_job
from coupongen.inputs.contract import load_inputs
from coupongen.ledger import Ledger
from coupongen.loop import redemptions
from coupongen.synthetic import simulate
from coupongen.synthetic.sample import TRANSACTION_SCHEMA, write_transactions

from .conftest import AS_OF, NIGHTLY, SAMPLE, invoke

NIGHT = date.fromisoformat(AS_OF)


@pytest.fixture(scope="module")
def inputs():
    return load_inputs(SAMPLE / "transactions.csv", SAMPLE / "products.csv", SAMPLE / "customers.csv")


@pytest.fixture(scope="module")
def night(sample_run):
    with Ledger.open(sample_run.ledger) as led:
        return led.coupons(as_of=NIGHT), led.controls(as_of=NIGHT)


@pytest.fixture(scope="module")
def formats():
    return {c.name: c.code.code_format() for c in load_job(NIGHTLY).campaigns}


def simulated(inputs, night, **options) -> simulate.Simulation:
    coupons, controls = night
    options = {"effect": 0.3, "seed": 1, **options}
    return simulate.simulate_returns(
        inputs.transactions.kept,
        inputs.products.kept,
        inputs.customers.kept,
        coupons,
        controls,
        as_of=NIGHT,
        **options,
    )


def test_same_seed_same_returns_another_seed_other_returns(inputs, night, formats):
    a = simulated(inputs, night, bad_lines=4, formats=formats)
    b = simulated(inputs, night, bad_lines=4, formats=formats)
    assert_frame_equal(a.purchases, b.purchases)
    assert_frame_equal(a.redemptions, b.redemptions)
    assert_frame_equal(a.planted, b.planted)
    other = simulated(inputs, night, seed=2)
    assert not other.purchases.equals(a.purchases)


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


def test_only_coupon_holders_redeem_on_a_qualifying_visit(inputs, night):
    coupons, _ = night
    sim = simulated(inputs, night, redemption_rate=1.0)
    shown = pl.concat(
        [
            coupons.select("offer_key", pl.col("code").alias("shown")),
            coupons.select("offer_key", pl.col("barcode_value").alias("shown")),
        ]
    ).unique()
    baskets = sim.purchases.group_by("receipt_id").agg(
        pl.col("customer_id").first().alias("buyer"), pl.col("amount").sum().alias("total")
    )
    cards = inputs.customers.kept.select(
        pl.col("customer_id").alias("buyer"), pl.col("card_number").alias("buyer_card")
    )
    lines = (
        sim.redemptions.rename({"card_number": "presented"})
        .join(shown, left_on="code", right_on="shown")
        .join(coupons, on="offer_key")
        .join(baskets, on="receipt_id")
        .join(cards, on="buyer")
    )
    # Every line names a coupon of the night and a simulated receipt paid with the buyer's card.
    assert lines.height == sim.redemptions.height > 100
    assert (lines["presented"] == lines["buyer_card"]).all()
    personal = lines.filter(pl.col("kind") == "personal")
    assert (personal["buyer"] == personal["customer_id"]).all()
    referral = lines.filter(pl.col("kind") == "referral")
    assert referral.height > 0 and (referral["buyer"] != referral["customer_id"]).all()
    day = lines["redeemed_at"].str.to_datetime().dt.date()
    assert (day >= lines["valid_from"].str.to_date()).all() and (day <= lines["valid_to"].str.to_date()).all()
    assert (lines["total"] >= lines["min_basket"]).all()
    # Tills scan EAN-13 and GS1-128 barcodes and report their value; the others report the code.
    scanned = lines.filter(pl.col("symbology").is_in(simulate.SCANNED))
    assert scanned.height > 0 and (scanned["code"] == scanned["barcode_value"]).all()


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


def test_the_import_gives_every_planted_bad_line_its_planted_reason(
    inputs, night, formats, fresh_copy, tmp_path
):
    count = len(simulate.BAD_LINE_KINDS)
    sim = simulated(inputs, night, bad_lines=count, formats=formats)
    assert sim.planted["kind"].to_list() != [] and sim.planted.height == count
    path = tmp_path / "redemptions.csv"
    sim.redemptions.write_csv(path)
    with Ledger.open(fresh_copy.ledger) as led:
        result = redemptions.import_redemptions(path, led, formats=formats)
    assert result.rejected.select("line", "reason").rows() == sim.planted.select("line", "reason").rows()
    assert result.accepted == sim.redemptions.height - count


def test_simulate_command_writes_the_files_and_reruns_byte_for_byte(fresh_copy):
    out = fresh_copy.out
    args = (
        "simulate-redemptions",
        "--config",
        str(NIGHTLY),
        "--out",
        str(out),
        "--effect",
        "0.3",
        "--bad-lines",
        "3",
    )
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    folder = out / "simulation" / AS_OF
    first_line = result.output.splitlines()[0]
    assert first_line.startswith(
        f"simulated 2026-11-22 to 2027-01-21 after the night of {AS_OF} with effect +30%: "
    )
    assert first_line.endswith(" and 3 bad lines")
    files = {
        name: (folder / name).read_bytes()
        for name in ("redemptions.csv", "transactions.csv", "bad_lines.csv")
    }
    assert files["redemptions.csv"].startswith(b"code,redeemed_at,store_id,receipt_id,card_number,discount\n")
    assert invoke(*args).exit_code == 0
    assert {name: (folder / name).read_bytes() for name in files} == files


def test_simulate_command_needs_an_effect_above_minus_one(fresh_copy):
    result = invoke(
        "simulate-redemptions", "--config", str(NIGHTLY), "--out", str(fresh_copy.out), "--effect", "-1"
    )
    assert result.exit_code == 2
    assert result.output.endswith("Error: Invalid value for --effect: must be above -1 (a relative change)\n")


def test_random_draws_do_not_depend_on_frame_order(inputs, night):
    coupons, controls = night
    shuffled = (
        coupons.sample(fraction=1.0, shuffle=True, seed=5),
        controls.sample(fraction=1.0, shuffle=True, seed=5),
    )
    a = simulated(inputs, night)
    b = simulated(inputs, shuffled)
    assert_frame_equal(a.purchases, b.purchases)
    assert_frame_equal(a.redemptions, b.redemptions)
    assert np.isfinite(a.purchases["amount"].to_numpy()).all()
