"""The run summary: what was read, kept and rejected, who is in which segment, what was issued.

``summary.json`` is for machines (a scheduler, a dashboard, the next run's comparison); the text
rendering is what an operator reads at the end of a run.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from coupongen.analysis import affinity, segments

if TYPE_CHECKING:
    from coupongen.config import Job
    from coupongen.pipeline import RunResult

TOP_RULES = 10


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts()


def build_summary(job: Job, result: RunResult) -> dict[str, Any]:
    """The run's figures as plain data (JSON-ready, deterministic for the same inputs)."""
    seg = result.analysis.segmented
    products = result.analysis.products
    names = dict(zip(products["sku"].to_list(), products["name"].to_list(), strict=True))
    rules = result.analysis.rules
    top = rules.head(TOP_RULES)
    summary: dict[str, Any] = {
        "job": job.config.name,
        "as_of": result.settings.as_of.isoformat(),
        "config_hash": job.config_hash(),
        "dry_run": result.dry_run,
        "inputs": result.inputs,
        "customers_with_purchases": seg.height,
        "segments": _records(segments.summarize_segments(seg)),
        "lifecycle": _records(seg.group_by("lifecycle").len("customers").sort("lifecycle")),
        "rules": {
            "baskets": result.analysis.n_baskets,
            "count": rules.height,
            "top": [affinity.describe_rule(r, names) for r in top.to_dicts()],
            "category_count": result.analysis.category_rules.height,
            "category_top": [
                affinity.describe_rule(r) for r in result.analysis.category_rules.head(TOP_RULES).to_dicts()
            ],
        },
        "campaigns": _records(result.funnel) if result.funnel.height else [],
        "reach": result.reach,
        "quarantine_reasons": result.quarantine_reasons,
        "offers_by_channel": _records(offers_by_channel(result)),
    }
    if not result.dry_run and result.coupons is not None:
        by_type = result.coupons.group_by("offer_type").len("coupons").sort("offer_type")
        summary["coupons"] = {
            "total": result.coupons.height,
            "issued_this_run": result.issued_new,
            "already_issued": result.coupons.height - result.issued_new,
            "control": result.controls,
            "by_offer_type": {r["offer_type"]: r["coupons"] for r in by_type.to_dicts()},
            "unique_codes": result.coupons["code"].n_unique(),
        }
        summary["run_id"] = result.run_id
        summary["files"] = result.files
    return summary


def offers_by_channel(result: RunResult) -> pl.DataFrame:
    """Coupons (or, in a dry run, planned offers) per offer type and channel.

    Columns: offer_type, channel (``none`` when no channel reaches the customer), coupons.
    """
    frame = result.coupons if result.coupons is not None else (result.plan.offers if result.plan else None)
    if frame is None or result.channels is None or frame.is_empty():
        return pl.DataFrame(schema={"offer_type": pl.String, "channel": pl.String, "coupons": pl.UInt32})
    return (
        frame.select("offer_type", "customer_id")
        .join(result.channels.select("customer_id", "channel"), on="customer_id", how="left")
        .with_columns(pl.col("channel").fill_null("none"))
        .group_by("offer_type", "channel")
        .len("coupons")
        .sort("offer_type", "channel")
    )


def key_figures(summary: dict[str, Any]) -> dict[str, float]:
    """The figures a manager compares from night to night."""
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


def _comparison(summary: dict[str, Any], previous: dict[str, Any]) -> list[dict[str, str]]:
    now, before = key_figures(summary), key_figures(previous)
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


def render_html(
    summary: dict[str, Any],
    result: RunResult,
    *,
    currency: str,
    previous: tuple[str, dict[str, Any]] | None = None,
) -> str:
    """A single-file HTML report with its charts embedded (opens with no network).

    ``previous`` is (link, summary) of the night before, for the comparison table.
    """
    from coupongen.report import charts  # matplotlib is slow to import; only the HTML report needs it

    products = result.analysis.products
    names = dict(zip(products["sku"].to_list(), products["name"].to_list(), strict=True))
    images = {
        "segments": charts.plot_segments(segments.summarize_segments(result.analysis.segmented)),
        "rules": charts.plot_rules(result.analysis.rules, names=names),
        "campaigns": charts.plot_campaigns(result.funnel),
        "channels": charts.plot_channels(offers_by_channel(result)),
    }
    figures = key_figures(summary)
    deltas: dict[str, str] = {}
    prev_block = None
    if previous is not None:
        link, prev = previous
        before = key_figures(prev)
        for key, value in figures.items():
            if key in before:
                deltas[key] = f"{value - before[key]:+,.0f} vs {prev['as_of']}"
        prev_block = {"link": link, "as_of": prev["as_of"], "rows": _comparison(summary, prev)}
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(
        s=summary,
        charts={k: base64.b64encode(v).decode("ascii") for k, v in images.items()},
        deltas=deltas,
        previous=prev_block,
        expected_cost=figures["expected_cost"],
        currency=currency,
    )


