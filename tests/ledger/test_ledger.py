from __future__ import annotations

import itertools
import os
import random
import shutil
import socket
import sqlite3
from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coupongen.errors import LedgerBusyError, LedgerError
from coupongen.ledger import COUPON_COLUMNS, NO_CHANNEL, SCHEMA_VERSION, Ledger
from coupongen.ledger.migrations import MIGRATIONS
from coupongen.offers.planning import OFFER_COLUMNS
from tests.conftest import run_nightly

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
    assert (
        again.filter(pl.col("customer_id").is_in(first["customer_id"].implode()))["code"].to_list()
        == first["code"].to_list()
    )


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


def test_each_coupon_keeps_the_segment_it_was_issued_with(ledger):
    run = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    make = counter_codes()
    segmented = offers(2).with_columns(pl.Series("segment", ["champions", None]))
    ledger.issue_coupons(segmented, run=run, make_codes=make)
    # offers without a segment column are issued too, with no segment recorded
    ledger.issue_coupons(offers(1, campaign="b"), run=run, make_codes=make)
    got = ledger.coupons(as_of=AS_OF).select("campaign", "customer_id", "segment", "channel")
    assert got.rows() == [
        ("b", "C000", None, None),
        ("cs", "C000", "champions", None),
        ("cs", "C001", None, None),
    ]


def test_channels_are_recorded_per_coupon_and_a_coupon_that_reaches_nobody_has_none(ledger):
    run = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    make = counter_codes()
    ledger.issue_coupons(offers(4), run=run, make_codes=make)
    ledger.issue_coupons(offers(2, campaign="b"), run=run, make_codes=make)
    ledger.issue_coupons(offers(1, as_of=date(2026, 11, 21)), run=run, make_codes=make)
    ledger.void_coupons(codes=[ledger.coupons(as_of=AS_OF, campaigns=["cs"])["code"][3]])
    chosen = pl.DataFrame(
        {"customer_id": ["C000", "C001", "C002", "C003"], "channel": ["email", "sms", None, "app"]},
        schema={"customer_id": pl.String, "channel": pl.String},
    )
    ledger.record_channels(chosen, as_of=AS_OF, campaigns=["cs"])
    channels = ledger.coupons().select("campaign", "as_of", "customer_id", "channel").rows()
    assert channels == [
        ("b", "2026-11-22", "C000", None),  # not one of the campaigns delivered
        ("b", "2026-11-22", "C001", None),
        ("cs", "2026-11-21", "C000", None),  # another night
        ("cs", "2026-11-22", "C000", "email"),
        ("cs", "2026-11-22", "C001", "sms"),
        ("cs", "2026-11-22", "C002", NO_CHANNEL),  # unreachable
        ("cs", "2026-11-22", "C003", NO_CHANNEL),  # void before it was sent
    ]
    # a rerun plans the same delivery and records the same; a coupon voided after it went out
    # keeps the channel that carried it
    ledger.record_channels(chosen, as_of=AS_OF, campaigns=["cs"])
    assert ledger.coupons().select("campaign", "as_of", "customer_id", "channel").rows() == channels
    ledger.void_coupons(codes=[ledger.coupons(as_of=AS_OF, campaigns=["cs"])["code"][0]])
    ledger.record_channels(chosen.filter(pl.col("customer_id") != "C000"), as_of=AS_OF, campaigns=["cs"])
    assert ledger.coupons().select("campaign", "as_of", "customer_id", "channel").rows() == channels


