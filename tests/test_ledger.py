from __future__ import annotations

import itertools
import os
import sqlite3
from datetime import date

import polars as pl
import pytest

from coupongen.errors import LedgerBusyError, LedgerError
from coupongen.ledger import SCHEMA_VERSION, Ledger
from coupongen.offers import OFFER_COLUMNS

AS_OF = date(2026, 11, 22)


def offers(n: int, campaign: str = "cs", as_of: date = AS_OF) -> pl.DataFrame:
    rows = [
        {
            "offer_key": f"{campaign}:{as_of}:C{i:03d}:0",
            "kind": "personal",
            "symbology": "code128",
            "as_of": as_of.isoformat(),
            "campaign": campaign,
            "offer_type": "cross_sell",
            "customer_id": f"C{i:03d}",
            "card_number": f"2770{i:09d}",
            "target_kind": "sku",
            "target": "S1",
            "reward_type": "percent",
            "reward_value": 15.0,
            "min_basket": 0.0,
            "valid_from": "2026-11-23",
            "valid_to": "2026-12-06",
            "max_uses": 1,
            "expected_cost": 0.1,
            "reason": "because",
        }
        for i in range(n)
    ]
    return pl.DataFrame(rows, schema=OFFER_COLUMNS)


def counter_codes():
    counter = itertools.count()

    def make(n: int) -> tuple[list[str], list[str]]:
        codes = [f"CODE{next(counter):06d}" for _ in range(n)]
        return codes, codes

    return make


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(tmp_path / "ledger.sqlite") as led:
        yield led


def test_new_ledger_has_current_schema_with_wal_and_foreign_keys(ledger):
    assert ledger.schema_version == SCHEMA_VERSION
    assert ledger.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ledger.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_issue_is_idempotent_per_offer_key(ledger):
    run = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    make = counter_codes()
    assert ledger.issue_coupons(offers(5), run=run, make_codes=make) == 5
    first = ledger.coupons(as_of=AS_OF)
    assert ledger.issue_coupons(offers(7), run=run, make_codes=make) == 2
    again = ledger.coupons(as_of=AS_OF)
    assert again.height == 7
    assert again.filter(pl.col("customer_id").is_in(first["customer_id"].implode()))["code"].to_list() == first["code"].to_list()


def test_colliding_codes_are_drawn_again(ledger):
    run = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    draws = iter([["DUP1", "DUP1", "DUP1"], ["A1", "A2", "A3"]])

    def make(n):
        codes = next(draws)[:n]
        return codes, codes

    # the first draw gives one usable code (the duplicates collide), the second fills the rest
    assert ledger.issue_coupons(offers(3), run=run, make_codes=make, batch_size=10) == 3
    assert sorted(ledger.coupons()["code"].to_list()) == ["A1", "A2", "DUP1"]


def test_code_space_exhaustion_is_a_clear_error(ledger):
    run = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")

    def make(n):
        return ["SAME"] * n, ["SAME"] * n

    with pytest.raises(LedgerError, match="could not draw unique codes"):
        ledger.issue_coupons(offers(2), run=run, make_codes=make)


def test_second_run_is_refused_while_first_holds_the_lock(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as a, Ledger.open(path) as b:
        run = a.start_run(job="nightly", as_of=AS_OF, config_hash="h")
        with pytest.raises(LedgerBusyError, match=rf"locked by run {run.run_id} \(pid {os.getpid()}"):
            b.start_run(job="nightly", as_of=AS_OF, config_hash="h")
        a.finish_run(run, status="succeeded")
        b.finish_run(b.start_run(job="nightly", as_of=AS_OF, config_hash="h"), status="succeeded")


def test_a_dead_holders_lock_is_taken_over_and_its_run_marked_failed(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as led:
        run = led.start_run(job="nightly", as_of=AS_OF, config_hash="h")
        dead_pid = 2**22 + 12345  # above the kernel's pid range: no such process
        led.conn.execute("UPDATE locks SET pid = ?", (dead_pid,))
        again = led.start_run(job="nightly", as_of=AS_OF, config_hash="h")
        runs = led.runs()
        assert runs.filter(pl.col("run_id") == run.run_id)["status"].item() == "failed"
        assert again.run_id == run.run_id + 1


def test_controls_are_recorded_once(ledger):
    run = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    assert ledger.record_controls(offers(3), run=run) == 3
    assert ledger.record_controls(offers(3), run=run) == 0
    assert ledger.controls(as_of=AS_OF).height == 3


def test_recent_offer_types_window(ledger):
    run = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    ledger.issue_coupons(offers(2, as_of=date(2026, 11, 20)), run=run, make_codes=counter_codes())
    ledger.issue_coupons(offers(1, campaign="b", as_of=AS_OF), run=run, make_codes=counter_codes())
    recent = ledger.recent_offer_types(since=date(2026, 11, 15), before=AS_OF).sort("customer_id")
    assert recent.to_dicts() == [
        {"customer_id": "C000", "offer_type": "cross_sell", "as_of": date(2026, 11, 20)},
        {"customer_id": "C001", "offer_type": "cross_sell", "as_of": date(2026, 11, 20)},
    ]


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "ledger.sqlite"
    Ledger.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LedgerError, match="newer than this coupongen understands"):
        Ledger.open(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "ledger.sqlite"
    path.write_text("this is not sqlite\n" * 100)
    with pytest.raises(LedgerError, match="not a usable coupon ledger"):
        Ledger.open(path)
