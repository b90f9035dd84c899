"""Simulated redemptions: only by coupon holders (or friends, for referral codes) on qualifying visits."""

from __future__ import annotations

import polars as pl
import pytest

from coupongen.synthetic import simulate
from tests.synthetic.simulation_setup import night_frames, sample_inputs, simulated


@pytest.fixture(scope="module")
def inputs():
    return sample_inputs()


@pytest.fixture(scope="module")
def night(sample_run):
    return night_frames(sample_run.ledger)


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
