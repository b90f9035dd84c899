"""Whole nights through the Python API (`coupongen.run_job`): reruns, dry runs and determinism.

The command line adds nothing to these; its own tests (tests/cli/) pin exit codes and messages.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import polars as pl

import coupongen
from coupongen.results import RunSummary
from tests.conftest import AS_OF, NIGHTLY

NIGHT = date.fromisoformat(AS_OF)


def run(out: Path, *, seed: int | None = None, dry_run: bool = False) -> RunSummary:
    job = coupongen.load_job(NIGHTLY)
    settings = coupongen.resolve_settings(job, as_of=NIGHT, out_dir=out, seed=seed)
    return coupongen.run_job(job, settings, dry_run=dry_run).summary


def test_a_rerun_of_the_same_night_issues_nothing_and_republishes_the_same_file(fresh_copy):
    pos = fresh_copy.night / "pos" / "coupons.csv"
    before = pos.read_bytes()
    summary = run(fresh_copy.out)
    assert summary.coupons is not None
    assert summary.coupons.issued_this_run == 0
    assert summary.coupons.already_issued == summary.coupons.total > 0
    assert pos.read_bytes() == before


def test_the_dry_run_plans_exactly_what_the_real_run_issued(tmp_path, sample_run):
    dry = run(tmp_path / "dry", dry_run=True)
    assert dry.dry_run and dry.coupons is None
    assert not (tmp_path / "dry" / "ledger.sqlite").exists()
    assert not (tmp_path / "dry" / AS_OF / "pos").exists()
    real = json.loads((sample_run.night / "summary.json").read_text())
    assert list(dry.campaigns) == real["campaigns"]
    assert dry.reach == real["reach"]


def test_analysis_outputs_and_offers_are_deterministic(tmp_path, sample_run):
    run(tmp_path / "again")
    for rel in ("analysis/segments.parquet", "analysis/rules.csv", "analysis/category_rules.csv"):
        assert (tmp_path / "again" / AS_OF / rel).read_bytes() == (sample_run.night / rel).read_bytes(), rel

    def crm(out: Path) -> pl.DataFrame:
        return pl.read_csv(out / AS_OF / "crm" / "offers.csv", infer_schema=False).drop("code")

    assert crm(tmp_path / "again").equals(crm(sample_run.out))


def test_a_rerun_with_another_seed_keeps_every_customers_group(fresh_copy):
    run(fresh_copy.out, seed=1)
    with sqlite3.connect(fresh_copy.ledger) as conn:
        both = conn.execute(
            "SELECT COUNT(*) FROM coupons c JOIN controls k ON k.offer_key = c.offer_key"
        ).fetchone()[0]
    assert both == 0
