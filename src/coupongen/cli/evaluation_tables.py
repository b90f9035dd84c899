"""What ``coupongen evaluate`` prints: one narrow table a manager reads, every detail with ``--wide``.

The narrow table fits 100 columns: per campaign, the treated and holdout sizes, the extra spend per
customer with its 95% interval, the verdict and the return. ``--wide`` adds every metric, the
redemption rates and the cost and return with their intervals (the CSV files hold all of it).
Money is in the job's locale and currency (Babel), returns are multiples of the cost.
"""

from __future__ import annotations

import textwrap
from typing import Any

import polars as pl

from coupongen.loop import comparison, evaluate
from coupongen.report.evaluation import (
    NOT_AVAILABLE,
    headline_cells,
    return_text,
    whole_money,
    whole_number,
)

NARROW_NAME = 18
"""A campaign name longer than this is cut in the narrow table (``--wide`` shows it whole)."""
WIDTH = 100
"""The narrow table and its notes fit this many columns."""


def table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """Aligned lines: columns two spaces apart, those in ``right`` right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), *(line(r) for r in rows)]


def _short(name: str) -> str:
    return name if len(name) <= NARROW_NAME else name[: NARROW_NAME - 1] + "…"


def _notes(result: evaluate.Evaluation, until: str, *, metrics: tuple[str, ...]) -> list[str]:
    """Which campaign-nights each pooled row of ``metrics`` covers, and the windows not yet over."""
    lines = []
    pooled = result.effects.filter((pl.col("campaign") == comparison.ALL) & pl.col("metric").is_in(metrics))
    for r in pooled.to_dicts():
        names = ", ".join(entry.split("@")[0] for entry in str(r["covers"]).split(comparison.COVER_SEPARATOR))
        what = "" if len(metrics) == 1 else f", {comparison.METRIC_LABELS[str(r['metric'])]}"
        lines.append(f"all{what}: {names}")
    incomplete = result.effects.filter(~pl.col("complete") & pl.col("metric").is_in(metrics))
    incomplete = incomplete.unique(["campaign", "as_of"], maintain_order=True)
    for r in incomplete.to_dicts():
        lines.append(
            f"* {r['campaign']} ({r['as_of']}) is valid until {r['valid_to']}, the purchases end on "
            f"{until}: the figures cover the days so far"
        )
    return lines


def _wrap(lines: list[str]) -> list[str]:
    """Notes wrapped to the narrow table's width, continuation lines indented."""
    return [part for line in lines for part in textwrap.wrap(line, WIDTH, subsequent_indent="  ") or [""]]


def render_narrow(result: evaluate.Evaluation, *, currency: str, locale: str) -> list[str]:
    """Per campaign (grouped by night when there are several): sizes, extra spend, verdict, return."""
    rows = result.headline.to_dicts()
    nights = sorted({str(r["as_of"]) for r in rows} - {comparison.ALL})
    header = ["campaign", "treated", "holdout", "extra spend per customer", "verdict", "return"]
    right = {1, 2, 5}

    def cells(row: dict[str, Any]) -> list[str]:
        c = headline_cells(row, currency, locale)
        return [_short(c["campaign"]), c["treated"], c["holdout"], c["effect"], c["verdict"], c["return"]]

    if len(nights) <= 1:
        lines = table(header, [cells(r) for r in rows], right)
    else:
        groups = [(f"night {n}", [r for r in rows if r["as_of"] == n]) for n in nights]
        groups.append(("all nights", [r for r in rows if r["as_of"] == comparison.ALL]))
        flat = [cells(r) for _, group in groups for r in group]
        aligned = iter(table(header, flat, right))
        lines = [next(aligned)]
        for title, group in groups:
            if group:
                lines.append(title)
                lines += [next(aligned) for _ in group]
    treated = result.economics.filter(pl.col("campaign") != comparison.ALL)
    treated = treated.filter(pl.col("as_of") != comparison.ALL)
    paid = float(treated["cost"].sum()) if treated.height else 0.0
    uses = int(treated["redemptions"].sum()) if treated.height else 0
    one = whole_money(1, currency, locale)
    adjusted = (
        f"CUPED-adjusted for the {evaluate.PRE_DAYS} days before the night; " if _adjusted(result) else ""
    )
    until = result.purchases_until.isoformat() if result.purchases_until else "-"
    notes = [
        "extra spend per customer: net spend of the coupons' holders minus the holdout's in the "
        f"validity window ({adjusted}95% interval)",
        f"return: incremental margin ({result.margin_rate:.0%} of the extra spend) per {one} of rewards; "
        f"{NOT_AVAILABLE}: nothing paid out; -: no interval; without an effect detected it is not yet "
        "a return",
        f"rewards paid out: {whole_money(paid, currency, locale)} "
        f"on {whole_number(uses, locale)} redemptions",
        *_notes(result, until, metrics=(evaluate.HEADLINE_METRIC,)),
        "every metric, redemption rates, cost and return with intervals: --wide",
    ]
    return [*lines, "", *_wrap(notes)]


