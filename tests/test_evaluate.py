"""The evaluation: known answers for the intervals, their coverage, hand-checked outcomes and
money, and on the bundled sample a planted effect found and no effect not claimed."""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import polars as pl
import pytest
from PIL import Image
from polars.testing import assert_frame_equal
from scipy import stats

from coupongen.inputs.contract import load_inputs
from coupongen.ledger import Ledger
from coupongen.loop import evaluate as ev
from coupongen.synthetic import simulate

from .conftest import AS_OF, NIGHTLY, SAMPLE, invoke

NIGHT = date.fromisoformat(AS_OF)


# --- intervals: known answers and coverage ---------------------------------------------------------


def test_wilson_and_newcombe_give_the_published_intervals():
    # Newcombe, "Interval estimation for the difference between independent proportions" (1998),
    # Table II, method 10; and the Wilson interval of 81/263 from his companion paper.
    cases = {
        (56, 70, 48, 80): (0.0524, 0.3339),
        (9, 10, 3, 10): (0.1705, 0.8090),
        (6, 7, 2, 7): (0.0582, 0.8062),
        (5, 56, 0, 29): (-0.0381, 0.1926),
    }
    for (k1, n1, k2, n2), (low, high) in cases.items():
        got = ev.newcombe(k1, n1, k2, n2)
        assert (round(got.low, 4), round(got.high, 4)) == (low, high)
    w = ev.wilson(81, 263)
    assert (round(w.low, 4), round(w.high, 4)) == (0.2553, 0.3662)


def test_welch_matches_scipy():
    x = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    y = np.array([0.0, 1.0, 1.0, 2.0])
    got = ev.welch(x, y)
    want = stats.ttest_ind(x, y, equal_var=False).confidence_interval()
    assert got.estimate == pytest.approx(3.0)
    assert (got.low, got.high) == pytest.approx((want.low, want.high))


def test_welch_and_newcombe_cover_a_zero_effect_about_95_times_in_100():
    rng = np.random.default_rng(11)
    welch_hits = newcombe_hits = 0
    reps = 2000
    for _ in range(reps):
        x = rng.lognormal(5, 1, 300) * (rng.random(300) < 0.4)
        y = rng.lognormal(5, 1, 60) * (rng.random(60) < 0.4)
        ci = ev.welch(x, y)
        welch_hits += ci.low <= 0 <= ci.high
        p = ev.newcombe(int((x > 0).sum()), 300, int((y > 0).sum()), 60)
        newcombe_hits += p.low <= 0 <= p.high
    assert 0.93 <= welch_hits / reps <= 0.97
    assert 0.93 <= newcombe_hits / reps <= 0.975


def synthetic(rng: np.random.Generator, effect: float) -> pl.DataFrame:
    """Two campaign-nights sharing some customers, 10% holdout each, spend driven by each
    customer's own rate before and after the night (the coupon multiplies it by 1 + effect)."""
    customers = 900
    rate = rng.gamma(1.0, 0.05, customers)
    basket = rng.lognormal(6, 0.6, customers)
    pre = rng.poisson(rate * 182)
    rows = []
    for campaign, members in (
        ("a", rng.choice(customers, 500, replace=False)),
        ("b", rng.choice(customers, 400, replace=False)),
    ):
        treated = rng.random(len(members)) >= 0.1
        visits = rng.poisson(rate[members] * 14 * np.where(treated, 1 + effect, 1.0))
        rows.append(
            pl.DataFrame(
                {
                    "campaign": campaign,
                    "as_of": AS_OF,
                    "customer_id": [f"C{m}" for m in members],
                    "group": np.where(treated, "treated", "control"),
                    "valid_from": date(2026, 11, 23),
                    "valid_to": date(2026, 12, 6),
                    "purchased": visits > 0,
                    "spend": visits * basket[members],
                    "target_spend": None,
                    "pre_visits": pre[members].astype(float),
                    "pre_spend": pre[members] * basket[members],
                    "pre_target_spend": None,
                },
                schema_overrides={"target_spend": pl.Float64, "pre_target_spend": pl.Float64},
            )
        )
    return pl.concat(rows)


def test_adjusted_and_pooled_intervals_cover_a_zero_effect_and_adjusting_narrows_them():
    rng = np.random.default_rng(5)
    reps = 100
    hits = {True: 0, False: 0}
    width = {True: 0.0, False: 0.0}
    for _ in range(reps):
        outcomes = synthetic(rng, 0.0)
        for adjust in (True, False):
            row = ev.compare_groups(outcomes, adjust=adjust).filter(
                (pl.col("campaign") == "all") & (pl.col("metric") == "spend")
            )
            low, high = row["ci_low"].item(), row["ci_high"].item()
            hits[adjust] += low <= 0 <= high
            width[adjust] += high - low
    assert hits[True] / reps >= 0.89 and hits[False] / reps >= 0.89
    assert width[True] < 0.9 * width[False]


def test_cuped_keeps_a_planted_lift_and_takes_out_a_head_start():
    rng = np.random.default_rng(3)
    outcomes = synthetic(rng, 0.5)
    # Give the holdout a head start: a fifth more spend before and after the night.
    head_start = outcomes.with_columns(
        pl.when(pl.col("group") == "control").then(pl.col(c) * 1.2).otherwise(pl.col(c)).alias(c)
        for c in ("spend", "pre_spend")
    )
    plain = ev.compare_groups(head_start, adjust=False).filter(pl.col("metric") == "spend")
    adjusted = ev.compare_groups(head_start, adjust=True).filter(pl.col("metric") == "spend")
    pooled = adjusted.filter(pl.col("campaign") == "all").row(0, named=True)
    assert pooled["verdict"] == ev.DETECTED and 0.3 < pooled["lift"] < 0.75
    assert pooled["method"].endswith(ev.ADJUSTED)
    assert plain.filter(pl.col("campaign") == "all")["lift"].item() < pooled["lift"] - 0.1


