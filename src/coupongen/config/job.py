"""A job file's settings: paths, locale and currency, inputs, products, segments, affinity thresholds,
channels, exports, campaigns.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal

from babel import Locale, UnknownLocaleError
from babel.numbers import is_currency
from pydantic import Field, field_validator

from coupongen.config.base import NAME_PATTERN, _Model
from coupongen.config.campaigns import CampaignConfig
from coupongen.errors import ConfigError


class InputsConfig(_Model):
    """Where the three inputs are, relative to the data folder, and how strict loading is."""

    transactions: str = "transactions.csv"
    products: str = "products.csv"
    customers: str = "customers.csv"
    delimiter: str = ","
    max_quarantine_share: float = Field(0.05, ge=0.0, le=1.0)
    max_line_amount: float = Field(1_000_000.0, gt=0)
    max_line_quantity: float = Field(10_000.0, gt=0)
    # How files are read: None by their extension (.parquet or CSV); "parquet" also reads folders
    # partitioned by day (date=YYYY-MM-DD/), only the days of the look-back window.
    format: Literal["csv", "parquet"] | None = None

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, v: str) -> str:
        if len(v) != 1:
            raise ValueError("must be a single character")
        return v


class ExportsConfig(_Model):
    """Who may read the published folders (pos/, crm/, email/, sms/, app/, delivery/): their files'
    and folders' permission bits and the group they belong to ("": the owner's). Private by
    default, since they hold personal data.
    """

    file_mode: str = "0600"
    dir_mode: str = "0700"
    group: str = ""

    @field_validator("file_mode", "dir_mode")
    @classmethod
    def _octal_mode(cls, v: str) -> str:
        text = v.strip()
        if not (text.isdigit() and set(text) <= set("01234567") and int(text, 8) <= 0o777):
            raise ValueError(f"must be octal permission bits such as 0640, got {v!r}")
        if int(text, 8) & 0o002:
            raise ValueError(f"must not let every user write (o+w), got {v!r}")
        return text

    def modes(self) -> tuple[int, int]:
        """The (file, folder) permission bits."""
        return int(self.file_mode, 8), int(self.dir_mode, 8) | 0o700


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


class RankingConfig(_Model):
    """How cross-sell targets are ranked (docs/relevance.md).

    method: "ease" or "knn" (one collaborative model; "ease" is the default) or "rerank" (the
    learned ranking over several candidate sources, trained each night on the history: fewer
    substitutes and more new product types, at a training's cost every night; see
    docs/relevance.md for its figures). prefer_new_types: hold products of a type the customer
    already buys back (one factor on their scores for the whole night), so at most
    max_substitute_share of the night's offers, and of each cross-sell campaign's coupons, are
    such substitutes; on by default, for every method. popularity_discount: the learned chances
    are divided by (the product's buyers + 1) to this power before the offers are picked; "auto"
    takes the weakest power that spreads the offers over as many products as EASE would.
    max_product_share: no product takes more than this share of the night's offers (1.0, the
    default: no cap). These two are rerank only.
    """

    method: Literal["rerank", "ease", "knn"] = "ease"
    prefer_new_types: bool = True
    max_substitute_share: float = Field(0.2, ge=0.0, le=1.0)
    popularity_discount: Literal["auto"] | float = "auto"
    max_product_share: float = Field(1.0, gt=0.0, le=1.0)

    @field_validator("popularity_discount")
    @classmethod
    def _discount_in_range(cls, value: str | float) -> str | float:
        if not isinstance(value, str) and not 0.0 <= value <= 2.0:
            raise ValueError('must be "auto" or a number within 0 and 2')
        return value


# The brand messages show until the job names the retailer's: a stand-in, not for customers' eyes.
DEFAULT_BRAND = "coupongen"


# An address, or a display name and an address in angle brackets; one line, one address.
_ADDRESS = r"[^\s<>@,;\"]+@[^\s<>@,;\"]+\.[^\s<>@,;\".]+"
_SENDER = rf"{_ADDRESS}|[^\r\n<>@,;\"]+ <{_ADDRESS}>"


class ChannelsConfig(_Model):
    """Customer messages: templates, suppression list, SMS length and the brand name they show."""

    templates: str = "templates"
    suppression: str | None = None
    max_sms_parts: int = Field(3, ge=1, le=10)
    brand: str = DEFAULT_BRAND
    email_images: bool = True
    # Where the e-mails' images are served from: email/images/ is laid out for upload there
    # (<url>/<symbology>/<code>.png). Unset: the images travel inside each message's .eml.
    image_base_url: str | None = Field(None, pattern=r"^https?://[^\s\"'<>]+$")
    # The .eml files' From: an address, or a name and an address ("Grocery Outlet <offers@example.com>").
    sender: str | None = None
    # What the e-mail platform replaces with the recipient's own unsubscribe link.
    unsubscribe_placeholder: str = Field("{{unsubscribe_url}}", min_length=1, pattern=r"^[^\s\"'<>]+$")
    barcode_module_px: int = Field(3, ge=1, le=20)  # pixels per bar module of EAN-13 / Code 128
    qr_module_px: int = Field(8, ge=1, le=40)  # pixels per QR module: 232 px for a 12-character code
    qr_quiet_modules: int = Field(4, ge=1, le=20)  # light modules around a QR code (ISO/IEC 18004: 4)
    barcode_text: bool = True  # print the human-readable line under 1D barcodes

    @field_validator("sender")
    @classmethod
    def _one_sender(cls, v: str | None) -> str | None:
        return v if v is None else known_sender(v)


class NeverPromote(_Model):
    """Products no coupon may target, on top of the products' own ``promo_allowed``.

    ``name_patterns`` are case-insensitive regular expressions searched in the product name.
    """

    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()
    name_patterns: tuple[str, ...] = ()

    @field_validator("name_patterns")
    @classmethod
    def _regexes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"{pattern!r} is not a regular expression: {e}") from e
        return v


class ProductsConfig(_Model):
    """What the job knows of the products beyond the products file.

    ``names`` is a CSV (columns category, name; relative to the job file like the templates) whose
    names customers and the CRM team read instead of the category keys; a ``category_name`` column
    of the products file does the same, the names file winning where both name a category.
    ``never_promote`` names products no coupon may target (see `NeverPromote`). ``name_case``:
    how names taken from the data read in messages and the CRM file, ``auto`` (a name written all
    in capitals in title case, "BANANAS 40 LB" as "Bananas 40 lb") or ``as_written``.
    """

    names: str | None = None
    never_promote: NeverPromote = NeverPromote()
    name_case: Literal["auto", "as_written"] = "auto"


ENGINES = ("polars", "spark")
"""The engines that can run the heavy analysis stages (see ``coupongen.engines``)."""


class SparkConfig(_Model):
    """Where the Spark engine runs: a master URL (local[N], spark://..., yarn); unset, the
    SPARK_MASTER environment variable, else local[*].
    """

    master: str | None = None


DEFAULT_MARGIN_RATE = 0.25
"""Gross margin on sales assumed where the products file has no ``cost`` (a grocer's typical)."""


class JobConfig(_Model):
    """A whole nightly job: paths (relative to the job file), analysis settings and campaigns."""

    name: str = Field("nightly", pattern=NAME_PATTERN)
    data: str = "../sample_data"
    out: str = "../out"
    ledger: str = "../out/ledger.sqlite"
    seed: int = 0
    max_coupons_per_customer: int = Field(2, ge=1)
    locale: str = "en_US"
    currency: str = "RUB"
    point_value: float = Field(1.0, gt=0)
    points_per_currency: float = Field(0.01, ge=0)
    # Margin on sales where the products file has no cost: the expected value of offers.
    margin_rate: float = Field(DEFAULT_MARGIN_RATE, ge=0, lt=1)
    stale_after_days: int = Field(14, ge=0)
    inputs: InputsConfig = InputsConfig()
    products: ProductsConfig = ProductsConfig()
    segments: SegmentsConfig = SegmentsConfig()
    affinity: AffinityConfig = AffinityConfig()
    ranking: RankingConfig = RankingConfig()
    channels: ChannelsConfig = ChannelsConfig()
    exports: ExportsConfig = ExportsConfig()
    engine: Literal["polars", "spark"] = "polars"
    spark: SparkConfig = SparkConfig()
    campaigns: tuple[str, ...] = ()

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, v: str) -> str:
        return known_locale(v)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, v: str) -> str:
        return known_currency(v)


