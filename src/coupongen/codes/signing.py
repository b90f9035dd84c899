"""Signed codes and QR payloads: a till holding the key can tell a forged coupon offline.

A signed code carries a few characters of a keyed MAC (HMAC-SHA256) over its campaign, prefix and
body; a signed QR payload carries a MAC over its campaign, the code and its last valid day. Naming
the campaign in the MAC means a code of one campaign never passes as another's, whatever their
formats. Codes and payloads signed before the campaign was named (scheme version 1, payload tag
``CG1``) are still recognised, and accepted offline only when asked for (``legacy``). The key is read
from the environment or a private file (``load_signing_key``), never from the configuration.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from coupongen.errors import ConfigError

SIGNING_KEY_ENV = "COUPONGEN_SIGNING_KEY"
SIGNING_KEY_FILE_ENV = "COUPONGEN_SIGNING_KEY_FILE"
MIN_KEY_BYTES = 16
SIGNED_PAYLOAD_TAG = "CG2"
LEGACY_PAYLOAD_TAG = "CG1"
SIGNED_PAYLOAD_TAGS = (SIGNED_PAYLOAD_TAG, LEGACY_PAYLOAD_TAG)
SIGNED_PAYLOAD_MAC_CHARS = 16  # base32: 80 bits of HMAC-SHA256
# Domain separation: a code's MAC and a QR payload's MAC can never be swapped for one another, nor
# a version 1 MAC for a version 2 one.
_CODE_MAC_CONTEXT = b"coupongen/code/v2\x00"
_PAYLOAD_MAC_CONTEXT = b"coupongen/qr-payload/v2\x00"
_LEGACY_CODE_MAC_CONTEXT = b"coupongen/code/v1\x00"
_LEGACY_PAYLOAD_MAC_CONTEXT = b"coupongen/qr-payload/v1\x00"


def _mac_characters(mac: bytes, length: int, alphabet: str) -> str:
    """``length`` alphabet characters of a MAC: its first 128 bits written in base ``len(alphabet)``.

    With at most a few dozen bits kept, the deviation from uniform is below 2**-80, nothing a
    guesser can use.
    """
    value = int.from_bytes(mac[:16], "big")
    p = len(alphabet)
    out = []
    for _ in range(length):
        value, digit = divmod(value, p)
        out.append(alphabet[digit])
    return "".join(out)


def code_signature(body: str, *, prefix: str, campaign: str, key: bytes, length: int, alphabet: str) -> str:
    """``length`` alphabet characters of HMAC-SHA256(key, context || campaign 0x00 prefix 0x00 body).

    The campaign's name and the split between prefix and body are part of what is signed: a code
    of campaign A, or one whose prefix and body are cut another way, has another signature.
    """
    text = f"{campaign}\x00{prefix}\x00{body}".encode()
    return _mac_characters(hmac.digest(key, _CODE_MAC_CONTEXT + text, "sha256"), length, alphabet)


def legacy_code_signature(text: str, *, key: bytes, length: int, alphabet: str) -> str:
    """The version 1 signature of a code issued before signatures named the campaign: over prefix
    and body run together (``text``), so it fits any campaign whose format the code fits.
    """
    mac = hmac.digest(key, _LEGACY_CODE_MAC_CONTEXT + text.encode("ascii"), "sha256")
    return _mac_characters(mac, length, alphabet)


class SignedFormat(Protocol):
    """What checking a signature needs of a code format (`coupongen.codes.formats.CodeFormat`)."""

    @property
    def prefix(self) -> str:
        """The code's fixed start."""
        ...

    @property
    def length(self) -> int:
        """Random characters after the prefix."""
        ...

    @property
    def signature_length(self) -> int:
        """Signature characters after them."""
        ...

    @property
    def alphabet(self) -> str:
        """The characters codes are drawn from."""
        ...

    @property
    def size(self) -> int:
        """The whole code's length."""
        ...


def _signature_part(code: str, fmt: SignedFormat) -> tuple[str, str] | None:
    """(body, signature) of a code that has the format's shape, else None."""
    if not fmt.signature_length or len(code) != fmt.size or not code.startswith(fmt.prefix):
        return None
    end = len(fmt.prefix) + fmt.length
    return code[len(fmt.prefix) : end], code[end : end + fmt.signature_length]