def _adjusted(result: evaluate.Evaluation) -> bool:
    return bool(result.effects["method"].str.contains(comparison.ADJUSTED, literal=True).any())


def _effect_cells(row: dict[str, Any], locale: str) -> list[str]:
    rate = row["metric"] == "purchase_rate"
    unit = " pts" if rate else ""

    def value(key: str, signed: bool = False) -> str:
        v = row[key]
        if v is None:
            return "-"
        if rate:
            return f"{v * 100:+.1f}" if signed else f"{v:.1%}"
        return whole_number(v, locale, signed=signed)

    interval = "-" if row["ci_low"] is None else f"{value('ci_low', True)} to {value('ci_high', True)}{unit}"
    lift = "-" if row["lift"] is None else f"{row['lift']:+.0%}"
    lift_ci = "" if row["lift_low"] is None else f" ({row['lift_low']:+.0%} to {row['lift_high']:+.0%})"
    return [
        str(row["campaign"]),
        str(row["as_of"]),
        comparison.METRIC_LABELS[str(row["metric"])],
        whole_number(row["treated_n"], locale),
        whole_number(row["control_n"], locale),
        value("treated_mean"),
        value("control_mean"),
        value("difference", True) + (unit if row["difference"] is not None else ""),
        interval,
        lift + lift_ci,
        "-" if row["mde"] is None else f"{row['mde']:+.0%}",
        str(row["verdict"]) + ("" if row["complete"] else " *"),
    ]


def render_wide(result: evaluate.Evaluation, *, currency: str, locale: str) -> list[str]:
    """Every metric of every campaign-night, the redemption rates, and cost and return with intervals."""
    lines = [
        f"incremental effect, treated against holdout in each validity window (95% intervals, {currency}):"
    ]
    header = ["campaign", "night", "metric", "treated", "holdout", "treated mean", "holdout mean",
              "difference", "95% interval", "lift (95% interval)", "detectable", "verdict"]  # fmt: skip
    rows = [_effect_cells(r, locale) for r in result.effects.to_dicts()]
    lines += table(header, rows, {3, 4, 5, 6, 7, 10})
    lines.append("detectable: the smallest lift the comparison finds 4 times in 5")
    if _adjusted(result):
        lines.append(
            f"means are adjusted to the same purchases in the {evaluate.PRE_DAYS} days before the "
            "night (CUPED)"
        )
    lines += ["", "redemption rates (coupons used at least once):"]
    rates = [
        [r["dimension"], r["value"], whole_number(r["coupons"], locale), whole_number(r["redeemed"], locale),
         f"{r['rate']:.1%}", whole_number(r["uses"], locale), whole_money(r["discount"], currency, locale)]
        for r in result.rates.to_dicts()
    ]  # fmt: skip
    lines += table(["by", "value", "coupons", "redeemed", "rate", "uses", "discount"], rates, {2, 3, 4, 5, 6})
    lines += ["", f"cost and return (margin rate {result.margin_rate:.0%} of incremental spend):"]

    def span(low: Any, high: Any, fmt: Any) -> str:
        return "-" if low is None or high is None else f"{fmt(low)} to {fmt(high)}"

    money = [
        [
            r["campaign"], r["as_of"], whole_number(r["treated_n"], locale),
            whole_number(r["redemptions"], locale), whole_money(r["cost"], currency, locale),
            "-" if r["incremental_margin"] is None
            else whole_money(r["incremental_margin"], currency, locale),
            span(r["margin_low"], r["margin_high"], lambda v: whole_number(v, locale, signed=True)),
            return_text(r["return_multiple"], locale),
            span(r["return_low"], r["return_high"], lambda v: return_text(v, locale)),
            r["verdict"],
        ]
        for r in result.economics.to_dicts()
    ]  # fmt: skip
    header = ["campaign", "night", "treated", "redemptions", "cost", "incremental margin", "95% interval",
              "return", "95% interval", "spend comparison"]  # fmt: skip
    lines += table(header, money, {2, 3, 4, 5, 6, 7})
    lines.append(
        f"return: incremental margin per unit of cost (1× breaks even); {NOT_AVAILABLE}: nothing paid out"
    )
    return lines


def render_evaluation(
    result: evaluate.Evaluation, *, label: str, currency: str, locale: str, wide: bool = False
) -> str:
    """What ``coupongen evaluate`` prints: the narrow table, or with ``wide`` every table in full."""
    until = result.purchases_until.isoformat() if result.purchases_until else "-"
    lines = [f"evaluation of {label}: purchases up to {until}", ""]
    if wide:
        body = render_wide(result, currency=currency, locale=locale)
        body += _notes(result, until, metrics=comparison.METRICS)
    else:
        body = render_narrow(result, currency=currency, locale=locale)
    return "\n".join([*lines, *body])
