"""Job and campaign files -> validated, frozen settings.

A job file (``jobs/nightly.toml``) names the inputs, the analysis thresholds and the campaigns to run;
each campaign lives in a file of its own so that a CRM analyst can add one by copying a file. Unknown
keys and bad values are rejected up front with one line naming the file, the key and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from coupongen.codes import CodeFormat, check_url_template, is_prime
from coupongen.errors import CodeFormatError, ConfigError

OFFER_TYPES = (
    "cross_sell",
    "win_back",
    "second_purchase",
    "replenishment",
    "vip_reward",
    "birthday",
    "service_recovery",
    "referral",
)
CHANNELS = ("email", "sms", "app")
SYMBOLOGIES = ("ean13", "gs1_128", "code128", "qr")
LIFECYCLE_STATES = ("new", "active", "lapsing", "lapsed")
NPS_CLASSES = ("promoter", "passive", "detractor")
DEFAULT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputsConfig(_Model):
    """Where the three inputs are, relative to the data folder, and how strict loading is."""

    transactions: str = "transactions.csv"
    products: str = "products.csv"
    customers: str = "customers.csv"
    delimiter: str = ","
    max_quarantine_share: float = Field(0.05, ge=0.0, le=1.0)
    max_line_amount: float = Field(1_000_000.0, gt=0)
    max_line_quantity: float = Field(10_000.0, gt=0)

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, v: str) -> str:
        if len(v) != 1:
            raise ValueError("must be a single character")
        return v


class SegmentRule(_Model):
    """A named RFM segment: score ranges (inclusive) that a customer must fall in."""

    name: str
    r: tuple[int, int] = (1, 5)
    f: tuple[int, int] = (1, 5)
    m: tuple[int, int] = (1, 5)


DEFAULT_SEGMENTS = (
    SegmentRule(name="champions", r=(4, 5), f=(4, 5)),
    SegmentRule(name="cannot_lose", r=(1, 1), f=(5, 5)),
    SegmentRule(name="at_risk", r=(1, 2), f=(3, 5)),
    SegmentRule(name="loyal", r=(3, 5), f=(4, 5)),
    SegmentRule(name="new", r=(5, 5), f=(1, 1)),
    SegmentRule(name="promising", r=(4, 4), f=(1, 1)),
    SegmentRule(name="potential", r=(4, 5), f=(2, 3)),
    SegmentRule(name="need_attention", r=(3, 3), f=(3, 3)),
    SegmentRule(name="about_to_sleep", r=(3, 3), f=(1, 2)),
    SegmentRule(name="lost", r=(1, 1), f=(1, 1)),
    SegmentRule(name="hibernating", r=(1, 2), f=(1, 2)),
)


class SegmentsConfig(_Model):
    """RFM scoring and lifecycle thresholds; the segment map is data, first match wins."""

    lookback_days: int = Field(365, ge=1)
    bins: int = Field(5, ge=2, le=10)
    rules: tuple[SegmentRule, ...] = DEFAULT_SEGMENTS
    new_days: int = Field(30, ge=1)
    lapsing_days: int = Field(60, ge=1)
    lapsed_days: int = Field(180, ge=1)
    lapsing_factor: float = Field(2.0, gt=0)
    lapsed_factor: float = Field(4.0, gt=0)


class AffinityConfig(_Model):
    """Thresholds of association-rule mining (rules are mined at sku and at category level)."""

    min_support: float = Field(0.002, gt=0, le=1)
    min_confidence: float = Field(0.05, ge=0, le=1)
    min_lift: float = Field(1.2, ge=0)
    max_len: int = Field(2, ge=2, le=4)
    category_min_support: float = Field(0.01, gt=0, le=1)


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
    value: float = Field(gt=0)

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
    valid_from_offset_days: int = Field(1, ge=0)
    valid_days: int = Field(14, ge=1, le=366)
    max_uses: int = Field(1, ge=1)
    expected_redemption_rate: float = Field(0.05, gt=0, le=1)
    budget: float | None = Field(None, ge=0)
    holdout_share: float = Field(0.10, ge=0, lt=1)
    frequency_cap_days: int = Field(14, ge=0)
    channels: tuple[Literal["email", "sms", "app"], ...] = ("email", "sms", "app")
    code: CodeConfig = CodeConfig()

    def validity(self, as_of: date) -> tuple[date, date]:
        """The first and last day a coupon issued on ``as_of`` can be used (both included)."""
        valid_from = as_of + timedelta(days=self.valid_from_offset_days)
        return valid_from, valid_from + timedelta(days=self.valid_days - 1)


class ChannelsConfig(_Model):
    """Customer messages: templates, suppression list, SMS length and the brand name they show."""

    templates: str = "templates"
    suppression: str | None = None
    max_sms_parts: int = Field(3, ge=1, le=10)
    brand: str = "coupongen"
    email_images: bool = True


class JobConfig(_Model):
    """A whole nightly job: paths (relative to the job file), analysis settings and campaigns."""

    name: str = "nightly"
    data: str = "../sample_data"
    out: str = "../out"
    ledger: str = "../out/ledger.sqlite"
    seed: int = 0
    max_coupons_per_customer: int = Field(2, ge=1)
    currency: str = "RUB"
    point_value: float = Field(1.0, gt=0)
    points_per_currency: float = Field(0.01, ge=0)
    inputs: InputsConfig = InputsConfig()
    segments: SegmentsConfig = SegmentsConfig()
    affinity: AffinityConfig = AffinityConfig()
    channels: ChannelsConfig = ChannelsConfig()
    campaigns: tuple[str, ...] = ()


class Job:
    """A loaded job: its settings, its campaigns and the folder its relative paths start from."""

    def __init__(self, path: Path, config: JobConfig, campaigns: tuple[CampaignConfig, ...]):
        self.path = path
        self.config = config
        self.campaigns = campaigns

    @property
    def base(self) -> Path:
        """The folder relative paths in the job file start from."""
        return self.path.parent

    def resolve(self, value: str) -> Path:
        """A path from the job file, made absolute against the job file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.base / p).resolve()

    def config_hash(self) -> str:
        """A short digest of the effective settings: two runs with equal hashes ran the same job."""
        doc = {
            "job": self.config.model_dump(mode="json"),
            "campaigns": [c.model_dump(mode="json") for c in self.campaigns],
        }
        blob = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def campaign(self, name: str) -> CampaignConfig:
        """The campaign called ``name``; ConfigError lists the known names otherwise."""
        for c in self.campaigns:
            if c.name == name:
                return c
        known = ", ".join(c.name for c in self.campaigns) or "none"
        raise ConfigError(f"{self.path}: no campaign named {name!r} (known: {known})")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: config file not found") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e


