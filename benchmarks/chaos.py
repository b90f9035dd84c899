"""Chaos trial of the nightly job: kill a large night at random moments, rerun it, check the ledger.

Run: python benchmarks/chaos.py [--customers 100000] [--trials 20] [--seed 1]

Generates a synthetic set (coupongen's sample generator, cached in benchmarks/.cache/), runs the
night once undisturbed as the reference, then for each trial starts the night in a fresh output
folder, kills it (kill -9, or SIGTERM every third trial) at a random moment within the reference
run's wall time, and reruns it to the end with the same seed. After each trial it checks:

- duplicates: coupons issued twice (offer key or code) in the ledger or the POS file;
- lost / extra: coupons of the reference night missing from (or added to) the trial's ledger;
- holdout identical: the trial's holdout is exactly the reference's;
- budget: no campaign's expected cost over its budget;
- orphans: processes started by the killed run still running after the rerun;
- temp files: staging, retired or .tmp files left in the output folder.

It prints one line per trial and the totals. Not a test: it takes minutes (not run in CI).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = HERE / ".cache"
AS_OF = "2026-11-22"
MARK = "COUPONGEN_CHAOS_TRIAL"


def _coupongen(*args: str, env: dict[str, str] | None = None) -> list[str]:
    return [sys.executable, "-c", "import sys; from coupongen.cli import main; sys.exit(main())", *args]


def _env(trial: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "src"), MARK: trial, "COUPONGEN_FSYNC": "off"}


def make_data(customers: int) -> Path:
    data = CACHE / f"chaos-{customers}"
    if not (data / "customers.csv").exists():
        subprocess.run(
            _coupongen("sample-data", "--customers", str(customers), "--seed", "7", "--out", str(data)),
            check=True,
            env=_env("data"),
            stdout=subprocess.DEVNULL,
        )
    return data


def make_job(root: Path, data: Path) -> Path:
    jobs = root / "jobs"
    subprocess.run(["cp", "-r", str(REPO / "jobs"), str(root)], check=True)
    text = (jobs / "nightly.toml").read_text(encoding="utf-8")
    (jobs / "nightly.toml").write_text(re.sub(r"(?m)^data = .*$", f'data = "{data}"', text), encoding="utf-8")
    return jobs / "nightly.toml"


def run_night(job: Path, out: Path, trial: str) -> subprocess.Popen[bytes]:
    args = _coupongen("run", "--config", str(job), "--out", str(out), "--as-of", AS_OF, "-q")
    return subprocess.Popen(args, env=_env(trial), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def ledger_state(out: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    conn = sqlite3.connect(out / "ledger.sqlite")
    try:
        coupons = pl.DataFrame(
            conn.execute("SELECT offer_key, code, campaign, expected_cost FROM coupons").fetchall(),
            schema=["offer_key", "code", "campaign", "expected_cost"],
            orient="row",
        )
        controls = pl.DataFrame(
            conn.execute("SELECT offer_key FROM controls").fetchall(), schema=["offer_key"], orient="row"
        )
    finally:
        conn.close()
    return coupons, controls


def budgets(job: Path) -> dict[str, float]:
    import tomllib

    found = {}
    for path in (job.parent / "campaigns").glob("*.toml"):
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        if isinstance(doc.get("budget"), int | float):
            found[doc["name"]] = float(doc["budget"])
    return found


def orphans(trial: str) -> int:
    """Processes still running with this trial's mark in their environment."""
    count = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if f"{MARK}={trial}".encode() in (proc / "environ").read_bytes():
                count += 1
        except OSError:
            continue
    return count


def temp_files(out: Path) -> int:
    return sum(
        1
        for p in out.rglob("*")
        if ".staging-" in p.name or ".retired-" in p.name or ".backup-" in p.name or p.name.endswith(".tmp")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=CACHE / "chaos-work")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    data = make_data(args.customers)
    subprocess.run(["rm", "-rf", str(args.work)], check=True)
    args.work.mkdir(parents=True)
    job = make_job(args.work, data)
    caps = budgets(job)

    ref_out = args.work / "reference"
    start = time.monotonic()
    ref = run_night(job, ref_out, "reference")
    _, err = ref.communicate()
    wall = time.monotonic() - start
    if ref.returncode != 0:
        sys.exit(f"the reference night failed: {err.decode()[-500:]}")
    ref_coupons, ref_controls = ledger_state(ref_out)
    print(
        f"reference night: {args.customers:,} customers, {ref_coupons.height:,} coupons, "
        f"{ref_controls.height:,} in holdout, {wall:.1f} s"
    )
    totals = {
        "duplicates": 0,
        "lost": 0,
        "extra": 0,
        "holdout_diff": 0,
        "over_budget": 0,
        "orphans": 0,
        "temp": 0,
    }
    print(
        f"{'trial':>5}  {'signal':<7} {'kill at':>8}  {'dup':>4} {'lost':>5} {'extra':>5} "
        f"{'holdout':>8} {'budget':>7} {'orphans':>7} {'temp':>5}  rerun"
    )
    for i in range(1, args.trials + 1):
        out = args.work / f"trial-{i}"
        trial = f"{args.seed}-{i}"
        sig = signal.SIGTERM if i % 3 == 0 else signal.SIGKILL
        at = rng.uniform(0.05, 1.0) * wall
        proc = run_night(job, out, trial)
        try:
            proc.wait(timeout=at)
        except subprocess.TimeoutExpired:
            proc.send_signal(sig)
            proc.wait()
        rerun = run_night(job, out, trial + "-rerun")
        _, err = rerun.communicate()
        coupons, controls = ledger_state(out)
        keys = set(coupons["offer_key"])
        ref_keys = set(ref_coupons["offer_key"])
        pos = pl.read_csv(out / AS_OF / "pos" / "coupons.csv", infer_schema_length=0)
        dup = (coupons.height - coupons["code"].n_unique()) + (pos.height - pos["code"].n_unique())
        lost, extra = len(ref_keys - keys), len(keys - ref_keys)
        holdout = len(set(controls["offer_key"]) ^ set(ref_controls["offer_key"]))
        spent = coupons.group_by("campaign").agg(pl.col("expected_cost").sum())
        over = sum(1 for c, s in spent.rows() if c in caps and s > caps[c] + 1e-6)
        time.sleep(0.5)
        left, tmp = orphans(trial), temp_files(out)
        for key, value in zip(totals, (dup, lost, extra, holdout, over, left, tmp), strict=True):
            totals[key] += value
        print(
            f"{i:>5}  {sig.name:<7} {at:>7.1f}s  {dup:>4} {lost:>5} {extra:>5} {holdout:>8} {over:>7} "
            f"{left:>7} {tmp:>5}  exit {rerun.returncode}"
            + (f" ({err.decode().strip().splitlines()[-1][:80]})" if rerun.returncode else "")
        )
    print(
        f"totals over {args.trials} trials: duplicates {totals['duplicates']}, lost {totals['lost']}, "
        f"extra {totals['extra']}, holdout differences {totals['holdout_diff']}, budgets exceeded "
        f"{totals['over_budget']}, orphan processes {totals['orphans']}, temp files left {totals['temp']}"
    )


if __name__ == "__main__":
    main()
