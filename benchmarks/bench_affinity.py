"""Time and peak memory of basket building and rule mining, and rule mining against the fastest miners.

Run: python benchmarks/bench_affinity.py [--receipts 100000] [--skus 5000] [--lines 1110000]
         [--baskets FILE.parquet --min-support 0.002 --min-confidence 0.05 --min-lift 1.2] [--repeats 3]
         [--skip-mlxtend]

Each measurement runs in a fresh child process, so one stage's allocations cannot hide another's.
Peak memory is the child's resident-set high-water mark above its resident size before the call.

Then the anchors, on the very same baskets and thresholds, taking turns (coupongen, rusket, pyfim,
coupongen, ...) so that a change in the machine's load hits them alike: `mine_rules` from the
baskets frame to the rules, and rusket (pip install rusket) and pyfim (pip install pyfim), each from
the same frame through its own preparation (rusket: `from_transactions_csr`; pyfim: one list of
items per receipt) to its two-item rules at the same thresholds. Preparation is counted on every
side; rusket's mining alone is printed too. Every run's rules must be the same pairs as
coupongen's. The goal: coupongen within 2x of rusket. `--baskets` takes `receipt_id, item` rows
(e.g. written by `bench_pipeline.py` as benchmarks/.cache/baskets.parquet) instead of the
synthetic ones. Each figure is the median of `--repeats` warm runs, with CPU seconds next to wall
seconds: CPU far below wall means other work on the machine slowed the run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from coupongen.analysis.affinity import build_baskets, mine_rules

MIN_SUPPORT = 0.001
MIN_CONFIDENCE = 0.0
MIN_LIFT = 0.0
GOAL_RATIO = 2.0  # coupongen's rule mining, preparation included, at most 2x rusket's


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


def _count_frequent_items(baskets: pl.DataFrame, min_support: float) -> int:
    n_baskets = baskets["receipt_id"].n_unique()
    supports = baskets.group_by("item").agg((pl.len() / n_baskets).alias("support"))
    return supports.filter(pl.col("support") >= min_support).height


class Thresholds(NamedTuple):
    """The rule thresholds every miner is given."""

    min_support: float
    min_confidence: float
    min_lift: float


# Seconds each anchor spent mining proper, its preparation left out (read by _measure).
mining_seconds: list[float] = []


def _rules_frame(pairs: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(pairs, schema={"antecedent": pl.String, "consequent": pl.String}, orient="row")


def _rusket_rules(baskets: pl.DataFrame, thresholds: Thresholds) -> pl.DataFrame:
    """rusket from the baskets frame: its CSR preparation, FP-growth, then its association rules."""
    import rusket

    matrix, names = rusket.from_transactions_csr(baskets, "receipt_id", "item")
    started = time.perf_counter()
    frequent = rusket.fpgrowth(matrix, min_support=thresholds.min_support, max_len=2, column_names=names)
    rules = rusket.association_rules(
        frequent, num_itemsets=matrix.shape[0], metric="confidence", min_threshold=thresholds.min_confidence
    )
    mining_seconds.append(time.perf_counter() - started)
    kept = rules[(rules["lift"] >= thresholds.min_lift) & (rules["support"] >= thresholds.min_support)]
    return _rules_frame(
        [
            (next(iter(a)), next(iter(c)))
            for a, c in zip(kept["antecedents"], kept["consequents"], strict=True)
        ]
    )


def _pyfim_rules(baskets: pl.DataFrame, thresholds: Thresholds) -> pl.DataFrame:
    """pyfim from the baskets frame: one list per receipt, then FP-growth's two-item rules."""
    import fim

    from coupongen.analysis.affinity import _min_count

    tracts = baskets.group_by("receipt_id").agg("item")["item"].to_list()
    started = time.perf_counter()
    # supp < 0 is an absolute count; mode "o" applies it to the whole rule, as mine_rules does.
    found = fim.fpgrowth(
        tracts,
        target="r",
        supp=-_min_count(thresholds.min_support, len(tracts)),
        conf=thresholds.min_confidence * 100,
        zmin=2,
        zmax=2,
        report="al",
        mode="o",
    )
    mining_seconds.append(time.perf_counter() - started)
    return _rules_frame([(rule[1][0], rule[0]) for rule in found if rule[3] >= thresholds.min_lift])


ANCHORS = {"rusket": _rusket_rules, "pyfim": _pyfim_rules}


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _run_stage(stage: str, frame: pl.DataFrame, thresholds: Thresholds) -> pl.DataFrame:
    if stage == "build_baskets":
        return build_baskets(frame, pl.DataFrame(schema={"sku": pl.String}))
    if stage in ANCHORS:
        return ANCHORS[stage](frame, thresholds)
    return mine_rules(frame, **thresholds._asdict(), method=stage)


def _measure(stage: str, data: Path, thresholds: Thresholds) -> dict[str, object]:
    """Run one stage twice on the data file; return its seconds, peak memory and output size.

    The first (cold) call pays for starting polars' thread pool; the second (warm) does not.
    """
    frame = pl.read_parquet(data)
    before = _rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets the high-water mark VmHWM
    started = time.perf_counter()
    result = _run_stage(stage, frame, thresholds)
    cold = time.perf_counter() - started
    peak_mib = (_rss_kib("VmHWM") - before) / 1024
    started, cpu_started = time.perf_counter(), time.process_time()
    mining_seconds.clear()
    _run_stage(stage, frame, thresholds)
    warm, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    result.write_parquet(data.with_name(f"result_{stage}.parquet"))
    return {
        "stage": stage,
        "cold_seconds": round(cold, 3),
        "warm_seconds": round(warm, 3),
        "warm_cpu_seconds": round(cpu, 3),
        "mining_seconds": round(sum(mining_seconds), 3) if mining_seconds else None,
        "peak_mib": round(peak_mib),
        "rows": result.height,
    }