def _model_fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at ``loc`` inside ``model``, for an 'unknown key' message."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ()) or ()
        candidates = [ann, *args]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if current is None:
            return []
    return sorted(getattr(current, "model_fields", {}))


def _format_error(path: Path, model: type[BaseModel], err: ValidationError) -> str:
    first = err.errors()[0]
    loc = tuple(first["loc"])
    key = ".".join(str(p) for p in loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(_model_fields_at(model, loc))
        return f"{path}: unknown key {key!r} (allowed here: {allowed})"
    if first["type"] == "missing":
        return f"{path}: missing key {key!r}"
    value = first.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    msg = first["msg"].removeprefix("Value error, ")
    return f"{path}: {key}: {msg}{shown}"


def _validate(path: Path, model: type[_Model], doc: dict[str, Any]) -> Any:
    try:
        return model.model_validate(doc)
    except ValidationError as e:
        raise ConfigError(_format_error(path, model, e)) from e


def load_campaign(path: Path) -> CampaignConfig:
    """Read and validate one campaign file."""
    return _validate(path, CampaignConfig, _read_toml(path))


def load_job(path: Path | str) -> Job:
    """Read and validate a job file and every campaign file it names."""
    path = Path(path).resolve()
    doc = _read_toml(path)
    config: JobConfig = _validate(path, JobConfig, doc)
    campaigns = []
    seen: dict[str, Path] = {}
    for name in config.campaigns:
        cpath = Path(name) if Path(name).is_absolute() else path.parent / name
        campaign = load_campaign(cpath)
        if campaign.name in seen:
            raise ConfigError(
                f"{cpath}: campaign name {campaign.name!r} is already used by {seen[campaign.name]}"
            )
        seen[campaign.name] = cpath
        campaigns.append(campaign)
    known = {r.name for r in config.segments.rules}
    for c, cpath in zip(campaigns, seen.values(), strict=True):
        unknown = sorted(set(c.eligibility.segments) - known)
        if unknown:
            raise ConfigError(
                f"{cpath}: eligibility.segments: unknown segment {unknown[0]!r} "
                f"(allowed: {', '.join(sorted(known))})"
            )
    return Job(path, config, tuple(campaigns))
