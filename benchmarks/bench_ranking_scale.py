"""The cross-sell ranking stage at scale: wall time, CPU time and peak memory against the night's goal.

Run: python benchmarks/bench_ranking_scale.py [--customers 1000000] [--skus 20000] [--seed 7]
     [--method ease --method rerank --method ease-scored] [--data DIR]

The data set is the one bench_pipeline.py generates and caches in benchmarks/.cache/ (1M card
holders and about 10M transaction lines by default), or any folder of transactions/products/
customers Parquet files (--data). Each ranking runs in a fresh child process, which loads the
inputs and builds the customer x product facts (`features.customer_products`, part of the
analysis stage, timed apart) and then times the ranking stage alone: `relevance.recommend` for
every customer who bought in the look-back window (the night ranks only those its cross-sell
campaigns can reach, so this is the worst case), 5 products each, with the job's default
`[ranking]` settings for the method. Printed per method: the stage's wall and CPU seconds, the
child's peak resident memory (VmHWM, which covers the loading too), and the goal (3 minutes and
8 GB on 2 cores), with the machine's load average before and after: on a shared machine wall time
grows with the load, CPU time much less.

``ease-scored`` is the driver's part of the Spark engine's night: EASE's lists scored elsewhere (the
Spark relevance stage writes each customer's `relevance_hold.scoring_depth` best products; here a
first child scores them with the polars code and writes them to a Parquet file, untimed), read
back and held by a second child (`relevance.recommend` with ``scored``): the stage timed is the
read and the ranking, the peak memory the second child's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_pipeline import AS_OF, ensure_data  # noqa: E402

GOAL_SECONDS = 180.0
GOAL_PEAK_GB = 8.0


def _peak_gb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    raise RuntimeError("VmHWM not in /proc/self/status")


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


SCORED = "ease-scored"
"""EASE's lists scored elsewhere, read back and held on the driver (see the module)."""


def child(folder: Path, method: str, as_of: date, lists: Path | None = None) -> dict[str, Any]:
    """Load, facts, then the ranking stage alone, timed. For `SCORED`, with `lists` missing: score
    the lists and write them there (untimed); present: read them back and rank with them, timed.
    """
    import polars as pl

    from coupongen.analysis import features, relevance
    from coupongen.analysis.item_models import fit, purchase_matrix
    from coupongen.analysis.item_scoring import score_customers
    from coupongen.analysis.relevance_hold import scoring_depth
    from coupongen.config import InputsConfig, Job, JobConfig
    from coupongen.inputs.loading import load_inputs

    started = time.perf_counter()
    inputs = load_inputs(
        folder / "transactions.parquet", folder / "products.parquet", folder / "customers.parquet"
    )
    job = Job(folder / "bench.toml", JobConfig(data=str(folder), inputs=InputsConfig()), ())
    lookback = job.config.segments.lookback_days
    bought = features.customer_products(inputs.transactions.kept, as_of=as_of, lookback_days=lookback)
    customers = bought.filter(pl.col("in_lookback"))["customer_id"].unique().sort()
    prepared = time.perf_counter() - started
    spec = relevance.ranking_spec(job, "ease" if method == SCORED else method)
    scored = None
    if method == SCORED and lists is not None and not lists.exists():
        purchases = purchase_matrix(bought)
        allowed = purchases.items.is_in(inputs.products.kept.filter(pl.col("promo_allowed"))["sku"].implode())
        model = fit(purchases, spec)  # type: ignore[arg-type]
        depth = scoring_depth(spec, 5)  # type: ignore[arg-type]
        score_customers(purchases, model, top_n=depth, allowed=allowed.to_numpy()).write_parquet(lists)
        return {"lists": str(lists)}
    wall, cpu = time.perf_counter(), _cpu()
    if lists is not None:
        scored = pl.read_parquet(lists)
    ranked = relevance.recommend(
        bought,
        inputs.products.kept,
        customers=customers,
        top_n=5,
        spec=spec,
        as_of=as_of,
        scored=scored,
    )
    return {
        "method": method,
        "lines": inputs.transactions.kept.height,
        "customers": customers.len(),
        "products": inputs.products.kept.height,
        "facts": bought.height,
        "prepare_s": round(prepared, 1),
        "wall_s": round(time.perf_counter() - wall, 1),
        "cpu_s": round(_cpu() - cpu, 1),
        "peak_gb": round(_peak_gb(), 2),
        "offers": ranked.height,
        "targets": ranked["sku"].n_unique(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--method", action="append")
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--lists", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = args.data or ensure_data(args.customers, args.skus, args.seed)
    if args.child:
        print(json.dumps(child(folder, args.child, args.as_of, args.lists)))
        return
    with tempfile.TemporaryDirectory() as work:
        for method in args.method or ["ease", "rerank"]:
            _run(folder, method, args.as_of, Path(work) / "lists.parquet" if method == SCORED else None)


def _run(folder: Path, method: str, as_of: date, lists: Path | None) -> None:
    """One method in child processes (two for `SCORED`: the lists, then the stage); prints its row."""
    command = [
        sys.executable,
        __file__,
        "--data",
        str(folder),
        "--as-of",
        as_of.isoformat(),
        "--child",
        method,
    ]
    if lists is not None:
        command += ["--lists", str(lists)]
        subprocess.run(command, check=True, capture_output=True)
    load_before = os.getloadavg()
    started = time.perf_counter()
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit code {done.returncode}"
        hint = " (9: killed, as by the kernel when memory runs out)" if done.returncode == -9 else ""
        print(
            f"{method:<11} the child died after {time.perf_counter() - started:.0f} s with {how}{hint}: "
            f"OVER the goal; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        return
    row = json.loads(done.stdout.strip().splitlines()[-1])
    load_after = os.getloadavg()
    verdict = "within" if row["wall_s"] <= GOAL_SECONDS and row["peak_gb"] <= GOAL_PEAK_GB else "OVER"
    print(
        f"{method:<11} {row['customers']:>9,} customers  {row['lines']:>11,} lines  "
        f"{row['products']:,} products  facts {row['facts']:,} (loaded in {row['prepare_s']} s)\n"
        f"            ranking stage {row['wall_s']:.1f} s wall, {row['cpu_s']:.1f} s CPU, peak {row['peak_gb']:.2f} GB, "
        f"{row['offers']:,} offers over {row['targets']:,} products: {verdict} the goal "
        f"({GOAL_SECONDS:.0f} s, {GOAL_PEAK_GB:.0f} GB); load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after",
        flush=True,
    )


if __name__ == "__main__":
    main()
