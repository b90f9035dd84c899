"""Locale formatting of customer-facing numbers, money and dates, by Babel (CLDR data).

Templates format through these filters, each reading the message's ``locale`` (a Babel tag such as
``ru_RU``) and the job's ``currency`` (ISO 4217) from the template context, so one template serves
every locale of its language. Whole amounts of money are shown without a fraction (``$5``,
``500 ₽``); others with the currency's own digits (``$1.90``). Texts that travel as SMS, subjects
and titles get plain spaces where CLDR puts no-break ones: those are not in the GSM-7 alphabet and
would turn a Latin-script SMS into UCS-2, halving what a part holds.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import date
from functools import cache, lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton
from babel.numbers import format_currency, format_decimal, format_percent
from jinja2 import pass_context
from jinja2.runtime import Context

_NO_BREAK_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})
DATE_FORMATS = ("short", "medium", "long", "full")


@cache
def parse_locale(tag: str) -> Locale:
    """The Babel locale of a tag (``ru_RU``, ``en-US``, ``en``); ValueError when unknown."""
    try:
        return Locale.parse(tag.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError) as e:
        raise ValueError(f"unknown locale {tag!r}") from e


# A night formats the same few dates and amounts for thousands of customers, and Babel works each
# one out anew (a date skeleton is matched against the locale's patterns, about a millisecond):
# the formatted texts are kept, since they depend on nothing but the arguments.
_KEPT = 65_536


@lru_cache(maxsize=_KEPT)
def money(value: float, currency: str, locale: str) -> str:
    """An amount of ``currency`` as ``locale`` writes it; whole amounts without a fraction."""
    loc = parse_locale(locale)
    value = float(value)
    if value != int(value):
        return format_currency(value, currency, locale=loc)
    pattern = copy.copy(loc.currency_formats["standard"])
    pattern.frac_prec = (0, 0)
    return pattern.apply(value, loc, currency=currency, currency_digits=False)


@lru_cache(maxsize=_KEPT)
def number(value: float, locale: str) -> str:
    """A number with the locale's grouping and decimal sign, as many decimals as it has (up to 3)."""
    return format_decimal(value, locale=parse_locale(locale))


@lru_cache(maxsize=_KEPT)
def percent(value: float, locale: str) -> str:
    """A percentage given in percent (``10`` is 10 %), as the locale writes it."""
    return format_percent(float(value) / 100, locale=parse_locale(locale), decimal_quantization=False)


@lru_cache(maxsize=_KEPT)
def day(value: str | date, locale: str, fmt: str = "day_month") -> str:
    """A date (ISO text or date): ``day_month`` is the locale's short day and month (``6/5``,
    ``05.06``); ``short``/``medium``/``long``/``full`` are its date formats.
    """
    when = date.fromisoformat(value) if isinstance(value, str) else value
    loc = parse_locale(locale)
    if fmt == "day_month":
        return format_skeleton("dM", when, locale=loc)
    if fmt not in DATE_FORMATS:
        raise ValueError(f"unknown date format {fmt!r} (use day_month, {', '.join(DATE_FORMATS)})")
    return format_date(when, fmt, locale=loc)


def plural(count: float, locale: str, forms: Mapping[str, str]) -> str:
    """The word form for ``count`` by the locale's CLDR plural rules (one, few, many, other...);
    ``other`` is used when the form is not given.
    """
    category = parse_locale(locale).plural_form(abs(count))
    return forms.get(category, forms["other"])


def template_filters(*, plain_spaces: bool) -> dict[str, Callable[..., str]]:
    """The Jinja filters that format in the context's ``locale`` and ``currency``.

    ``money``, ``number``, ``percent``, ``date`` (optionally ``date("long")``) and ``plural``
    (``n | plural(one="bonus", other="bonuses")``). With ``plain_spaces`` no-break spaces become
    plain ones.
    """

    def out(text: str) -> str:
        return text.translate(_NO_BREAK_SPACES) if plain_spaces else text

    @pass_context
    def money_filter(ctx: Context, value: float, currency: str | None = None) -> str:
        return out(money(value, currency or _get(ctx, "currency"), _get(ctx, "locale")))

    @pass_context
    def number_filter(ctx: Context, value: float) -> str:
        return out(number(value, _get(ctx, "locale")))

    @pass_context
    def percent_filter(ctx: Context, value: float) -> str:
        return out(percent(value, _get(ctx, "locale")))

    @pass_context
    def date_filter(ctx: Context, value: str | date, fmt: str = "day_month") -> str:
        return out(day(value, _get(ctx, "locale"), fmt))

    @pass_context
    def plural_filter(ctx: Context, count: float, **forms: str) -> str:
        if "other" not in forms:
            raise ValueError("plural needs at least other=")
        return plural(count, _get(ctx, "locale"), forms)

    return {
        "money": money_filter,
        "number": number_filter,
        "percent": percent_filter,
        "date": date_filter,
        "plural": plural_filter,
    }


def _get(ctx: Context, name: str) -> Any:
    value = ctx.get(name)
    if value is None:
        raise ValueError(f"{name} is not set for this template (import macros 'with context')")
    return value
