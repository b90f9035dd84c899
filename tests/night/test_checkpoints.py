from __future__ import annotations

import os
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from coupongen.night.checkpoints import load_stage, save_stage, stage_dir
from coupongen.night.fingerprint import NightKey, inputs_fingerprint

KEY = NightKey(inputs="a" * 32, settings="b" * 32, version="1.0")


def test_a_checkpoint_loads_back_under_its_own_key_only(tmp_path: Path) -> None:
    frame = pl.DataFrame({"customer_id": ["C1", "C2"], "rules": [["s1"], ["s2", "s3"]]})
    save_stage(tmp_path, "analysis", KEY, {"frame": frame}, {"n": 2})
    assert sorted(p.name for p in stage_dir(tmp_path, "analysis").iterdir()) == [
        "_SUCCESS",
        "frame.parquet",
        "key.json",
        "meta.json",
    ]
    frames, meta = load_stage(tmp_path, "analysis", KEY, ("frame",)) or ({}, {})
    assert_frame_equal(frames["frame"], frame)
    assert meta == {"n": 2}
    other = NightKey(inputs="c" * 32, settings=KEY.settings, version=KEY.version)
    assert load_stage(tmp_path, "analysis", other, ("frame",)) is None


def test_a_checkpoint_without_its_marker_or_a_frame_counts_as_none(tmp_path: Path) -> None:
    save_stage(tmp_path, "analysis", KEY, {"frame": pl.DataFrame({"x": [1]})}, {})
    (stage_dir(tmp_path, "analysis") / "frame.parquet").unlink()
    assert load_stage(tmp_path, "analysis", KEY, ("frame",)) is None
    save_stage(tmp_path, "analysis", KEY, {"frame": pl.DataFrame({"x": [1]})}, {})
    (stage_dir(tmp_path, "analysis") / "_SUCCESS").unlink()
    assert load_stage(tmp_path, "analysis", KEY, ("frame",)) is None


def test_the_inputs_fingerprint_follows_content_size_and_time(tmp_path: Path) -> None:
    path = tmp_path / "transactions.csv"
    path.write_text("receipt_id\nR1\n")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    first = inputs_fingerprint([path])
    assert inputs_fingerprint([path]) == first
    path.write_text("receipt_id\nR2\n")  # same size, other bytes
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    assert inputs_fingerprint([path]) != first
    path.write_text("receipt_id\nR1\n")
    os.utime(path, ns=(2_000_000_000, 2_000_000_000))  # same bytes, touched
    assert inputs_fingerprint([path]) != first