def write_html(html: str, run_dir: Path) -> Path:
    """Write ``report.html`` into the run folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def write_summary(summary: dict[str, Any], run_dir: Path) -> Path:
    """Write ``summary.json`` into the run folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    return path


def render_text(summary: dict[str, Any]) -> str:
    """The summary as the lines an operator reads at the end of a run."""
    lines = [
        f"coupongen {summary['job']} as of {summary['as_of']}" + (" (dry run)" if summary["dry_run"] else "")
    ]
    lines.append("inputs:")
    for name, c in summary["inputs"].items():
        lines.append(
            f"  {name:<13} read {c['read']:>9,}  kept {c['kept']:>9,}  quarantined {c['quarantined']:>6,}"
        )
    lines.append(f"segments ({summary['customers_with_purchases']:,} customers with purchases):")
    for s in summary["segments"]:
        nps = "-" if s["nps"] is None else f"{s['nps']:+.0f}"
        lines.append(
            f"  {s['rfm_segment']:<15} {s['customers']:>7,}  {s['customer_share']:>6.1%} of customers  "
            f"{s['spend_share']:>6.1%} of spend  NPS {nps}"
        )
    r = summary["rules"]
    lines.append(f"rules: {r['count']:,} sku rules from {r['baskets']:,} baskets; top:")
    lines += [f"  {t}" for t in r["top"][:5]]
    lines.append(f"category rules: {r['category_count']:,}; top:")
    lines += [f"  {t}" for t in r["category_top"][:3]]
    lines.append("campaigns:")
    lines.append(
        f"  {'campaign':<22} {'eligible':>8} {'offers':>8} {'sent':>7} {'holdout':>8} "
        f"{'expected cost':>14}  budget"
    )
    for c in summary["campaigns"]:
        name = c["campaign"] if c["campaign"] == c["offer_type"] else f"{c['campaign']} ({c['offer_type']})"
        budget = "none" if c.get("budget") is None else f"{c['budget']:,.0f}"
        lines.append(
            f"  {name:<22} {c['eligible']:>8,} {c.get('candidates', 0):>8,} {c.get('treated', 0):>7,} "
            f"{c.get('control', 0):>8,} {c.get('expected_cost', 0):>14,.2f}  {budget}"
        )
    if summary.get("reach"):
        reach = summary["reach"]
        lines.append(
            "customers reached: "
            + ", ".join(f"{ch} {reach.get(ch, 0):,}" for ch in ("email", "sms", "app"))
            + f"; no channel {reach.get('unreachable', 0):,} (suppressed {reach.get('suppressed', 0):,})"
        )
        if reach.get("fallen_back") or reach.get("rejected"):
            lines.append(
                f"messages: {reach.get('fallen_back', 0):,} fell back to another channel, "
                f"{reach.get('rejected', 0):,} not sent (reasons in delivery/rejected_messages.csv)"
            )
    if "coupons" in summary:
        k = summary["coupons"]
        lines.append(
            f"coupons: {k['total']:,} for the night ({k['issued_this_run']:,} new, "
            f"{k['already_issued']:,} already issued), {k['control']:,} in holdout"
        )
        files = summary.get("files", {})
        for name in ("pos", "crm", "email", "sms", "app", "report", "summary"):
            if name in files:
                lines.append(f"  {name:<8} {files[name]}")
        analysis = sorted({str(Path(p).parent) for n, p in files.items() if "analysis" in Path(p).parts})
        for folder in analysis:
            lines.append(f"  {'analysis':<8} {folder}/")
    return "\n".join(lines)
