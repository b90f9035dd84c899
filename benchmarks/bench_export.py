"""Benchmark: publishing a 1M-coupon POS export (layout 1.0), and composing channel messages.

Run: python benchmarks/bench_export.py [--coupons 1000000] [--messages 100000]

Builds ledger-shaped coupon rows in memory (no ledger needed), then times
  1. the POS file: layout selection, formula neutralisation, CSV write, fsync, manifest with SHA-256,
     atomic rename (target: under 10 s for 1M coupons on this 2-core machine);
  2. customer messages for a share of them: channel choice and Jinja2 rendering of SMS texts.
Prints wall time, peak RSS and the ratio to the target.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from coupongen.delivery import channels, messages, pos
from coupongen.delivery.templates import template_environment

TARGET_POS_SECONDS = 10.0
TEMPLATES = Path(__file__).resolve().parents[1] / "jobs" / "templates"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def coupons(n: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.arange(n)
    campaigns = np.array(["cross_sell", "win_back", "replenishment", "birthday"])
    return pl.DataFrame(
        {
            "code": [f"X{i:011d}" for i in ids],
            "kind": "personal",
            "barcode_value": [f"99{i:010d}0" for i in ids],
            "symbology": "ean13",
            "card_number": [f"2770{i:09d}" for i in ids],
            "customer_id": [f"C{i:07d}" for i in ids],
            "campaign": campaigns[rng.integers(0, 4, n)],
            "offer_type": "cross_sell",
            "reward_type": "percent",
            "reward_value": 15.0,
            "target_kind": "sku",
            "target": [f"P{x:06d}" for x in rng.integers(0, 20_000, n)],
            "min_basket": 500.0,
            "valid_from": "2026-11-23",
            "valid_to": "2026-12-06",
            "max_uses": 1,
            "status": "issued",
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--coupons", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()

    frame = coupons(args.coupons)
    out = Path(tempfile.mkdtemp(prefix="bench_export_"))
    try:
        start = time.perf_counter()
        # the first night: the snapshot and the delta hold the same coupons
        pos.publish_pos(frame, frame, frame.head(0), out, run_id=0, as_of=date(2026, 11, 22), currency="RUB")
        pos_seconds = time.perf_counter() - start
        size = (out / "pos" / "coupons.csv").stat().st_size
        rows = json.loads((out / "pos" / "manifest.json").read_text())["rows"]["coupons.csv"]
        print(f"POS export: {rows:,} coupons, {size / 1e6:.0f} MB in {pos_seconds:.2f} s")
        print(f"  target {TARGET_POS_SECONDS:.0f} s: ratio {pos_seconds / TARGET_POS_SECONDS:.2f}")

        sample = frame.head(args.messages)
        customers = pl.DataFrame(
            {
                "customer_id": sample["customer_id"],
                "email": None,
                "phone": [f"+7916{i:07d}" for i in range(sample.height)],
                "email_opt_in": False,
                "sms_opt_in": True,
                "push_opt_in": False,
                "first_name": "Анна",
                "locale": "ru",
            },
            schema_overrides={"email": pl.String},
        )
        start = time.perf_counter()
        status = channels.contact_status(customers)
        chosen = channels.rank_channels(
            sample, status, {c: ("sms",) for c in sample["campaign"].unique().sort()}
        )
        choose_seconds = time.perf_counter() - start
        start = time.perf_counter()
        rendered = messages.render_messages(
            sample,
            chosen,
            customers,
            {},
            template_environment(TEMPLATES),
            brand="Shop",
            currency="RUB",
            max_sms_parts=3,
        )
        render_seconds = time.perf_counter() - start
        print(
            f"messages: {rendered.sms.height:,} SMS; channel choice {choose_seconds:.2f} s, "
            f"rendering {render_seconds:.2f} s ({rendered.sms.height / render_seconds:,.0f} per second)"
        )
        print(f"peak RSS: {peak_rss_mb():,.0f} MB")
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
