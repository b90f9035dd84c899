"""The files an evaluation is written to: effects, redemption rates and economics as CSV, a chart
of the effects, and all of it with its settings and headline rows as evaluation.json, for analysts,
dashboards and the nightly report (which shows the latest one).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from coupongen.delivery.publish import write_atomic
from coupongen.loop.comparison import ALL
from coupongen.loop.evaluate import Evaluation
from coupongen.loop.statistics import CONFIDENCE


def write_evaluation(
    evaluation: Evaluation, folder: Path, *, title: str, label: str, currency: str, locale: str
) -> dict[str, Path]:
    """Write effects.csv, redemption_rates.csv, economics.csv, effects.png and evaluation.json.

    evaluation.json holds the tables with the settings and what the report needs to show the
    evaluation: ``label`` (the folder's name), ``as_of`` (the last day of the purchases measured),
    the ``nights`` and ``campaigns`` evaluated, the job's ``currency`` and ``locale``, and the
    ``headline`` rows (see `coupongen.loop.evaluate.headline`). Returns the paths by name. Each
    file is written aside and renamed into place.
    """
    from coupongen.report import charts  # matplotlib is slow to import; only writing needs it

    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        write_atomic(folder / name, lambda path: path.write_bytes(data))
        written[name] = folder / name

    for name, frame in (
        ("effects.csv", evaluation.effects),
        ("redemption_rates.csv", evaluation.rates),
        ("economics.csv", evaluation.economics),
    ):
        put(name, frame.write_csv(float_precision=None).encode("utf-8"))
    put("effects.png", charts.plot_effects(evaluation.effects, title=title))
    until = None if evaluation.purchases_until is None else evaluation.purchases_until.isoformat()
    strata = evaluation.effects.filter((pl.col("campaign") != ALL) & (pl.col("as_of") != ALL))
    doc = {
        "title": title,
        "label": label,
        "as_of": until,
        "nights": sorted(set(strata["as_of"].to_list())),
        "campaigns": sorted(set(strata["campaign"].to_list())),
        "currency": currency,
        "locale": locale,
        "headline": evaluation.headline.to_dicts(),
        "confidence": CONFIDENCE,
        "margin_rate": evaluation.margin_rate,
        "purchases_until": until,
        "effects": evaluation.effects.to_dicts(),
        "redemption_rates": evaluation.rates.to_dicts(),
        "economics": evaluation.economics.to_dicts(),
    }
    put("evaluation.json", (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return written
