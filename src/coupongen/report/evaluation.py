"""The latest evaluation of earlier nights, and how its figures read to a manager.

`coupongen evaluate` writes ``evaluation/<label>/evaluation.json`` in the output folder, with one
headline row per campaign-night: its treated and holdout sizes, the extra spend per customer with
its 95% interval, the verdict, the rewards' cost and the return. The nightly report shows the
newest one made before the night; the evaluate command prints the same rows. Money is formatted by
Babel in the job's locale and currency, in whole units; the return as a multiple of the cost.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal

from coupongen.delivery.formatting import parse_locale

NOT_AVAILABLE = "n/a"
"""The return of a row that paid (next to) nothing out, or has no interval."""


def latest_evaluation(out_dir: Path, as_of: str) -> dict[str, Any] | None:
    """The newest evaluation under ``out_dir/evaluation`` made before the night ``as_of``.

    Eligible: an evaluation.json with headline rows whose purchases end before the night (its
    ``as_of``) and whose campaign-nights are all before it. The newest is the one with the latest
    ``as_of``; among those, the one with the most rows, then the folder name. Returns what the
    night's summary keeps of it: file (its path), label, as_of, nights, campaigns, margin_rate,
    currency and the headline rows; None when there is none. Unreadable files are passed over.
    """
    found = []
    for path in sorted((out_dir / "evaluation").glob("*/evaluation.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(doc, dict) or not doc.get("headline") or not isinstance(doc.get("as_of"), str):
            continue
        if doc["as_of"] < as_of and all(str(n) < as_of for n in doc.get("nights", [])):
            found.append((doc["as_of"], len(doc["headline"]), path.parent.name, path, doc))
    if not found:
        return None
    *_, path, doc = max(found, key=lambda entry: entry[:3])
    kept = ("label", "as_of", "nights", "campaigns", "margin_rate", "currency", "headline")
    return {"file": str(path), **{key: doc.get(key) for key in kept}}


def whole_money(value: float, currency: str, locale: str, *, signed: bool = False) -> str:
    """An amount in whole units of ``currency`` as ``locale`` writes it (``+296 ₽``, ``-$1,204``)."""
    loc = parse_locale(locale)
    pattern = copy.copy(loc.currency_formats["standard"])
    pattern.frac_prec = (0, 0)
    rounded = round(value)
    text = pattern.apply(rounded, loc, currency=currency, currency_digits=False)
    return f"+{text}" if signed and rounded > 0 else text


def whole_number(value: float, locale: str, *, signed: bool = False) -> str:
    """A whole number with the locale's grouping (``+1 036``, ``-25``)."""
    rounded = round(value)
    text = format_decimal(rounded, format="#,##0", locale=parse_locale(locale))
    return f"+{text}" if signed and rounded > 0 else text


def return_text(multiple: float | None, locale: str) -> str:
    """A return multiple (``3.2×``: incremental margin per unit of cost); n/a when there is none."""
    if multiple is None:
        return NOT_AVAILABLE
    return format_decimal(multiple, format="#,##0.0", locale=parse_locale(locale)) + "×"


def effect_text(row: dict[str, Any], currency: str, locale: str) -> str:
    """A headline row's extra spend per customer with its 95% interval: ``+296 ₽ (+172 to +421)``."""
    if row["difference"] is None:
        return "-"
    text = whole_money(row["difference"], currency, locale, signed=True)
    if row["ci_low"] is None or row["ci_high"] is None:
        return text
    low = whole_number(row["ci_low"], locale, signed=True)
    high = whole_number(row["ci_high"], locale, signed=True)
    return f"{text} ({low} to {high})"


def headline_cells(row: dict[str, Any], currency: str, locale: str) -> dict[str, str]:
    """A headline row as text: campaign, night, treated, holdout, effect, verdict, cost, return
    (``-`` for a row without an interval, ``n/a`` for one that paid next to nothing out).
    """
    return {
        "campaign": str(row["campaign"]),
        "night": str(row["as_of"]),
        "treated": whole_number(row["treated_n"], locale),
        "holdout": whole_number(row["control_n"], locale),
        "effect": effect_text(row, currency, locale) + ("" if row.get("complete", True) else " *"),
        "verdict": str(row["verdict"]),
        "cost": "-" if row.get("cost") is None else whole_money(row["cost"], currency, locale),
        # A comparison with no interval (too few buyers, a group under 2) supports no return.
        "return": "-" if row["ci_low"] is None else return_text(row.get("return_multiple"), locale),
    }
