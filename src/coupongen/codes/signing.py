"""Signed codes and QR payloads: a till holding the key can tell a forged coupon offline.

A signed code carries a few characters of a keyed MAC (HMAC-SHA256) over its prefix and body; a
signed QR payload carries a MAC over the code and its last valid day. The key is read from the
environment or a private file (``load_signing_key``), never from the configuration.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from coupongen.errors import ConfigError

SIGNING_KEY_ENV = "COUPONGEN_SIGNING_KEY"
SIGNING_KEY_FILE_ENV = "COUPONGEN_SIGNING_KEY_FILE"
MIN_KEY_BYTES = 16
SIGNED_PAYLOAD_TAG = "CG1"
SIGNED_PAYLOAD_MAC_CHARS = 16  # base32: 80 bits of HMAC-SHA256
# Domain separation: a code's MAC and a QR payload's MAC can never be swapped for one another.
_CODE_MAC_CONTEXT = b"coupongen/code/v1\x00"
_PAYLOAD_MAC_CONTEXT = b"coupongen/qr-payload/v1\x00"


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


def has_valid_signature(code: str, fmt: SignedFormat, *, key: bytes) -> bool:
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
