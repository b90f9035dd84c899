"""Coupon codes and barcode payloads: unguessable, checkable at the till, optionally signed.

A code is ``prefix + body [+ signature] + check``: the body is drawn uniformly from the alphabet
with a cryptographically secure source; a signed code adds a few characters of a keyed MAC (HMAC-
SHA256) over prefix and body, so that a till holding the key can tell a forged code offline; the
check character (a weighted sum modulo the alphabet size, which must be prime) catches every single
mistyped character and every swap of two neighbours. Barcodes carry the code itself (Code 128, QR),
a random EAN-13 serial, a GS1 Global Coupon Number with a random serial (GS1-128), a URL or a signed
QR payload. Everything here is a pure function of its arguments, except ``load_signing_key``, the
one place that reads the key from the environment or a file.
"""

from __future__ import annotations

import base64
import hmac
import math
import os
import re
import secrets
import stat
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from coupongen.codes.gs1 import check_digit, check_digits, is_valid_ean13
from coupongen.errors import CodeFormatError, ConfigError

Entropy = Callable[[int], bytes]

SIGNING_KEY_ENV = "COUPONGEN_SIGNING_KEY"
SIGNING_KEY_FILE_ENV = "COUPONGEN_SIGNING_KEY_FILE"
MIN_KEY_BYTES = 16
SIGNED_PAYLOAD_TAG = "CG1"
SIGNED_PAYLOAD_MAC_CHARS = 16  # base32: 80 bits of HMAC-SHA256
# Domain separation: a code's MAC and a QR payload's MAC can never be swapped for one another.
_CODE_MAC_CONTEXT = b"coupongen/code/v1\x00"
_PAYLOAD_MAC_CONTEXT = b"coupongen/qr-payload/v1\x00"


def is_prime(n: int) -> bool:
    """True for a prime number."""
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


# --- check character ---------------------------------------------------------------------------


def _check_value(values: np.ndarray, p: int) -> np.ndarray:
    """Check value per row so that sum((i+1) * v_i) over the body and the check is 0 mod p."""
    n = values.shape[1]
    weights = np.arange(1, n + 1, dtype=np.int64)
    total = (values.astype(np.int64) * weights).sum(axis=1) % p
    inverse = pow(n + 1, -1, p)
    return (-total * inverse) % p


def check_character(body: str, alphabet: str) -> str:
    """The check character for ``body`` (every character must be in ``alphabet``)."""
    index = {ch: i for i, ch in enumerate(alphabet)}
    try:
        values = np.array([[index[ch] for ch in body]], dtype=np.int64)
    except KeyError as e:
        raise CodeFormatError(f"character {e.args[0]!r} is not in the code alphabet") from e
    return alphabet[int(_check_value(values, len(alphabet))[0])]


def has_valid_check(code: str, *, prefix: str, alphabet: str) -> bool:
    """True when ``code`` starts with ``prefix`` and its last character is the right check."""
    if not code.startswith(prefix) or len(code) < len(prefix) + 2:
        return False
    body, check = code[len(prefix) : -1], code[-1]
    if any(ch not in alphabet for ch in body + check):
        return False
    return check_character(body, alphabet) == check


# --- drawing codes -----------------------------------------------------------------------------


def _uniform_indices(count: int, size: int, entropy: Entropy) -> np.ndarray:
    """``count`` integers uniform in [0, size) from random bytes, by rejection (no modulo bias)."""
    limit = 256 - (256 % size)
    out = np.empty(0, dtype=np.uint8)
    while out.size < count:
        need = count - out.size
        raw = np.frombuffer(entropy(int(need * 256 / limit) + 16), dtype=np.uint8)
        out = np.concatenate([out, raw[raw < limit] % size])
    return out[:count].astype(np.int64)


def _check_alphabet(alphabet: str, positions: int) -> None:
    p = len(alphabet)
    if not is_prime(p) or positions + 1 >= p:
        raise CodeFormatError(
            f"code alphabet needs a prime number of characters greater than length + 1 "
            f"(got {p} characters, length {positions})"
        )
    if not alphabet.isascii():
        raise CodeFormatError("code alphabet must be ASCII characters")


