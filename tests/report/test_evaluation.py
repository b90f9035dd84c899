"""The latest evaluation of earlier nights: which one the night's report shows, how its money reads,
and the report and summary of a later night showing it."""

from __future__ import annotations

import json
from datetime import date

import polars as pl

from coupongen.inputs.loading import load_inputs
from coupongen.ledger import Ledger
from coupongen.loop import evaluate as ev
from coupongen.loop.evaluation_files import write_evaluation
from coupongen.report.evaluation import effect_text, latest_evaluation, return_text, whole_money
from coupongen.synthetic import simulate
from tests.conftest import AS_OF, NIGHTLY, SAMPLE, invoke

NIGHT = date.fromisoformat(AS_OF)


def _write(out, label: str, as_of: str, nights: list[str], rows: int = 1) -> None:
    folder = out / "evaluation" / label
    folder.mkdir(parents=True)
    doc = {"label": label, "as_of": as_of, "nights": nights, "campaigns": ["cs"], "margin_rate": 0.25,
           "currency": "USD", "headline": [{"campaign": "cs"}] * rows}  # fmt: skip
    (folder / "evaluation.json").write_text(json.dumps(doc))


def test_the_latest_evaluation_is_the_newest_made_before_the_night(tmp_path):
    assert latest_evaluation(tmp_path, "2026-12-01") is None
    _write(tmp_path, "2026-11-01", "2026-11-20", ["2026-11-01"])
    _write(tmp_path, "run-2", "2026-11-28", ["2026-11-08"])
    _write(tmp_path, "cs", "2026-11-28", ["2026-11-01", "2026-11-08"], rows=3)  # same day, more rows
    _write(tmp_path, "later", "2026-12-05", ["2026-11-15"])  # purchases after the night
    _write(tmp_path, "this-night", "2026-11-30", ["2026-12-01"])  # evaluates this very night
    (tmp_path / "evaluation" / "broken").mkdir()
    (tmp_path / "evaluation" / "broken" / "evaluation.json").write_text("{not json")
    found = latest_evaluation(tmp_path, "2026-12-01")
    assert found is not None
    assert (found["label"], found["as_of"], found["file"]) == (
        "cs",
        "2026-11-28",
        str(tmp_path / "evaluation" / "cs" / "evaluation.json"),
    )
    assert latest_evaluation(tmp_path, "2026-11-20") is None  # nothing made before that night


def test_money_and_returns_read_in_the_jobs_locale_and_currency():
    row = {"difference": 296.4, "ci_low": 172.2, "ci_high": 1420.6}
    assert effect_text(row, "USD", "en_US") == "+$296 (+172 to +1,421)"
    assert effect_text(row, "RUB", "ru_RU") == "+296\xa0₽ (+172 to +1\xa0421)"
    assert effect_text({**row, "ci_low": None, "ci_high": None}, "EUR", "de_DE") == "+296\xa0€"
    assert whole_money(-1204.4, "USD", "en_US") == "-$1,204"
    assert return_text(261.17, "en_US") == "261.2×"
    assert return_text(-0.66, "ru_RU") == "-0,7×"
    assert return_text(None, "en_US") == "n/a"


def test_a_later_nights_report_and_summary_show_the_latest_evaluation_and_the_previous_night(fresh_copy):
    # The sample night found no evaluation before it, and says so in one line.
    first = (fresh_copy.night / "report.html").read_text()
    assert "No evaluation of earlier nights yet" in first and "Latest evaluation" not in first
    assert json.loads((fresh_copy.night / "summary.json").read_text())["evaluation"] is None
    # A week of purchases after the sample night, evaluated as evaluate does ...
    inputs = load_inputs(SAMPLE / "transactions.csv", SAMPLE / "products.csv", SAMPLE / "customers.csv")
    with Ledger.open(fresh_copy.ledger) as led:
        coupons, controls = led.coupons(as_of=NIGHT), led.controls(as_of=NIGHT)
        uses = led.redemption_counts(as_of=NIGHT)
    tx, products = inputs.transactions.kept, inputs.products.kept
    sim = simulate.simulate_returns(
        tx, products, inputs.customers.kept, coupons, controls, as_of=NIGHT, effect=0.3, seed=1
    )
    week = sim.purchases.filter(pl.col("ts") < pl.datetime(2026, 11, 29))
    result = ev.evaluate(coupons, controls, uses, week, products, history=tx)
    folder = fresh_copy.out / "evaluation" / AS_OF
    write_evaluation(result, folder, title="t", label=AS_OF, currency="RUB", locale="ru_RU")
    # ... then the night of 29 November, from the command line.
    later = invoke(
        "run", "--config", str(NIGHTLY), "--out", str(fresh_copy.out), "--as-of", "2026-11-29", "-q", "--json"
    )
    assert later.exit_code == 0, later.output
    evaluation = json.loads(later.stdout)["evaluation"]
    assert evaluation is not None
    assert (evaluation["as_of"], evaluation["nights"]) == ("2026-11-28", [AS_OF])
    assert evaluation["campaigns"] == sorted(coupons["campaign"].unique().to_list())
    assert len(evaluation["headline"]) == result.headline.height
    report = (fresh_copy.out / "2026-11-29" / "report.html").read_text()
    # The report links the previous night and compares with it.
    assert '<a href="../2026-11-22/report.html">2026-11-22</a>' in report
    assert "Compared with the previous run (2026-11-22)" in report
    assert f"Latest evaluation of earlier nights: {AS_OF}, as of 2026-11-28</h2>" in report
    assert f'<a href="../evaluation/{AS_OF}/evaluation.json">' in report
    assert "No evaluation of earlier nights yet" not in report
    pooled = result.headline.filter(pl.col("campaign") == "all").row(0, named=True)
    assert f"<td>all</td><td>{AS_OF}</td><td>{pooled['treated_n']:,}".replace(",", "\xa0") in report
    assert "The validity window was not over on 2026-11-28" in report
