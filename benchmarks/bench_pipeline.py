"""Wall time and peak memory of the analysis stages on a large synthetic set, against targets.

Run: python benchmarks/bench_pipeline.py [--customers 1000000] [--skus 20000] [--profile]

The first run generates the data with coupongen's sample generator (1M card holders and about 10M
transaction lines by default) and caches it as Parquet in benchmarks/.cache/ (git-ignored); later
runs reuse it. Then, each in a fresh child process:

1. the analysis chain as the nightly job runs it: loading and validating the inputs, customer
   features, segments, sku baskets and sku-level rule mining (the job file's thresholds);
2. pyfim's FP-growth (a C library, installed for the benchmark only: pip install pyfim) on the
   very baskets of step 1, at the same support and confidence, for two-item rules.

It prints each stage's wall time, CPU time and the process's peak resident memory, then the
targets as ratios: loading + features + segments under 30 s, rule mining within 3x pyfim, peak
memory under 8 GB. CPU time next to wall time shows when other work on the machine slowed a run.
With --profile, the chain also runs under pyinstrument and the profile is saved as text and HTML.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
JOB = HERE.parent / "jobs" / "nightly.toml"
AS_OF = date(2026, 11, 22)
TARGET_SECONDS = 30.0
TARGET_MINING_RATIO = 3.0
TARGET_PEAK_GB = 8.0


# --- measuring -------------------------------------------------------------------------------------


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


class Stopwatch:
    """Times named stages: wall and CPU seconds, and the process's peak memory after each."""

    def __init__(self) -> None:
        self.stages: list[dict[str, Any]] = []

    def run(self, name: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        cpu, wall = _cpu_seconds(), time.perf_counter()
        result = func(*args, **kwargs)
        self.stages.append(
            {
                "stage": name,
                "wall_s": round(time.perf_counter() - wall, 2),
                "cpu_s": round(_cpu_seconds() - cpu, 2),
                "peak_gb": round(_rss_kib("VmHWM") / 1024**2, 2),
            }
        )
        return result


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# --- data ------------------------------------------------------------------------------------------


def data_folder(customers: int, skus: int, seed: int) -> Path:
    return CACHE / f"sample-{customers}c-{skus}s-seed{seed}-{AS_OF.isoformat()}"


def ensure_data(customers: int, skus: int, seed: int) -> Path:
    """Generate the data set once; a folder without its _SUCCESS marker is made again."""
    folder = data_folder(customers, skus, seed)
    if (folder / "_SUCCESS").exists():
        return folder
    from coupongen.synthetic.sample import generate_sample, write_sample

    started = time.perf_counter()
    data = generate_sample(customers, seed=seed, as_of=AS_OF, skus=skus)
    write_sample(data, folder, fmt="parquet")
    (folder / "_SUCCESS").write_text(f"{data.transactions.height}\n")
    print(
        f"generated {data.transactions.height:,} lines, {customers:,} customers, {skus:,} skus "
        f"in {time.perf_counter() - started:.0f} s -> {folder}",
        flush=True,
    )
    return folder


# --- child: the analysis chain ---------------------------------------------------------------------


def run_chain(folder: Path, low_support: float) -> dict[str, Any]:
    """Load, features, segments, baskets and sku rules, as `analysis.night.analyse` wires them.

    The rules are mined twice: at the job's thresholds, and at ``low_support`` (other thresholds
    the same), where there are many more frequent items and rules to count.
    """
    from coupongen.analysis import affinity, features, segments
    from coupongen.config import load_job
    from coupongen.inputs.loading import load_inputs
    from coupongen.inputs.quarantine import check_quarantine_share

    job = load_job(JOB)
    seg_cfg, aff = job.config.segments, job.config.affinity
    watch = Stopwatch()

    def load() -> Any:
        inputs = load_inputs(
            folder / "transactions.parquet", folder / "products.parquet", folder / "customers.parquet"
        )
        check_quarantine_share(inputs, job.config.inputs.max_quarantine_share, None)
        return inputs

    inputs = watch.run("load", load)
    tx, products = inputs.transactions.kept, inputs.products.kept
    facts = watch.run(
        "features",
        features.describe_customers,
        tx,
        products,
        as_of=AS_OF,
        lookback_days=seg_cfg.lookback_days,
    )
    segmented = watch.run(
        "segments", segments.segment_customers, facts.features, inputs.customers.kept, seg_cfg
    )
    start = AS_OF - timedelta(days=seg_cfg.lookback_days)
    history = tx.filter(pl.col("ts").dt.date().is_between(start, AS_OF, closed="left"))
    baskets = watch.run("sku baskets", affinity.build_baskets, history, products, level="sku")
    rules = watch.run(
        "sku rules",
        affinity.mine_rules,
        baskets,
        min_support=aff.min_support,
        min_confidence=aff.min_confidence,
        min_lift=aff.min_lift,
        max_len=aff.max_len,
    )
    low = watch.run(
        "sku rules, low",
        affinity.mine_rules,
        baskets,
        min_support=low_support,
        min_confidence=aff.min_confidence,
        min_lift=aff.min_lift,
        max_len=aff.max_len,
    )
    baskets.write_parquet(folder.parent / "baskets.parquet")
    rules.write_parquet(folder.parent / "rules.parquet")
    low.write_parquet(folder.parent / "rules_low.parquet")
    return {
        "lines": tx.height,
        "customers": segmented.height,
        "customer_products": facts.products.height,
        "baskets": baskets["receipt_id"].n_unique(),
        "rules": rules.height,
        "low_rules": low.height,
        "min_support": aff.min_support,
        "low_support": low_support,
        "min_confidence": aff.min_confidence,
        "min_lift": aff.min_lift,
        "segments": segments.summarize_segments(segmented).select("rfm_segment", "customers").rows(),
        "stages": watch.stages,
    }


# --- child: pyfim on the same baskets ---------------------------------------------------------------


def run_pyfim(folder: Path, supports: list[float], min_confidence: float, min_lift: float) -> dict[str, Any]:
    """FP-growth from pyfim on the chain's baskets, two-item rules at the same thresholds."""
    import fim

    from coupongen.analysis.affinity import _min_count

    baskets = pl.read_parquet(folder.parent / "baskets.parquet")
    watch = Stopwatch()

    def to_lists() -> list[list[str]]:
        return baskets.group_by("receipt_id").agg("item")["item"].to_list()

    tracts = watch.run("pyfim input lists", to_lists)

    def mine(min_support: float) -> list[tuple[Any, ...]]:
        # supp < 0 is an absolute count; mode "o" applies it to the whole rule (body and head),
        # as mine_rules does; report "l" adds the lift, filtered here like mine_rules' min_lift.
        found = fim.fpgrowth(
            tracts,
            target="r",
            supp=-_min_count(min_support, len(tracts)),
            conf=min_confidence * 100,
            zmin=2,
            zmax=2,
            report="al",
            mode="o",
        )
        return [rule for rule in found if rule[3] >= min_lift]

    same = []
    counts = []
    for support, stage, ours_file in zip(
        supports, ("pyfim rules", "pyfim rules, low"), ("rules.parquet", "rules_low.parquet"), strict=True
    ):
        rules = watch.run(stage, mine, support)
        ours = pl.read_parquet(folder.parent / ours_file)
        theirs = {(rule[1][0], rule[0]) for rule in rules}
        mine_ = set(zip(ours["antecedent"].list.first(), ours["consequent"].list.first(), strict=True))
        same.append(theirs == mine_)
        counts.append(len(rules))
    return {"rules": counts, "same_rules": same, "stages": watch.stages}


# --- parent ----------------------------------------------------------------------------------------


def _child(kind: str, folder: Path, extra: list[str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--data", str(folder), *extra],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _profile(folder: Path, low_support: float) -> None:
    """Profile the chain with pyinstrument, then time the parts of the features stage one by one.

    pyinstrument sees Python frames only, and the features stage is a few polars queries, so the
    breakdown collects each part of them on its own (the parts' sum exceeds the stage a little:
    collected together, they share their scans).
    """
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.01)
    profiler.start()
    run_chain(folder, low_support)
    profiler.stop()
    out = folder.parent / "profile"
    out.with_suffix(".txt").write_text(profiler.output_text(unicode=False, show_all=False))
    out.with_suffix(".html").write_text(profiler.output_html())
    print(f"profile written to {out}.txt and {out}.html")

    from coupongen.analysis import features as f

    tx = pl.read_parquet(folder / "transactions.parquet")
    products = pl.read_parquet(folder / "products.parquet")
    watch = Stopwatch()
    lines = f._lines(tx, AS_OF)
    engine = f._ENGINE
    pairs = watch.run("customer x sku history", lambda: f._pairs(lines).collect(engine=engine)).lazy()
    bought = watch.run(
        "customer_products", lambda: f._customer_products(pairs, AS_OF, 365).collect(engine=engine)
    )
    categories = watch.run(
        "category_spend", lambda: f._category_spend(pairs, products).collect(engine=engine)
    )
    watch.run("receipts", lambda: f._receipts(lines).collect(engine=engine))
    watch.run(
        "customer rows",
        lambda: f._customer_features(lines, bought.lazy(), categories.lazy(), AS_OF, 365).collect(
            engine=engine
        ),
    )
    print("features stage, part by part (customer rows include the receipts again):")
    for stage in watch.stages:
        print(f"  {stage['stage']:<24}{stage['wall_s']:>7.2f} s wall{stage['cpu_s']:>7.2f} s cpu")


def report(chain: dict[str, Any], pyfim: dict[str, Any] | None) -> str:
    stages = {s["stage"]: s for s in chain["stages"]}
    counts = (
        f"{chain['lines']:,} lines, {chain['customers']:,} customers with purchases, "
        f"{chain['customer_products']:,} customer-product pairs, {chain['baskets']:,} baskets"
    )
    lines = [counts, f"{'stage':<20}{'wall s':>9}{'cpu s':>9}{'peak GB':>9}"]
    for s in [*chain["stages"], *(pyfim["stages"] if pyfim else [])]:
        lines.append(f"{s['stage']:<20}{s['wall_s']:>9.2f}{s['cpu_s']:>9.2f}{s['peak_gb']:>9.2f}")
    front = sum(stages[k]["wall_s"] for k in ("load", "features", "segments"))
    lines.append("targets:")
    lines.append(
        f"  load + features + segments: {front:.1f} s = {front / TARGET_SECONDS:.2f} x the "
        f"{TARGET_SECONDS:.0f} s target (load {stages['load']['wall_s']:.1f}, features "
        f"{stages['features']['wall_s']:.1f}, segments {stages['segments']['wall_s']:.1f})"
    )
    if pyfim:
        theirs_by_stage = {s["stage"]: s for s in pyfim["stages"]}
        levels = (
            ("sku rules", "pyfim rules", chain["min_support"], chain["rules"], 0),
            ("sku rules, low", "pyfim rules, low", chain["low_support"], chain["low_rules"], 1),
        )
        for ours_stage, theirs_stage, support, count, i in levels:
            ours, theirs = stages[ours_stage]["wall_s"], theirs_by_stage[theirs_stage]["wall_s"]
            lines.append(
                f"  sku rule mining at support {support:g}: {ours:.2f} s against pyfim's {theirs:.2f} s "
                f"= {ours / max(theirs, 1e-3):.2f} x (target {TARGET_MINING_RATIO:g} x); {count:,} rules, "
                f"pyfim {pyfim['rules'][i]:,}, {'the same' if pyfim['same_rules'][i] else 'NOT the same'} rules"
            )
        lines.append(
            f"  (confidence >= {chain['min_confidence']}, lift >= {chain['min_lift']}; pyfim's time "
            f"leaves out turning the baskets into Python lists, {theirs_by_stage['pyfim input lists']['wall_s']:.1f} s)"
        )
    else:
        lines.append("  sku rule mining: pyfim is not installed (pip install pyfim); no comparison")
    peak = max(s["peak_gb"] for s in chain["stages"])
    lines.append(
        f"  peak memory: {peak:.2f} GB = {peak / TARGET_PEAK_GB:.2f} x the {TARGET_PEAK_GB:g} GB target"
    )
    return "\n".join(lines)


def main() -> None:
    """Make or reuse the data, run the chain and pyfim in child processes, print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--low-support", type=float, default=0.0002, help="Second, lower support to mine at (default 0.0002)."
    )
    parser.add_argument("--profile", action="store_true", help="Also profile the chain with pyinstrument.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--thresholds", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child == "chain":
        print(json.dumps(run_chain(options.data, options.low_support)))
        return
    if options.child == "pyfim":
        print(json.dumps(run_pyfim(options.data, *json.loads(options.thresholds))))
        return
    if options.child == "profile":
        _profile(options.data, options.low_support)
        return
    folder = ensure_data(options.customers, options.skus, options.seed)
    print(
        f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores",
        flush=True,
    )
    chain = _child("chain", folder, ["--low-support", str(options.low_support)])
    pyfim = None
    try:
        import fim  # noqa: F401
    except ImportError:
        pass
    else:
        supports = [chain["min_support"], chain["low_support"]]
        thresholds = json.dumps([supports, chain["min_confidence"], chain["min_lift"]])
        pyfim = _child("pyfim", folder, ["--thresholds", thresholds])
    print(report(chain, pyfim))
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if options.profile:
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "profile",
                "--data",
                str(folder),
                "--low-support",
                str(options.low_support),
            ],
            check=True,
        )


if __name__ == "__main__":
    main()
