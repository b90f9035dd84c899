"""Writing a night's account: summary.json and the HTML report beside the night's other outputs."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from coupongen.report.html import find_previous, render_html, write_html
from coupongen.report.summary import write_summary
from coupongen.results import RunSummary


def write_report(
    summary: RunSummary,
    *,
    out_dir: Path,
    funnel: pl.DataFrame,
    by_channel: pl.DataFrame,
    analysis_charts: dict[str, bytes],
    currency: str,
) -> dict[str, str]:
    """Write summary.json and report.html into ``out_dir/<as-of>``; returns their paths by name.

    The report is compared with the most recent earlier night under ``out_dir`` and shows the
    summary's latest evaluation of earlier nights (or says there is none). Charts of the
    analysis (segments, rules) come as drawn for the analysis files; the campaign and channel charts
    are drawn here, once.
    """
    from coupongen.report import charts  # matplotlib is slow to import; only the HTML report needs it

    run_dir = out_dir / summary.as_of
    found = find_previous(out_dir, summary.as_of)
    previous = None
    if found is not None:
        path, data = found
        previous = (f"../{path.parent.name}/report.html", data)
    images = {
        "segments": analysis_charts["segments"],
        "rules": analysis_charts["rules"],
        "campaigns": charts.plot_campaigns(funnel),
        "channels": charts.plot_channels(by_channel),
    }
    summary_path = write_summary(summary, run_dir)
    page = render_html(summary, images, currency=currency, previous=previous, run_dir=run_dir)
    html_path = write_html(page, run_dir)
    return {"report": str(html_path), "summary": str(summary_path)}