def _split(blob: str, width: int) -> list[str]:
    return [blob[i : i + width] for i in range(0, len(blob), width)]


def generate_codes(
    n: int,
    *,
    prefix: str,
    length: int,
    alphabet: str,
    entropy: Entropy = secrets.token_bytes,
    key: bytes | None = None,
    signature_length: int = 0,
) -> list[str]:
    """``n`` distinct codes: ``prefix``, ``length`` random characters, a signature, a check character.

    ``entropy`` returns that many random bytes; the default is the operating system's secure source.
    With ``key`` the codes carry ``signature_length`` characters of ``code_signature`` before the
    check character, which then covers body and signature alike.
    """
    if (key is None) != (signature_length == 0):
        raise CodeFormatError("a signed code needs both a key and a signature length")
    _check_alphabet(alphabet, length + signature_length)
    p = len(alphabet)
    chars = np.frombuffer(alphabet.encode("ascii"), dtype=np.uint8)
    index = np.zeros(256, dtype=np.int64)
    index[chars] = np.arange(p)
    width = length + signature_length + 1
    codes: list[str] = []
    seen: set[str] = set()
    while len(codes) < n:
        need = n - len(codes)
        values = _uniform_indices(need * length, p, entropy).reshape(need, length)
        if key is not None:
            bodies = _split(chars[values].tobytes().decode("ascii"), length)
            sigs = "".join(
                code_signature(prefix + body, key=key, length=signature_length, alphabet=alphabet)
                for body in bodies
            )
            sig_values = index[np.frombuffer(sigs.encode("ascii"), dtype=np.uint8)]
            values = np.concatenate([values, sig_values.reshape(need, signature_length)], axis=1)
        check = _check_value(values, p)
        blob = chars[np.concatenate([values, check[:, None]], axis=1)].tobytes().decode("ascii")
        for part in _split(blob, width):
            code = prefix + part
            if code not in seen:
                seen.add(code)
                codes.append(code)
    return codes


# --- signatures --------------------------------------------------------------------------------


def code_signature(text: str, *, key: bytes, length: int, alphabet: str) -> str:
    """``length`` alphabet characters of HMAC-SHA256(key, prefix + body).

    The first 128 bits of the MAC are written in base ``len(alphabet)``; with at most a few dozen
    bits kept, the deviation from uniform is below 2**-80, nothing a guesser can use.
    """
    mac = hmac.digest(key, _CODE_MAC_CONTEXT + text.encode("ascii"), "sha256")
    value = int.from_bytes(mac[:16], "big")
    p = len(alphabet)
    out = []
    for _ in range(length):
        value, digit = divmod(value, p)
        out.append(alphabet[digit])
    return "".join(out)


def has_valid_signature(code: str, fmt: CodeFormat, *, key: bytes) -> bool:
    """True when the signature characters of ``code`` are the MAC of its prefix and body."""
    if not fmt.signature_length or len(code) != fmt.size or not code.startswith(fmt.prefix):
        return False
    end = len(fmt.prefix) + fmt.length
    expected = code_signature(code[:end], key=key, length=fmt.signature_length, alphabet=fmt.alphabet)
    return hmac.compare_digest(code[end : end + fmt.signature_length], expected)


def _payload_mac(text: str, key: bytes) -> str:
    mac = hmac.digest(key, _PAYLOAD_MAC_CONTEXT + text.encode("ascii"), "sha256")
    return base64.b32encode(mac[:10]).decode("ascii")


def signed_payload(code: str, valid_to: date, *, key: bytes) -> str:
    """A QR payload a till can check offline: ``CG1.<code>.<YYYYMMDD>.<16 base32 MAC characters>``.

    The MAC (80 bits of HMAC-SHA256) covers the tag, the code and the last valid day, so neither can
    be altered; every character is in QR's alphanumeric set, which keeps the symbol small.
    """
    text = f"{SIGNED_PAYLOAD_TAG}.{code}.{valid_to:%Y%m%d}"
    return f"{text}.{_payload_mac(text, key)}"


