from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen import pipeline
from coupongen.analysis import features
from coupongen.config import load_job
from coupongen.inputs.loading import load_inputs
from coupongen.loop import backtest
from coupongen.night.data import digest
from tests.conftest import NIGHTLY, SAMPLE, invoke

CUTOFF = date(2026, 10, 25)
DAYS = 28


@pytest.fixture(scope="module")
def job():
    return load_job(NIGHTLY)


@pytest.fixture(scope="module")
def inputs():
    return load_inputs(SAMPLE / "transactions.csv", SAMPLE / "products.csv", SAMPLE / "customers.csv")


@pytest.fixture(scope="module")
def sku_run(inputs, job):
    return backtest.backtest(inputs, job, cutoff=CUTOFF, days=DAYS)


def row(metrics: pl.DataFrame, method: str) -> dict:
    return metrics.filter(pl.col("method") == method).row(0, named=True)


def test_cross_sell_finds_new_products_better_than_popularity_and_reaches_nearly_everyone(sku_run):
    metrics, _ = sku_run
    model = row(metrics, "ease")
    unbought = row(metrics, "popularity_unbought")
    popular = row(metrics, "popularity")
    assert model["new_item_hit_rate"] >= 1.3 * unbought["new_item_hit_rate"]
    assert model["new_item_hit_rate"] >= 1.3 * popular["new_item_hit_rate"]
    assert model["coverage"] >= 0.9
    # the baselines are scored on the same customers with as many offers each
    assert model["customers"] == unbought["customers"] == popular["customers"] > 1000
    assert model["offers"] == unbought["offers"] == popular["offers"] == 3 * model["covered"]


def test_no_cross_sell_offer_is_restricted_or_already_bought(sku_run, inputs):
    _, scored = sku_run
    cross = scored.filter((pl.col("offer_type") == "cross_sell") & (pl.col("method") == "ease"))
    restricted = inputs.products.kept.filter(~pl.col("promo_allowed"))["sku"]
    assert not cross["target"].is_in(restricted.implode()).any()
    bought = features.customer_products(inputs.transactions.kept, as_of=CUTOFF, lookback_days=365)
    recent = bought.filter(pl.col("in_lookback")).select("customer_id", pl.col("sku").alias("target"))
    assert cross.join(recent, on=["customer_id", "target"]).is_empty()
    assert cross["new_item"].all() and cross["reason"].null_count() == 0


def test_rank_one_is_the_offer_the_nightly_run_makes(sku_run, inputs, job):
    _, scored = sku_run
    settings = pipeline.resolve_settings(job, as_of=CUTOFF)
    night = digest(job, inputs, pipeline.analyse(job, inputs, CUTOFF), CUTOFF)
    nightly = pipeline.plan(job, night, settings, None)
    sent = nightly.offers.filter(pl.col("offer_type") == "cross_sell").select(
        "customer_id", "target", "reason"
    )
    first = scored.filter((pl.col("method") == "ease") & (pl.col("rank") == 1))
    assert sent.height > 500
    assert_frame_equal(
        sent.sort("customer_id"),
        first.join(sent.select("customer_id"), on="customer_id").select(sent.columns).sort("customer_id"),
    )


def test_the_same_inputs_give_the_same_offers(sku_run, inputs, job):
    metrics, scored = backtest.backtest(inputs, job, cutoff=CUTOFF, days=DAYS)
    assert_frame_equal(metrics, sku_run[0])
    assert_frame_equal(scored, sku_run[1])


def test_category_level_targets_categories(inputs, job):
    metrics, scored = backtest.backtest(inputs, job, cutoff=CUTOFF, days=DAYS, level="category", top_n=2)
    products = inputs.products.kept
    # every target is a category, or none (an offer on the whole basket)
    assert set(scored["target"].drop_nulls()) <= set(products["category"])
    assert scored.filter(pl.col("target").is_null())["offer_type"].unique().to_list() == ["second_purchase"]
    restricted = products.filter(~pl.col("promo_allowed"))["category"].unique()
    assert not scored["target"].is_in(restricted.implode()).any()
    assert {"win_back", "ease", "popularity", "popularity_unbought"} <= set(metrics["method"])
    assert metrics["level"].unique().to_list() == ["category"]
    assert row(metrics, "ease")["coverage"] >= 0.9


