"""The relevance model alone on both engines: time, and whether the top-N lists are the same.

Run: python benchmarks/bench_spark_relevance.py BOUGHT [--master local[2]] [--method ease]

BOUGHT is a night's customer_products stage folder (or Parquet file): what bench_engines.py's Spark
night leaves under <work>/<data>/spark/<as-of>/stages/customer_products. Every customer who bought
in the look-back window is scored, promotable products being every product bought (the stage's
own products list is not needed for the comparison):

- polars: `item_models.purchase_matrix`, `fit`, `score_customers` on this process, as planning
  runs them on the polars engine;
- Spark: `engines.spark.relevance.scored_customers` (item x item sums by partition, solved on the
  driver, customers scored by partition), collected to the driver; the session's start is timed
  apart.

Then the two frames are compared exactly (customer, sku, rank, score, anchor). The machine's load
average is printed next to every time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from coupongen.analysis.item_models import ModelSpec, fit, purchase_matrix  # noqa: E402
from coupongen.analysis.item_scoring import score_customers  # noqa: E402


def _load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("bought", type=Path)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--method", default="ease", choices=["ease", "knn"])
    options = parser.parse_args()
    parts = options.bought / "part-*.parquet" if options.bought.is_dir() else options.bought
    bought = pl.read_parquet(parts).select("customer_id", "sku", "in_lookback", "days_since_last")
    spec = ModelSpec(method=options.method)
    promotable = bought["sku"].unique()
    print(f"{bought.filter('in_lookback').height:,} purchases in the window, {spec.method}", flush=True)

    started = time.perf_counter()
    purchases = purchase_matrix(bought)
    expected = score_customers(purchases, fit(purchases, spec))
    print(
        f"polars: {time.perf_counter() - started:.1f} s ({_load()}): {expected.height:,} rows for "
        f"{expected['customer_id'].n_unique():,} customers",
        flush=True,
    )

    from coupongen.engines.spark.relevance import SCORED_SCHEMA, scored_customers
    from coupongen.engines.spark.session import spark_session

    started = time.perf_counter()
    spark = spark_session(options.master)
    frame = spark.read.parquet(str(parts)).select(*bought.columns)
    frame.count()
    print(
        f"spark session and the purchases read: {time.perf_counter() - started:.1f} s ({_load()})", flush=True
    )
    started = time.perf_counter()
    with scored_customers(frame, promotable, spec) as scored:
        got = pl.from_arrow(scored.toArrow())
    assert isinstance(got, pl.DataFrame)
    got = got.cast(SCORED_SCHEMA).sort("customer_id", "rank")  # type: ignore[arg-type]
    print(f"spark: {time.perf_counter() - started:.1f} s ({_load()}): {got.height:,} rows", flush=True)
    verdict = "equal" if got.equals(expected) else "DIFFERENT"
    print(f"top-N lists of both engines: {verdict}")
    spark.stop()


if __name__ == "__main__":
    main()
