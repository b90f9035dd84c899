"""Drawing coupon codes: unguessable, and checkable at the till by their last character.

A code is ``prefix + body [+ signature] + check``: the body is drawn uniformly from the alphabet
with a cryptographically secure source; the check character (a weighted sum modulo the alphabet
size, which must be prime) catches every single mistyped character and every swap of two neighbours.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable

import numpy as np

from coupongen.codes.signing import code_signature
from coupongen.errors import CodeFormatError

Entropy = Callable[[int], bytes]
"""A source of random bytes: called with a count, returns that many bytes."""


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


def draw_indices(count: int, size: int, entropy: Entropy) -> np.ndarray:
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
    campaign: str | None = None,
) -> list[str]:
    """``n`` distinct codes: ``prefix``, ``length`` random characters, a signature, a check character.

    ``entropy`` returns that many random bytes; the default is the operating system's secure source.
    With ``key`` the codes carry ``signature_length`` characters of ``code_signature`` of their
    ``campaign`` before the check character, which then covers body and signature alike.
    """
    if (key is None) != (signature_length == 0) or (key is not None and campaign is None):
        raise CodeFormatError("a signed code needs a key, a signature length and its campaign")
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
        values = draw_indices(need * length, p, entropy).reshape(need, length)
        if key is not None and campaign is not None:
            bodies = _split(chars[values].tobytes().decode("ascii"), length)
            sigs = "".join(
                code_signature(
                    body,
                    prefix=prefix,
                    campaign=campaign,
                    key=key,
                    length=signature_length,
                    alphabet=alphabet,
                )
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
