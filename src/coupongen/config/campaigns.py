"""A campaign file's settings: eligibility, reward, codes, validity, budget, holdout and channels."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from coupongen.codes import CodeFormat, check_url_template, is_prime
from coupongen.config.base import DEFAULT_ALPHABET, MAX_VALUE, _Model
from coupongen.errors import CodeFormatError


class Eligibility(_Model):
    """Who may receive a campaign's offer; an empty list means no restriction."""

    segments: tuple[str, ...] = ()
    lifecycle: tuple[Literal["new", "active", "lapsing", "lapsed"], ...] = ()
    nps: tuple[Literal["promoter", "passive", "detractor"], ...] = ()
    exclude_nps: tuple[Literal["promoter", "passive", "detractor"], ...] = ()
    min_spend: float = Field(0.0, ge=0)


class Reward(_Model):
    """What the coupon gives: a percentage, a fixed amount, bonus points or a points multiplier."""

    type: Literal["percent", "amount", "points", "multiplier"]
    value: float = Field(gt=0, le=MAX_VALUE)

    @model_validator(mode="after")
    def _sane(self) -> Reward:
        if self.type == "percent" and self.value > 100:
            raise ValueError("a percent reward must be at most 100")
        return self


class CodeConfig(_Model):
    """How a campaign's coupon codes and barcodes look (docs/codes.md has the numbers).

    The code is prefix, ``length`` random characters, with ``signed`` a MAC of
    ``signature_length`` characters, and a check character. The barcode is chosen by
    ``symbology``: ``ean13`` (``ean_prefix`` + random serial), ``gs1_128`` (Global Coupon Number of
    ``gs1_company_prefix`` + ``gs1_coupon_reference``, a random serial of ``gcn_serial_length``
    digits and, with ``expiry_in_barcode``, the last valid day), ``code128`` (the code) or ``qr``
    (``qr_payload``: the code, ``url_template`` filled with it, or a signed payload). The signing
    key never appears here: it comes from the environment (see ``codes.load_signing_key``).
    """

    prefix: str = ""
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

    @field_validator("alphabet")
    @classmethod
    def _distinct(cls, v: str) -> str:
        if len(set(v)) != len(v):
            raise ValueError("characters must be distinct")
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
        )


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
    min_basket: float = Field(0.0, ge=0)
    valid_from_offset_days: int = Field(1, ge=0, le=366)
    valid_days: int = Field(14, ge=1, le=366)
    max_uses: int = Field(1, ge=1)
    expected_redemption_rate: float = Field(0.05, gt=0, le=1)
    budget: float | None = Field(None, ge=0)
    holdout_share: float = Field(0.10, ge=0, lt=1)
    frequency_cap_days: int = Field(14, ge=0, le=3660)
    channels: tuple[Literal["email", "sms", "app"], ...] = ("email", "sms", "app")
    code: CodeConfig = CodeConfig()

    def validity(self, as_of: date) -> tuple[date, date]:
        """The first and last day a coupon issued on ``as_of`` can be used (both included)."""
        valid_from = as_of + timedelta(days=self.valid_from_offset_days)
        return valid_from, valid_from + timedelta(days=self.valid_days - 1)
