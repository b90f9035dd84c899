"""Money settings: an absolute amount in the job's currency, or a one-key rule relative to the data.

``min_basket``, ``eligibility.min_spend``, ``budget`` and the value of an amount or points reward
take a number, or a table with exactly one key resolved against tonight's data (see
``offers.money``): ``median_basket`` (a multiple of the median basket), ``basket_percentile`` (the
basket total that share of baskets stays at or under), ``spend_percentile`` (the same over customers'
spend in the look-back window) or, for a reward only, ``target_price`` (a share of the price of the
product the coupon is on).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, model_validator

from coupongen.config.base import _Model

RULES = ("median_basket", "basket_percentile", "spend_percentile", "target_price")


class MoneyRule(_Model):
    """A money value relative to the data: exactly one of its keys is set."""

    median_basket: float | None = Field(None, gt=0)
    basket_percentile: float | None = Field(None, gt=0, le=100)
    spend_percentile: float | None = Field(None, gt=0, le=100)
    target_price: float | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _one_key(self) -> MoneyRule:
        if len(self.model_fields_set) != 1:
            raise ValueError(f"a relative money value needs exactly one of {', '.join(RULES)}")
        return self

    @property
    def rule(self) -> str:
        """The key that is set: ``median_basket``, ``basket_percentile``, ..."""
        return next(iter(self.model_fields_set))

    @property
    def factor(self) -> float:
        """The value of that key."""
        value = getattr(self, self.rule)
        assert value is not None
        return float(value)

    def describe(self) -> str:
        """The rule in words, as the preview and the report show it."""
        if self.rule == "median_basket":
            return f"{self.factor:g} x median basket"
        if self.rule == "target_price":
            return f"{self.factor:.0%} of the target's price"
        what = "baskets" if self.rule == "basket_percentile" else "customer spend"
        return f"{self.factor:g}th percentile of {what}"


def _kind(value: Any) -> str:
    return "relative" if isinstance(value, dict | MoneyRule) else "absolute"


# The branch tags below never show in an error message (``config.loading`` drops them).
MONEY_TAGS = ("absolute", "relative")
Money = float | MoneyRule
NonNegativeMoney = Annotated[
    Annotated[float, Field(ge=0), Tag("absolute")] | Annotated[MoneyRule, Tag("relative")],
    Discriminator(_kind),
]
PositiveMoney = Annotated[
    Annotated[float, Field(gt=0), Tag("absolute")] | Annotated[MoneyRule, Tag("relative")],
    Discriminator(_kind),
]


def amount(value: Money | None, key: str) -> float:
    """The absolute amount of a resolved money setting; a rule left unresolved is a programming error."""
    if isinstance(value, MoneyRule):
        raise ValueError(f"{key} ({value.describe()}) is not resolved against the data yet")
    return 0.0 if value is None else float(value)


def show(value: Money | None, fmt: str = "{:g}") -> str:
    """A money setting as a person reads it: the number, or the rule in words ("none" when unset)."""
    if value is None:
        return "none"
    return value.describe() if isinstance(value, MoneyRule) else fmt.format(value)
