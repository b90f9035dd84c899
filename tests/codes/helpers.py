"""What the tests of the codes package share: the alphabet, seeded randomness, keys, a campaign."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date

from coupongen.codes.formats import CodeFormat
from coupongen.codes.generation import generate_codes
from coupongen.config import DEFAULT_ALPHABET, CampaignConfig

ALPHABET = DEFAULT_ALPHABET


def seeded_entropy(seed: int) -> Callable[[int], bytes]:
    rnd = random.Random(seed)
    return lambda n: rnd.randbytes(n)


KEY = b"k" * 32


OTHER_KEY = b"o" * 32


SIGNED = CodeFormat(prefix="S", length=10, alphabet=ALPHABET, signature_length=4)


SIGNING_CAMPAIGN = "signed_one"


def signed_codes(n: int, seed: int = 5, key: bytes = KEY, campaign: str = SIGNING_CAMPAIGN) -> list[str]:
    return generate_codes(
        n,
        prefix="S",
        length=10,
        alphabet=ALPHABET,
        entropy=seeded_entropy(seed),
        key=key,
        signature_length=4,
        campaign=campaign,
    )


def campaign(**code: object) -> CampaignConfig:
    return CampaignConfig.model_validate(
        {"name": "c", "type": "win_back", "reward": {"type": "percent", "value": 10}, "code": code}
    )


AS_OF = date(2026, 11, 22)  # valid 2026-11-23 .. 2026-12-06 with the defaults (offset 1, 14 days)
