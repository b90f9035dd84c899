"""A whole night on both engines: stage times, peak memory, and whether both issue the same offers.

Run: python benchmarks/bench_engines.py [--customers 100000 1000000] [--master local[2]] [--sample]
                                         [--data DIR] [--engines polars spark] [--work DIR]

The data sets are the ones bench_pipeline.py generates and caches (100,000 card holders make about
1M transaction lines, 1,000,000 about 10M), or one folder of transactions/products/customers
Parquet files (--data); --sample runs the bundled sample (its CSV files as Parquet text, value for
value), first when data sets are named too, alone when none is. The bundled job is copied and pointed at the data (as bench_night.py
does). For each data set and engine, `coupongen run -q --engine ENGINE` runs in a child process
with SPARK_MASTER set to --master, into its own output folder and ledger, and the benchmark prints:

- the night's wall time and the stage times the night itself recorded (summary.json's timings);
- on Spark, the time to each stage folder's ``_SUCCESS`` marker (the first includes the session's
  start and the hand-over of the inputs);
- peak resident memory: the coupongen process (the driver), its other descendants (the Spark
  JVM: in local mode it also runs the executors) and their sum, sampled every 0.2 s;
- the equality check: the POS and CRM files of both engines row for row with the freshly drawn
  codes set aside (code, barcode_value), the holdout places each ledger recorded, the quarantine
  files byte for byte, and every Parquet file of the night's analysis folder.

The machine's load average is printed next to every time: on a shared machine they grow with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_night import AS_OF, job_folder  # noqa: E402
from bench_pipeline import ensure_data  # noqa: E402

CODE_COLUMNS = ("code", "barcode_value")
COMPARED = ("pos/coupons.csv", "crm/offers.csv")


def _load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


# --- memory ----------------------------------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


class MemorySampler(threading.Thread):
    """Peak resident memory of a process (the driver) and of its descendants (the JVM), summed."""

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.driver = self.others = self.total = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            tree = _children()
            below, todo = [], list(tree.get(self.pid, []))
            while todo:
                pid = todo.pop()
                below.append(pid)
                todo.extend(tree.get(pid, []))
            driver, others = _rss_kib(self.pid), sum(_rss_kib(p) for p in below)
            self.driver, self.others = max(self.driver, driver), max(self.others, others)
            self.total = max(self.total, driver + others)
            self.stopped.wait(self.every_s)

    def figures(self) -> str:
        gib = 1024**2
        return (
            f"peak memory: driver {self.driver / gib:.2f} GiB, children (Spark's JVM, image workers) "
            f"{self.others / gib:.2f} GiB, together {self.total / gib:.2f} GiB"
        )


# --- one night -------------------------------------------------------------------------------------


def run_night(job: Path, out: Path, engine: str, master: str, timeout_s: float) -> dict[str, object]:
    """``coupongen run`` on ``engine`` in a child; its wall time, timings and peak memory."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "coupongen", "run", "--config", str(job), "--as-of", AS_OF]
    command += ["--out", str(out), "--engine", engine, "-q"]
    env = os.environ | {"SPARK_MASTER": master}
    before = _load()
    stamp, started = time.time(), time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sampler = MemorySampler(child.pid)
    sampler.start()
    try:
        stdout, stderr = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise SystemExit(f"{engine}: the night did not finish in {timeout_s:g} s ({_load()})") from None
    finally:
        sampler.stopped.set()
        sampler.join()
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{engine}: the night failed (exit {child.returncode}):\n{stderr[-2000:]}")
    summary = json.loads((out / AS_OF / "summary.json").read_text())
    return {
        "wall_s": wall,
        "started": stamp,
        "timings": summary["timings"],
        "coupons": summary.get("coupons"),
        "memory": sampler.figures(),
        "load": f"{before} before, {_load()} after",
        "line": (stdout.strip().splitlines() or [""])[-1],
    }


def spark_stage_times(run_dir: Path, started: float) -> list[tuple[str, float]]:
    """Each Spark stage folder with the seconds from the previous marker to its ``_SUCCESS`` (the
    first from ``started``, the night's start as a time stamp: Python, loading, the session's start
    and the hand-over of the inputs).
    """
    stages = run_dir / "stages"
    marks = sorted(
        (p.stat().st_mtime, p.parent.name) for p in stages.glob("*/_SUCCESS") if p.parent.name != "analysis"
    )
    times, previous = [], started
    for moment, name in marks:
        times.append((name, moment - previous))
        previous = moment
    return times


# --- equality --------------------------------------------------------------------------------------


def _table(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False).drop(CODE_COLUMNS, strict=False)


