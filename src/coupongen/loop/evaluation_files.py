"""The files an evaluation is written to: effects, redemption rates and economics as CSV, a chart
of the effects, and all of it with its settings as evaluation.json, for analysts and dashboards.
"""

from __future__ import annotations

import json
from pathlib import Path

from coupongen.delivery.publish import write_atomic
from coupongen.loop.evaluate import Evaluation
from coupongen.loop.statistics import CONFIDENCE


def write_evaluation(evaluation: Evaluation, folder: Path, *, title: str) -> dict[str, Path]:
    """Write effects.csv, redemption_rates.csv, economics.csv, effects.png and evaluation.json.

    Returns the paths by name. Each file is written aside and renamed into place.
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
    doc = {
        "title": title,
        "confidence": CONFIDENCE,
        "margin_rate": evaluation.margin_rate,
        "purchases_until": None
        if evaluation.purchases_until is None
        else evaluation.purchases_until.isoformat(),
        "effects": evaluation.effects.to_dicts(),
        "redemption_rates": evaluation.rates.to_dicts(),
        "economics": evaluation.economics.to_dicts(),
    }
    put("evaluation.json", (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return written
