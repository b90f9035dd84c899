"""The evaluation: hand-checked outcomes, redemption rates and money, and on the bundled sample a
planted effect found and no effect not claimed."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime

import polars as pl
import pytest
from PIL import Image
from polars.testing import assert_frame_equal

from coupongen.inputs.loading import load_inputs
from coupongen.ledger import Ledger
from coupongen.loop import comparison as cmp
from coupongen.loop import evaluate as ev
from coupongen.loop import statistics as stat
from coupongen.synthetic import simulate
from tests.conftest import AS_OF, NIGHTLY, SAMPLE, invoke

NIGHT = date.fromisoformat(AS_OF)


# --- outcomes and money on hand-made data ----------------------------------------------------------


def test_outcomes_are_the_purchases_in_each_members_own_window():
    members = pl.DataFrame(
        {
            "campaign": ["cs", "cs", "vip"],
            "as_of": AS_OF,
            "offer_type": ["cross_sell", "cross_sell", "vip_reward"],
            "customer_id": ["C1", "C2", "C1"],
            "target_kind": ["sku", "sku", "basket"],
            "target": ["P1", "P1", None],
            "group": ["treated", "control", "treated"],
            "valid_from": [date(2026, 11, 23), date(2026, 11, 23), date(2026, 11, 26)],
            "valid_to": [date(2026, 11, 25), date(2026, 11, 25), date(2026, 11, 26)],
        }
    )
    lines = [
        ("R1", "C1", datetime(2026, 11, 23, 9), "P1", 10.0),
        ("R2", "C1", datetime(2026, 11, 24, 9), "P2", 5.0),
        ("R3", "C1", datetime(2026, 11, 25, 23, 59), "P1", -2.0),  # a refund
        ("R4", "C1", datetime(2026, 11, 26, 9), "P1", 100.0),  # after the cross-sell window
        ("R5", "C2", datetime(2026, 11, 22, 9), "P1", 7.0),  # before it
        ("R6", "C2", datetime(2026, 11, 21, 9), "P1", 3.0),
    ]
    purchases = pl.DataFrame(
        lines, schema=["receipt_id", "customer_id", "ts", "sku", "amount"], orient="row"
    ).with_columns(pl.lit("S1").alias("store_id"), pl.lit(1.0).alias("quantity"))
    products = pl.DataFrame({"sku": ["P1", "P2"], "category": ["x", "y"]})
    got = ev.measure_outcomes(members, purchases, products, history=purchases, pre_days=2)
    want = members.with_columns(
        pl.Series("purchased", [True, False, True]),
        pl.Series("spend", [13.0, 0.0, 100.0]),
        pl.Series("target_spend", [8.0, 0.0, None]),
        # The two days before the night: 20 and 21 November.
        pl.Series("pre_visits", [0.0, 1.0, 0.0]),
        pl.Series("pre_spend", [0.0, 3.0, 0.0]),
        pl.Series("pre_target_spend", [0.0, 3.0, None]),
    )
    assert_frame_equal(got, want)


def coupon_rows() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "code": ["A", "B", "C", "D"],
            "campaign": ["cs", "cs", "cs", "ref"],
            "as_of": AS_OF,
            "offer_type": ["cross_sell", "cross_sell", "cross_sell", "referral"],
            "customer_id": ["C1", "C2", "C3", "C4"],
            "status": ["issued", "issued", "void", "issued"],
            # C4's coupon was recorded before the ledger kept segments
            "segment": ["champions", "loyal", "loyal", None],
            "channel": ["email", "none", "sms", "sms"],
        }
    )


def test_redemption_rates_by_campaign_offer_type_segment_and_channel():
    uses = pl.DataFrame({"code": ["A", "C", "D"], "uses": [1, 1, 2], "discount": [10.0, 5.0, 30.0]})
    got = ev.redemption_rates(coupon_rows(), uses)
    assert got.rows() == [
        ("campaign", "cs", 2, 1, 0.5, 1, 10.0),
        ("campaign", "ref", 1, 1, 1.0, 2, 30.0),
        ("offer_type", "cross_sell", 2, 1, 0.5, 1, 10.0),
        ("offer_type", "referral", 1, 1, 1.0, 2, 30.0),
        ("segment", "champions", 1, 1, 1.0, 1, 10.0),
        ("segment", "loyal", 1, 0, 0.0, 0, 0.0),
        ("segment", "unknown", 1, 1, 1.0, 2, 30.0),
        ("channel", "email", 1, 1, 1.0, 1, 10.0),
        ("channel", "none", 1, 0, 0.0, 0, 0.0),
        ("channel", "sms", 1, 1, 1.0, 2, 30.0),
    ]


def test_economics_set_the_rewards_against_the_incremental_margin():
    def row(campaign: str, metric: str, covers: str, n: int, diff: float, low: float, high: float) -> dict:
        return {"campaign": campaign, "as_of": AS_OF, "metric": metric, "treated_n": n, "difference": diff,
                "ci_low": low, "ci_high": high, "covers": covers, "verdict": "no effect detected"}  # fmt: skip

    effects = pl.DataFrame(
        [
            row("cs", "spend", f"cs@{AS_OF}", 100, 10.0, -2.0, 22.0),
            row("cs", "purchase_rate", f"cs@{AS_OF}", 100, 0.1, 0.0, 0.2),
            row("all", "spend", f"cs@{AS_OF}; ref@{AS_OF}", 101, 10.0, 2.0, 18.0),
        ]
    )
    uses = pl.DataFrame(
        {"code": ["A", "B", "C", "D"], "uses": [1, 1, 1, 2], "discount": [30.0, 20.0, 99.0, 40.0]}
    )
    got = ev.economics(effects, coupon_rows(), uses, margin_rate=0.25)
    # 10 more per customer x 25% margin x 100 customers = 250 against 50 of rewards (C was void).
    assert got.row(0, named=True) == {
        "campaign": "cs",
        "as_of": AS_OF,
        "treated_n": 100,
        "redemptions": 2,
        "cost": 50.0,
        "incremental_spend": 10.0,
        "margin_rate": 0.25,
        "incremental_margin": 250.0,
        "margin_low": -50.0,
        "margin_high": 550.0,
        "return_multiple": 5.0,
        "return_low": -1.0,
        "return_high": 11.0,
        "verdict": "no effect detected",
    }
    pooled = got.row(1, named=True)
    assert (pooled["cost"], pooled["redemptions"], pooled["incremental_margin"]) == (90.0, 4, 252.5)


def test_a_return_needs_a_cost_of_at_least_one_unit():
    effects = pl.DataFrame(
        [{"campaign": "cs", "as_of": AS_OF, "metric": "spend", "treated_n": 100, "difference": 10.0,
          "ci_low": 2.0, "ci_high": 18.0, "covers": f"cs@{AS_OF}", "verdict": "effect detected"}]
    )  # fmt: skip
    for discount, expected in ((0.99, None), (1.0, 250.0), (0.0, None)):
        uses = pl.DataFrame({"code": ["A"], "uses": [1], "discount": [discount]})
        row = ev.economics(effects, coupon_rows(), uses, margin_rate=0.25).row(0, named=True)
        assert (row["return_multiple"], row["incremental_margin"]) == (expected, 250.0), discount
    headline = ev.headline(effects.with_columns(pl.lit(True).alias("complete"), pl.lit(0.1).alias("lift"),
                                                 pl.lit(9).alias("control_n")),
                           ev.economics(effects, coupon_rows(), uses, margin_rate=0.25))  # fmt: skip
    assert headline.columns == [
        "campaign", "as_of", "treated_n", "control_n", "difference", "ci_low", "ci_high", "lift", "verdict",
        "complete", "cost", "incremental_margin", "return_multiple", "return_low", "return_high",
    ]  # fmt: skip
    assert headline.row(0) == ("cs", AS_OF, 100, 9, 10.0, 2.0, 18.0, 0.1, "effect detected", True, 0.0,
                               250.0, None, None, None)  # fmt: skip


# --- the bundled sample ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(sample_run):
    inputs = load_inputs(SAMPLE / "transactions.csv", SAMPLE / "products.csv", SAMPLE / "customers.csv")
    with Ledger.open(sample_run.ledger) as led:
        coupons, controls = led.coupons(as_of=NIGHT), led.controls(as_of=NIGHT)
        uses = led.redemption_counts(as_of=NIGHT)
    return inputs, coupons, controls, uses


def pooled(sample, effect: float, seed: int) -> tuple[dict[str, dict], pl.DataFrame]:
    inputs, coupons, controls, uses = sample
    sim = simulate.simulate_returns(
        inputs.transactions.kept,
        inputs.products.kept,
        inputs.customers.kept,
        coupons,
        controls,
        as_of=NIGHT,
        effect=effect,
        seed=seed,
    )
    effects = ev.evaluate(
        coupons, controls, uses, sim.purchases, inputs.products.kept, history=inputs.transactions.kept
    ).effects
    rows = {r["metric"]: r for r in effects.filter(pl.col("campaign") == cmp.ALL).to_dicts()}
    return rows, effects.filter(pl.col("campaign") != cmp.ALL)


def test_false_claims_are_rare_and_a_30_percent_effect_is_usually_found(sample):
    # The holdout is the sample run's; only the simulated purchases change with the seed. At 0.3
    # the pooled spend comparison has about 70% power (its smallest detectable lift is ~0.3).
    seeds = range(1, 9)
    found = 0
    claims = rows = 0
    for seed in seeds:
        null, campaigns = pooled(sample, 0.0, seed)
        assert null["spend"]["verdict"] != stat.DETECTED and null["purchase_rate"]["verdict"] != stat.DETECTED
        judged = campaigns.filter(pl.col("verdict").is_in([stat.DETECTED, stat.NEGATIVE, stat.NO_EFFECT]))
        claims += judged.filter(pl.col("verdict") != stat.NO_EFFECT).height
        rows += judged.height
        planted, _ = pooled(sample, 0.3, seed)
        found += planted["spend"]["verdict"] == stat.DETECTED
    assert claims <= 0.1 * rows
    assert found >= 5


def test_evaluate_command_finds_a_planted_effect_and_writes_its_files(fresh_copy):
    out = str(fresh_copy.out)
    assert (
        invoke("simulate-redemptions", "--config", str(NIGHTLY), "--out", out, "--effect", "0.3").exit_code
        == 0
    )
    folder = fresh_copy.out / "simulation" / AS_OF
    imported = invoke(
        "redemptions", "import", str(folder / "redemptions.csv"), "--config", str(NIGHTLY), "--out", out
    )
    assert imported.exit_code == 0 and " 0 rejected " in imported.output
    # segments and channels come from the ledger: the night's published files are not needed
    for folder_name in ("analysis", "email", "sms", "app"):
        shutil.rmtree(fresh_copy.night / folder_name)
    result = invoke(
        "evaluate",
        "--config",
        str(NIGHTLY),
        "--out",
        out,
        "--run",
        "1",
        "--purchases",
        str(folder / "transactions.csv"),
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("evaluation of run-1: purchases up to 2027-01-21\n")
    printed = result.output.split("\n\nwritten:")[0].splitlines()
    assert max(len(line) for line in printed) <= 100
    assert printed[2].split() == [
        "campaign",
        "treated",
        "holdout",
        "extra",
        "spend",
        "per",
        "customer",
        "verdict",
        "return",
    ]
    pooled_line = next(line for line in printed if line.startswith("all "))
    assert "effect detected" in pooled_line and pooled_line.endswith("×")
    target = fresh_copy.out / "evaluation" / "run-1"
    effects = pl.read_csv(target / "effects.csv")
    spend = effects.filter((pl.col("campaign") == "all") & (pl.col("metric") == "spend")).row(0, named=True)
    assert spend["verdict"] == "effect detected" and spend["ci_low"] > 0
    # 0.3 planted on visits; with a holdout of about 300 the point estimate moves a lot between
    # plans, so only a gross error (a sign flip, a doubled count) falls outside this range
    assert 0.1 < spend["lift"] < 1.0
    # Every discount the tills gave is a cost of its campaign; the pooled row counts those of the
    # campaigns it compares.
    money = pl.read_csv(target / "economics.csv")
    with Ledger.open(fresh_copy.ledger) as led:
        paid = led.redemptions(status="accepted")["discount"].sum()
    campaigns = money.filter(pl.col("campaign") != "all")
    assert campaigns["cost"].sum() == pytest.approx(paid, abs=0.01)
    covered = {entry.split("@")[0] for entry in spend["covers"].split("; ")}
    assert "cross_sell" in covered and len(covered) < campaigns.height
    pooled = money.filter(pl.col("campaign") == "all").row(0, named=True)
    in_pooled = campaigns.filter(pl.col("campaign").is_in(sorted(covered)))
    assert pooled["cost"] == pytest.approx(in_pooled["cost"].sum(), abs=0.01)
    assert pooled["treated_n"] == in_pooled["treated_n"].sum()
    rates = pl.read_csv(target / "redemption_rates.csv")
    assert set(rates["dimension"]) == {"campaign", "offer_type", "segment", "channel"}
    assert "unknown" not in rates.filter(pl.col("dimension") == "segment")["value"].to_list()
    assert set(rates.filter(pl.col("dimension") == "channel")["value"]) == {"email", "sms", "app", "none"}
    assert Image.open(target / "effects.png").size[0] == 1200
    doc = json.loads((target / "evaluation.json").read_text())
    assert doc["margin_rate"] == 0.25 and len(doc["effects"]) == effects.height


def test_evaluate_command_claims_nothing_without_an_effect(fresh_copy):
    out = str(fresh_copy.out)
    assert (
        invoke("simulate-redemptions", "--config", str(NIGHTLY), "--out", out, "--effect", "0").exit_code == 0
    )
    purchases = fresh_copy.out / "simulation" / AS_OF / "transactions.csv"
    result = invoke(
        "evaluate",
        "--config",
        str(NIGHTLY),
        "--out",
        out,
        "--as-of",
        AS_OF,
        "--purchases",
        str(purchases),
        "-q",
    )
    assert result.exit_code == 0
    effects = pl.read_csv(fresh_copy.out / "evaluation" / AS_OF / "effects.csv")
    pooled_rows = effects.filter(pl.col("campaign") == "all")
    assert (
        pooled_rows.filter(pl.col("metric") != "target_spend")["verdict"].to_list()
        == ["no effect detected"] * 2
    )
    assert "effect detected" not in effects["verdict"].to_list()


def test_evaluate_command_says_what_is_missing(sample_run):
    out = str(sample_run.out)
    nothing = invoke("evaluate", "--config", str(NIGHTLY), "--out", out)
    assert nothing.exit_code == 2
    assert nothing.output.endswith("Error: say what to evaluate: --campaign NAME, --run ID or --as-of DATE\n")
    unknown = invoke("evaluate", "--config", str(NIGHTLY), "--out", out, "--campaign", "nope")
    assert unknown.exit_code == 2
    assert unknown.output.startswith(
        f"Error: {sample_run.ledger}: no coupons for campaign 'nope' (campaigns in the job: "
    )
    history_only = invoke("evaluate", "--config", str(NIGHTLY), "--out", out, "--campaign", "cross_sell")
    assert history_only.exit_code == 2
    assert history_only.output == (
        "Error: the purchases end on 2026-11-21, before the coupons' validity starts on 2026-11-23: nothing "
        "to measure yet (give the purchases made since the night with --purchases)\n"
    )
