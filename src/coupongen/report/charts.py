"""The two charts an analyst looks at first: who the segments are, and which products go together.

Each function draws one chart from a frame and returns it as PNG bytes; the caller writes the file.
Rendering uses matplotlib's Agg backend on a private figure (never pyplot's global state) and writes
no timestamp or software version, so the same frame always gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import matplotlib as mpl
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100
TOP_LABELS = 8
"""How many rules the rules chart names, the highest lifts first."""

_STYLE: Any = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs on every machine
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "coupongen",
    "path.simplify": False,
}
_CUSTOMERS_COLOUR = "#4C72B0"
_SPEND_COLOUR = "#DD8452"
_LABEL_WIDTH = 34


def plot_segments(summary: pl.DataFrame, *, title: str = "Segments") -> bytes:
    """Draw each segment's share of customers next to its share of spend, as PNG bytes.

    ``summary`` is `segments.summarize_segments` output (rfm_segment, customers, customer_share,
    spend_share, nps, ...). Segments are drawn in the frame's order, the first at the top; each
    label carries the segment's size and NPS.
    """
    name = summary.columns[0]
    rows = summary.to_dicts()
    with mpl.rc_context(_STYLE):
        height = 1.4 + 0.5 * max(len(rows), 1)
        fig = Figure(figsize=(8.0, height), dpi=DPI)
        ax = fig.add_subplot()
        fig.subplots_adjust(left=0.27, right=0.97, top=1 - 0.45 / height, bottom=0.6 / height)
        if not rows:
            _say(ax, "no customers with purchases")
            return _png(fig)
        positions = list(range(len(rows)))[::-1]
        height = 0.38
        customers = [100 * r["customer_share"] for r in rows]
        spend = [100 * r["spend_share"] for r in rows]
        ax.barh(
            [p + height / 2 for p in positions],
            customers,
            height,
            color=_CUSTOMERS_COLOUR,
            label="% of customers",
        )
        ax.barh([p - height / 2 for p in positions], spend, height, color=_SPEND_COLOUR, label="% of spend")
        for p, c, s in zip(positions, customers, spend, strict=True):
            ax.text(c, p + height / 2, f" {c:.1f}%", va="center", fontsize=7)
            ax.text(s, p - height / 2, f" {s:.1f}%", va="center", fontsize=7)
        ax.set_yticks(positions, [_segment_label(r, name) for r in rows])
        ax.set_xlim(0, max([*customers, *spend, 1.0]) * 1.18)
        ax.set_xlabel("share (%)")
        ax.set_title(title, loc="left", fontweight="bold")
        ax.legend(loc="lower right", frameon=False)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
        return _png(fig)


def plot_rules(
    rules: pl.DataFrame, *, names: Mapping[str, str] | None = None, title: str = "Association rules"
) -> bytes:
    """Draw rules as points, support against confidence, coloured by lift, as PNG bytes.

    ``rules`` is `affinity.mine_rules` output. The TOP_LABELS rules with the highest lift (the
    frame's order) are numbered on the chart and spelt out below it, with item names from
    ``names`` where given. Support is on a log scale when it spans more than a factor of ten.
    """
    labelled = rules.head(TOP_LABELS).to_dicts()
    with mpl.rc_context(_STYLE):
        height = 4.6 + 0.16 * len(labelled)
        fig = Figure(figsize=(8.0, height), dpi=DPI)
        ax = fig.add_subplot()
        # Room below the axes for the numbered rules, one line each.
        fig.subplots_adjust(left=0.1, right=0.93, top=0.93, bottom=(0.7 + 0.16 * len(labelled)) / height)
        ax.set_title(title, loc="left", fontweight="bold")
        if rules.is_empty():
            _say(ax, "no rules at these thresholds")
            return _png(fig)
        support = rules["support"].to_numpy()
        confidence = rules["confidence"].to_numpy()
        lift = rules["lift"].to_numpy()
        # Draw the strongest last, so they sit on top where points overlap.
        order = lift.argsort(kind="stable")
        points = ax.scatter(
            support[order] * 100,
            confidence[order] * 100,
            c=lift[order],
            cmap="viridis",
            s=18,
            alpha=0.85,
            linewidths=0,
        )
        colourbar = fig.colorbar(points, ax=ax, fraction=0.05, pad=0.02)
        colourbar.set_label("lift")
        if support.max() > 10 * support.min():
            ax.set_xscale("log")
        ax.set_xlabel("support (% of baskets)")
        ax.set_ylabel("confidence (%)")
        ax.grid(alpha=0.3)
        ax.set_axisbelow(True)
        lines = []
        for number, rule in enumerate(labelled, start=1):
            x, y = rule["support"] * 100, rule["confidence"] * 100
            ax.annotate(
                str(number), (x, y), xytext=(3, 3), textcoords="offset points", fontsize=8, fontweight="bold"
            )
            lines.append(f"{number}. {_rule_text(rule, names or {})}")
        fig.text(0.02, 0.02, "\n".join(lines), fontsize=8, va="bottom", family="DejaVu Sans Mono")
        return _png(fig)


def _segment_label(row: Mapping[str, Any], name: str) -> str:
    nps = "NPS -" if row["nps"] is None else f"NPS {row['nps']:+.0f}"
    return f"{row[name]}\n{row['customers']:,} customers, {nps}"


def _rule_text(rule: Mapping[str, Any], names: Mapping[str, str]) -> str:
    def label(items: list[str]) -> str:
        text = " + ".join(names.get(item, item) for item in items)
        return text if len(text) <= _LABEL_WIDTH else text[: _LABEL_WIDTH - 1] + "~"

    return (
        f"{label(rule['antecedent'])} -> {label(rule['consequent'])}: "
        f"lift {rule['lift']:.1f}, confidence {rule['confidence']:.0%}"
    )


def _say(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    # No "Software" or creation-time chunk: the bytes depend on the data alone.
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def plot_campaigns(funnel: pl.DataFrame, *, title: str = "Campaigns") -> bytes:
    """Draw each campaign's offers and holdout, and its expected cost against its budget.

    ``funnel`` is the offer plan's funnel (campaign, treated, control, expected_cost, budget...).
    Left: customers given an offer and held out; right: expected cost as a share of the budget
    (campaigns without a budget show their cost alone).
    """
    rows = funnel.to_dicts()
    with mpl.rc_context(_STYLE):
        height = 1.4 + 0.45 * max(len(rows), 1)
        fig = Figure(figsize=(9.0, height), dpi=DPI)
        left, right = fig.subplots(1, 2, sharey=True, width_ratios=(3, 2))
        fig.subplots_adjust(left=0.2, right=0.97, top=1 - 0.45 / height, bottom=0.6 / height, wspace=0.08)
        left.set_title(title, loc="left", fontweight="bold")
        if not rows:
            _say(left, "no campaigns")
            return _png(fig)
        positions = list(range(len(rows)))[::-1]
        sent = [r.get("treated", 0) for r in rows]
        held = [r.get("control", 0) for r in rows]
        left.barh(positions, sent, color=_CUSTOMERS_COLOUR, label="offers")
        left.barh(positions, held, left=sent, color="#A0A0A0", label="holdout")
        for p, s, h in zip(positions, sent, held, strict=True):
            left.text(s + h, p, f" {s:,} + {h:,}", va="center", fontsize=7)
        left.set_yticks(positions, [r["campaign"] for r in rows])
        left.set_xlim(0, max([s + h for s, h in zip(sent, held, strict=True)] + [1]) * 1.3)
        left.set_xlabel("customers")
        left.legend(loc="lower right", frameon=False)
        used = [100 * r["expected_cost"] / r["budget"] if r.get("budget") else 0.0 for r in rows]
        right.barh(positions, used, color=_SPEND_COLOUR)
        for p, u, r in zip(positions, used, rows, strict=True):
            label = (
                f" {r['expected_cost']:,.0f} of {r['budget']:,.0f}"
                if r.get("budget")
                else f" {r['expected_cost']:,.0f}, no budget"
            )
            right.text(u, p, label, va="center", fontsize=7)
        right.set_xlim(0, 140)
        right.set_xlabel("expected cost, % of budget")
        for ax in (left, right):
            ax.grid(axis="x", alpha=0.3)
            ax.set_axisbelow(True)
        return _png(fig)


def plot_channels(by_channel: pl.DataFrame, *, title: str = "Coupons by offer type and channel") -> bytes:
    """Draw coupons per offer type, stacked by the channel that carries them (``none``: unreached).

    ``by_channel`` has offer_type, channel, coupons.
    """
    with mpl.rc_context(_STYLE):
        types = sorted(set(by_channel["offer_type"].to_list())) if by_channel.height else []
        height = 1.4 + 0.45 * max(len(types), 1)
        fig = Figure(figsize=(8.0, height), dpi=DPI)
        ax = fig.add_subplot()
        fig.subplots_adjust(left=0.2, right=0.97, top=1 - 0.45 / height, bottom=0.6 / height)
        ax.set_title(title, loc="left", fontweight="bold")
        if not types:
            _say(ax, "no coupons")
            return _png(fig)
        positions = list(range(len(types)))[::-1]
        counts = {(r["offer_type"], r["channel"]): r["coupons"] for r in by_channel.to_dicts()}
        base = [0] * len(types)
        colours = {"email": _CUSTOMERS_COLOUR, "sms": _SPEND_COLOUR, "app": "#55A868", "none": "#C0C0C0"}
        for channel, colour in colours.items():
            values = [counts.get((t, channel), 0) for t in types]
            ax.barh(positions, values, left=base, color=colour, label=channel)
            base = [b + v for b, v in zip(base, values, strict=True)]
        ax.set_yticks(positions, types)
        ax.set_xlabel("coupons")
        ax.legend(loc="lower right", frameon=False, ncols=4)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
        return _png(fig)


_EFFECT_PANELS = (
    ("purchase_rate", "purchase rate (%)", 100.0),
    ("spend", "spend per customer", 1.0),
    ("target_spend", "targeted spend per customer", 1.0),
)
_CONTROL_COLOUR = "#A0A0A0"
_GROUP_BARS = ((0.5, "treated", _CUSTOMERS_COLOUR), (-0.5, "control", _CONTROL_COLOUR))


def plot_effects(effects: pl.DataFrame, *, title: str = "Treated against holdout") -> bytes:
    """Draw each campaign's treated and holdout means side by side with their 95% intervals.

    ``effects`` is `coupongen.loop.comparison.compare_groups` output. One panel per metric
    (purchase rate, spend, targeted spend), one pair of bars per campaign-night, the pooled row
    last; each label carries the relative lift and a mark when the interval of the difference
    excludes zero (``*``).
    """
    rows = effects.to_dicts()
    labels = list(dict.fromkeys((r["campaign"], r["as_of"]) for r in rows))
    with mpl.rc_context(_STYLE):
        height = 1.6 + 0.55 * max(len(labels), 1)
        fig = Figure(figsize=(12.0, height), dpi=DPI)
        axes = fig.subplots(1, len(_EFFECT_PANELS), sharey=True)
        fig.subplots_adjust(left=0.17, right=0.98, top=1 - 0.75 / height, bottom=0.7 / height, wspace=0.25)
        fig.suptitle(title, x=0.02, ha="left", fontweight="bold")
        if not rows:
            _say(axes[0], "nothing to compare")
            return _png(fig)
        positions = {key: p for p, key in enumerate(reversed(labels))}
        bar = 0.38
        for ax, (metric, xlabel, scale) in zip(axes, _EFFECT_PANELS, strict=True):
            mine = [r for r in rows if r["metric"] == metric]
            for r in mine:
                p = positions[(r["campaign"], r["as_of"])]
                for offset, group, colour in _GROUP_BARS:
                    mean = r[f"{group}_mean"]
                    if mean is None:
                        continue
                    low, high = r[f"{group}_low"], r[f"{group}_high"]
                    known = low is not None and high is not None
                    err = [[(mean - low) * scale], [(high - mean) * scale]] if known else None
                    ax.barh(p + offset * bar, mean * scale, bar, color=colour, xerr=err, capsize=2,
                            error_kw={"elinewidth": 0.8}, label=group if p == 0 else None)  # fmt: skip
                lift = "" if r["lift"] is None else f"{r['lift']:+.0%}"
                mark = " *" if r["verdict"] in ("effect detected", "negative effect detected") else ""
                ends = (r["treated_high"], r["treated_mean"], r["control_high"], r["control_mean"])
                right = max(v for v in ends if v is not None)
                ax.text(right * scale, p, f" {lift}{mark}", va="center", fontsize=7)
            ax.set_xlabel(xlabel)
            ax.grid(axis="x", alpha=0.3)
            ax.set_axisbelow(True)
            ax.set_xlim(left=0)
            ax.margins(x=0.25)
            if not mine:
                _say(ax, "no offer on a product or category")
        axes[0].set_yticks(list(positions.values()), [_effect_label(k) for k in positions])
        handles, names = axes[0].get_legend_handles_labels()
        if handles:
            shown = [{"control": "holdout"}.get(n, n) for n in names]
            fig.legend(handles, shown, loc="upper right", frameon=False, ncols=2)
        note = "bars: 95% intervals of each group's mean; * the difference's interval excludes 0"
        fig.text(0.02, 0.01, note, fontsize=7)
        return _png(fig)


def _effect_label(key: tuple[str, str]) -> str:
    campaign, night = key
    if campaign == "all":
        campaign = "all campaigns"
    if night == "all":
        night = "all nights"
    return f"{campaign}\n{night}"
