"""A campaign's code profile turned into fresh coupons: codes, barcode values and barcode keys.

The ledger calls the maker for each batch it issues. A barcode that states the last valid day (a
GS1-128 expiry, a signed QR payload) must state every offer's own last day, which is checked here.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Protocol

from coupongen.codes.generation import Entropy, generate_codes
from coupongen.codes.gs1 import generate_ean13, generate_gcn_serials, global_coupon_number, gs1_128_payload
from coupongen.codes.patterns import generate_pattern_codes
from coupongen.codes.signing import load_signing_key, signed_payload
from coupongen.errors import CodeFormatError

CodeMaker = Callable[[int], tuple[list[str], list[str], list[str]]]
"""Draws n fresh coupons: their codes, barcode values and barcode keys, in the same order."""


class CodeProfile(Protocol):
    """How a campaign's codes and barcodes look (the campaign file's ``[code]`` table)."""

    @property
    def prefix(self) -> str:
        """Characters every code of the campaign starts with."""
        ...

    @property
    def length(self) -> int:
        """Random characters in a code body."""
        ...

    @property
    def alphabet(self) -> str:
        """The characters codes are drawn from (a prime number of them)."""
        ...

    @property
    def symbology(self) -> str:
        """The barcode: ``ean13``, ``gs1_128``, ``code128`` or ``qr``."""
        ...

    @property
    def ean_prefix(self) -> str:
        """The GS1 prefix of EAN-13 values."""
        ...

    @property
    def signed(self) -> bool:
        """True when codes carry a signature."""
        ...

    @property
    def signature_length(self) -> int:
        """Characters of a code's signature."""
        ...

    @property
    def gs1_company_prefix(self) -> str | None:
        """The GS1 Company Prefix of Global Coupon Numbers."""
        ...

    @property
    def gs1_coupon_reference(self) -> str:
        """The coupon reference of Global Coupon Numbers."""
        ...

    @property
    def gcn_serial_length(self) -> int:
        """Random digits of a GCN serial component."""
        ...

    @property
    def expiry_in_barcode(self) -> bool:
        """True when a GS1-128 barcode states the last valid day."""
        ...

    @property
    def qr_payload(self) -> str:
        """What a QR symbol carries: ``code``, ``url`` or ``signed``."""
        ...

    @property
    def url_template(self) -> str | None:
        """The coupon URL with a ``{code}`` field."""
        ...

    @property
    def needs_key(self) -> bool:
        """True when issuing needs the signing key."""
        ...

    @property
    def suffix(self) -> str:
        """Characters every code of the campaign ends with, after the check character."""
        ...

    @property
    def pattern(self) -> str | None:
        """The pattern codes are drawn to (``#`` digit, ``?`` character), replacing prefix and length."""
        ...


class Campaign(Protocol):
    """A campaign as far as making its codes needs: its name, code profile and validity window."""

    @property
    def name(self) -> str:
        """The campaign's name."""
        ...

    @property
    def code(self) -> CodeProfile:
        """How the campaign's codes and barcodes look."""
        ...

    def validity(self, as_of: date) -> tuple[date, date]:
        """The first and last day a coupon issued on ``as_of`` can be used."""
        ...


def _states_last_day(profile: CodeProfile) -> bool:
    """True when the profile's barcodes state the last valid day (GS1-128 expiry, signed QR)."""
    return profile.expiry_in_barcode or (profile.symbology == "qr" and profile.qr_payload == "signed")


def check_barcode_expiry(campaign: Campaign, valid_to: Iterable[str], *, as_of: date) -> None:
    """Raise CodeFormatError unless every offer's last day (``valid_to``, ISO dates) is the one the
    campaign's barcodes would state for a run on ``as_of``; barcodes that state no day pass.
    """
    if not _states_last_day(campaign.code):
        return
    _, expected = campaign.validity(as_of)
    found = sorted(set(valid_to))
    if found != [expected.isoformat()]:
        raise CodeFormatError(
            f"campaign {campaign.name!r}: offers are valid to {', '.join(found)}, "
            f"but its barcodes would say {expected}"
        )


def code_maker(
    campaign: Campaign,
    entropy: Entropy = secrets.token_bytes,
    *,
    as_of: date,
    key: bytes | None = None,
    imported: Sequence[str] | None = None,
) -> CodeMaker:
    """A function that draws n fresh codes, barcode values and barcode keys for one campaign.

    The barcode value is what the symbol encodes: the EAN-13 digits, the GS1-128 element string
    ``(255)<GCN><serial>[(17)<YYMMDD>]``, the code itself (Code 128, QR), a URL or a signed QR
    payload. The key is the part that identifies the coupon (the GCN with its serial), unique in the
    ledger. The expiry in a barcode is the campaign's last valid day for a run on ``as_of``. A
    campaign that signs needs ``key`` (read from the environment when not given). With ``imported``
    (pre-printed or partner codes not yet in the ledger) codes are taken from it in order instead
    of drawn; CodeFormatError when it runs out.
    """
    spec = campaign.code
    if spec.needs_key and key is None:
        key = load_signing_key(needed_for=f"campaign {campaign.name!r}")
    _, valid_to = campaign.validity(as_of)
    signing = key if spec.signed else None
    gcn = (
        global_coupon_number(spec.gs1_company_prefix, spec.gs1_coupon_reference)
        if spec.gs1_company_prefix is not None
        else ""
    )

    def payloads(n: int, drawn: list[str]) -> tuple[list[str], list[str]]:
        if spec.symbology == "ean13":
            values = generate_ean13(n, prefix=spec.ean_prefix, entropy=entropy)
            return values, values
        if spec.symbology == "gs1_128":
            serials = generate_gcn_serials(n, length=spec.gcn_serial_length, entropy=entropy)
            expiry = valid_to if spec.expiry_in_barcode else None
            values = [gs1_128_payload(gcn, s, expiry) for s in serials]
            return values, [gcn + s for s in serials]
        if spec.symbology == "qr" and spec.qr_payload == "url":
            template = spec.url_template or ""
            values = [template.format(code=c) for c in drawn]
            return values, values
        if spec.symbology == "qr" and spec.qr_payload == "signed":
            assert key is not None
            values = [signed_payload(c, valid_to, key=key, campaign=campaign.name) for c in drawn]
            return values, values
        return drawn, drawn

    supply = list(imported) if imported is not None else None
    taken = 0

    def draw(n: int) -> list[str]:
        nonlocal taken
        if supply is not None:
            if taken + n > len(supply):
                raise CodeFormatError(
                    f"campaign {campaign.name!r}: its import file has {len(supply) - taken} unused "
                    f"codes left, {n} needed"
                )
            taken += n
            return supply[taken - n : taken]
        if spec.pattern is not None:
            return generate_pattern_codes(n, pattern=spec.pattern, alphabet=spec.alphabet, entropy=entropy)
        drawn = generate_codes(
            n,
            prefix=spec.prefix,
            length=spec.length,
            alphabet=spec.alphabet,
            entropy=entropy,
            key=signing,
            signature_length=spec.signature_length if signing is not None else 0,
            campaign=campaign.name,
        )
        return [c + spec.suffix for c in drawn] if spec.suffix else drawn

    def make(n: int) -> tuple[list[str], list[str], list[str]]:
        drawn = draw(n)
        values, keys = payloads(n, drawn)
        return drawn, values, keys

    return make
