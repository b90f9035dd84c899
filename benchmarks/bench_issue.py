"""Time and peak memory of issuing and recording coupons: codes, EAN-13 payloads, ledger writes.

Run: python benchmarks/bench_issue.py [--coupons 1000000] [--batch-size 20000] [--profile]

A fresh ledger in a temporary folder receives ``--coupons`` offers of one EAN-13 campaign through
``Ledger.issue_coupons`` with ``codes.code_maker`` (secure random codes with check characters,
random EAN-13 serials with GS1 check digits, one transaction per batch, WAL with
``synchronous=NORMAL``). Printed: wall time of the issuing call, the ratio to the 20 s target, peak
resident memory of the process (VmHWM) and its growth during the call, the CPU time (on a busy
machine the wall time is longer than the CPU time), a check that every coupon is
in the ledger once, and with ``--profile`` where the time goes (a second, profiled run on a fresh
ledger: profiling slows Python code down, so its total is larger than the timed run's).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import sqlite3
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl

from coupongen.codes import code_maker
from coupongen.config import CampaignConfig
from coupongen.ledger import BATCH_SIZE, Ledger
from coupongen.offers.planning import OFFER_COLUMNS

TARGET_SECONDS = 20.0
AS_OF = date(2026, 11, 22)
CAMPAIGN = CampaignConfig.model_validate(
    {
        "name": "bench",
        "type": "win_back",
        "reward": {"type": "amount", "value": 300},
        "valid_days": 14,
        "code": {"prefix": "W", "length": 10, "symbology": "ean13", "ean_prefix": "99"},
    }
)


def make_offers(n: int) -> pl.DataFrame:
    """``n`` offers of the bench campaign, one per customer, with the columns offers.py produces."""
    ids = pl.int_range(0, n, eager=True)
    return (
        pl.DataFrame({"i": ids})
        .select(
            pl.format(
                "bench:{}:C{}:0",
                pl.lit(AS_OF.isoformat()),
                pl.col("i").cast(pl.String).str.zfill(8),
            ).alias("offer_key"),
            pl.lit("personal").alias("kind"),
            pl.lit("ean13").alias("symbology"),
            pl.lit(AS_OF.isoformat()).alias("as_of"),
            pl.lit("bench").alias("campaign"),
            pl.lit("win_back").alias("offer_type"),
            pl.format("C{}", pl.col("i").cast(pl.String).str.zfill(8)).alias("customer_id"),
            pl.format("2770{}", pl.col("i").cast(pl.String).str.zfill(9)).alias("card_number"),
            pl.lit("basket").alias("target_kind"),
            pl.lit(None, dtype=pl.String).alias("target"),
            pl.lit("amount").alias("reward_type"),
            pl.lit(300.0).alias("reward_value"),
            pl.lit(0.0).alias("min_basket"),
            pl.lit("2026-11-23").alias("valid_from"),
            pl.lit("2026-12-06").alias("valid_to"),
            pl.lit(1, dtype=pl.Int64).alias("max_uses"),
            pl.lit(15.0).alias("expected_cost"),
            pl.lit("lapsing: last visit 75 days ago").alias("reason"),
        )
        .cast(OFFER_COLUMNS)
    )  # type: ignore[arg-type]


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def issue_all(folder: Path, offers: pl.DataFrame, batch_size: int) -> tuple[int, Path]:
    path = folder / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        run = ledger.start_run(job="bench", as_of=AS_OF, config_hash="bench")
        new = ledger.issue_coupons(
            offers, run=run, make_codes=code_maker(CAMPAIGN, as_of=AS_OF), batch_size=batch_size
        )
        ledger.mark_issued(run)
        ledger.finish_run(run, status="succeeded")
    return new, path


def check(path: Path, n: int) -> None:
    with sqlite3.connect(path) as conn:
        rows, codes, barcodes, keys = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT code), COUNT(DISTINCT barcode_value), "
            "COUNT(DISTINCT offer_key) FROM coupons"
        ).fetchone()
    assert rows == codes == barcodes == keys == n, (rows, codes, barcodes, keys, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coupons", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--profile", action="store_true", help="Also profile a second run.")
    args = parser.parse_args()

    t0 = time.perf_counter()
    offers = make_offers(args.coupons)
    print(f"offers frame: {args.coupons:,} rows built in {time.perf_counter() - t0:.2f} s")

    with tempfile.TemporaryDirectory() as tmp:
        rss_before = _status_kib("VmRSS")
        cpu_start = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        new, path = issue_all(Path(tmp), offers, args.batch_size)
        elapsed = time.perf_counter() - start
        cpu_end = resource.getrusage(resource.RUSAGE_SELF)
        user = cpu_end.ru_utime - cpu_start.ru_utime
        system = cpu_end.ru_stime - cpu_start.ru_stime
        peak = _status_kib("VmHWM")
        check(path, args.coupons)
        size = path.stat().st_size + sum(p.stat().st_size for p in Path(tmp).glob("ledger.sqlite-*"))
        print(f"issued and recorded {new:,} coupons (codes + EAN-13 + ledger) in {elapsed:.2f} s")
        print(
            f"  {new / elapsed:,.0f} coupons/s; {elapsed / TARGET_SECONDS:.2f} of the {TARGET_SECONDS:.0f} s target"
        )
        print(f"  CPU {user:.1f} s user + {system:.1f} s system (wall above CPU: waiting for disk or cores)")
        print(
            f"  peak RSS {peak / 1024:,.0f} MiB (grew {max(0, peak - rss_before) / 1024:,.0f} MiB during the call)"
        )
        print(f"  ledger on disk {size / 2**20:,.0f} MiB; every coupon present once: ok")

    if args.profile:
        profiler = cProfile.Profile()
        with tempfile.TemporaryDirectory() as tmp:
            profiler.enable()
            issue_all(Path(tmp), offers, args.batch_size)
            profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
        print("\nprofile (profiled run, sorted by own time):")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:4000])


if __name__ == "__main__":
    main()
