"""Budgets and holdouts survive a killed run: the holdout is recorded before any coupon, and what
an earlier run of the night issued counts against the budget wherever a rerun would rank it.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from coupongen import pipeline
from coupongen.config import load_job
from coupongen.ledger import Ledger
from coupongen.offers.guards import within_budget

AS_OF = date(2026, 11, 22)


def test_coupons_issued_earlier_count_against_the_budget_wherever_they_now_rank():
    rerun = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "priority": [3.0, 2.0, 5.0],  # C is new tonight and now ranks first
            "expected_cost": [10.0, 10.0, 10.0],
            "recorded_held": [False, False, None],  # A and B got their coupons in the killed run
        }
    )
    kept = within_budget(rerun, 20.0, salt="s", share=0.0)
    assert sorted(kept["customer_id"]) == ["A", "B"]
    spent = kept.filter(~pl.col("held"))["expected_cost"].sum()
    assert spent == 20.0
    first = within_budget(
        rerun.with_columns(pl.lit(None, pl.Boolean).alias("recorded_held")), 20.0, salt="s", share=0.0
    )
    assert first["customer_id"].to_list() == ["C", "A"]  # a first run would have chosen these


def test_a_run_killed_while_issuing_keeps_every_campaigns_holdout(hostile_run, tmp_path, monkeypatch):
    job = load_job(hostile_run.job)
    settings = pipeline.resolve_settings(job, as_of=AS_OF, out_dir=tmp_path / "out")
    planned = pipeline.run_job(job, settings, dry_run=True).plan.controls

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Ledger, "issue_coupons", killed)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run_job(job, settings)
    with Ledger.open(settings.ledger_path, create=False) as ledger:
        recorded = ledger.controls(as_of=AS_OF, campaigns=[c.name for c in job.campaigns])
        assert ledger.coupons(as_of=AS_OF).height == 0
    assert planned.height > 0 and planned["campaign"].n_unique() > 1
    key = ["campaign", "customer_id"]
    assert recorded.select(key).sort(key).equals(planned.select(key).sort(key))