def _run_child(stage: str, data: Path, thresholds: Thresholds) -> dict[str, object]:
    completed = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            stage,
            "--data",
            str(data),
            "--thresholds",
            json.dumps(thresholds),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout)


def _compare_anchors(baskets_file: Path, thresholds: Thresholds, repeats: int) -> None:
    """Time coupongen and the installed anchors in turns on the same baskets; check their rules."""
    tools = ["pairs"] + [
        name for name, module in (("rusket", "rusket"), ("pyfim", "fim")) if _installed(module)
    ]
    runs: dict[str, list[dict[str, object]]] = {tool: [] for tool in tools}
    for _ in range(repeats):
        for tool in tools:
            runs[tool].append(_run_child(tool, baskets_file, thresholds))
    ours = pl.read_parquet(baskets_file.with_name("result_pairs.parquet"))
    ours_pairs = set(zip(ours["antecedent"].list.first(), ours["consequent"].list.first(), strict=True))
    wall = {tool: statistics.median(float(r["warm_seconds"]) for r in runs[tool]) for tool in tools}  # type: ignore[arg-type]
    cpu = {tool: statistics.median(float(r["warm_cpu_seconds"]) for r in runs[tool]) for tool in tools}  # type: ignore[arg-type]
    print(f"rule mining on the same baskets, median of {repeats} warm runs (wall s / CPU s):")
    for tool in tools:
        label = {"pairs": "coupongen mine_rules", "rusket": "rusket", "pyfim": "pyfim"}[tool]
        line = f"  {label:<22} {wall[tool]:7.3f} / {cpu[tool]:7.3f}"
        if tool != "pairs":
            theirs = pl.read_parquet(baskets_file.with_name(f"result_{tool}.parquet"))
            same = set(zip(theirs["antecedent"], theirs["consequent"], strict=True)) == ours_pairs
            line += f"   coupongen / {tool}: {wall['pairs'] / wall[tool]:.2f}x wall, "
            line += f"{cpu['pairs'] / cpu[tool]:.2f}x CPU; same {len(ours_pairs)} rules: {same}"
        print(line)
    if "rusket" in tools:
        mining = statistics.median(float(r["mining_seconds"]) for r in runs["rusket"])  # type: ignore[arg-type]
        print(
            f"  goal: coupongen <= {GOAL_RATIO:g}x rusket (preparation counted): "
            f"{wall['pairs'] / wall['rusket']:.2f}x; against rusket's mining alone "
            f"({mining:.3f} s, its preparation left out): {wall['pairs'] / mining:.2f}x"
        )
    else:
        print("  rusket is not installed (pip install rusket): no anchor for the goal")


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def main() -> None:
    """Make the synthetic data once, then measure each stage in its own process."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receipts", type=int, default=100_000)
    parser.add_argument("--skus", type=int, default=5_000)
    parser.add_argument("--lines", type=int, default=1_110_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--baskets", type=Path, help="receipt_id, item rows (Parquet) instead of synthetic ones"
    )
    parser.add_argument("--min-support", type=float, default=MIN_SUPPORT)
    parser.add_argument("--min-confidence", type=float, default=MIN_CONFIDENCE)
    parser.add_argument("--min-lift", type=float, default=MIN_LIFT)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-mlxtend", action="store_true", help="leave out the (slow) mlxtend method")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--thresholds", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        thresholds = Thresholds(*json.loads(options.thresholds))
        print(json.dumps(_measure(options.child, options.data, thresholds)))
        return
    thresholds = Thresholds(options.min_support, options.min_confidence, options.min_lift)
    print(f"load (uptime): {Path('/proc/loadavg').read_text().split()[:3]} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        baskets_file = Path(folder, "baskets.parquet")
        if options.baskets:
            baskets = pl.read_parquet(options.baskets).select("receipt_id", "item")
            baskets.write_parquet(baskets_file)
        else:
            transactions_file = Path(folder, "transactions.parquet")
            transactions = make_transactions(options.receipts, options.skus, options.lines, options.seed)
            transactions.write_parquet(transactions_file)
            baskets = build_baskets(transactions, pl.DataFrame(schema={"sku": pl.String}))
            baskets.write_parquet(baskets_file)
            print(f"{transactions.height} transaction lines -> {baskets.height} basket lines")
            print(json.dumps(_run_child("build_baskets", transactions_file, thresholds)))
        print(
            f"{baskets.height} basket lines, {baskets['receipt_id'].n_unique()} baskets, "
            f"{baskets['item'].n_unique()} items, {_count_frequent_items(baskets, options.min_support)} of them "
            f"at min_support {options.min_support}"
        )
        methods = ("pairs",) if options.skip_mlxtend else ("pairs", "mlxtend")
        for method in methods:
            print(json.dumps(_run_child(method, baskets_file, thresholds)))
        if not options.skip_mlxtend:
            assert_frame_equal(
                pl.read_parquet(Path(folder, "result_pairs.parquet")),
                pl.read_parquet(Path(folder, "result_mlxtend.parquet")),
                check_exact=False,
                rel_tol=0,
                abs_tol=1e-12,
            )
            print("pairs and mlxtend gave the same rules")
        _compare_anchors(baskets_file, thresholds, options.repeats)
    print(f"load (uptime) at the end: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