def test_frames_in_the_input_contract_work_as_well(inputs, job):
    frames = {x.name: x.kept for x in inputs.all()}
    few = frames["customers"].head(600)["customer_id"]
    frames["transactions"] = frames["transactions"].filter(
        pl.col("customer_id").is_in(few.implode()) | pl.col("customer_id").is_null()
    )
    metrics, _ = backtest.backtest(frames, job, cutoff=CUTOFF, days=DAYS, top_n=1, eligibility=False)
    model = row(metrics, "ease")
    assert model["customers"] == model["active"] and model["coverage"] >= 0.9


def test_cli_prints_the_table_and_writes_the_offers(tmp_path, small_sample):
    # The command's output and file, not the methods' figures (the tests above): a small sample does.
    out = tmp_path / "offers.csv"
    result = invoke(
        "backtest",
        "--config",
        str(NIGHTLY),
        "--data",
        str(small_sample),
        "--cutoff",
        "2026-10-25",
        "--days",
        "28",
        "--method",
        "rerank",
        "--method",
        "ease",
        "--offers-out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:2] == [
        "backtest at sku level: offers built from the history before 2026-10-25,",
        "scored on purchases from 2026-10-25 to 2026-11-21 (28 days)",
    ]
    assert max(len(line) for line in lines if not line.startswith("scored offers written")) <= 100
    for kind in ("cross_sell", "replenishment", "win_back", "second_purchase"):
        assert f"{kind} (campaign {kind})" in "\n".join(lines)
    for method in ("rerank", "ease"):
        assert any(line.startswith(f"{method} ") for line in lines)
        assert f"cross_sell ({method}) against the baselines:" in lines
    assert any(
        line.strip().startswith("popularity_unbought:") and "new-item hit rate" in line for line in lines
    )
    written = pl.read_csv(out, infer_schema=False)
    assert written.columns == ["customer_id", "offer_type", "method", "target", "rank"]
    kinds = {"replenishment", "win_back", "second_purchase"}
    assert set(written["offer_type"]) == kinds | {"cross_sell"}
    assert set(written["method"]) == kinds | {"rerank", "ease"}


def test_cli_rejects_a_window_past_the_data_and_an_unknown_level():
    late = invoke("backtest", "--config", str(NIGHTLY), "--cutoff", "2027-01-10", "--days", "7")
    assert late.exit_code == 2
    assert (
        "the scoring window 2027-01-10 to 2027-01-16 runs past the data, which ends 2026-11-21" in late.output
    )
    # a window only partly covered would score too low: refused too
    partial = invoke("backtest", "--config", str(NIGHTLY), "--cutoff", "2026-11-20", "--days", "28")
    assert partial.exit_code == 2
    assert "runs past the data, which ends 2026-11-21" in partial.output
    bad = invoke("backtest", "--config", str(NIGHTLY), "--level", "brand")
    assert bad.exit_code == 2 and "'brand' is not one of 'sku', 'category'" in bad.output


def test_substitutes_and_new_type_hits_computed_by_hand():
    from coupongen.loop.backtest_scoring import LevelView, score_offers

    # U1 buys milk (type dairy/milk) in the window and bought eggs long ago; in the scoring window
    # U1 buys another milk and a first cheese.
    bought = pl.DataFrame(
        {"customer_id": ["U1", "U1"], "sku": ["MILK1", "EGG1"], "in_lookback": [True, False]}
    )
    types = pl.DataFrame(
        {
            "target": ["MILK1", "MILK2", "EGG2", "CHEESE1", "CHEESE2"],
            "type": ["dairy/milk", "dairy/milk", "dairy/eggs", "dairy/cheese", "dairy/cheese"],
        }
    )
    later = pl.DataFrame({"customer_id": ["U1", "U1"], "target": ["MILK2", "CHEESE1"]})
    view = LevelView(bought=bought, products=bought.clear(), rules=bought.clear(), later=later, types=types)
    made = pl.DataFrame(
        {
            "campaign": "c",
            "offer_type": "cross_sell",
            "method": "m",
            "customer_id": "U1",
            "target": ["MILK2", "EGG2", "CHEESE2"],
            "rank": [1, 2, 3],
            "reason": None,
        }
    )
    scored = score_offers(made, view)
    assert scored.select("target", "hit", "new_item", "substitute", "new_type_hit").rows() == [
        ("MILK2", True, True, True, False),  # another milk: a substitute, bought
        ("EGG2", False, True, False, False),  # eggs were bought before the window: not a substitute
        ("CHEESE2", False, True, False, True),  # a first cheese (another sku) was bought: new type
    ]
