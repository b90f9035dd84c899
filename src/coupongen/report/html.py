"""The single-file HTML report of a night, compared with the night before.

Charts arrive as PNG bytes already drawn (the analysis files draw segments and rules; the night's
campaign and channel charts are drawn once for the report) and are inlined, so the page opens
with no network.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from coupongen.delivery.publish import write_atomic
from coupongen.report.evaluation import headline_cells, whole_money
from coupongen.results import RunSummary


def key_figures(summary: dict[str, Any]) -> dict[str, float]:
    """The figures a manager compares from night to night, from a summary.json's data."""
    figures: dict[str, float] = {
        "customers_with_purchases": summary["customers_with_purchases"],
        "expected_cost": round(sum(c.get("expected_cost", 0.0) for c in summary["campaigns"]), 2),
    }
    if summary.get("coupons"):
        figures["coupons_total"] = summary["coupons"]["total"]
        figures["control"] = summary["coupons"]["control"]
        for offer_type, n in summary["coupons"]["by_offer_type"].items():
            figures[f"coupons {offer_type}"] = n
    for name, c in summary["inputs"].items():
        figures[f"{name} quarantined"] = c["quarantined"]
    return figures


def find_previous(out_dir: Path, as_of: str) -> tuple[Path, dict[str, Any]] | None:
    """The most recent earlier night under ``out_dir`` that left a summary.json, if any."""
    earlier = sorted(p for p in out_dir.glob("????-??-??/summary.json") if p.parent.name < as_of)
    if not earlier:
        return None
    path = earlier[-1]
    try:
        return path, json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _comparison(now: dict[str, float], before: dict[str, float]) -> list[dict[str, str]]:
    rows = []
    for name in sorted(set(now) | set(before)):
        a, b = before.get(name), now.get(name)
        change = "" if a is None or b is None else f"{b - a:+,.0f}" + (f" ({(b - a) / a:+.0%})" if a else "")
        direction = "" if a is None or b is None or a == b else ("up" if b > a else "down")
        rows.append(
            {
                "name": name.replace("_", " "),
                "before": "-" if a is None else f"{a:,.0f}",
                "now": "-" if b is None else f"{b:,.0f}",
                "change": change,
                "direction": direction,
            }
        )
    return rows


def _evaluation_block(summary: RunSummary, run_dir: Path | None) -> dict[str, Any] | None:
    """The latest evaluation as the report shows it: labels, a link and the headline rows as text."""
    found = summary.evaluation
    if not found:
        return None
    currency = found.get("currency") or summary.currency
    link = Path(found["file"])
    if run_dir is not None:
        link = Path(os.path.relpath(link, run_dir))
    return {
        "label": found["label"],
        "as_of": found["as_of"],
        "nights": ", ".join(found.get("nights") or []),
        "campaigns": ", ".join(found.get("campaigns") or []),
        "margin_rate": found.get("margin_rate"),
        "one": whole_money(1, currency, summary.locale),
        "link": link.as_posix(),
        "incomplete": any(not row.get("complete", True) for row in found["headline"]),
        "rows": [headline_cells(row, currency, summary.locale) for row in found["headline"]],
    }


def render_html(
    summary: RunSummary,
    charts: dict[str, bytes],
    *,
    currency: str,
    previous: tuple[str, dict[str, Any]] | None = None,
    run_dir: Path | None = None,
) -> str:
    """The report page. ``charts`` holds the PNGs named segments, rules, campaigns and channels;
    ``previous`` is (link, summary.json data) of the night before, for the comparison table; the
    summary's latest evaluation of earlier nights is linked relative to ``run_dir``.
    """
    figures = key_figures(summary.to_json())
    deltas: dict[str, str] = {}
    prev_block = None
    if previous is not None:
        link, prev = previous
        before = key_figures(prev)
        for key, value in figures.items():
            if key in before:
                deltas[key] = f"{value - before[key]:+,.0f} vs {prev['as_of']}"
        prev_block = {"link": link, "as_of": prev["as_of"], "rows": _comparison(figures, before)}
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(
        s=summary,
        charts={k: base64.b64encode(v).decode("ascii") for k, v in charts.items()},
        deltas=deltas,
        previous=prev_block,
        evaluation=_evaluation_block(summary, run_dir),
        expected_cost=figures["expected_cost"],
        currency=currency,
    )


def write_html(html: str, run_dir: Path) -> Path:
    """Write ``report.html`` into the run folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "report.html"
    write_atomic(path, lambda staging: staging.write_text(html, encoding="utf-8"))
    return path
