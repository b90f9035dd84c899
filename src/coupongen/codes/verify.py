"""Checking a presented coupon: a typed code, a scanned barcode value, a URL or a signed QR payload.

With the ledger at hand the coupon's record decides (valid, expired, redeemed, void); a code the
ledger does not hold, or any code checked offline, is diagnosed from its format: a mistyped
character, a forged signature, or simply unknown. Offline, only a signature can make a code valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from coupongen.codes.formats import CodeFormat, code_from_url
from coupongen.codes.gs1 import is_valid_ean13, parse_gs1_elements, read_gs1_date
from coupongen.codes.signing import (
    SIGNED_PAYLOAD_TAGS,
    SIGNING_KEY_ENV,
    SIGNING_KEY_FILE_ENV,
    has_legacy_signature,
    has_valid_signature,
    read_signed_payload,
)
from coupongen.errors import ConfigError

VALID = "valid"
UNKNOWN = "unknown"
EXPIRED = "expired"
NOT_YET_VALID = "not yet valid"
REDEEMED = "redeemed"
VOID = "void"
BAD_CHECK = "bad check character"
BAD_SIGNATURE = "bad signature"
VERDICTS = (VALID, UNKNOWN, EXPIRED, NOT_YET_VALID, REDEEMED, VOID, BAD_CHECK, BAD_SIGNATURE)


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a presented code: one of ``VERDICTS`` and a line of detail."""

    status: str
    presented: str
    detail: str

    @property
    def ok(self) -> bool:
        """True for a code the till may accept."""
        return self.status == VALID

    def __str__(self) -> str:
        return f"{self.status}: {self.presented} ({self.detail})"


class CouponLookup(Protocol):
    """Finds an issued coupon by its code or by a barcode's identifying key (see ``barcode_key``).

    The record has code, kind, campaign, customer_id, valid_from, valid_to (ISO dates), max_uses,
    uses (accepted redemptions), last_used_at and status.
    """

    def __call__(
        self, *, code: str | None = None, symbology: str | None = None, key: str | None = None
    ) -> Mapping[str, Any] | None:
        """The coupon record, or None when no coupon matches."""


def normalize_code(typed: str, formats: Mapping[str, CodeFormat]) -> str:
    """A code as typed by hand, made comparable with the issued ones: surrounding blanks removed and,
    when no campaign's alphabet has lower case letters, a letters-and-digits code upper-cased.

    Barcode values, URLs and signed payloads keep their case (only the blanks go).
    """
    code = typed.strip()
    if code.isalnum() and all(f.alphabet.isupper() or f.alphabet.isdigit() for f in formats.values()):
        return code.upper()
    return code


def verify_code(
    presented: str,
    *,
    formats: Mapping[str, CodeFormat],
    as_of: date,
    key: bytes | None = None,
    lookup: CouponLookup | None = None,
    legacy_signatures: bool = False,
) -> Verdict:
    """Check a code, a scanned barcode value, a URL or a signed QR payload as of ``as_of``.

    ``formats`` maps campaign names to their code formats. With ``lookup`` (the ledger) the coupon's
    record decides: valid, expired, not yet valid, redeemed, void; a code the ledger does not hold is
    diagnosed as a bad check character, a bad signature (signed campaigns, with ``key``) or unknown.
    Without ``lookup`` the check is offline: only a code or payload whose signature ``key`` confirms
    can be valid, and redemptions cannot be seen.

    A signature names its campaign: a code or payload is valid offline only as the campaign that
    signed it. Version 1 signatures (made before they named the campaign) are accepted offline only
    with ``legacy_signatures``; with the ledger, the coupon's record decides as for any code.
    """
    text = presented.strip()
    verdict = _Verifier(text, formats, as_of, key, lookup, legacy_signatures)
    return verdict.run()


_NO_KEY_OFFLINE = (
    f"verifying a signed code offline needs the signing key: set {SIGNING_KEY_ENV} or "
    f"{SIGNING_KEY_FILE_ENV}, or pass --key-file"
)
_LEGACY = "accepted offline with --legacy-signatures while such codes are out"


