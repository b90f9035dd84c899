"""The lines an operator reads at the end of a run: inputs, segments, rules, campaigns, coupons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coupongen.results import RunSummary


def render_line(summary: RunSummary, *, complete: bool = False) -> str:
    """The run's result in one line (``-q``): coupons, holdout, customers reached, the summary file;
    ``complete``: the night had already finished, and this run did nothing.
    """
    head = f"coupongen {summary.job} {summary.as_of}"
    reached = sum(summary.reach.get(ch, 0) for ch in ("email", "sms", "app"))
    if summary.coupons is None:
        offers = sum(c.get("treated", 0) for c in summary.campaigns)
        holdout = sum(c.get("control", 0) for c in summary.campaigns)
        return f"{head} (dry run): {offers:,} offers, {holdout:,} in holdout, {reached:,} customers reached"
    k = summary.coupons
    new = "already complete, nothing to do" if complete else f"{k.issued_this_run:,} new"
    return (
        f"{head}: {k.total:,} coupons ({new}), {k.control:,} in holdout, "
        f"{reached:,} customers reached; {summary.files.get('summary', '')}"
    )


def render_text(summary: RunSummary) -> str:
    """The summary as the lines an operator reads at the end of a run."""
    lines = [f"coupongen {summary.job} as of {summary.as_of}" + (" (dry run)" if summary.dry_run else "")]
    lines.append("inputs:")
    for name, n in summary.inputs.items():
        lines.append(f"  {name:<13} read {n.read:>9,}  kept {n.kept:>9,}  quarantined {n.quarantined:>6,}")
    lines.append(f"segments ({summary.customers_with_purchases:,} customers with purchases):")
    for s in summary.segments:
        nps = "-" if s["nps"] is None else f"{s['nps']:+.0f}"
        lines.append(
            f"  {s['rfm_segment']:<15} {s['customers']:>7,}  {s['customer_share']:>6.1%} of customers  "
            f"{s['spend_share']:>6.1%} of spend  NPS {nps}"
        )
    r = summary.rules
    lines.append(f"rules: {r.count:,} sku rules from {r.baskets:,} baskets; top:")
    lines += [f"  {t}" for t in r.top[:5]]
    lines.append(f"category rules: {r.category_count:,}; top:")
    lines += [f"  {t}" for t in r.category_top[:3]]
    lines.append(f"campaigns (money in {summary.currency}):")
    lines.append(
        f"  {'campaign':<22} {'eligible':>8} {'candidates':>10} {'offers':>7} {'holdout':>8} "
        f"{'expected cost':>14} {'budget':>8} {'value/coupon':>12}"
    )
    for c in summary.campaigns:
        name = c["campaign"] if c["campaign"] == c["offer_type"] else f"{c['campaign']} ({c['offer_type']})"
        budget = "none" if c.get("budget") is None else f"{c['budget']:,.0f}"
        per = c.get("value_per_coupon")
        value = "-" if per is None else f"{per:,.2f}" + (" !" if per < 0 else "")
        lines.append(
            f"  {name:<22} {c['eligible']:>8,} {c.get('candidates', 0):>10,} {c.get('treated', 0):>7,} "
            f"{c.get('control', 0):>8,} {c.get('expected_cost', 0):>14,.2f} {budget:>8} {value:>12}"
        )
    for c in summary.campaigns:
        if c.get("substitute_share") is not None:
            lines.append(
                f"  {c['campaign']}: {c['substitute_share']:.0%} of its product offers are substitutes "
                "(a product type the customer bought in the look-back window)"
            )
    for c in summary.campaigns:
        if c.get("set_aside"):
            lines.append(
                f"  {c['campaign']}: {c['set_aside']:,} offers set aside, missing a value the ledger "
                "requires (quarantine/offers.csv)"
            )
    if any((c.get("value_per_coupon") or 0) < 0 for c in summary.campaigns):
        lines.append(
            "  ! a coupon is expected to lose money: its reward costs more than the margin it brings"
        )
    lines += preflight_lines(summary.preflight, everything=False)
    if summary.reach:
        reach = summary.reach
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
        if reach.get("left_out"):
            lines.append(
                f"messages: {reach['left_out']:,} left a campaign's coupons out (issued, not announced: "
                "the campaign does not use the message's channel; see delivery/rejected_messages.csv)"
            )
    if summary.coupons is not None:
        k = summary.coupons
        lines.append(
            f"coupons: {k.total:,} for the night ({k.issued_this_run:,} new, "
            f"{k.already_issued:,} already issued), {k.control:,} in holdout"
        )
        files = summary.files
        for name in ("pos", "crm", "email", "sms", "app", "report", "summary"):
            if name in files:
                lines.append(f"  {name:<8} {files[name]}")
        analysis = sorted({str(Path(p).parent) for p in files.values() if "analysis" in Path(p).parts})
        for folder in analysis:
            lines.append(f"  {'analysis':<8} {folder}/")
    return "\n".join(lines)


def preflight_lines(preflight: dict[str, Any], *, everything: bool = True) -> list[str]:
    """The preflight as text: input date range, resolved money rules and the findings (with
    ``everything=False`` only those that need attention, and how many checks passed).
    """
    if not preflight:
        return []
    lines = [
        f"preflight: transactions from {preflight.get('first_transaction') or '-'} "
        f"to {preflight.get('last_transaction') or '-'}"
    ]
    for m in preflight.get("money", []):
        value = "per offer" if m["value"] is None else f"{m['value']:,.2f}"
        lines.append(f"  {m['campaign']:<22} {m['setting']:<22} {m['rule']} = {value}")
    findings = preflight.get("findings", [])
    shown = findings if everything else [f for f in findings if f["status"] != "ok"]
    if not everything:
        lines.append(
            f"  {len(findings) - len(shown)} of {len(findings)} checks ok (`coupongen check` lists them)"
        )
    for f in shown:
        mark = {"ok": "ok", "warning": "WARNING", "cannot fire": "CANNOT FIRE"}.get(f["status"], f["status"])
        lines.append(f"  {f['campaign']:<22} {mark:<12} {f['check']}: {f['detail']}")
    return lines