def test_the_nightly_run_records_every_coupons_segment_and_channel_and_a_rerun_the_same(sample_run, tmp_path):
    with Ledger.open(sample_run.ledger) as led:
        first = led.coupons().select("offer_key", "segment", "channel")
    assert first.height > 0
    assert first["segment"].null_count() == 0 and first["channel"].null_count() == 0
    # the sample night reaches some customers by each channel and some by none
    assert set(first["channel"]) == {"email", "sms", "app", NO_CHANNEL}
    out = tmp_path / "out"
    shutil.copytree(sample_run.out, out)
    with Ledger.open(out / "ledger.sqlite") as led:
        led.conn.execute("UPDATE coupons SET channel = NULL")
    assert run_nightly(out).exit_code == 0
    with Ledger.open(out / "ledger.sqlite") as led:
        assert led.coupons().select("offer_key", "segment", "channel").equals(first)


def test_second_run_is_refused_while_first_holds_the_lock(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as a, Ledger.open(path) as b:
        run = a.start_run(job="nightly", as_of=AS_OF, config_hash="h")
        with pytest.raises(LedgerBusyError) as e:
            b.start_run(job="nightly", as_of=AS_OF, config_hash="h")
        since = a.lock_holder()["acquired_at"]
        assert str(e.value) == (
            f"{path}: ledger is locked by run {run.run_id} (pid {os.getpid()} on "
            f"{socket.gethostname()}, since {since}) of job nightly for 2026-11-22; "
            "wait for it to finish"
        )
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


def test_a_lock_held_on_another_host_says_how_to_release_it(ledger):
    run = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    ledger.conn.execute("UPDATE locks SET host = 'othermachine', pid = 1, acquired_at = 'then'")
    with pytest.raises(LedgerBusyError) as e:
        ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    assert str(e.value).endswith(
        f"ledger is locked by run {run.run_id} (pid 1 on othermachine, since then) of job nightly "
        f"for 2026-11-22; wait for it to finish, or if it died on othermachine, release the lock "
        f"with 'coupongen ledger unlock {run.run_id}'"
    )
    ledger.break_lock(run.run_id)
    assert ledger.lock_holder() is None
    assert ledger.runs()["status"].to_list() == ["failed"]
    ledger.finish_run(ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h"), status="succeeded")


def test_a_live_holder_on_this_host_is_not_unlocked_without_force(ledger):
    run = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    with pytest.raises(LedgerBusyError, match=f"run {run.run_id} is still running as pid {os.getpid()}"):
        ledger.break_lock(run.run_id)
    with pytest.raises(LedgerError, match=rf"run 7 does not hold the lock \(run {run.run_id} holds it\)"):
        ledger.break_lock(7)
    ledger.break_lock(run.run_id, force=True)
    assert ledger.lock_holder() is None


def test_mark_issued_stamps_the_run(ledger):
    run = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    assert ledger.runs()["issued_at"].to_list() == [None]
    ledger.mark_issued(run)
    assert ledger.runs()["issued_at"].to_list()[0] is not None
    assert ledger.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # back to NORMAL


def test_runs_and_totals_count_what_each_run_recorded(ledger):
    first = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    ledger.issue_coupons(offers(3), run=first, make_codes=counter_codes())
    ledger.record_controls(offers(2, campaign="hold"), run=first)
    ledger.finish_run(first, status="succeeded")
    again = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    assert ledger.issue_coupons(offers(3), run=again, make_codes=counter_codes()) == 0
    ledger.finish_run(again, status="succeeded")
    runs = ledger.runs()
    assert runs.select("run_id", "status", "coupons", "controls").rows() == [
        (1, "succeeded", 3, 2),
        (2, "succeeded", 0, 0),
    ]
    assert ledger.totals() == {
        "runs": {"succeeded": 2},
        "coupons_by_kind": {"personal": 3},
        "coupons_by_status": {"issued": 3},
        "controls": {"total": 2},
        "redemptions": {},
        "refunds": {},
        "referral_credits": {"total": 0},
    }


def test_find_coupon_by_code_or_barcode_key_with_its_redemptions(ledger):
    run = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")

    def make(n):
        return (
            [f"C{i}" for i in range(n)],
            [f"(255)401234500001600{i}(17)261206" for i in range(n)],
            [f"401234500001600{i}" for i in range(n)],
        )

    ledger.issue_coupons(offers(2), run=run, make_codes=make)
    coupon_id = ledger.find_coupon(code="C1")["coupon_id"]
    for at, status in (("2026-11-25T10:00:00", "accepted"), ("2026-11-26T10:00:00", "rejected")):
        ledger.conn.execute(
            "INSERT INTO redemptions (code, coupon_id, redeemed_at, status, imported_at) "
            "VALUES ('C1', ?, ?, ?, 'now')",
            (coupon_id, at, status),
        )
    found = ledger.find_coupon(symbology="code128", key="4012345000016001")
    assert found is not None and found["code"] == "C1"
    assert (found["uses"], found["last_used_at"]) == (1, "2026-11-25T10:00:00")
    assert ledger.find_coupon(code="C0")["uses"] == 0
    assert ledger.find_coupon(code="nope") is None


def test_a_barcode_key_is_unique_even_when_the_value_differs(ledger):
    # The same GCN serial under another expiry date is the same coupon identity: drawn again.
    run = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    draws = iter(
        [
            (
                ["A1", "A2"],
                ["(255)40123450000161(17)261206", "(255)40123450000161(17)261207"],
                ["40123450000161", "40123450000161"],
            ),
            (["A3"], ["(255)40123450000162(17)261207"], ["40123450000162"]),
        ]
    )
    assert ledger.issue_coupons(offers(2), run=run, make_codes=lambda n: next(draws)) == 2
    assert sorted(ledger.conn.execute("SELECT barcode_key FROM coupons").fetchall()) == [
        ("40123450000161",),
        ("40123450000162",),
    ]


def test_a_failing_batch_is_rolled_back_and_earlier_batches_stay(ledger):
    run = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    make = counter_codes()
    calls = []

    def flaky(n):
        calls.append(n)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return make(n)

    with pytest.raises(RuntimeError):
        ledger.issue_coupons(offers(5), run=run, make_codes=flaky, batch_size=2)
    assert ledger.coupons()["customer_id"].to_list() == ["C000", "C001"]
    assert ledger.issue_coupons(offers(5), run=run, make_codes=make, batch_size=2) == 3


def test_a_null_in_a_required_column_is_an_error_not_a_silent_skip(ledger):
    run = ledger.start_run(job="nightly", as_of=AS_OF, config_hash="h")
    bad = offers(2).with_columns(
        pl.when(pl.col("customer_id") == "C001").then(None).otherwise(pl.col("reason")).alias("reason")
    )
    with pytest.raises(
        LedgerError, match=r"cannot record coupons: NOT NULL constraint failed: coupons\.reason"
    ):
        ledger.issue_coupons(bad, run=run, make_codes=counter_codes())


# --- schema migration ------------------------------------------------------------------------------


V1_COUPON_COLUMNS = COUPON_COLUMNS[: COUPON_COLUMNS.index("status")]
"""The coupon columns version 1 wrote (status took its default)."""


def make_v1_ledger(path) -> None:
    """A ledger as version 1 of coupongen left it, with a run, coupons, a control and a lock."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for statement in MIGRATIONS[1].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO runs VALUES (1, 'nightly', '2026-11-21', 'h', '2026-11-21T01:00:00+00:00', "
        "'2026-11-21T01:05:00+00:00', 'succeeded', '{}')"
    )
    fields = ", ".join(V1_COUPON_COLUMNS)
    for i, (symbology, value) in enumerate((("ean13", "9912345678909"), ("code128", "XCODE1"))):
        conn.execute(
            f"INSERT INTO coupons ({fields}, issued_at) VALUES "
            f"(?, 'personal', ?, ?, ?, 1, '2026-11-21', 'cs', 'cross_sell', ?, NULL, 'sku', 'S1', "
            "'percent', 15.0, 0.0, '2026-11-22', '2026-12-05', 1, 0.1, 'because', "
            "'2026-11-21T01:01:00+00:00')",
            (f"cs:2026-11-21:C{i:03d}:0", f"XCODE{i}", value, symbology, f"C{i:03d}"),
        )
    conn.execute(
        "INSERT INTO controls VALUES (1, 'cs:2026-11-21:C9:0', 1, '2026-11-21', 'cs', "
        "'cross_sell', 'C9', 'sku', 'S1')"
    )
    conn.close()


def test_a_v1_ledger_migrates_to_the_current_schema_with_its_data(tmp_path):
    path = tmp_path / "ledger.sqlite"
    make_v1_ledger(path)
    with Ledger.open(path) as led:
        assert led.schema_version == SCHEMA_VERSION == 6
        assert len(led.ledger_id) == 32  # a ledger from before ids gets one when migrated
        coupons = led.coupons()
        assert coupons.select("offer_key", "code", "barcode_value", "symbology", "status").rows() == [
            ("cs:2026-11-21:C000:0", "XCODE0", "9912345678909", "ean13", "issued"),
            ("cs:2026-11-21:C001:0", "XCODE1", "XCODE1", "code128", "issued"),
        ]
        assert led.conn.execute("SELECT barcode_key FROM coupons ORDER BY coupon_id").fetchall() == [
            ("9912345678909",),
            ("XCODE1",),
        ]
        assert led.controls()["customer_id"].to_list() == ["C9"]
        assert led.runs().select("run_id", "status", "coupons", "controls", "issued_at").rows() == [
            (1, "succeeded", 2, 1, None)
        ]
        assert led.find_coupon(symbology="ean13", key="9912345678909")["code"] == "XCODE0"
        indexes = {r[0] for r in led.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"coupons_barcode_key", "coupons_night", "redemptions_coupon"} <= indexes
        assert not {"coupons_barcode", "coupons_customer", "coupons_campaign"} & indexes
        assert led.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # the migrated ledger keeps issuing: rerun of the old night finds its coupons
        run = led.start_run(job="nightly", as_of=date(2026, 11, 21), config_hash="h")
        old = offers(2, as_of=date(2026, 11, 21))
        assert led.issue_coupons(old, run=run, make_codes=counter_codes()) == 0
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            led.conn.execute(
                "INSERT INTO redemptions (code, coupon_id, redeemed_at, status, imported_at) "
                "VALUES ('x', 999, 'now', 'accepted', 'now')"
            )
    with Ledger.open(path) as again:  # opening a current ledger changes nothing
        assert again.schema_version == SCHEMA_VERSION and again.coupons().height == 2


def test_a_v2_ledger_migrates_with_no_segment_or_channel_for_its_coupons(tmp_path):
    path = tmp_path / "ledger.sqlite"
    make_v1_ledger(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[2].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    with Ledger.open(path) as led:
        assert led.schema_version == SCHEMA_VERSION == 6
        assert len(led.ledger_id) == 32  # a ledger from before ids gets one when migrated
        old = led.coupons(as_of=date(2026, 11, 21))
        assert old.select("code", "segment", "channel").rows() == [
            ("XCODE0", None, None),
            ("XCODE1", None, None),
        ]
        # the old night's coupons can still be delivered; the new ones record both
        run = led.start_run(job="nightly", as_of=AS_OF, config_hash="h")
        led.issue_coupons(
            offers(1).with_columns(pl.lit("loyal").alias("segment")), run=run, make_codes=counter_codes()
        )
        chosen = pl.DataFrame({"customer_id": ["C000"], "channel": ["sms"]})
        led.record_channels(chosen, as_of=AS_OF, campaigns=["cs"])
        assert led.coupons(as_of=AS_OF).select("segment", "channel").rows() == [("loyal", "sms")]


# --- no duplicates, whatever the runs ------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    nights=st.lists(
        st.tuples(st.integers(0, 2), st.integers(1, 40), st.integers(1, 25)), min_size=1, max_size=6
    ),
    seed=st.integers(0, 2**16),
)
def test_no_duplicates_across_runs(tmp_path_factory, nights, seed):
    """Runs over overlapping offers, small code spaces (collisions) and small batches: every offer
    once, every code and barcode once."""
    rnd = random.Random(seed)
    path = tmp_path_factory.mktemp("prop") / "ledger.sqlite"
    wanted: set[str] = set()
    with Ledger.open(path) as led:
        for day, n, batch in nights:
            as_of = date(2026, 11, 20 + day)
            run = led.start_run(job="nightly", as_of=as_of, config_hash="h")

            def make(k):
                codes = [f"K{rnd.randrange(3000):04d}" for _ in range(k)]
                values = [f"99{rnd.randrange(4000):011d}" for _ in range(k)]
                return codes, values

            frame = offers(n, as_of=as_of)
            led.issue_coupons(frame, run=run, make_codes=make, batch_size=batch)
            led.finish_run(run, status="succeeded")
            wanted |= set(frame["offer_key"])
        coupons = led.coupons()
    assert sorted(coupons["offer_key"]) == sorted(wanted)
    assert coupons["code"].n_unique() == coupons.height
    assert coupons["barcode_value"].n_unique() == coupons.height


def test_a_v5_ledger_migrates_to_public_coupons_and_reminders_keeping_its_references(tmp_path):
    path = tmp_path / "ledger.sqlite"
    make_v1_ledger(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for version in (2, 3, 4, 5):
        for statement in MIGRATIONS[version].split(";"):
            if statement.strip():
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 5")
    conn.execute(
        "INSERT INTO redemptions (code, coupon_id, redeemed_at, status, imported_at, source_file, line) "
        "VALUES ('XCODE1', 2, '2026-11-25', 'accepted', 'now', 'r.csv', 2)"
    )
    ledger_id = conn.execute("SELECT value FROM meta").fetchone()[0]
    conn.close()
    with Ledger.open(path) as led:
        assert led.schema_version == SCHEMA_VERSION == 6
        assert led.ledger_id == ledger_id
        assert led.coupons().select("code", "kind", "customer_id", "status").rows() == [
            ("XCODE0", "personal", "C000", "issued"),
            ("XCODE1", "personal", "C001", "issued"),
        ]
        assert led.find_coupon(code="XCODE1")["uses"] == 1  # the redemption still points at it
        assert led.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert led.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        indexes = {r[0] for r in led.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"coupons_barcode_key", "coupons_night", "coupons_expiry", "reminders_night"} <= indexes
        # a public coupon has no holder; a personal one must have one
        insert = (
            "INSERT INTO coupons (offer_key, kind, code, barcode_value, symbology, run_id, as_of, campaign, "
            "offer_type, customer_id, target_kind, reward_type, reward_value, min_basket, valid_from, "
            "valid_to, max_uses, expected_cost, reason, issued_at) VALUES (?, ?, ?, ?, 'code128', 1, "
            "'2026-11-21', 'flyer', 'cross_sell', ?, 'basket', 'percent', 5, 0, '2026-11-22', "
            "'2026-12-05', 100, 0, 'flyer', 'now')"
        )
        led.conn.execute(insert, ("flyer:public", "public", "FLYER", "FLYER", None))
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            led.conn.execute(insert, ("flyer:x", "personal", "FLYER2", "FLYER2", None))
        led.record_reminders(
            pl.DataFrame({"code": ["XCODE0"], "customer_id": ["C000"], "channel": ["email"]}),
            as_of=date(2026, 12, 3),
        )
        assert led.reminders().select("code", "as_of").rows() == [("XCODE0", "2026-12-03")]
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            led.conn.execute(
                "INSERT INTO reminders (coupon_id, customer_id, as_of, channel, reminded_at) "
                "VALUES (999, 'C', 'd', 'email', 'now')"
            )
