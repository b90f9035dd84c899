"""A whole night at scale: first run, rerun of the finished night, and a failed night resumed.

Run: python benchmarks/bench_night.py [--data DIR] [--customers 1000000] [--skus 20000] [--work DIR]

The data set is the one bench_pipeline.py generates and caches (1M card holders, about 10M
transaction lines), or any folder of transactions/products/customers Parquet files (--data). The
bundled job (jobs/nightly.toml, its campaigns and templates) is copied into the work folder and
pointed at the data. Each run is `coupongen run -q` in a child process; the figures are its wall
time and its peak resident memory (the child's ru_maxrss):

1. first run: a fresh output folder and ledger;
2. rerun: the same night again, which finds it complete and does nothing;
3. resume: a fresh output folder whose night is killed (SIGKILL) as soon as its analysis
   checkpoint is written, then run again, which resumes from the checkpoint.

Each figure is printed next to its goal (first run <= 60 s, rerun <= 10 s, resume faster than the
first run, peak < 3 GB), with the machine's load average before and after: on a shared machine
the wall times grow with the load.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
AS_OF = "2026-11-22"
GOAL_FIRST_S = 60.0
GOAL_RERUN_S = 10.0
GOAL_PEAK_GB = 3.0


def job_folder(work: Path, data: Path) -> Path:
    """The bundled job, copied into ``work`` and pointed at the Parquet files in ``data``."""
    folder = work / "job"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(REPO / "jobs", folder)
    text = (folder / "nightly.toml").read_text()
    for key, value in (("data", data), ("out", work / "out"), ("ledger", work / "out" / "ledger.sqlite")):
        text = re.sub(rf"(?m)^{key} = .*$", f'{key} = "{value}"', text)
    for name in ("transactions", "products", "customers"):
        text = text.replace(f'"{name}.csv"', f'"{name}.parquet"')
    (folder / "nightly.toml").write_text(text)
    return folder / "nightly.toml"


def _command(job: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "coupongen",
        "run",
        "--config",
        str(job),
        "--as-of",
        AS_OF,
        "--out",
        str(out),
        "-q",
    ]


def timed_run(job: Path, out: Path, *, kill_when: Path | None = None) -> dict[str, float | str]:
    """Run the night in a child; with ``kill_when``, SIGKILL it as soon as that file exists."""
    started = time.perf_counter()
    child = subprocess.Popen(_command(job, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = False
    if kill_when is not None:
        while child.poll() is None:
            if kill_when.exists():
                child.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.05)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    stdout = child.stdout.read() if child.stdout else ""
    stderr = child.stderr.read() if child.stderr else ""
    if not killed and os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the night failed:\n{stderr}")
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_gb": round(usage.ru_maxrss / 1024**2, 2),
        "line": (stdout.strip().splitlines() or [""])[-1],
    }


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def main() -> None:
    """Make or reuse the data, run the three nights, print the figures against the goals."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="A folder of transactions/products/customers.parquet.")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=HERE / ".cache" / "night", help="Where the runs write.")
    options = parser.parse_args()
    if options.data is None:
        sys.path.insert(0, str(HERE))
        from bench_pipeline import ensure_data

        options.data = ensure_data(options.customers, options.skus, options.seed)
    work = options.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    job = job_folder(work, options.data.resolve())
    print(f"load average before: {_load()}", flush=True)
    first = timed_run(job, work / "first")
    print(f"first run   {first}", flush=True)
    rerun = timed_run(job, work / "first")
    print(f"rerun       {rerun}", flush=True)
    checkpoint = work / "resumed" / AS_OF / "stages" / "analysis" / "_SUCCESS"
    killed = timed_run(job, work / "resumed", kill_when=checkpoint)
    print(f"killed      {killed} (after its analysis checkpoint)", flush=True)
    resumed = timed_run(job, work / "resumed")
    print(f"resumed     {resumed}", flush=True)
    print(f"load average after: {_load()}")
    peak = max(float(r["peak_gb"]) for r in (first, rerun, killed, resumed))
    rows = [
        ("first run", first, f"<= {GOAL_FIRST_S:g} s", float(first["wall_s"]) <= GOAL_FIRST_S),
        ("rerun", rerun, f"<= {GOAL_RERUN_S:g} s", float(rerun["wall_s"]) <= GOAL_RERUN_S),
        (
            "resume",
            resumed,
            f"< first run ({first['wall_s']} s)",
            float(resumed["wall_s"]) < float(first["wall_s"]),
        ),
    ]
    # CPU seconds next to wall seconds show how much of a wall time other work on the machine took.
    print(f"{'figure':<14}{'wall s':>9}{'cpu s':>9}  {'goal':<26}")
    for name, run, goal, met in rows:
        print(f"{name:<14}{run['wall_s']:>9}{run['cpu_s']:>9}  {goal:<26}{'met' if met else 'NOT met'}")
    met = "met" if peak < GOAL_PEAK_GB else "NOT met"
    print(f"{'peak memory':<14}{peak:>8} GB{'':>9}< {GOAL_PEAK_GB:g} GB{'':<20}{met}")


if __name__ == "__main__":
    main()
