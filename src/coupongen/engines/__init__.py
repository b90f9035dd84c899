"""Engines: where the night's heavy analysis stages run, polars on this machine or Apache Spark.

The job's ``engine`` (``coupongen run --engine`` overrides it) picks one. Both give the same
`Analysis`, frame for frame, and the same offer candidates with their holdout flags; the caps,
budgets, cuts, codes and ledger always run here, on the driver, over them. Polars is the default:
on one machine it uses a fraction of Spark's CPU. Spark is imported only when a job asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path

import polars as pl

from coupongen.analysis.night import Analysis, analyse
from coupongen.config import ENGINES, Job
from coupongen.inputs.contract import Inputs
from coupongen.inputs.loading import load_job_inputs
from coupongen.offers.candidates import OfferContext
from coupongen.offers.planning import StagedCandidates
from coupongen.settings import Settings

__all__ = ["ENGINES", "analyse_night", "candidates_stage", "load_night_inputs"]


def load_night_inputs(
    job: Job,
    settings: Settings,
    *,
    quarantine_dir: Path | None = None,
    window: tuple[date, date] | None = None,
) -> Inputs:
    """The night's inputs, validated on the job's engine (see `inputs.loading.load_job_inputs`).

    On the Spark engine the transactions are validated by Spark and handed over as stages
    (`coupongen.engines.spark.loading`); the kept rows, the quarantine files and the counts are
    those the polars engine gives.
    """
    if job.config.engine == "spark":
        from coupongen.engines.spark.loading import load_inputs_on_spark

        return load_inputs_on_spark(job, settings, quarantine_dir=quarantine_dir, window=window)
    return load_job_inputs(job.config.inputs, settings.data_dir, quarantine_dir=quarantine_dir, window=window)


def analyse_night(
    job: Job,
    inputs: Inputs,
    settings: Settings,
    *,
    customers: bool = True,
    baskets: bool = True,
    ranking: bool = True,
    earlier: Sequence[date] = (),
    adopters: Mapping[date, pl.DataFrame] | None = None,
) -> Analysis:
    """The night's analysis on the job's engine (see `coupongen.analysis.night.analyse`).

    The Spark engine writes each stage's output under ``<out>/<as-of>/stages/`` and reads them
    back, with the cross-sell model's lists for planning unless ``ranking`` is false; the polars
    engine computes in memory, as it always did (planning fits the model), with the regular
    products as of the ``earlier`` days (`Analysis.earlier`) and the adoption counts among
    ``adopters`` (`Analysis.adoption`; neither on Spark).
    """
    if job.config.engine == "spark":
        from coupongen.engines.spark.night import analyse_on_spark

        return analyse_on_spark(job, inputs, settings, customers=customers, baskets=baskets, ranking=ranking)
    return analyse(
        job, inputs, settings.as_of, customers=customers, baskets=baskets, earlier=earlier, adopters=adopters
    )


def candidates_stage(job: Job, settings: Settings) -> Callable[[OfferContext, int], StagedCandidates] | None:
    """How the job's engine proposes the night's offer candidates, for `offers.planning.plan_night`.

    None on the polars engine: the planning proposes them itself. On the Spark engine, Spark
    tasks propose them and draw the holdout flag into the ``candidates`` stage under
    ``settings.run_dir`` (`coupongen.engines.spark.candidates`); the caps, budgets, holdout cut,
    codes and ledger stay on the driver.
    """
    if job.config.engine != "spark":
        return None

    def on_spark(ctx: OfferContext, seed: int) -> StagedCandidates:
        from coupongen.engines.spark.candidates import propose_on_spark
        from coupongen.engines.spark.session import spark_master, spark_session

        spark = spark_session(spark_master(job.config.spark.master))
        return propose_on_spark(spark, settings.run_dir, job, ctx, seed=seed)

    return on_spark
