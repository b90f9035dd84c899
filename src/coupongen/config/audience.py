"""A campaign's audience, target, schedule caps and messages: who, on what, how often, in which words.

Audience filters are declarative: a value means equals, a list means one of, and a one-key table
means ``between = [a, b]``, ``at_least = x`` or ``at_most = x``. The target narrows what the reward
applies to (skus, categories, brands, product-name patterns) and may leave the pick to a rule.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from coupongen.config.base import _Model
from coupongen.config.money import Money, MoneyRule, NonNegativeMoney

Scalar = str | int | float | bool | date
FILTER_OPS = ("equals", "in", "between", "at_least", "at_most")
_FILTER_HELP = "a value, a list, or one of {between = [a, b]}, {at_least = x}, {at_most = x}"


class Filter(_Model):
    """One declarative test on a customer fact: ``op`` over ``values`` (bounds included)."""

    op: Literal["equals", "in", "between", "at_least", "at_most"]
    values: tuple[Scalar, ...]

    def describe(self) -> str:
        """The filter in words, as the preview shows it."""
        shown = [str(v) for v in self.values]
        if self.op == "between":
            return f"between {shown[0]} and {shown[1]}"
        if self.op == "in":
            return "one of " + ", ".join(shown)
        return {"equals": "= ", "at_least": ">= ", "at_most": "<= "}[self.op] + shown[0]


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool | date)


def _parse_filter(raw: Any) -> Any:
    """TOML value -> the fields of a Filter; ValueError says what a filter may look like."""
    if isinstance(raw, Filter):
        return raw
    if isinstance(raw, dict) and set(raw) <= {"op", "values"} and "op" in raw:
        return raw  # a dumped Filter read back
    if _is_scalar(raw):
        return {"op": "equals", "values": (raw,)}
    if isinstance(raw, list):
        if not raw or not all(_is_scalar(v) for v in raw):
            raise ValueError(f"a list filter needs one or more plain values; a filter is {_FILTER_HELP}")
        return {"op": "in", "values": tuple(raw)}
    if isinstance(raw, dict) and len(raw) == 1:
        ((op, value),) = raw.items()
        if op == "between":
            if not (isinstance(value, list) and len(value) == 2 and all(_is_scalar(v) for v in value)):
                raise ValueError("between needs two values [low, high]")
            if not _comparable(value[0], value[1]) or value[0] > value[1]:
                raise ValueError("between needs [low, high] of one kind with low <= high")
            return {"op": "between", "values": tuple(value)}
        if op in ("at_least", "at_most") and _is_scalar(value) and not isinstance(value, bool):
            return {"op": op, "values": (value,)}
    raise ValueError(f"a filter is {_FILTER_HELP}")


def _comparable(a: object, b: object) -> bool:
    numbers = (int, float)
    both_numbers = isinstance(a, numbers) and isinstance(b, numbers)
    return both_numbers or (type(a) is type(b) and not isinstance(a, bool))


FilterValue = Annotated[Filter, BeforeValidator(_parse_filter)]


class Eligibility(_Model):
    """Who may receive a campaign's offer; an empty list or a missing filter means no restriction.

    segments, lifecycle, nps and exclude_nps are lists of names; min_spend a floor on spend in the
    look-back window. The filters test one fact each: r_score, f_score, m_score (1..bins), spend
    (in the window), visits (all time), age (full years on the run date, from birth_date),
    home_store (the store of most of the customer's visits in the window) and ``columns``, any
    column of the customer table by name. customers_file admits only the customers it lists.
    """

    segments: tuple[str, ...] = ()
    lifecycle: tuple[Literal["new", "active", "lapsing", "lapsed"], ...] = ()
    nps: tuple[Literal["promoter", "passive", "detractor"], ...] = ()
    exclude_nps: tuple[Literal["promoter", "passive", "detractor"], ...] = ()
    min_spend: NonNegativeMoney = 0.0
    r_score: FilterValue | None = None
    f_score: FilterValue | None = None
    m_score: FilterValue | None = None
    spend: FilterValue | None = None
    visits: FilterValue | None = None
    age: FilterValue | None = None
    home_store: FilterValue | None = None
    customers_file: str | None = None
    columns: dict[str, FilterValue] = Field(default_factory=dict)

    @field_validator("min_spend")
    @classmethod
    def _not_per_target(cls, v: Money) -> Money:
        if isinstance(v, MoneyRule) and v.rule == "target_price":
            raise ValueError("target_price applies only to a reward's value")
        return v

    @field_validator("r_score", "f_score", "m_score", "spend", "visits", "age")
    @classmethod
    def _numeric(cls, v: Filter | None) -> Filter | None:
        if v is not None and not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in v.values
        ):
            raise ValueError("this filter compares numbers")
        return v

    @field_validator("columns")
    @classmethod
    def _column_names(cls, v: dict[str, Filter]) -> dict[str, Filter]:
        for name in v:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not a column name (letters, digits and '_')")
        return v

    def filters(self) -> dict[str, Filter]:
        """Every fact filter set, by the key that names it (``columns.NAME`` for extra columns)."""
        named = {
            k: getattr(self, k)
            for k in ("r_score", "f_score", "m_score", "spend", "visits", "age", "home_store")
            if getattr(self, k) is not None
        }
        return named | {f"columns.{k}": f for k, f in self.columns.items()}


TARGET_RULES = ("model", "favourite", "replenishment")


class Target(_Model):
    """What the reward applies to: products by sku, category, brand or name pattern, and a rule.

    Lists together make one product set (a product in any of them). Without a rule, each customer
    gets the offer on the set (one category when only categories are listed, else their most bought
    product of it); ``rule`` picks within the set (or among all products when no list is given):
    ``model`` the cross-sell model's best product not bought in the look-back window,
    ``favourite`` the customer's favourite, ``replenishment`` a regular product that is due.
    """

    skus: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    name_patterns: tuple[str, ...] = ()
    rule: Literal["model", "favourite", "replenishment"] | None = None

    @field_validator("name_patterns")
    @classmethod
    def _patterns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"{p!r} is not a regular expression: {e}") from e
        return v

    @model_validator(mode="after")
    def _something(self) -> Target:
        if not (self.skus or self.categories or self.brands or self.name_patterns or self.rule):
            raise ValueError("a target needs skus, categories, brands, name_patterns or a rule")
        return self

    @property
    def has_products(self) -> bool:
        """True when the target names products (not only a rule)."""
        return bool(self.skus or self.categories or self.brands or self.name_patterns)

    @property
    def categories_only(self) -> bool:
        """True when the target is whole categories: the coupon applies to a category."""
        return bool(self.categories) and not (self.skus or self.brands or self.name_patterns)


class PerCustomer(_Model):
    """At most ``max`` offers of the campaign per customer within ``days`` days (holdout included)."""

    max: int = Field(1, ge=1)
    days: int = Field(ge=1)


class Message(_Model):
    """A campaign's own texts for one locale (Jinja text): the subject and body of its coupons'
    message, and of the reminder before they expire. Each pair is given whole or not at all.
    """

    subject: str | None = Field(None, min_length=1)
    body: str | None = Field(None, min_length=1)
    reminder_subject: str | None = Field(None, min_length=1)
    reminder_body: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _pairs(self) -> Message:
        for first, second in (("subject", "body"), ("reminder_subject", "reminder_body")):
            if (getattr(self, first) is None) != (getattr(self, second) is None):
                raise ValueError(f"{first} and {second} go together: give both or neither")
        if self.subject is None and self.reminder_subject is None:
            raise ValueError("a message needs subject and body, or reminder_subject and reminder_body")
        return self

    def texts(self, kind: str = "") -> tuple[str, str] | None:
        """(subject, body) of the coupons' message (``kind=""``) or of the reminder
        (``kind="reminder_"``); None when the campaign leaves it to the job's templates.
        """
        subject, body = getattr(self, f"{kind}subject"), getattr(self, f"{kind}body")
        return None if subject is None else (subject, body)


class Reminder(_Model):
    """The message a coupon's holder gets before it expires, unused (``coupongen remind``)."""

    enabled: bool = True
    days_before: int = Field(3, ge=1, le=366)
    channel: Literal["email", "sms", "app"] | None = None


def check_schedule(start: date | None, end: date | None) -> None:
    """ValueError when a campaign would end before it starts."""
    if start is not None and end is not None and end < start:
        raise ValueError(f"must not be before start ({start.isoformat()})")
