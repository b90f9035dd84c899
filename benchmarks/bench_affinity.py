"""Time and peak memory of basket building and rule mining on synthetic receipts.

Run: python benchmarks/bench_affinity.py [--receipts 100000] [--skus 5000] [--lines 1110000]
Each measurement runs in a fresh child process, so one stage's allocations cannot hide another's.
Peak memory is the child's resident-set high-water mark above its resident size before the call.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from coupongen.analysis.affinity import build_baskets, mine_rules

MIN_SUPPORT = 0.001
MIN_CONFIDENCE = 0.0
MIN_LIFT = 0.0


def make_transactions(n_receipts: int, n_skus: int, n_lines: int, seed: int) -> pl.DataFrame:
    """Receipt lines with Zipf-like sku popularity; about 2% of lines are returns."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_skus + 1)
    popularity /= popularity.sum()
    sizes = rng.poisson(n_lines / n_receipts - 1, n_receipts) + 1
    receipts = np.repeat(np.arange(n_receipts), sizes)
    skus = rng.choice(n_skus, size=len(receipts), p=popularity)
    quantities = np.where(rng.random(len(receipts)) < 0.02, -1.0, 1.0)
    return pl.DataFrame({"receipt": receipts, "sku_index": skus, "quantity": quantities}).select(
        pl.format("R{}", "receipt").alias("receipt_id"),
        pl.format("SKU{}", "sku_index").alias("sku"),
        "quantity",
    )


def _count_frequent_items(baskets: pl.DataFrame) -> int:
    n_baskets = baskets["receipt_id"].n_unique()
    supports = baskets.group_by("item").agg((pl.len() / n_baskets).alias("support"))
    return supports.filter(pl.col("support") >= MIN_SUPPORT).height


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _run_stage(stage: str, frame: pl.DataFrame) -> pl.DataFrame:
    if stage == "build_baskets":
        return build_baskets(frame, pl.DataFrame(schema={"sku": pl.String}))
    return mine_rules(
        frame,
        min_support=MIN_SUPPORT,
        min_confidence=MIN_CONFIDENCE,
        min_lift=MIN_LIFT,
        method=stage,
    )


def _measure(stage: str, data: Path) -> dict[str, object]:
    """Run one stage twice on the data file; return its seconds, peak memory and output size.

    The first (cold) call pays for starting polars' thread pool; the second (warm) does not.
    """
    frame = pl.read_parquet(data)
    before = _rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets the high-water mark VmHWM
    started = time.perf_counter()
    result = _run_stage(stage, frame)
    cold = time.perf_counter() - started
    peak_mib = (_rss_kib("VmHWM") - before) / 1024
    started = time.perf_counter()
    _run_stage(stage, frame)
    warm = time.perf_counter() - started
    result.write_parquet(data.with_name(f"result_{stage}.parquet"))
    return {
        "stage": stage,
        "cold_seconds": round(cold, 3),
        "warm_seconds": round(warm, 3),
        "peak_mib": round(peak_mib),
        "rows": result.height,
    }


def _run_child(stage: str, data: Path) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", stage, "--data", str(data)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout)


def main() -> None:
    """Make the synthetic data once, then measure each stage in its own process."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receipts", type=int, default=100_000)
    parser.add_argument("--skus", type=int, default=5_000)
    parser.add_argument("--lines", type=int, default=1_110_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(_measure(options.child, options.data)))
        return
    with tempfile.TemporaryDirectory() as folder:
        transactions_file = Path(folder, "transactions.parquet")
        baskets_file = Path(folder, "baskets.parquet")
        transactions = make_transactions(options.receipts, options.skus, options.lines, options.seed)
        transactions.write_parquet(transactions_file)
        baskets = build_baskets(transactions, pl.DataFrame(schema={"sku": pl.String}))
        baskets.write_parquet(baskets_file)
        print(
            f"{transactions.height} transaction lines -> {baskets.height} basket lines, "
            f"{baskets['receipt_id'].n_unique()} baskets, {baskets['item'].n_unique()} skus, "
            f"{_count_frequent_items(baskets)} of them at min_support {MIN_SUPPORT}"
        )
        print(json.dumps(_run_child("build_baskets", transactions_file)))
        for method in ("pairs", "mlxtend"):
            print(json.dumps(_run_child(method, baskets_file)))
        assert_frame_equal(
            pl.read_parquet(Path(folder, "result_pairs.parquet")),
            pl.read_parquet(Path(folder, "result_mlxtend.parquet")),
            check_exact=False,
            rel_tol=0,
            abs_tol=1e-12,
        )
        print("pairs and mlxtend gave the same rules")


if __name__ == "__main__":
    main()
