"""The run summary: what was read, kept and rejected, who is in which segment, what was issued.

``summary.json`` is for machines (a scheduler, a dashboard, the next run's comparison); the text
rendering is what an operator reads at the end of a run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from coupongen import affinity, segments

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


def write_summary(summary: dict[str, Any], run_dir: Path) -> Path:
    """Write ``summary.json`` into the run folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    return path


def render_text(summary: dict[str, Any]) -> str:
    """The summary as the lines an operator reads at the end of a run."""
    lines = [f"coupongen {summary['job']} as of {summary['as_of']}" + (" (dry run)" if summary["dry_run"] else "")]
    lines.append("inputs:")
    for name, c in summary["inputs"].items():
        lines.append(f"  {name:<13} read {c['read']:>9,}  kept {c['kept']:>9,}  quarantined {c['quarantined']:>6,}")
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
    for c in summary["campaigns"]:
        budget = "no budget" if c.get("budget") is None else f"budget {c['budget']:,.0f}"
        lines.append(
            f"  {c['campaign']:<18} {c['offer_type']:<16} eligible {c['eligible']:>6,}  "
            f"targeted {c.get('within_budget', 0):>6,}  sent {c.get('treated', 0):>6,}  "
            f"holdout {c.get('control', 0):>5,}  expected cost {c.get('expected_cost', 0):,.2f} ({budget})"
        )
    if "coupons" in summary:
        k = summary["coupons"]
        lines.append(
            f"coupons: {k['total']:,} for the night ({k['issued_this_run']:,} new, "
            f"{k['already_issued']:,} already issued), {k['control']:,} in holdout"
        )
        for name, path in sorted(summary.get("files", {}).items()):
            lines.append(f"  {name:<9} {path}")
    return "\n".join(lines)