@dataclass(frozen=True)
class SignedPayload:
    """A signed QR payload taken apart; ``authentic`` is None when no key was at hand to check it."""

    code: str
    valid_to: date
    authentic: bool | None


_SIGNED_PAYLOAD_RE = re.compile(
    rf"{SIGNED_PAYLOAD_TAG}\.([A-Za-z0-9-]+)\.(\d{{8}})\.([A-Z2-7]{{{SIGNED_PAYLOAD_MAC_CHARS}}})"
)


def read_signed_payload(payload: str, *, key: bytes | None) -> SignedPayload | None:
    """The parts of a signed payload, its MAC checked when ``key`` is given; None if malformed."""
    m = _SIGNED_PAYLOAD_RE.fullmatch(payload)
    if m is None:
        return None
    try:
        valid_to = date(int(m[2][:4]), int(m[2][4:6]), int(m[2][6:]))
    except ValueError:
        return None
    authentic = None
    if key is not None:
        text = payload[: -SIGNED_PAYLOAD_MAC_CHARS - 1]
        authentic = hmac.compare_digest(m[3], _payload_mac(text, key))
    return SignedPayload(m[1], valid_to, authentic)


def load_signing_key(
    *,
    key_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    needed_for: str = "signing codes",
) -> bytes:
    """The signing key: from ``key_file``, else the file named by COUPONGEN_SIGNING_KEY_FILE, else
    the value of COUPONGEN_SIGNING_KEY. Never from the configuration, never logged or shown.

    A key file must not be readable by group or others. ConfigError (exit 2) says which source
    was missing or wrong, never the key itself.
    """
    env = os.environ if environ is None else environ
    path = key_file or (Path(env[SIGNING_KEY_FILE_ENV]) if env.get(SIGNING_KEY_FILE_ENV) else None)
    if path is not None:
        try:
            mode = path.stat().st_mode
            raw = path.read_bytes()
        except FileNotFoundError as e:
            raise ConfigError(f"{path}: signing key file not found") from e
        except OSError as e:
            raise ConfigError(f"{path}: cannot read the signing key file: {e.strerror}") from e
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{path}: signing key file is accessible to group or others (chmod 600 {path})")
        key, source = raw.strip(), str(path)
    elif env.get(SIGNING_KEY_ENV):
        key, source = env[SIGNING_KEY_ENV].strip().encode("utf-8"), SIGNING_KEY_ENV
    else:
        raise ConfigError(
            f"{needed_for} needs a signing key: set {SIGNING_KEY_ENV}, or {SIGNING_KEY_FILE_ENV} "
            "to a file readable only by its owner"
        )
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the signing key from {source} is too short ({len(key)} bytes; at least {MIN_KEY_BYTES})"
        )
    return key


# --- strength ----------------------------------------------------------------------------------


def code_entropy_bits(length: int, alphabet: str) -> float:
    """Bits of randomness in a code body of ``length`` characters."""
    return length * math.log2(len(alphabet))


def guess_odds(length: int, alphabet: str, issued: int) -> float:
    """Chance that one random guess of a well-formed code hits one of ``issued`` live codes."""
    return issued / (len(alphabet) ** length)


def forgery_odds(signature_length: int, alphabet: str) -> float:
    """Chance that one made-up code passes an offline signature check (whatever was issued)."""
    return 1.0 / (len(alphabet) ** signature_length)


