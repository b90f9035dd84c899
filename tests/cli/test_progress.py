"""What an operator sees while a night runs: stage lines with durations, progress of long stages."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import date

from rich.console import Console

from coupongen.cli.progress_display import LiveDisplay, LogLines
from coupongen.config import load_job
from coupongen.progress import Clock, Recorder
from coupongen.synthetic.sample import generate_sample, write_sample
from tests.conftest import AS_OF, NIGHTLY


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_under_cron_each_stage_logs_its_start_end_duration_and_every_tenth():
    lines = LogLines(verbose=0)
    logger = logging.getLogger("coupongen")
    keep, handlers, level = _Keep(), logger.handlers[:], logger.level
    logger.handlers[:], logger.level = [keep], logging.DEBUG
    try:
        clock = Clock(lines)
        clock.start("issue", 100)
        for _ in range(20):
            clock.advance("issue", 5)
        lines.note("cross_sell: 80 new coupons")
        clock.done("issue", "100 new coupons")
    finally:
        logger.handlers[:], logger.level = handlers, level
    messages = [r.getMessage() for r in keep.records]
    assert messages[0] == "stage=issue started items=100"
    assert messages[1:10] == [f"stage=issue progress {p}/100 ({p}%)" for p in range(10, 100, 10)]
    assert keep.records[10].levelno == logging.DEBUG  # a campaign's line needs -v
    assert re.fullmatch(r"stage=issue done seconds=\d+\.\d 100 new coupons", messages[11])
    assert len(messages) == 12


def test_on_a_terminal_a_finished_stage_leaves_a_line_with_its_duration():
    out = io.StringIO()
    display = LiveDisplay(verbose=1, console=Console(file=out, width=100, force_terminal=False))
    with display:
        clock = Clock(display)
        clock.start("images", 10)
        clock.advance("images", 10)
        display.note("cross_sell: 10 offers")
        clock.done("images", "10 barcode images")
    text = out.getvalue()
    assert "cross_sell: 10 offers" in text
    assert re.search(r"done images +\d+\.\d s  10 barcode images", text)


def test_a_dry_run_reports_every_stage_in_order_and_all_items_of_the_long_ones(sample_dry_run):
    job = load_job(NIGHTLY)
    result, recorder = sample_dry_run.result, sample_dry_run.recorder
    stages = [e[1] for e in recorder.events if e[0] == "done"]
    assert stages == ["load", "analyse", "plan", "deliver"] == list(result.summary.timings)
    (total,) = [e[2] for e in recorder.events if e[:2] == ("start", "deliver")]
    assert sum(e[2] for e in recorder.events if e[:2] == ("advance", "deliver")) == total > 0
    notes = [e[1] for e in recorder.events if e[0] == "note"]
    assert [n.split(":")[0] for n in notes] == [c.name for c in job.campaigns]
    summary = result.summary.to_json()
    assert summary["version"] == "0.1.0"
    assert summary["input_range"] == {"first": "2025-11-22", "last": "2026-11-21"}


def test_quiet_prints_one_result_line(sample_run):
    (line,) = sample_run.result.stdout.splitlines()
    assert re.fullmatch(
        rf"coupongen nightly {AS_OF}: [\d,]+ coupons \([\d,]+ new\), [\d,]+ in holdout, "
        r"[\d,]+ customers reached; .*summary\.json",
        line,
    )
    summary = json.loads((sample_run.night / "summary.json").read_text())
    assert line.startswith(f"coupongen nightly {AS_OF}: {summary['coupons']['total']:,} coupons")


# --json prints the summary and nothing else: tests/cli/test_cli_run.py, on the dry run it previews.


def test_sample_data_reports_each_step_and_every_line_written(tmp_path):
    recorder = Recorder()
    data = generate_sample(40, seed=3, as_of=date(2026, 11, 22), days=28, progress=recorder)
    write_sample(data, tmp_path, bad_rows=2, progress=recorder)
    done = [e[1] for e in recorder.events if e[0] == "done"]
    assert done == ["catalogue", "shoppers", "baskets", "receipts", "customers", "write"]
    assert recorder.events[-1] == ("done", "write", "3 CSV files")
    assert ("start", "write", data.transactions.height) in recorder.events
    written = sum(e[2] for e in recorder.events if e[:2] == ("advance", "write"))
    assert written == data.transactions.height
    assert ("done", "customers", "40 card holders") in recorder.events
