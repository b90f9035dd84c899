"""The night's front half: load and analyse the inputs, or take both from the night's checkpoint.

Loading and the analysis are most of a night's time. Their outputs (`NightData`) are saved as the
``analysis`` checkpoint under the night's key, so that a night that failed later (in planning,
issuing, publishing) resumes from there. The transactions are dropped as soon as the analysis and
the figures later stages need (`data.digest`) are computed.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from coupongen.analysis.night import Analysis
from coupongen.config import Job
from coupongen.engines import analyse_night, load_night_inputs
from coupongen.inputs.contract import Inputs
from coupongen.night.aside import Aside
from coupongen.night.checkpoints import load_stage, save_stage
from coupongen.night.data import (
    FRAMES,
    NightData,
    adoption_days,
    cycle_days,
    digest,
    from_frames,
    kept_text,
    night_active,
    night_chances,
    to_frames,
)
from coupongen.night.fingerprint import NightKey
from coupongen.offers.chances import MODELS, combined
from coupongen.offers.preflight import check_fresh
from coupongen.progress import Clock
from coupongen.settings import Settings

STAGE = "analysis"


def load_and_analyse(
    job: Job,
    settings: Settings,
    clock: Clock,
    *,
    key: NightKey | None,
    aside: Aside,
    write_files: bool = True,
    allow_stale: bool = False,
) -> NightData:
    """Tonight's analysed inputs: from the checkpoint saved under ``key`` when there is one, else
    loaded (quarantine files written when ``write_files``), checked for staleness, analysed and,
    with a ``key`` and ``write_files``, checkpointed. Stages "load" and "analyse" on ``clock``.

    InputError when the inputs are stale (unless ``allow_stale``) or too much of them was rejected.
    The checkpoint is written on ``aside``'s thread (see `night.aside`).
    """
    saved = load_stage(settings.run_dir, STAGE, key, FRAMES) if key is not None else None
    if saved is not None:
        clock.start("load")
        night = from_frames(*saved)
        clock.done("load", f"{night.kept_text()} (from the night's checkpoint)")
        check_fresh(night.figures.last, settings.as_of, job.config.stale_after_days, allow_stale=allow_stale)
        clock.start("analyse")
        clock.done("analyse", f"{_found(night)} (from the night's checkpoint)")
        return night
    clock.start("load")
    quarantine = settings.run_dir / "quarantine" if write_files else None
    inputs = load_night_inputs(job, settings, quarantine_dir=quarantine, window=input_window(job, settings))
    clock.done("load", kept_text(inputs))
    tx = inputs.transactions.kept
    newest = tx["ts"].max() if tx.height else None
    check_fresh(newest, settings.as_of, job.config.stale_after_days, allow_stale=allow_stale)
    clock.start("analyse")
    analysis, chances = _analysed(job, inputs, settings)
    night = digest(job, inputs, analysis, settings.as_of, chances=chances)
    del inputs, tx  # the lines are not needed any more: later stages read `night`
    if key is not None and write_files:
        aside.submit(save_stage, settings.run_dir, STAGE, key, *to_frames(night))
    clock.done("analyse", _found(night))
    return night


def _analysed(job: Job, inputs: Inputs, settings: Settings) -> tuple[Analysis, pl.DataFrame]:
    """The night's analysis and chance tables."""
    as_of = settings.as_of
    # The visit model's tables first: their peak is then not on top of the analysis' frames. The
    # cycle and adoption models' last: the analysis gives their regular products and each sku's
    # owners and first buyers as of each split day, from the per-product history it groups anyway.
    active = night_active(job, inputs, as_of)
    others = night_chances(job, inputs, as_of, models=["visit"], active=active)
    adopters = {day: active[day].select("customer_id") for day in adoption_days(job, as_of) if day in active}
    del active  # only the adoption model's customers are needed past the visit model
    analysis = analyse_night(job, inputs, settings, earlier=cycle_days(job, as_of), adopters=adopters)
    later = night_chances(
        job,
        inputs,
        as_of,
        models=[m for m in MODELS if m != "visit"],
        regular=analysis.earlier,
        active=adopters,
        adoption=analysis.adoption,
    )
    analysis.earlier, analysis.adoption = {}, {}
    return analysis, combined([others, later])


def input_window(job: Job, settings: Settings) -> tuple[date, date]:
    """The days the night reads of day-partitioned history: the look-back window before as-of."""
    return settings.as_of - timedelta(days=job.config.segments.lookback_days), settings.as_of


def _found(night: NightData) -> str:
    return f"{night.analysis.segmented.height} customers, {night.analysis.rules.height} rules"