# --- formats -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeFormat:
    """What a campaign's codes and barcodes look like, as far as checking them needs.

    ``signature_length`` is 0 for unsigned codes; ``barcode_digits`` is the number of random digits
    in the barcode when it is not the code itself (EAN-13 and GS1-128), else 0.
    """

    prefix: str
    length: int
    alphabet: str
    signature_length: int = 0
    symbology: str = "code128"
    barcode_digits: int = 0
    url_template: str | None = None

    @property
    def size(self) -> int:
        """Characters in a whole code."""
        return len(self.prefix) + self.length + self.signature_length + 1

    def strength(self, issued: int) -> dict[str, float | None]:
        """Entropy in bits and guessing odds of this format with ``issued`` live coupons.

        code_bits / code_guess_odds: a made-up well-formed code is one of the live ones;
        forgery_odds: a made-up code passes the offline signature check (None if unsigned);
        barcode_bits / barcode_guess_odds: a made-up barcode value is a live one (None when the
        barcode carries the code).
        """
        digits = "0123456789"
        return {
            "code_bits": code_entropy_bits(self.length, self.alphabet),
            "code_guess_odds": guess_odds(self.length + self.signature_length, self.alphabet, issued),
            "signature_bits": code_entropy_bits(self.signature_length, self.alphabet),
            "forgery_odds": (
                forgery_odds(self.signature_length, self.alphabet) if self.signature_length else None
            ),
            "barcode_bits": code_entropy_bits(self.barcode_digits, digits) if self.barcode_digits else None,
            "barcode_guess_odds": (
                guess_odds(self.barcode_digits, digits, issued) if self.barcode_digits else None
            ),
        }