def known_locale(value: str) -> str:
    """The Babel locale ``value`` names, in its canonical form (en_US); ValueError when none."""
    try:
        return str(Locale.parse(value.strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"unknown locale {value!r} (use a Babel locale such as en_US or ru_RU)") from None


def known_sender(value: str) -> str:
    """``value`` when it is one e-mail sender (an address, or a name and an address, on one line);
    ValueError otherwise.
    """
    if not re.fullmatch(_SENDER, value):
        raise ValueError(
            "must be one address (offers@example.com) or a name and an address "
            "(Grocery Outlet <offers@example.com>), on one line"
        )
    return value


def known_currency(value: str) -> str:
    """The ISO 4217 currency code ``value`` names (usd is USD); ValueError when none."""
    code = value.strip().upper()
    if not is_currency(code):
        raise ValueError(f"unknown currency {value!r} (use an ISO 4217 code such as USD or RUB)")
    return code


class Job:
    """A loaded job: its settings, its campaigns and the folder its relative paths start from."""

    def __init__(
        self,
        path: Path,
        config: JobConfig,
        campaigns: tuple[CampaignConfig, ...],
        *,
        customer_lists: dict[str, frozenset[str]] | None = None,
        campaign_files: dict[str, Path] | None = None,
    ):
        self.path = path
        self.config = config
        self.campaigns = campaigns
        # The customer ids or card numbers of each campaign with an eligibility.customers_file.
        self.customer_lists = customer_lists or {}
        self.campaign_files = campaign_files or {}

    def campaign_file(self, name: str) -> Path:
        """The file campaign ``name`` was read from (the job file for a campaign made in code)."""
        return self.campaign_files.get(name, self.path)

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
        settings = self.config.model_dump(mode="json")
        # Where the analysis runs and how files are read do not change what a night issues.
        for key in ("engine", "spark"):
            settings.pop(key)
        if settings["inputs"]["format"] is None:
            settings["inputs"].pop("format")
        if settings["margin_rate"] == DEFAULT_MARGIN_RATE:
            settings.pop("margin_rate")
        doc = {
            "job": settings,
            "campaigns": [c.fingerprint() for c in self.campaigns],
        }
        if self.customer_lists:
            doc["customer_lists"] = {k: sorted(v) for k, v in sorted(self.customer_lists.items())}
        blob = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_engine(self, engine: str | None) -> Job:
        """The same job with its analysis on ``engine`` (None: as the job file says)."""
        if engine is None or engine == self.config.engine:
            return self
        if engine not in ENGINES:
            raise ConfigError(f"engine {engine!r} is not known (use one of: {', '.join(ENGINES)})")
        config = self.config.model_copy(update={"engine": engine})
        return Job(self.path, config, self.campaigns, customer_lists=self.customer_lists)

    def unbranded_channels(self) -> tuple[str, ...]:
        """The channels among e-mail and SMS that an enabled campaign sends while ``[channels]
        brand`` is still the default: customers would read "coupongen" in those messages.
        """
        if self.config.channels.brand != DEFAULT_BRAND:
            return ()
        used = {channel for c in self.campaigns if c.enabled for channel in c.channels}
        return tuple(channel for channel in ("email", "sms") if channel in used)

    def campaign(self, name: str) -> CampaignConfig:
        """The campaign called ``name``; ConfigError lists the known names otherwise."""
        for c in self.campaigns:
            if c.name == name:
                return c
        known = ", ".join(c.name for c in self.campaigns) or "none"
        raise ConfigError(f"{self.path}: no campaign named {name!r} (known: {known})")
