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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