def _holdout(ledger: Path) -> pl.DataFrame:
    """The holdout places a night's ledger recorded: campaign, customer and target."""
    with sqlite3.connect(ledger) as conn:
        rows = conn.execute(
            "SELECT campaign, offer_type, customer_id, target_kind, target FROM controls "
            "ORDER BY campaign, customer_id"
        ).fetchall()
    names = ["campaign", "offer_type", "customer_id", "target_kind", "target"]
    return pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String), orient="row")


def compare_nights(left: Path, right: Path) -> list[str]:
    """One line per compared file: row counts and equal or where the first difference is."""
    lines = []
    for name in COMPARED:
        a, b = _table(left / name), _table(right / name)
        lines.append(f"{name}: {a.height:,} / {b.height:,} rows, {_verdict(a, b)} (codes set aside)")
    a, b = _holdout(left.parent / "ledger.sqlite"), _holdout(right.parent / "ledger.sqlite")
    lines.append(f"ledger holdout: {a.height:,} / {b.height:,} places, {_verdict(a, b)}")
    for path in sorted(
        {p.name for p in (left / "quarantine").glob("*.csv")}
        | {p.name for p in (right / "quarantine").glob("*.csv")}
    ):
        a_file, b_file = left / "quarantine" / path, right / "quarantine" / path
        if not (a_file.exists() and b_file.exists()):
            lines.append(f"quarantine/{path}: only in {'polars' if a_file.exists() else 'spark'}'s night")
            continue
        same = a_file.read_bytes() == b_file.read_bytes()
        rows = _table(a_file).height
        lines.append(f"quarantine/{path}: {rows:,} rows, {'identical bytes' if same else 'DIFFERENT'}")
    for path in sorted((left / "analysis").glob("*.parquet")):
        other = right / "analysis" / path.name
        a, b = pl.read_parquet(path), pl.read_parquet(other)
        lines.append(f"analysis/{path.name}: {a.height:,} rows, {_verdict(a, b)}")
    return lines


def _verdict(a: pl.DataFrame, b: pl.DataFrame) -> str:
    if a.columns != b.columns:
        return "DIFFERENT columns"
    if a.height != b.height:
        return "DIFFERENT row counts"
    if a.equals(b):
        return "equal"
    differs = a.with_row_index("row").join(b.with_row_index("row"), on="row", suffix="_b")
    same = pl.all_horizontal([pl.col(c).eq_missing(pl.col(f"{c}_b")) for c in a.columns])
    first = differs.filter(~same)["row"][0]
    return f"DIFFERENT from row {first:,}"


def sample_folder(work: Path) -> Path:
    """The bundled sample's three CSV files as Parquet files of text, value for value as written."""
    folder = work / "sample"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("transactions", "products", "customers"):
        frame = pl.read_csv(HERE.parent / "sample_data" / f"{name}.csv", infer_schema=False)
        frame.write_parquet(folder / f"{name}.parquet")
    return folder


# --- main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--customers",
        type=int,
        nargs="+",
        help="Generated data sets (default 100000 1000000 unless --sample).",
    )
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, help="One folder of transactions/products/customers.parquet.")
    parser.add_argument(
        "--sample", action="store_true", help="Run the bundled sample (as Parquet text), first."
    )
    parser.add_argument("--engines", nargs="+", default=["polars", "spark"], choices=["polars", "spark"])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--timeout", type=float, default=3600.0, help="Seconds a night may take.")
    parser.add_argument("--work", type=Path, default=HERE / ".cache" / "engines")
    options = parser.parse_args()
    folders = [sample_folder(options.work)] if options.sample else []
    if options.data:
        folders.append(options.data)
    else:
        sizes = options.customers or ([] if options.sample else [100_000, 1_000_000])
        folders += [ensure_data(n, options.skus, options.seed) for n in sizes]
    print(f"{os.cpu_count()} cores, master {options.master}", flush=True)
    for data in folders:
        lines = pl.scan_parquet(data / "transactions.parquet").select(pl.len()).collect().item()
        print(f"\n== {data.name}: {lines:,} transaction lines", flush=True)
        work = (options.work / data.name).resolve()
        work.mkdir(parents=True, exist_ok=True)
        job = job_folder(work, data.resolve())
        for engine in options.engines:
            found = run_night(job, work / engine, engine, options.master, options.timeout)
            print(f"{engine}: {found['wall_s']:.1f} s wall ({found['load']}); {found['line']}")
            print("  stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in found["timings"].items()))  # type: ignore[attr-defined]
            if engine == "spark":
                marks = spark_stage_times(work / engine / AS_OF, float(found["started"]))  # type: ignore[arg-type]
                print(
                    "  spark stages (to each _SUCCESS; the first from the night's start): "
                    + ", ".join(f"{k} {v:.1f} s" for k, v in marks)
                )
            print(f"  {found['memory']}", flush=True)
        if len(options.engines) == 2:
            for line in compare_nights(work / "polars" / AS_OF, work / "spark" / AS_OF):
                print(f"  {line}")


if __name__ == "__main__":
    main()
