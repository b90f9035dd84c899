"""The night's analysis on both engines over the same inputs: times, and whether the frames are equal.

Run: python benchmarks/bench_engines.py [--data sample_data] [--as-of 2026-11-22] [--master local[2]]
Loads the inputs once (polars, on the driver), analyses them with polars and then on Spark (the
stage outputs go to a temporary folder), and prints the session start, each engine's time and the
exact-equality check of every frame. Keep the master small on a shared machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from polars.testing import assert_frame_equal

from coupongen.analysis.night import analyse
from coupongen.config import load_job
from coupongen.engines.spark.night import analyse_on_spark
from coupongen.engines.spark.session import spark_session
from coupongen.pipeline import load
from coupongen.settings import resolve_settings

REPO = Path(__file__).resolve().parents[1]
FRAMES = ("segmented", "bought", "categories", "rules", "category_rules")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--job", default=str(REPO / "jobs" / "nightly.toml"))
    parser.add_argument("--data", default=str(REPO / "sample_data"))
    parser.add_argument("--as-of", default="2026-11-22")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    job = load_job(Path(args.job))
    with tempfile.TemporaryDirectory() as out:
        settings = resolve_settings(
            job, as_of=date.fromisoformat(args.as_of), data_dir=Path(args.data), out_dir=Path(out)
        )
        started = time.perf_counter()
        inputs = load(job, settings, write_quarantine=False)
        print(
            f"load (driver): {time.perf_counter() - started:.1f} s, {inputs.transactions.kept.height:,} lines"
        )
        started = time.perf_counter()
        spark_session(args.master, {"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false"})
        print(f"spark session start: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        expected = analyse(job, inputs, settings.as_of)
        print(f"polars analysis: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        got = analyse_on_spark(job, inputs, settings)
        print(f"spark analysis ({args.master}): {time.perf_counter() - started:.1f} s")
        for name in FRAMES:
            left, right = getattr(expected, name), getattr(got, name)
            try:
                assert_frame_equal(right, left, check_exact=True)
                verdict = "equal"
            except AssertionError as e:
                verdict = "DIFFERENT: " + str(e).splitlines()[0]
            print(f"{name}: {left.height:,} rows, {verdict}")
        same = "equal" if expected.n_baskets == got.n_baskets else "DIFFERENT"
        print(f"n_baskets: {expected.n_baskets:,}, {same}")


if __name__ == "__main__":
    main()
