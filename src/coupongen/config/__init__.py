"""Job and campaign files -> validated, frozen settings.

A job file (``jobs/nightly.toml``) names the inputs, the analysis thresholds and the campaigns to run;
each campaign lives in a file of its own so that a CRM analyst can add one by copying a file. Unknown
keys and bad values are rejected up front with one line naming the file, the key and what is allowed.
"""

from __future__ import annotations

from coupongen.config.audience import Eligibility, Filter, PerCustomer, Target
from coupongen.config.base import DEFAULT_ALPHABET
from coupongen.config.campaigns import CampaignConfig, CodeConfig, Reward
from coupongen.config.job import (
    DEFAULT_BRAND,
    DEFAULT_SEGMENTS,
    ENGINES,
    AffinityConfig,
    ChannelsConfig,
    InputsConfig,
    Job,
    JobConfig,
    NeverPromote,
    ProductsConfig,
    RankingConfig,
    SegmentRule,
    SegmentsConfig,
    SparkConfig,
    known_currency,
    known_locale,
    known_sender,
)
from coupongen.config.loading import load_campaign, load_job
from coupongen.config.money import MoneyRule, amount

__all__ = [
    "DEFAULT_ALPHABET",
    "DEFAULT_BRAND",
    "DEFAULT_SEGMENTS",
    "ENGINES",
    "AffinityConfig",
    "CampaignConfig",
    "ChannelsConfig",
    "CodeConfig",
    "Eligibility",
    "Filter",
    "InputsConfig",
    "Job",
    "JobConfig",
    "MoneyRule",
    "NeverPromote",
    "PerCustomer",
    "ProductsConfig",
    "RankingConfig",
    "Reward",
    "SegmentRule",
    "SegmentsConfig",
    "SparkConfig",
    "Target",
    "amount",
    "known_currency",
    "known_locale",
    "known_sender",
    "load_campaign",
    "load_job",
]
