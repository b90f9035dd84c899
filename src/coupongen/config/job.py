"""A job file's settings: paths, inputs, segments, affinity thresholds, channels, campaigns."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from coupongen.config.base import _Model
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


class RankingConfig(_Model):
    """How cross-sell targets are ranked (docs/relevance.md).

    method: "rerank" (the learned ranking over several candidate sources, trained each night on
    the history), "ease" or "knn" (one collaborative model). prefer_new_types: move products of a
    type the customer already buys down the list, so at most max_substitute_share of a customer's
    first offers are such substitutes (rerank only).
    """

    method: Literal["rerank", "ease", "knn"] = "rerank"
    prefer_new_types: bool = True
    max_substitute_share: float = Field(0.2, ge=0.0, le=1.0)


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
    ranking: RankingConfig = RankingConfig()
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
