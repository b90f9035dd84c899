"""What every job and campaign setting shares: the strict base model and the allowed values."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

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


MAX_VALUE = 1e9
"""The largest reward value a campaign may set (money, points or a multiplier): anything near it is a
typo, and beyond it a value such as 1e308 would overflow every sum it enters."""

NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]{1,64}$"
"""A job or campaign name: 1 to 64 characters, no control characters (it reaches logs and files)."""


class _Model(BaseModel):
    # inf and nan are never a setting: they would pass every bound and poison every sum.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
