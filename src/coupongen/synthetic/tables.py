"""The retail knowledge the sample data is drawn from: categories, brands, households, kinds of shopper.

The tables are CSV and JSON files in the package's `data` folder, so that a merchandiser can read and
change them without reading code; this module loads them once, typed, in file order (which the
generator's random draws follow, so reordering a file changes the data it makes).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

_DATA = resources.files("coupongen.synthetic") / "data"


@dataclass(frozen=True)
class Category:
    """A product category: how much of it sells, what it costs and what its products are called."""

    name: str
    weight: float  # share of receipt lines before household tilts
    breadth: float  # share of the catalogue
    price: tuple[float, float]
    cycle: float  # days between purchases when the category is someone's staple
    brands: tuple[str, ...]
    items: tuple[str, ...]
    sizes: tuple[str, ...]
    multibuy: float  # mean number of extra units on a line
    niche: str  # "baby", "pet" or "": a niche sells to few households, and a lot to them


@dataclass(frozen=True)
class Household:
    """A latent household type and how it tilts what its members buy."""

    share: float  # of all shoppers
    multipliers: dict[str, float]  # category -> factor on its weight (missing: 1)
    price_tilt: float  # negative = prefers cheap products
    ages: tuple[int, int]  # range of the card holder's age


@dataclass(frozen=True)
class Plan:
    """How a kind of shopper visits and fills baskets."""

    share: float  # of card holders
    visits: float  # a year while active (anonymous shoppers: in all)
    pattern: str  # how visits spread over the active window
    extra: float  # mean number of non-staple picks per visit
    habit: float  # share of picks that are a personal favourite rather than a fresh choice
    staples: tuple[int, int]  # range of the number of staples
    lines_per_visit: float  # measured on the output: staples, picks, complements, merged


def _text(name: str) -> str:
    return (_DATA / name).read_text(encoding="utf-8")


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(_text(name).splitlines()))


def _json(name: str) -> Any:
    return json.loads(_text(name))


def _load_categories() -> tuple[Category, ...]:
    return tuple(
        Category(
            name=row["category"],
            weight=float(row["weight"]),
            breadth=float(row["breadth"]),
            price=(float(row["price_low"]), float(row["price_high"])),
            cycle=float(row["cycle_days"]),
            brands=tuple(row["brands"].split("|")),
            items=tuple(row["items"].split("|")),
            sizes=tuple(row["sizes"].split("|")),
            multibuy=float(row["multibuy"]),
            niche=row["niche"],
        )
        for row in _rows("categories.csv")
    )


def _load_households() -> dict[str, Household]:
    return {
        name: Household(
            share=spec["share"],
            multipliers=spec["category_multipliers"],
            price_tilt=spec["price_tilt"],
            ages=(spec["ages"][0], spec["ages"][1]),
        )
        for name, spec in _json("households.json").items()
    }


def _load_plans() -> dict[str, Plan]:
    return {
        row["behaviour"]: Plan(
            share=float(row["share"]),
            visits=float(row["visits"]),
            pattern=row["pattern"],
            extra=float(row["extra"]),
            habit=float(row["habit"]),
            staples=(int(row["staples_min"]), int(row["staples_max"])),
            lines_per_visit=float(row["lines_per_visit"]),
        )
        for row in _rows("behaviours.csv")
    }


def _load_nps_mix() -> dict[str, tuple[float, tuple[float, float, float]]]:
    return {
        row["behaviour"]: (
            float(row["nps_answer_rate"]),
            (float(row["nps_promoter"]), float(row["nps_passive"]), float(row["nps_detractor"])),
        )
        for row in _rows("behaviours.csv")
        if row["nps_answer_rate"]
    }


def _load_mail_domains() -> dict[str, dict[str, float]]:
    domains: dict[str, dict[str, float]] = {}
    for row in _rows("mail_domains.csv"):
        domains.setdefault(row["locale"], {})[row["domain"]] = float(row["share"])
    return domains


RESTRICTED_CATEGORIES = frozenset({"tobacco", "beer", "wine", "spirits"})
"""Categories that must never be discounted (`promo_allowed` is false for exactly these)."""

CATEGORIES = _load_categories()
"""The categories of the catalogue, in the order their products are made (data/categories.csv)."""

VARIANTS: tuple[str, ...] = tuple(_json("variants.json"))
"""Product line names after the item ("" first: the plain product), as in "Fazer Rye Bread Gold"."""

COMPLEMENTS: tuple[tuple[str, str, float], ...] = tuple(
    (row["category"], row["added_category"], float(row["probability"])) for row in _rows("complements.csv")
)
"""Planted complements: (category bought, category added to the same receipt, probability).

Each receipt line in the first category brings a line of the second with the given probability:
half the time the partner product (same brand, else same popularity rank), half the time the
shopper's own favourite in the second category.
"""

NICHE = {c.name: c.niche for c in CATEGORIES if c.niche}
"""Niche categories and their niche (baby, pet)."""

HOUSEHOLD_TYPES = _load_households()
"""Household types by name (data/households.json)."""

HOUSEHOLDS = tuple(HOUSEHOLD_TYPES)
"""Latent household types: each tilts category preferences and brand choices its own way."""

PLANS = _load_plans()
"""Visit and basket plan per kind of shopper, the card holders' kinds then "anonymous" (no card)."""

BEHAVIOURS = tuple(b for b in PLANS if b != "anonymous")
"""Kinds of card holder: a few visits a year; steady; steady with big baskets; visits thinning
out towards the end of the history; stopped 2-5 months before the end; first visit in the last
6 weeks."""

NPS_MIX = _load_nps_mix()
"""Per kind of card holder: the survey answer rate and the (promoter, passive, detractor) shares."""

MAIL_DOMAINS = _load_mail_domains()
"""Per locale (ru, en): mail domains and their shares of the addresses."""

US_AREA_CODES: tuple[str, ...] = tuple(row["area_code"] for row in _rows("us_area_codes.csv"))
"""US area codes of long standing, with their place for the reader (data/us_area_codes.csv)."""

CATEGORY_NAMES: dict[str, dict[str, str]] = {
    language: {row["category"]: row[language] for row in _rows("category_names.csv")}
    for language in ("en", "ru")
}
"""Per language (en, ru): each category's display name."""

TRANSLITERATION = {row["cyrillic"]: row["latin"] for row in _rows("transliteration.csv")}
"""Russian letters in latin script, for e-mail addresses made from names."""