# --- outcomes, verdicts and money on hand-made data ------------------------------------------------


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


def test_unadjusted_rows_are_newcombe_and_welch_and_small_groups_get_no_verdict():
    rng = np.random.default_rng(1)
    n1, n2 = 200, 40
    spend = np.concatenate(
        [rng.exponential(100, n1) * (rng.random(n1) < 0.5), rng.exponential(100, n2) * (rng.random(n2) < 0.5)]
    )
    outcomes = pl.DataFrame(
        {
            "campaign": "cs",
            "as_of": AS_OF,
            "customer_id": [f"C{i}" for i in range(n1 + n2)],
            "group": ["treated"] * n1 + ["control"] * n2,
            "valid_from": date(2026, 11, 23),
            "valid_to": date(2026, 12, 6),
            "purchased": spend > 0,
            "spend": spend,
            "target_spend": spend / 2,
        }
    )
    rows = {r["metric"]: r for r in ev.compare_groups(outcomes, purchases_until=date(2026, 12, 1)).to_dicts()}
    k1, k2 = int((spend[:n1] > 0).sum()), int((spend[n1:] > 0).sum())
    rate = ev.newcombe(k1, n1, k2, n2)
    assert (rows["purchase_rate"]["ci_low"], rows["purchase_rate"]["ci_high"]) == pytest.approx(
        (rate.low, rate.high)
    )
    assert rows["purchase_rate"]["method"] == "Newcombe hybrid score"
    welch = ev.welch(spend[:n1], spend[n1:])
    assert (rows["spend"]["ci_low"], rows["spend"]["ci_high"]) == pytest.approx((welch.low, welch.high))
    assert rows["spend"]["method"] == "Welch t"
    assert rows["spend"]["complete"] is False and rows["spend"]["valid_to"] == "2026-12-06"
    assert {r["verdict"] for r in rows.values()} <= {ev.NO_EFFECT, ev.DETECTED, ev.NEGATIVE}
    # Five holdout buyers are too few to tell anything.
    few = outcomes.with_columns(
        pl.when((pl.col("group") == "control") & (pl.int_range(pl.len()) >= n1 + 5))
        .then(0.0)
        .otherwise(pl.col("spend"))
        .alias("spend")
    )
    assert ev.compare_groups(few).filter(pl.col("metric") == "spend")["verdict"].item() == ev.TOO_FEW
    one = outcomes.filter((pl.col("group") == "treated") | (pl.int_range(pl.len()) == n1))
    assert ev.compare_groups(one).filter(pl.col("metric") == "spend")["verdict"].item() == ev.NOT_MEASURABLE


def test_verdicts_follow_the_interval():
    assert ev.verdict(ev.Interval(1.0, 0.1, 2.0)) == "effect detected"
    assert ev.verdict(ev.Interval(-1.0, -2.0, -0.1)) == "negative effect detected"
    assert ev.verdict(ev.Interval(0.5, -0.1, 1.0)) == "no effect detected"
    assert ev.verdict(ev.Interval(0.5, None, None)) == "not measurable"


def coupon_rows() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "code": ["A", "B", "C", "D"],
            "campaign": ["cs", "cs", "cs", "ref"],
            "as_of": AS_OF,
            "offer_type": ["cross_sell", "cross_sell", "cross_sell", "referral"],
            "customer_id": ["C1", "C2", "C3", "C4"],
            "status": ["issued", "issued", "void", "issued"],
        }
    )


def test_redemption_rates_by_campaign_offer_type_segment_and_channel():
    uses = pl.DataFrame({"code": ["A", "C", "D"], "uses": [1, 1, 2], "discount": [10.0, 5.0, 30.0]})
    segments = pl.DataFrame({"customer_id": ["C1", "C2"], "as_of": AS_OF, "segment": ["champions", "loyal"]})
    channels = pl.DataFrame({"customer_id": ["C1", "C4"], "as_of": AS_OF, "channel": ["email", "sms"]})
    got = ev.redemption_rates(coupon_rows(), uses, segments=segments, channels=channels)
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
        "roi": 4.0,
        "roi_low": -2.0,
        "roi_high": 10.0,
        "verdict": "no effect detected",
    }
    pooled = got.row(1, named=True)
    assert (pooled["cost"], pooled["redemptions"], pooled["incremental_margin"]) == (90.0, 4, 252.5)


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
    rows = {r["metric"]: r for r in effects.filter(pl.col("campaign") == ev.ALL).to_dicts()}
    return rows, effects.filter(pl.col("campaign") != ev.ALL)


def test_false_claims_are_rare_and_a_30_percent_effect_is_usually_found(sample):
    # The holdout is the sample run's; only the simulated purchases change with the seed. At 0.3
    # the pooled spend comparison has about 70% power (its smallest detectable lift is ~0.3).
    seeds = range(1, 9)
    found = 0
    claims = rows = 0
    for seed in seeds:
        null, campaigns = pooled(sample, 0.0, seed)
        assert null["spend"]["verdict"] != ev.DETECTED and null["purchase_rate"]["verdict"] != ev.DETECTED
        judged = campaigns.filter(pl.col("verdict").is_in([ev.DETECTED, ev.NEGATIVE, ev.NO_EFFECT]))
        claims += judged.filter(pl.col("verdict") != ev.NO_EFFECT).height
        rows += judged.height
        planted, _ = pooled(sample, 0.3, seed)
        found += planted["spend"]["verdict"] == ev.DETECTED
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
