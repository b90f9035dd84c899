"""A campaign file's settings: reward, codes, validity, budgets, schedule, holdout and channels."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from coupongen.codes import CodeFormat, check_url_template, is_prime
from coupongen.codes.patterns import check_pattern
from coupongen.config.audience import Eligibility, Message, PerCustomer, Reminder, Target, check_schedule
from coupongen.config.base import DEFAULT_ALPHABET, MAX_VALUE, _Model
from coupongen.config.money import Money, MoneyRule, NonNegativeMoney, PositiveMoney
from coupongen.errors import CodeFormatError

ITEM_REWARDS = ("free_product", "buy_x_get_y", "cheapest_free")
"""Rewards that make items free (or cheaper) rather than taking money off: ``value`` is the percent
off the rewarded items and defaults to 100 (free)."""


class ReferrerReward(_Model):
    """What the customer who shares a referral code earns when a friend first uses it."""

    type: Literal["points", "amount"]
    value: float = Field(gt=0)


class Reward(_Model):
    """What the coupon gives (docs/pos.md says how the tills apply each type).

    ``percent``, ``amount``, ``points`` and ``multiplier`` take ``value``; ``free_product`` gives
    ``get`` units of the target free; ``buy_x_get_y`` gives ``get`` units when ``buy`` are bought;
    ``cheapest_free`` gives the ``get`` cheapest of ``buy`` qualifying items. For these three,
    ``value`` is the percent off the rewarded items (100, free, by default). A referral campaign may
    add ``referrer_reward`` (credited once per friend) and ``uses_per_friend``. A reward relative
    to the target's price (``value = { target_price = 0.2 }``) may be bounded per offer by
    ``min_value`` and ``max_value``, in the reward's own unit (points, or money): a cheap product
    then still earns a reward worth sending, a dear one no more than the campaign means to give.
    """

    type: Literal["percent", "amount", "points", "multiplier", "free_product", "buy_x_get_y", "cheapest_free"]
    value: PositiveMoney
    buy: int | None = Field(None, ge=1, le=99)
    get: int | None = Field(None, ge=1, le=99)
    referrer_reward: ReferrerReward | None = None
    uses_per_friend: int = Field(1, ge=1)
    min_value: float | None = Field(None, gt=0, le=MAX_VALUE)
    max_value: float | None = Field(None, gt=0, le=MAX_VALUE)

    @model_validator(mode="before")
    @classmethod
    def _item_defaults(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("type") in ITEM_REWARDS:
            data = {"value": 100, **data}
            if data["type"] != "buy_x_get_y":
                data.setdefault("get", 1)
        return data

    @model_validator(mode="after")
    def _sane(self) -> Reward:
        if isinstance(self.value, MoneyRule):
            if self.type not in ("amount", "points"):
                raise ValueError("a relative value applies only to amount and points rewards")
        elif self.value > MAX_VALUE:
            raise ValueError(f"value must be at most {MAX_VALUE:g}")
        elif self.type in ("percent", *ITEM_REWARDS) and self.value > 100:
            raise ValueError(f"a {self.type} reward must be at most 100 (percent off)")
        needs_buy = self.type in ("buy_x_get_y", "cheapest_free")
        if needs_buy and (self.buy is None or self.get is None):
            raise ValueError(f"a {self.type} reward needs buy and get (e.g. buy = 2, get = 1)")
        if not needs_buy and self.buy is not None:
            raise ValueError("buy applies only to buy_x_get_y and cheapest_free rewards")
        if self.type not in ITEM_REWARDS and self.get is not None:
            raise ValueError("get applies only to free_product, buy_x_get_y and cheapest_free rewards")
        if self.type == "cheapest_free" and (self.get or 0) >= (self.buy or 0):
            raise ValueError("a cheapest_free reward's get must be less than buy")
        self._sane_bounds()
        return self

    def _sane_bounds(self) -> None:
        bounds = [b for b in (self.min_value, self.max_value) if b is not None]
        if not bounds:
            return
        if not (isinstance(self.value, MoneyRule) and self.value.rule == "target_price"):
            raise ValueError("min_value and max_value apply only to a value = { target_price = ... } reward")
        if self.type == "points" and any(b != int(b) for b in bounds):
            raise ValueError("a points reward's min_value and max_value are whole points")
        if len(bounds) == 2 and bounds[0] > bounds[1]:
            raise ValueError("min_value must be at most max_value")

    def bounds_text(self) -> str:
        """The per-offer bounds in words ("", "at least 10", "at least 10, at most 500")."""
        shown = "{:,.0f}" if self.type == "points" else "{:,.2f}"
        pairs = (("at least", self.min_value), ("at most", self.max_value))
        return ", ".join(f"{word} {shown.format(b)}" for word, b in pairs if b is not None)


class CodeConfig(_Model):
    """How a campaign's coupon codes and barcodes look (docs/codes.md has the numbers).

    The code is prefix, ``length`` random characters, with ``signed`` a MAC of
    ``signature_length`` characters, and a check character. The barcode is chosen by
    ``symbology``: ``ean13`` (``ean_prefix`` + random serial), ``gs1_128`` (Global Coupon Number of
    ``gs1_company_prefix`` + ``gs1_coupon_reference``, a random serial of ``gcn_serial_length``
    digits and, with ``expiry_in_barcode``, the last valid day), ``code128`` (the code) or ``qr``
    (``qr_payload``: the code, ``url_template`` filled with it, or a signed payload). The signing
    key never appears here: it comes from the environment (see ``codes.load_signing_key``).
    ``suffix`` follows the check character; ``pattern`` (``#`` digit, ``?`` character, the last
    ``?`` the check character) replaces prefix and length; ``import_file`` (a CSV with a ``code``
    column, relative to the job file) supplies pre-printed or partner codes instead of drawn ones.
    ``public`` issues one shared code for the whole campaign (a printed flyer code) that any card
    may use, ``total_uses`` times in all.
    """

    prefix: str = ""
    suffix: str = ""
    pattern: str | None = None
    import_file: str | None = None
    length: int = Field(default=10, ge=6, le=24)
    alphabet: str = DEFAULT_ALPHABET
    symbology: Literal["ean13", "gs1_128", "code128", "qr"] = "code128"
    ean_prefix: str = "99"
    signed: bool = False
    signature_length: int = Field(default=4, ge=2, le=8)
    gs1_company_prefix: str | None = None
    gs1_coupon_reference: str = ""
    gcn_serial_length: int = Field(default=12, ge=6, le=12)
    expiry_in_barcode: bool = False
    qr_payload: Literal["code", "url", "signed"] = "code"
    url_template: str | None = None
    public: bool = False
    total_uses: int | None = Field(None, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _public(self) -> CodeConfig:
        if self.public and self.total_uses is None:
            raise ValueError("a public code needs total_uses: how many times all customers may use it")
        if not self.public and self.total_uses is not None:
            raise ValueError("total_uses applies only to a public code (public = true)")
        return self

    @field_validator("alphabet")
    @classmethod
    def _distinct(cls, v: str) -> str:
        if len(set(v)) != len(v):
            raise ValueError("characters must be distinct")
        return v

    @field_validator("suffix")
    @classmethod
    def _suffix(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Z0-9-]{0,8}", v):
            raise ValueError("must be up to 8 characters A-Z, 0-9 or '-'")
        return v

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not re.fullmatch(r"([A-Z0-9][A-Z0-9-]{0,7})?", v):
            raise ValueError("must be up to 8 characters A-Z, 0-9 or '-', not starting with '-'")
        return v

    @field_validator("gs1_company_prefix")
    @classmethod
    def _company_prefix(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\d{4,12}", v):
            raise ValueError("must be 4 to 12 digits: the GS1 Company Prefix GS1 gave you")
        return v

    @field_validator("gs1_coupon_reference")
    @classmethod
    def _coupon_reference(cls, v: str) -> str:
        if not re.fullmatch(r"\d{0,8}", v):
            raise ValueError("must be digits")
        return v

    @model_validator(mode="after")
    def _checkable(self) -> CodeConfig:
        # The check character is a weighted sum modulo the alphabet size: it catches every single
        # typo and neighbour swap only when that size is prime and exceeds the characters it covers
        # (body and signature) plus one.
        covered = self.length + (self.signature_length if self.signed else 0)
        if not is_prime(len(self.alphabet)) or len(self.alphabet) <= covered + 1:
            what = "length + signature_length + 1" if self.signed else "length + 1"
            raise ValueError(
                f"alphabet needs a prime number of characters greater than {what} "
                f"(got {len(self.alphabet)} characters for {covered} random and signature characters)"
            )
        if not self.alphabet.isascii() or not self.alphabet.isalnum():
            raise ValueError("alphabet must be ASCII letters and digits")
        return self

    @model_validator(mode="after")
    def _layout(self) -> CodeConfig:
        given = self.model_fields_set
        if self.pattern is not None:
            try:
                check_pattern(self.pattern, self.alphabet)
            except CodeFormatError as e:
                raise ValueError(str(e)) from e
            clash = sorted(given & {"prefix", "length", "suffix", "signed"})
            if clash:
                raise ValueError(
                    f"pattern replaces prefix, length and suffix, and is not signed (drop {', '.join(clash)})"
                )
        if self.suffix and self.signed:
            raise ValueError("suffix cannot be used with signed codes")
        if self.import_file is not None:
            clash = sorted(given & {"prefix", "length", "suffix", "pattern", "signed"})
            if clash:
                raise ValueError(f"import_file supplies the codes: drop {', '.join(clash)}")
            if self.symbology not in ("code128", "qr") or self.qr_payload == "signed":
                raise ValueError(
                    "import_file works with symbology code128 or qr (the barcode holds the code)"
                )
        return self

    @model_validator(mode="after")
    def _barcode_profile(self) -> CodeConfig:
        if self.symbology == "gs1_128":
            if self.gs1_company_prefix is None:
                raise ValueError("symbology gs1_128 needs gs1_company_prefix (your GS1 Company Prefix)")
            total = len(self.gs1_company_prefix) + len(self.gs1_coupon_reference)
            if total != 12:
                raise ValueError(
                    f"gs1_company_prefix and gs1_coupon_reference must be 12 digits together (got {total})"
                )
        elif self.gs1_company_prefix is not None or self.gs1_coupon_reference or self.expiry_in_barcode:
            raise ValueError(
                "gs1_company_prefix, gs1_coupon_reference and expiry_in_barcode apply only to "
                "symbology gs1_128"
            )
        if self.qr_payload != "code" and self.symbology != "qr":
            raise ValueError("qr_payload applies only to symbology qr")
        if (self.qr_payload == "url") != (self.url_template is not None):
            raise ValueError('url_template is needed with qr_payload = "url", and only then')
        if self.url_template is not None:
            try:
                check_url_template(self.url_template)
            except CodeFormatError as e:
                raise ValueError(str(e)) from e
        return self

    @field_validator("ean_prefix")
    @classmethod
    def _digits(cls, v: str) -> str:
        if not v.isdigit() or not 2 <= len(v) <= 7:
            raise ValueError("must be 2 to 7 digits (99 for coupons, 20-29 for in-store numbers)")
        return v

    @property
    def needs_key(self) -> bool:
        """True when issuing needs the signing key (signed codes or signed QR payloads)."""
        return self.signed or (self.symbology == "qr" and self.qr_payload == "signed")

    def code_format(self) -> CodeFormat:
        """The format ``codes.verify_code`` checks codes and barcodes of this campaign against."""
        barcode_digits = {
            "ean13": 12 - len(self.ean_prefix),
            "gs1_128": self.gcn_serial_length,
        }.get(self.symbology, 0)
        return CodeFormat(
            prefix=self.prefix,
            length=self.length,
            alphabet=self.alphabet,
            signature_length=self.signature_length if self.signed else 0,
            symbology=self.symbology,
            barcode_digits=barcode_digits,
            url_template=self.url_template,
            suffix=self.suffix,
            pattern=self.pattern,
            imported=self.import_file is not None,
        )


_LATER_KEYS = ("lifetime_budget", "start", "end", "per_customer", "target", "exclusive", "messages")
_LATER_ELIGIBILITY_KEYS = (
    "r_score", "f_score", "m_score", "spend", "visits", "age", "home_store", "customers_file", "columns",
)  # fmt: skip


class CampaignConfig(_Model):
    """One campaign: an offer type with its eligibility, reward, budget, validity and channels."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    type: Literal[
        "cross_sell",
        "win_back",
        "second_purchase",
        "replenishment",
        "vip_reward",
        "birthday",
        "service_recovery",
        "referral",
    ]
    description: str = ""
    enabled: bool = True
    eligibility: Eligibility = Eligibility()
    reward: Reward
    min_basket: NonNegativeMoney = 0.0
    valid_from_offset_days: int = Field(1, ge=0, le=366)
    valid_days: int = Field(14, ge=1, le=366)
    max_uses: int = Field(1, ge=1)
    expected_redemption_rate: float = Field(0.05, gt=0, le=1)
    # "expected_value": candidates ordered by expected value and those expected to lose money cut
    rank_by: Literal["priority", "expected_value"] = "priority"
    budget: NonNegativeMoney | None = None
    lifetime_budget: float | None = Field(None, ge=0)
    start: date | None = None
    end: date | None = None
    per_customer: PerCustomer | None = None
    target: Target | None = None
    exclusive: bool = False
    messages: dict[str, Message] = Field(default_factory=dict)
    reminder: Reminder = Reminder()
    holdout_share: float = Field(0.10, ge=0, lt=1)
    frequency_cap_days: int = Field(14, ge=0, le=3660)
    channels: tuple[Literal["email", "sms", "app"], ...] = ("email", "sms", "app")
    code: CodeConfig = CodeConfig()

    @field_validator("messages")
    @classmethod
    def _locales(cls, v: dict[str, Message]) -> dict[str, Message]:
        for locale in v:
            if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", locale):
                raise ValueError(f"{locale!r} is not a locale (a language code such as en, or en_US)")
        return v

    @field_validator("end")
    @classmethod
    def _schedule(cls, v: date | None, info: ValidationInfo) -> date | None:
        check_schedule(info.data.get("start"), v)
        return v

    def fingerprint(self) -> dict[str, Any]:
        """The settings as the job's config hash sees them. Keys newer than the ledger's first
        runs are left out while unset, so an unchanged job keeps its hash across upgrades.
        """
        doc = self.model_dump(mode="json")
        # Reminders come after the night and change nothing it issues.
        doc.pop("reminder", None)
        if not self.code.public:
            doc["code"].pop("public")
            doc["code"].pop("total_uses")
        doc["messages"] = {
            locale: {"subject": m["subject"], "body": m["body"]}
            for locale, m in doc["messages"].items()
            if m["subject"] is not None
        }
        if doc.get("rank_by") == "priority":
            doc.pop("rank_by")
        for key in _LATER_KEYS:
            if doc.get(key) in (None, False, {}):
                doc.pop(key, None)
        rules = doc["eligibility"]
        for key in _LATER_ELIGIBILITY_KEYS:
            if rules.get(key) in (None, {}):
                rules.pop(key, None)
        for key in ("min_value", "max_value"):
            if doc["reward"].get(key) is None:
                doc["reward"].pop(key, None)
        return doc

    def runs_on(self, night: date) -> bool:
        """True when the night falls within the campaign's start and end dates (both included)."""
        return (self.start is None or self.start <= night) and (self.end is None or night <= self.end)

    @model_validator(mode="after")
    def _referral_only(self) -> CampaignConfig:
        if self.type != "referral" and (
            self.reward.referrer_reward is not None or "uses_per_friend" in self.reward.model_fields_set
        ):
            raise ValueError(
                "reward.referrer_reward and reward.uses_per_friend apply only to referral campaigns"
            )
        return self

    @model_validator(mode="after")
    def _public_code(self) -> CampaignConfig:
        if not self.code.public:
            return self
        if self.type == "referral":
            raise ValueError("a referral campaign shares personal codes: code.public does not apply")
        if "max_uses" in self.model_fields_set:
            raise ValueError("a public code's uses are code.total_uses: drop max_uses")
        target = self.target
        one_product = target is not None and (
            (target.categories_only and len(target.categories) == 1)
            or (target.skus and len(target.skus) == 1 and not (target.categories or target.brands))
        )
        if target is not None and (target.rule is not None or target.name_patterns or not one_product):
            raise ValueError(
                "a public code applies to the whole basket, one sku or one category "
                "(target = { skus = [one] } or { categories = [one] })"
            )
        if isinstance(self.reward.value, MoneyRule) and self.reward.value.rule == "target_price":
            raise ValueError("a public code's reward value is a number (no target_price rule)")
        return self

    @field_validator("min_basket", "budget")
    @classmethod
    def _whole_night(cls, v: Money | None) -> Money | None:
        if isinstance(v, MoneyRule) and v.rule == "target_price":
            raise ValueError("target_price applies only to a reward's value")
        return v

    def validity(self, as_of: date) -> tuple[date, date]:
        """The first and last day a coupon issued on ``as_of`` can be used (both included)."""
        valid_from = as_of + timedelta(days=self.valid_from_offset_days)
        return valid_from, valid_from + timedelta(days=self.valid_days - 1)
