"""Cross-sell rankings side by side on a real history: hit rates, substitutes, targets, time, memory.

Run: python benchmarks/bench_ranking.py DATA_FOLDER [--cutoff 2017-06-26 --cutoff 2017-07-31]
     [--days 28] [--top-n 5] [--method ease --method knn --method rerank]
     [--max-substitute-share 0.2 | --allow-substitutes] [--popularity-discount auto]
     [--max-product-share 1.0] [--seeds 4]

DATA_FOLDER holds transactions, products and customers in the input contract (.parquet or .csv).
For every cutoff and ranking, ``loop.backtest.backtest`` builds the cross-sell offers from the
history before the cutoff as the nightly run would (no campaign eligibility: every active customer
is scored, as ``coupongen backtest --no-eligibility``) and scores them on the following days next to
the popularity baselines. Printed per ranking: the new-item hit rate per offer (what
``coupongen backtest`` prints), the share of customers with a new-item hit, the new-type hit rate
(customers who bought a product type they had never bought, among the offered ones), the share of
substitutes (offers of a type the customer bought in the look-back window), distinct targets,
coverage, the wall time of the backtest call and the process's peak resident memory so far (VmHWM;
it only grows, so a later row's figure covers the rows before it).

The learned ranking's model is seeded (the features each tree sees), and on a few thousand
households one seed moves its hit rate by a few tenths of a point: with ``--seeds N`` it is trained
with seeds 0 to N-1 (a row each) and a last row gives their mean (the targets' and substitutes'
too), the figure to compare. EASE and item-kNN do not depend on the seed.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl

from coupongen.analysis import relevance
from coupongen.config import InputsConfig, Job, JobConfig, RankingConfig
from coupongen.inputs.loading import load_job_inputs
from coupongen.loop import backtest as bt

CUTOFFS = ("2017-06-26", "2017-07-31")


def job_for(folder: Path, ranking: RankingConfig) -> Job:
    """A job reading the folder's three inputs (Parquet where present, else CSV), no campaigns."""

    def name(stem: str) -> str:
        return f"{stem}.parquet" if (folder / f"{stem}.parquet").exists() else f"{stem}.csv"

    inputs = InputsConfig(
        transactions=name("transactions"), products=name("products"), customers=name("customers")
    )
    return Job(folder / "bench.toml", JobConfig(data=str(folder), inputs=inputs, ranking=ranking), ())


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--cutoff", action="append", type=date.fromisoformat)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--top-n", type=int, default=5)
    parser.add_argument("--method", action="append", choices=relevance.RANKINGS)
    parser.add_argument("--max-substitute-share", type=float, default=RankingConfig().max_substitute_share)
    parser.add_argument(
        "--popularity-discount", default="auto", help='"auto" (the default) or a power within 0 and 2'
    )
    parser.add_argument("--max-product-share", type=float, default=RankingConfig().max_product_share)
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="train the learned ranking with seeds 0 to N-1 and print their mean",
    )
    parser.add_argument(
        "--allow-substitutes",
        action="store_true",
        help="rank without prefer_new_types (substitutes not held back)",
    )
    args = parser.parse_args()
    ranking = RankingConfig(
        prefer_new_types=not args.allow_substitutes,
        max_substitute_share=args.max_substitute_share,
        popularity_discount=args.popularity_discount
        if args.popularity_discount == "auto"
        else float(args.popularity_discount),
        max_product_share=args.max_product_share,
    )
    job = job_for(args.data.resolve(), ranking)
    started = time.perf_counter()
    inputs = load_job_inputs(job.config.inputs, args.data.resolve())
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    print(f"inputs loaded in {time.perf_counter() - started:.1f} s, peak {peak_mb():,.0f} MB")
    header = (
        f"{'cutoff':<10}  {'ranking':<20}  {'offers':>7}  {'new/offer':>9}  {'cust. new':>9}  "
        f"{'new type':>8}  {'subst.':>6}  {'targets':>7}  {'coverage':>8}  {'seconds':>7}  {'peak MB':>7}"
    )
    print(header)
    for cutoff in args.cutoff or [date.fromisoformat(c) for c in CUTOFFS]:
        baselines_done = False
        for method in args.method or ["ease", "knn", "rerank"]:
            spec = relevance.ranking_spec(job, method)
            seeded = [spec]
            if isinstance(spec, relevance.RankSpec) and args.seeds > 1:
                seeded = [replace(spec, seed=seed) for seed in range(args.seeds)]
            rows = []
            for one in seeded:
                started = time.perf_counter()
                metrics, _ = bt.backtest(
                    inputs, job, cutoff=cutoff, days=args.days, top_n=args.top_n, eligibility=False, spec=one
                )
                seconds = time.perf_counter() - started
                cross = metrics.filter(pl.col("offer_type") == "cross_sell")
                for row in cross.iter_rows(named=True):
                    is_baseline = row["method"] in bt.BASELINES
                    if is_baseline and baselines_done:
                        continue
                    label = (
                        row["method"]
                        if len(seeded) == 1 or is_baseline
                        else f"{row['method']} seed {one.seed}"
                    )
                    _print_row(cutoff, label, row, seconds=None if is_baseline else seconds)
                    if not is_baseline:
                        rows.append(row)
                baselines_done = True
            if len(seeded) > 1:
                mean = {k: sum(r[k] for r in rows) / len(rows) for k in MEANED}
                _print_row(cutoff, f"{method} mean of {len(rows)}", rows[0] | mean, seconds=None)
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)


MEANED = (
    "new_item_hit_rate",
    "customer_new_hit_rate",
    "new_type_hit_rate",
    "substitute_share",
    "distinct_targets",
    "coverage",
)
"""The figures a mean over seeds averages (the offers are the same count for every seed)."""


def _print_row(cutoff: date, label: str, row: dict, *, seconds: float | None) -> None:
    print(
        f"{cutoff.isoformat():<10}  {label:<20}  {row['offers']:>7,}  "
        f"{row['new_item_hit_rate']:>9.2%}  {row['customer_new_hit_rate']:>9.2%}  "
        f"{row['new_type_hit_rate']:>8.2%}  {row['substitute_share']:>6.1%}  "
        f"{row['distinct_targets']:>7,.0f}  {row['coverage']:>8.1%}  "
        f"{'' if seconds is None else f'{seconds:.1f}':>7}  {peak_mb():>7,.0f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
