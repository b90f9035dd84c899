"""Whole nights through the Python API (`coupongen.run_job`): reruns, dry runs and determinism.

The command line adds nothing to these; its own tests (tests/cli/) pin exit codes and messages.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date
from pathlib import Path

import polars as pl
import pytest

import coupongen
from coupongen.ledger import NO_CHANNEL, Ledger
from coupongen.offers import preview
from coupongen.pipeline import RunResult
from coupongen.results import RunSummary
from tests.conftest import AS_OF, NIGHTLY

NIGHT = date.fromisoformat(AS_OF)


def run(out: Path, *, seed: int | None = None, dry_run: bool = False) -> RunSummary:
    return run_result(out, seed=seed, dry_run=dry_run).summary


def run_result(out: Path, *, seed: int | None = None, dry_run: bool = False) -> RunResult:
    job = coupongen.load_job(NIGHTLY)
    settings = coupongen.resolve_settings(job, as_of=NIGHT, out_dir=out, seed=seed)
    return coupongen.run_job(job, settings, dry_run=dry_run)


@pytest.fixture(scope="module")
def dry_run(sample_dry_run) -> RunResult:
    """The sample night planned as a dry run (what `coupongen run --dry-run` and `campaign preview` do)."""
    return sample_dry_run.result


def test_a_rerun_of_the_same_night_issues_nothing_and_republishes_the_same_file(fresh_copy):
    pos = fresh_copy.night / "pos" / "coupons.csv"
    before = pos.read_bytes()
    summary = run(fresh_copy.out)
    assert summary.coupons is not None
    assert summary.coupons.issued_this_run == 0
    assert summary.coupons.already_issued == summary.coupons.total > 0
    assert pos.read_bytes() == before


def test_the_dry_run_plans_exactly_what_the_real_run_issued(dry_run, sample_run):
    dry = dry_run.summary
    out = dry_run.settings.out_dir
    assert dry.dry_run and dry.coupons is None
    assert not (out / "ledger.sqlite").exists()
    assert not (out / AS_OF / "pos").exists()
    real = json.loads((sample_run.night / "summary.json").read_text())
    assert list(dry.campaigns) == real["campaigns"]
    assert dry.reach == real["reach"]


def test_analysis_outputs_and_offers_are_deterministic(seeded_run, sample_run):
    # Two runs of the same night, each into its own folder and ledger: the golden test's (through
    # the Python API) and the command line's; only the codes are drawn from another entropy source.
    again = seeded_run
    for rel in ("analysis/segments.parquet", "analysis/rules.csv", "analysis/category_rules.csv"):
        assert (again / AS_OF / rel).read_bytes() == (sample_run.night / rel).read_bytes(), rel

    def crm(out: Path) -> pl.DataFrame:
        return pl.read_csv(out / AS_OF / "crm" / "offers.csv", infer_schema=False).drop("code")

    assert crm(again).equals(crm(sample_run.out))


def test_a_rerun_with_another_seed_keeps_every_customers_group(fresh_copy):
    run(fresh_copy.out, seed=1)
    with sqlite3.connect(fresh_copy.ledger) as conn:
        both = conn.execute(
            "SELECT COUNT(*) FROM coupons c JOIN controls k ON k.offer_key = c.offer_key"
        ).fetchone()[0]
    assert both == 0


def _report_campaigns(report: str) -> dict[str, dict[str, int]]:
    """The campaign table of report.html: candidates, offers and holdout per campaign."""
    section = report[report.index("<h2>Campaigns</h2>") :]
    table = section[: section.index("</table>")]
    header = re.findall(r"<th>(.*?)</th>", table)
    found = {}
    for row in re.findall(r"<tr><td>(.*?)</td></tr>", table):
        cells = dict(zip(header, row.split("</td><td>"), strict=True))
        found[cells["campaign"]] = {
            k: int(cells[k].replace(",", "")) for k in ("candidates", "offers", "holdout")
        }
    return found


def test_preview_dry_run_run_and_report_agree_on_every_campaigns_figures(dry_run, sample_run):
    # candidates, offers, holdout, sent and reached per campaign, as the glossary defines them,
    # from the four places an operator reads them on the same night.
    plan, channels = dry_run.plan, dry_run.channels
    assert dry_run.job is not None
    funnel = {r["campaign"]: r for r in dry_run.summary.campaigns}
    segments = preview.by_segment(dry_run.job, dry_run.analysis.segmented, plan)
    by_segment = {
        r["campaign"]: r
        for r in segments.group_by("campaign").agg(pl.col("sent", "holdout").sum()).to_dicts()
    }
    budgets = {r["campaign"]: r for r in preview.budgets(plan).to_dicts()}
    delivered = preview.by_channel(plan, channels).filter(pl.col("channel") != "none")
    preview_sent = dict(delivered.group_by("campaign").agg(pl.col("coupons").sum()).iter_rows())

    real = json.loads((sample_run.night / "summary.json").read_text())
    real_funnel = {r["campaign"]: r for r in real["campaigns"]}
    report = _report_campaigns((sample_run.night / "report.html").read_text())
    with Ledger.open(sample_run.ledger) as ledger:
        coupons = ledger.coupons(as_of=NIGHT).filter(pl.col("status") == "issued")
        controls = ledger.controls(as_of=NIGHT)
    issued = dict(coupons.group_by("campaign").len().iter_rows())
    held = dict(controls.group_by("campaign").len().iter_rows())
    carried = coupons.filter(pl.col("channel") != NO_CHANNEL)
    sent = dict(carried.group_by("campaign").len().iter_rows())
    reached = dict(carried.group_by("campaign").agg(pl.col("customer_id").n_unique()).iter_rows())

    assert set(funnel) == set(real_funnel) == set(report) == set(issued) and len(funnel) >= 8
    for name, row in funnel.items():
        figures = {
            "candidates": {row["candidates"], real_funnel[name]["candidates"], report[name]["candidates"]},
            "offers": {
                row["treated"],
                by_segment[name]["sent"],
                budgets[name]["sent"],
                real_funnel[name]["treated"],
                report[name]["offers"],
                issued[name],
            },
            "holdout": {
                row["control"],
                by_segment[name]["holdout"],
                budgets[name]["holdout"],
                real_funnel[name]["control"],
                report[name]["holdout"],
                held.get(name, 0),
            },
            "sent": {preview_sent.get(name, 0), sent.get(name, 0)},
            "reached": {preview_sent.get(name, 0), reached.get(name, 0)},
        }
        assert {k: len(v) for k, v in figures.items()} == dict.fromkeys(figures, 1), (name, figures)
    # the night's customers reached per channel: dry run, real run and the ledger's channels
    by_channel = dict(carried.group_by("channel").agg(pl.col("customer_id").n_unique()).iter_rows())
    for channel in ("email", "sms", "app"):
        assert dry_run.summary.reach[channel] == real["reach"][channel] == by_channel[channel] > 0


def test_a_preview_after_the_night_shows_the_same_night_as_before_it(dry_run, fresh_copy):
    # After the real run every offer is already issued; the preview must still count them, not 0.
    after = run_result(fresh_copy.out, dry_run=True)
    assert after.plan is not None and after.plan.offers.is_empty() and not after.plan.earlier.is_empty()

    def figures(result: RunResult) -> tuple[list[dict], ...]:
        assert result.job is not None and result.analysis is not None and result.plan is not None
        return (
            preview.by_segment(result.job, result.analysis.segmented, result.plan).to_dicts(),
            preview.by_channel(result.plan, result.channels).to_dicts(),
            preview.budgets(result.plan).to_dicts(),
            list(result.summary.offers_by_channel),
        )

    assert figures(after) == figures(dry_run)
