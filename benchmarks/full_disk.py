"""Full-disk trial of the nightly job: run a night on small real file systems, then free space.

Run as root (it mounts tmpfs file systems): python benchmarks/full_disk.py [--sizes 1,2,4,6,8,16]
[--customers 1000]

For each size (MiB) it mounts a tmpfs of that size, runs the night there (ledger and outputs on the
small file system, inputs outside it), then grows the file system (``mount -o remount,size=``) and
runs the night again. It prints per size: the first run's exit code and how many lines it wrote to
stderr, whether a traceback appeared, the ledger's run statuses and lock, staging or temp files
left, published folders without their _SUCCESS marker, and the rerun's exit code. A size large
enough for the whole night shows exit 0 at once. Not a test: it needs root and takes minutes.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = HERE / ".cache"
AS_OF = "2026-11-22"
ENV = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "COUPONGEN_FSYNC": "off"}


def _coupongen(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from coupongen.cli import main; sys.exit(main())", *args]


def make_data(customers: int) -> Path:
    data = CACHE / f"full-disk-{customers}"
    if not (data / "customers.csv").exists():
        args = _coupongen("sample-data", "--customers", str(customers), "--seed", "7", "--out", str(data))
        subprocess.run(args, check=True, env=ENV, stdout=subprocess.DEVNULL)
    return data


def make_job(root: Path, data: Path, out: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-r", str(REPO / "jobs"), str(root)], check=True)
    job = root / "jobs" / "nightly.toml"
    text = re.sub(r"(?m)^data = .*$", f'data = "{data}"', job.read_text(encoding="utf-8"))
    job.write_text(text, encoding="utf-8")
    return job


def run(job: Path, out: Path) -> subprocess.CompletedProcess[str]:
    args = _coupongen("run", "--config", str(job), "--out", str(out), "--as-of", AS_OF, "-q")
    return subprocess.run(args, env=ENV, capture_output=True, text=True)


def ledger_state(out: Path) -> str:
    path = out / "ledger.sqlite"
    if not path.exists():
        return "no ledger"
    try:
        conn = sqlite3.connect(path)
        statuses = [r[0] for r in conn.execute("SELECT status FROM runs ORDER BY run_id")]
        locks = conn.execute("SELECT COUNT(*) FROM locks").fetchone()[0]
        conn.close()
    except sqlite3.Error as e:
        return f"unreadable ({e})"
    return f"{'/'.join(statuses) or '-'}{' LOCKED' if locks else ''}"


def leftovers(out: Path) -> tuple[int, int]:
    """(staging/retired/temp files, published folders without _SUCCESS) under ``out``."""
    temp = sum(
        1 for p in out.rglob("*") if ".staging-" in p.name or ".retired-" in p.name or p.suffix == ".tmp"
    )
    night = out / AS_OF
    half = sum(
        1
        for f in ("pos", "crm", "email", "sms", "app", "delivery")
        if (night / f).is_dir() and not (night / f / "_SUCCESS").is_file()
    )
    return temp, half


def trial(size: int, data: Path, work: Path) -> str:
    mount = work / f"fs-{size}m"
    mount.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}m", "tmpfs", str(mount)], check=True)
    try:
        out = mount / "out"
        job = make_job(work / f"job-{size}m", data, out)
        first = run(job, out)
        err = [line for line in first.stderr.splitlines() if line.strip()]
        traceback = any("Traceback" in line for line in err)
        state = ledger_state(out)
        temp, half = leftovers(out)
        message = (err[-1] if err else "-")[:110]
        subprocess.run(["mount", "-o", "remount,size=512m", str(mount)], check=True)
        rerun = run(job, out)
        temp2, half2 = leftovers(out)
        return (
            f"{size:>5}  {first.returncode:>4}  {len(err):>5}  {'yes' if traceback else 'no':>9}  "
            f"{state:<18} {temp:>4} {half:>4}   {rerun.returncode:>5}  {ledger_state(out):<26} "
            f"{temp2 + half2:>4}  {message}"
        )
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,2,4,6,8,16")
    parser.add_argument("--customers", type=int, default=1000)
    args = parser.parse_args()
    data = make_data(args.customers)
    print(f"night of {args.customers:,} customers; ledger and outputs on a tmpfs of each size (MiB)")
    print(
        " size  exit  lines  traceback  runs (ledger)      temp half   rerun  runs after rerun           "
        "left  last line of the first run"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            print(trial(size, data, Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