def check_url_template(template: str) -> str:
    """``template`` if it is an http(s) URL with exactly one ``{code}`` field and no other."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise CodeFormatError(f"URL template {template!r} is malformed: {e}") from e
    if fields != ["code"]:
        raise CodeFormatError(
            f"URL template {template!r} must contain {{code}} exactly once and no other field"
        )
    if not template.startswith(("https://", "http://")):
        raise CodeFormatError(f"URL template {template!r} must start with https:// or http://")
    return template


def _code_from_url(url: str, template: str) -> str | None:
    head, tail = template.split("{code}")
    pattern = re.escape(head.replace("{{", "{").replace("}}", "}")) + "([A-Za-z0-9-]+)"
    pattern += re.escape(tail.replace("{{", "{").replace("}}", "}"))
    m = re.fullmatch(pattern, url)
    return m[1] if m else None


# --- GS1 ---------------------------------------------------------------------------------------


def _random_digit_strings(n: int, length: int, entropy: Entropy) -> list[str]:
    digits = _uniform_indices(n * length, 10, entropy) + ord("0")
    return _split(digits.astype(np.uint8).tobytes().decode("ascii"), length)


def generate_ean13(n: int, *, prefix: str, entropy: Entropy = secrets.token_bytes) -> list[str]:
    """``n`` distinct EAN-13 values: GS1 ``prefix`` + random serial digits + check digit."""
    serial_len = 12 - len(prefix)
    if not prefix.isdigit() or serial_len < 5:
        raise CodeFormatError(f"EAN-13 prefix must be 2 to 7 digits, got {prefix!r}")
    if n > 10**serial_len // 10:
        raise CodeFormatError(
            f"EAN-13 prefix {prefix!r} leaves {serial_len} serial digits: too few for {n} coupons"
        )
    prefix_digits = np.array([int(d) for d in prefix], dtype=np.int64)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        need = n - len(out)
        serial = _uniform_indices(need * serial_len, 10, entropy).reshape(need, serial_len)
        data = np.concatenate([np.broadcast_to(prefix_digits, (need, len(prefix))), serial], axis=1)
        check = check_digits(data)
        blob = (np.concatenate([data, check[:, None]], axis=1) + ord("0")).astype(np.uint8)
        for value in _split(blob.tobytes().decode("ascii"), 13):
            if value not in seen:
                seen.add(value)
                out.append(value)
    return out


def global_coupon_number(company_prefix: str, coupon_reference: str) -> str:
    """The 13-digit GCN: GS1 Company Prefix + coupon reference (12 digits) + GS1 check digit."""
    data = company_prefix + coupon_reference
    if not data.isdigit() or len(data) != 12:
        raise CodeFormatError(
            f"GS1 Company Prefix and coupon reference must be 12 digits together, got {data!r}"
        )
    return data + check_digit(data)


def generate_gcn_serials(n: int, *, length: int, entropy: Entropy = secrets.token_bytes) -> list[str]:
    """``n`` distinct random serial components of ``length`` digits (GS1 allows up to 12)."""
    if not 1 <= length <= 12:
        raise CodeFormatError(f"a GCN serial component has 1 to 12 digits, got {length}")
    if n > 10**length // 10:
        raise CodeFormatError(f"{length} serial digits are too few for {n} coupons")
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        for serial in _random_digit_strings(n - len(out), length, entropy):
            if serial not in seen:
                seen.add(serial)
                out.append(serial)
    return out


def gs1_128_payload(gcn: str, serial: str, expiry: date | None = None) -> str:
    """The human-readable element string ``(255)<GCN><serial>`` and, if given, ``(17)<YYMMDD>``."""
    if len(gcn) != 13 or not is_valid_ean13(gcn):
        raise CodeFormatError(f"{gcn!r} is not a 13-digit GCN with a valid check digit")
    if not serial.isdigit() or len(serial) > 12:
        raise CodeFormatError(f"GCN serial component must be 1 to 12 digits, got {serial!r}")
    payload = f"(255){gcn}{serial}"
    return payload + (f"(17){expiry:%y%m%d}" if expiry is not None else "")


_GS1_ELEMENT_RE = re.compile(r"\((\d{2,4})\)([^()]*)")


def parse_gs1_elements(payload: str) -> dict[str, str] | None:
    """``{AI: data}`` of a human-readable element string, or None if it is not one."""
    elements = _GS1_ELEMENT_RE.findall(payload)
    if not elements or "".join(f"({ai}){data}" for ai, data in elements) != payload:
        return None
    return dict(elements)


def barcode_key(value: str, symbology: str) -> str:
    """The part of a barcode value that identifies one coupon: the GCN with its serial for GS1-128
    (the expiry date is an attribute, not part of the identity), the whole value otherwise.
    """
    if symbology == "gs1_128":
        elements = parse_gs1_elements(value)
        if elements is None or "255" not in elements:
            raise CodeFormatError(f"GS1-128 value {value!r} carries no AI (255)")
        return elements["255"]
    return value


def _gs1_expiry(data: str) -> date | None:
    """AI (17) YYMMDD as a date in 2000-2099; day 00 means the last day of the month."""
    try:
        year, month, day = 2000 + int(data[:2]), int(data[2:4]), int(data[4:6])
        if day == 0:
            nxt = date(year + month // 12, month % 12 + 1, 1)
            return date.fromordinal(nxt.toordinal() - 1)
        return date(year, month, day)
    except ValueError:
        return None


# --- verification ------------------------------------------------------------------------------

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


def verify_code(
    presented: str,
    *,
    formats: Mapping[str, CodeFormat],
    as_of: date,
    key: bytes | None = None,
    lookup: CouponLookup | None = None,
) -> Verdict:
    """Check a code, a scanned barcode value, a URL or a signed QR payload as of ``as_of``.

    ``formats`` maps campaign names to their code formats. With ``lookup`` (the ledger) the coupon's
    record decides: valid, expired, not yet valid, redeemed, void; a code the ledger does not hold is
    diagnosed as a bad check character, a bad signature (signed campaigns, with ``key``) or unknown.
    Without ``lookup`` the check is offline: only a code or payload whose signature ``key`` confirms
    can be valid, and redemptions cannot be seen.
    """
    text = presented.strip()
    verdict = _Verifier(text, formats, as_of, key, lookup)
    return verdict.run()


_NO_KEY_OFFLINE = (
    f"verifying a signed code offline needs the signing key: set {SIGNING_KEY_ENV} or "
    f"{SIGNING_KEY_FILE_ENV}, or pass --key-file"
)


class _Verifier:
    """One verification; the steps share the presented text, the formats, the key and the lookup."""

    def __init__(
        self,
        text: str,
        formats: Mapping[str, CodeFormat],
        as_of: date,
        key: bytes | None,
        lookup: CouponLookup | None,
    ) -> None:
        self.text = text
        self.formats = formats
        self.as_of = as_of
        self.key = key
        self.lookup = lookup

    def verdict(self, status: str, detail: str) -> Verdict:
        return Verdict(status, self.text, detail)

    def run(self) -> Verdict:
        if self.text.startswith(SIGNED_PAYLOAD_TAG + "."):
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
        about = f"campaign {campaign}, {kind}, customer {record['customer_id']}"
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
        return [
            (name, fmt)
            for name, fmt in self.formats.items()
            if code.startswith(fmt.prefix) and len(code) == fmt.size
        ]

    def code(self, code: str) -> Verdict:
        """A plain code the ledger does not hold (or offline): format, check, signature."""
        candidates = self.candidates(code)
        if not candidates:
            where = "not in the ledger and " if self.lookup is not None else ""
            return self.verdict(UNKNOWN, f"{where}matches no campaign's code format")
        checked = [
            (n, f) for n, f in candidates if has_valid_check(code, prefix=f.prefix, alphabet=f.alphabet)
        ]
        if not checked:
            names = ", ".join(n for n, _ in candidates)
            return self.verdict(BAD_CHECK, f"format of {names}: a character is mistyped or two are swapped")
        signed = [(n, f) for n, f in checked if f.signature_length]
        unsigned = [n for n, f in checked if not f.signature_length]
        if self.lookup is None and self.key is None and signed and not unsigned:
            raise ConfigError(_NO_KEY_OFFLINE)
        key = self.key
        good = [n for n, f in signed if key is not None and has_valid_signature(code, f, key=key)]
        if self.lookup is None:
            if good:
                return self.verdict(
                    VALID,
                    f"campaign {good[0]}, signature valid; checked offline, "
                    "so redemptions and expiry were not seen",
                )
            if unsigned:
                return self.verdict(
                    UNKNOWN,
                    f"check character is right, but {', '.join(unsigned)} does not sign its "
                    "codes: only signed codes can be verified offline",
                )
            return self.verdict(BAD_SIGNATURE, f"format of {signed[0][0]}: forged or altered")
        if signed and not unsigned and key is not None and not good:
            return self.verdict(BAD_SIGNATURE, f"format of {signed[0][0]}: forged or altered")
        return self.verdict(UNKNOWN, "well formed, but not in the ledger")

    def signed_payload(self) -> Verdict:
        if self.key is None and self.lookup is None:
            raise ConfigError(_NO_KEY_OFFLINE)
        payload = read_signed_payload(self.text, key=self.key)
        if payload is None:
            return self.verdict(BAD_SIGNATURE, "not a well-formed signed payload")
        if payload.authentic is False:
            return self.verdict(BAD_SIGNATURE, "the payload was forged or altered")
        if self.lookup is not None:
            record = self.lookup(code=payload.code)
            if record is not None:
                return self.from_record(record)
            return self.code(payload.code)
        # The payload's MAC vouches for the code and its last day, whatever the code carries.
        if self.as_of > payload.valid_to:
            return self.verdict(EXPIRED, f"signed payload of {payload.code}, valid until {payload.valid_to}")
        return self.verdict(
            VALID,
            f"signed payload of {payload.code}, valid until {payload.valid_to}; checked offline, "
            "so redemptions were not seen",
        )

    def gs1(self) -> Verdict:
        elements = parse_gs1_elements(self.text)
        gcn = (elements or {}).get("255", "")
        if not (gcn.isdigit() and 13 <= len(gcn) <= 25):
            return self.verdict(UNKNOWN, "not a GS1 element string with a Global Coupon Number")
        if not is_valid_ean13(gcn[:13]):
            return self.verdict(BAD_CHECK, "the GCN's check digit is wrong")
        expiry = _gs1_expiry((elements or {}).get("17", "")) if elements and "17" in elements else None
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
                code = _code_from_url(self.text, fmt.url_template)
                if code is not None:
                    if self.lookup is not None:
                        record = self.lookup(code=code)
                        if record is not None:
                            return self.from_record(record)
                    return self.code(code)
        return self.verdict(UNKNOWN, "a URL no campaign issues")