def has_valid_signature(code: str, fmt: SignedFormat, *, key: bytes, campaign: str) -> bool:
    """True when the signature characters of ``code`` are the MAC of ``campaign``, its prefix and
    its body (see ``code_signature``).
    """
    parts = _signature_part(code, fmt)
    if parts is None:
        return False
    body, signature = parts
    expected = code_signature(
        body,
        prefix=fmt.prefix,
        campaign=campaign,
        key=key,
        length=fmt.signature_length,
        alphabet=fmt.alphabet,
    )
    return hmac.compare_digest(signature, expected)


def has_legacy_signature(code: str, fmt: SignedFormat, *, key: bytes) -> bool:
    """True when ``code`` carries a version 1 signature (before signatures named the campaign)."""
    parts = _signature_part(code, fmt)
    if parts is None:
        return False
    body, signature = parts
    expected = legacy_code_signature(
        fmt.prefix + body, key=key, length=fmt.signature_length, alphabet=fmt.alphabet
    )
    return hmac.compare_digest(signature, expected)


def _payload_mac(text: str, key: bytes, campaign: str | None) -> str:
    if campaign is None:
        message = _LEGACY_PAYLOAD_MAC_CONTEXT + text.encode("ascii")
    else:
        message = _PAYLOAD_MAC_CONTEXT + f"{campaign}\x00{text}".encode()
    return base64.b32encode(hmac.digest(key, message, "sha256")[:10]).decode("ascii")


def signed_payload(code: str, valid_to: date, *, key: bytes, campaign: str) -> str:
    """A QR payload a till can check offline: ``CG2.<code>.<YYYYMMDD>.<16 base32 MAC characters>``.

    The MAC (80 bits of HMAC-SHA256) covers the campaign's name, the tag, the code and the last
    valid day, so none can be altered; every character is in QR's alphanumeric set, which keeps
    the symbol small. The campaign is not written out: a checker tries each campaign it knows.
    """
    text = f"{SIGNED_PAYLOAD_TAG}.{code}.{valid_to:%Y%m%d}"
    return f"{text}.{_payload_mac(text, key, campaign)}"


@dataclass(frozen=True)
class SignedPayload:
    """A signed QR payload taken apart; ``authentic`` is None when no key was at hand to check it.

    ``campaign`` is the campaign whose MAC it carries (None when not authentic, or for a version 1
    payload, ``legacy``, whose MAC names no campaign).
    """

    code: str
    valid_to: date
    authentic: bool | None
    campaign: str | None = None
    legacy: bool = False


_SIGNED_PAYLOAD_RE = re.compile(
    rf"(CG[12])\.([A-Za-z0-9-]+)\.(\d{{8}})\.([A-Z2-7]{{{SIGNED_PAYLOAD_MAC_CHARS}}})"
)


def read_signed_payload(
    payload: str, *, key: bytes | None, campaigns: Iterable[str] = ()
) -> SignedPayload | None:
    """The parts of a signed payload, None if malformed; with ``key`` its MAC is checked against
    each of ``campaigns`` (a ``CG2`` payload) or against the campaign-free version 1 MAC (``CG1``).
    """
    m = _SIGNED_PAYLOAD_RE.fullmatch(payload)
    if m is None:
        return None
    try:
        valid_to = date(int(m[3][:4]), int(m[3][4:6]), int(m[3][6:]))
    except ValueError:
        return None
    legacy = m[1] == LEGACY_PAYLOAD_TAG
    if key is None:
        return SignedPayload(m[2], valid_to, None, legacy=legacy)
    text = payload[: -SIGNED_PAYLOAD_MAC_CHARS - 1]
    if legacy:
        return SignedPayload(
            m[2], valid_to, hmac.compare_digest(m[4], _payload_mac(text, key, None)), legacy=True
        )
    names = list(campaigns)
    if not names:  # no campaign to check it against: as good as no key
        return SignedPayload(m[2], valid_to, None)
    for campaign in names:
        if hmac.compare_digest(m[4], _payload_mac(text, key, campaign)):
            return SignedPayload(m[2], valid_to, True, campaign)
    return SignedPayload(m[2], valid_to, False)


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
