"""A coupon voided while its night runs is never exported as live by that night: the POS files are
read and published under the ledger's write lock, so a void lands before (void in the files) or
waits until they are published (the next export carries it).
"""

from __future__ import annotations

import sqlite3
from datetime import date

import polars as pl

from coupongen import pipeline
from coupongen.config import load_job
from coupongen.delivery import pos
from coupongen.ledger import Ledger

AS_OF = date(2026, 11, 22)


def _night(hostile_run, tmp_path):
    job = load_job(hostile_run.job)
    return job, pipeline.resolve_settings(job, as_of=AS_OF, out_dir=tmp_path / "out")


def _codes(path) -> list[str]:
    return pl.read_csv(path, infer_schema_length=0)["code"].to_list()


def test_a_code_voided_while_the_night_runs_is_not_exported_as_live(hostile_run, tmp_path, monkeypatch):
    job, settings = _night(hostile_run, tmp_path)
    real = pipeline.write_stamp
    voided: list[str] = []

    def void_meanwhile(*args, **kwargs):
        # What `coupongen ledger void CODE` does from another shell after the coupons were issued.
        with Ledger.open(settings.ledger_path, create=False) as other:
            code = other.coupons(as_of=AS_OF)["code"][0]
            assert other.void_coupons(codes=[code]) == 1
        voided.append(code)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "write_stamp", void_meanwhile)
    pipeline.run_job(job, settings)
    folder = settings.run_dir / "pos"
    assert voided and voided[0] not in _codes(folder / pos.SNAPSHOT_FILE)
    assert voided[0] not in _codes(folder / pos.DELTA_FILE)
    assert _codes(folder / pos.REVOCATIONS_FILE) == voided


def test_a_void_waits_while_the_pos_files_are_published(hostile_run, tmp_path, monkeypatch):
    job, settings = _night(hostile_run, tmp_path)
    real = pos.publish_pos
    refused: list[str] = []

    def void_during_publish(*args, **kwargs):
        conn = sqlite3.connect(settings.ledger_path, timeout=0)
        try:
            conn.execute("UPDATE coupons SET status = 'void' WHERE coupon_id = 1")
        except sqlite3.OperationalError as e:
            refused.append(str(e))
        finally:
            conn.close()
        return real(*args, **kwargs)

    monkeypatch.setattr(pos, "publish_pos", void_during_publish)
    pipeline.run_job(job, settings)
    assert refused == ["database is locked"]
    with Ledger.open(settings.ledger_path, create=False) as ledger:
        assert ledger.revoked(as_of=AS_OF).height == 0