class _Verifier:
    """One verification; the steps share the presented text, the formats, the key and the lookup."""

    def __init__(
        self,
        text: str,
        formats: Mapping[str, CodeFormat],
        as_of: date,
        key: bytes | None,
        lookup: CouponLookup | None,
        legacy: bool,
    ) -> None:
        self.text = text
        self.legacy = legacy
        self.formats = formats
        self.as_of = as_of
        self.key = key
        self.lookup = lookup

    def verdict(self, status: str, detail: str) -> Verdict:
        return Verdict(status, self.text, detail)

    def run(self) -> Verdict:
        if self.text.startswith(tuple(f"{tag}." for tag in SIGNED_PAYLOAD_TAGS)):
            return self.signed_payload()
        if self.lookup is not None:
            record = self.find()
            if record is not None:
                return self.from_record(record)
        if self.text.startswith("("):
            return self.gs1()
        if len(self.text) == 13 and self.text.isdigit() and not self.candidates(self.text):
            return self.ean13()
        if "://" in self.text:
            return self.url()
        return self.code(self.text)

    def find(self) -> Mapping[str, Any] | None:
        assert self.lookup is not None
        record = self.lookup(code=self.text)
        if record is None and self.text.startswith("("):
            elements = parse_gs1_elements(self.text)
            if elements and "255" in elements:
                record = self.lookup(symbology="gs1_128", key=elements["255"])
        elif record is None and len(self.text) == 13 and self.text.isdigit():
            record = self.lookup(symbology="ean13", key=self.text)
        elif record is None:
            record = self.lookup(symbology="qr", key=self.text)
        return record

    def from_record(self, record: Mapping[str, Any]) -> Verdict:
        campaign, kind = record["campaign"], record["kind"]
        uses, max_uses = int(record["uses"]), int(record["max_uses"])
        holder = record["customer_id"]
        about = f"campaign {campaign}, {kind}" + (
            f", customer {holder}" if holder is not None else ", any card"
        )
        if record["status"] != "issued":
            return self.verdict(VOID, f"{about}; the coupon was voided")
        if uses >= max_uses:
            return self.verdict(
                REDEEMED, f"{about}; used {uses} of {max_uses}, last on {record['last_used_at']}"
            )
        valid_from = date.fromisoformat(record["valid_from"])
        valid_to = date.fromisoformat(record["valid_to"])
        if self.as_of > valid_to:
            return self.verdict(EXPIRED, f"{about}; valid until {valid_to}")
        if self.as_of < valid_from:
            return self.verdict(NOT_YET_VALID, f"{about}; valid from {valid_from}")
        return self.verdict(VALID, f"{about}; valid {valid_from} to {valid_to}, used {uses} of {max_uses}")

    def candidates(self, code: str) -> list[tuple[str, CodeFormat]]:
        return [(name, fmt) for name, fmt in self.formats.items() if fmt.fits(code)]

    def code(self, code: str) -> Verdict:
        """A plain code the ledger does not hold (or offline): format, check, signature."""
        candidates = self.candidates(code)
        if not candidates:
            where = "not in the ledger and " if self.lookup is not None else ""
            return self.verdict(UNKNOWN, f"{where}matches no campaign's code format")
        checked = [(n, f) for n, f in candidates if f.has_valid_check(code)]
        if not checked:
            names = ", ".join(n for n, _ in candidates)
            return self.verdict(BAD_CHECK, f"format of {names}: a character is mistyped or two are swapped")
        signed = [(n, f) for n, f in checked if f.signature_length]
        unsigned = [n for n, f in checked if not f.signature_length]
        if self.lookup is None and self.key is None and signed and not unsigned:
            raise ConfigError(_NO_KEY_OFFLINE)
        key = self.key
        good = [n for n, f in signed if key is not None and has_valid_signature(code, f, key=key, campaign=n)]
        old = [
            n for n, f in signed if key is not None and not good and has_legacy_signature(code, f, key=key)
        ]
        if self.lookup is None:
            if good:
                return self.verdict(
                    VALID,
                    f"campaign {good[0]}, signature valid; checked offline, "
                    "so redemptions and expiry were not seen",
                )
            if old and self.legacy:
                return self.verdict(
                    VALID,
                    f"campaign {old[0]}, version 1 signature valid (it names no campaign); checked "
                    "offline, so redemptions and expiry were not seen",
                )
            if unsigned:
                return self.verdict(
                    UNKNOWN,
                    f"check character is right, but {', '.join(unsigned)} does not sign its "
                    "codes: only signed codes can be verified offline",
                )
            if old:
                return self.verdict(
                    BAD_SIGNATURE,
                    f"format of {old[0]}: a version 1 signature, which names no campaign; {_LEGACY}",
                )
            return self.verdict(BAD_SIGNATURE, f"format of {signed[0][0]}: forged or altered")
        if signed and not unsigned and key is not None and not good and not (old and self.legacy):
            if old:
                return self.verdict(
                    BAD_SIGNATURE,
                    f"format of {old[0]}: a version 1 signature, which names no campaign, on a code "
                    "the ledger does not hold",
                )
            return self.verdict(BAD_SIGNATURE, f"format of {signed[0][0]}: forged or altered")
        return self.verdict(UNKNOWN, "well formed, but not in the ledger")

    def signed_payload(self) -> Verdict:
        if self.key is None and self.lookup is None:
            raise ConfigError(_NO_KEY_OFFLINE)
        payload = read_signed_payload(self.text, key=self.key, campaigns=self.formats)
        if payload is None:
            return self.verdict(BAD_SIGNATURE, "not a well-formed signed payload")
        if payload.authentic is False:
            return self.verdict(BAD_SIGNATURE, "the payload was forged or altered")
        if self.lookup is not None:
            record = self.lookup(code=payload.code)
            if record is not None:
                return self.from_record(record)
            return self.code(payload.code)
        if payload.authentic is None:
            return self.verdict(UNKNOWN, "no campaign to check the payload's signature against")
        if payload.legacy and not self.legacy:
            return self.verdict(BAD_SIGNATURE, f"a version 1 payload, whose MAC names no campaign; {_LEGACY}")
        # The payload's MAC vouches for the code and its last day, whatever the code carries.
        of = f"signed payload of {payload.code}" + (
            f", campaign {payload.campaign}" if payload.campaign else ""
        )
        if self.as_of > payload.valid_to:
            return self.verdict(EXPIRED, f"{of}, valid until {payload.valid_to}")
        return self.verdict(
            VALID, f"{of}, valid until {payload.valid_to}; checked offline, so redemptions were not seen"
        )

    def gs1(self) -> Verdict:
        elements = parse_gs1_elements(self.text)
        gcn = (elements or {}).get("255", "")
        if not (gcn.isdigit() and 13 <= len(gcn) <= 25):
            return self.verdict(UNKNOWN, "not a GS1 element string with a Global Coupon Number")
        if not is_valid_ean13(gcn[:13]):
            return self.verdict(BAD_CHECK, "the GCN's check digit is wrong")
        expiry = read_gs1_date((elements or {}).get("17", "")) if elements and "17" in elements else None
        if expiry is not None and self.as_of > expiry:
            return self.verdict(EXPIRED, f"the barcode says valid until {expiry}")
        where = "not in the ledger" if self.lookup is not None else "cannot be verified offline"
        return self.verdict(UNKNOWN, f"well-formed GCN, {where}")

    def ean13(self) -> Verdict:
        if not is_valid_ean13(self.text):
            return self.verdict(BAD_CHECK, "the EAN-13 check digit is wrong")
        where = "not in the ledger" if self.lookup is not None else "cannot be verified offline"
        return self.verdict(UNKNOWN, f"well-formed EAN-13, {where}")

    def url(self) -> Verdict:
        for fmt in self.formats.values():
            if fmt.url_template:
                code = code_from_url(self.text, fmt.url_template)
                if code is not None:
                    if self.lookup is not None:
                        record = self.lookup(code=code)
                        if record is not None:
                            return self.from_record(record)
                    return self.code(code)
        return self.verdict(UNKNOWN, "a URL no campaign issues")
