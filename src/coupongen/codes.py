"""Coupon codes and barcode payloads: unguessable, checkable at the till.

A code is ``prefix + body + check``: the body is drawn uniformly from the alphabet with a
cryptographically secure source, and the check character (a weighted sum modulo the alphabet size,
which must be prime) catches every single mistyped character and every swap of two neighbours.
EAN-13 payloads carry a random (never sequential) serial after a GS1 prefix and the GS1 check digit.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable

import numpy as np

from coupongen.errors import CodeFormatError

Entropy = Callable[[int], bytes]


def is_prime(n: int) -> bool:
    """True for a prime number."""
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


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


def _uniform_indices(count: int, size: int, entropy: Entropy) -> np.ndarray:
    """``count`` integers uniform in [0, size) from random bytes, by rejection (no modulo bias)."""
    limit = 256 - (256 % size)
    out = np.empty(0, dtype=np.uint8)
    while out.size < count:
        need = count - out.size
        raw = np.frombuffer(entropy(int(need * 256 / limit) + 16), dtype=np.uint8)
        out = np.concatenate([out, raw[raw < limit] % size])
    return out[:count].astype(np.int64)


def generate_codes(
    n: int, *, prefix: str, length: int, alphabet: str, entropy: Entropy = secrets.token_bytes
) -> list[str]:
    """``n`` distinct codes of ``length`` random characters plus a check character, after ``prefix``.

    ``entropy`` returns that many random bytes; the default is the operating system's secure source.
    """
    p = len(alphabet)
    if not is_prime(p) or length + 1 >= p:
        raise CodeFormatError(
            f"code alphabet needs a prime number of characters greater than length + 1 "
            f"(got {p} characters, length {length})"
        )
    if not alphabet.isascii():
        raise CodeFormatError("code alphabet must be ASCII characters")
    chars = np.frombuffer(alphabet.encode("ascii"), dtype=np.uint8)
    width = length + 1
    codes: list[str] = []
    seen: set[str] = set()
    while len(codes) < n:
        need = n - len(codes)
        values = _uniform_indices(need * length, p, entropy).reshape(need, length)
        check = _check_value(values, p)
        blob = chars[np.concatenate([values, check[:, None]], axis=1)].tobytes().decode("ascii")
        for i in range(0, len(blob), width):
            code = prefix + blob[i : i + width]
            if code not in seen:
                seen.add(code)
                codes.append(code)
    return codes


def code_entropy_bits(length: int, alphabet: str) -> float:
    """Bits of randomness in a code body of ``length`` characters."""
    return length * math.log2(len(alphabet))


def guess_odds(length: int, alphabet: str, issued: int) -> float:
    """Chance that one random guess of a well-formed code hits one of ``issued`` live codes."""
    return issued / (len(alphabet) ** length)


# --- GS1 -------------------------------------------------------------------------------------------


def gs1_check_digit(digits: str) -> str:
    """GS1 mod-10 check digit: weights 3,1,3,1... from the right of the data digits."""
    if not digits.isdigit():
        raise CodeFormatError(f"GS1 data must be digits, got {digits!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def is_valid_ean13(value: str) -> bool:
    """True for 13 digits whose last is the GS1 check digit of the first twelve."""
    return len(value) == 13 and value.isdigit() and gs1_check_digit(value[:12]) == value[12]


def generate_ean13(n: int, *, prefix: str, entropy: Entropy = secrets.token_bytes) -> list[str]:
    """``n`` distinct EAN-13 values: GS1 ``prefix`` + random serial digits + check digit."""
    serial_len = 12 - len(prefix)
    if not prefix.isdigit() or serial_len < 5:
        raise CodeFormatError(f"EAN-13 prefix must be 2 to 7 digits, got {prefix!r}")
    if n > 10**serial_len // 10:
        raise CodeFormatError(
            f"EAN-13 prefix {prefix!r} leaves {serial_len} serial digits: too few for {n} coupons"
        )
    weights = np.array([3 if i % 2 == 0 else 1 for i in range(12)][::-1], dtype=np.int64)
    prefix_digits = np.array([int(d) for d in prefix], dtype=np.int64)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        need = n - len(out)
        serial = _uniform_indices(need * serial_len, 10, entropy).reshape(need, serial_len)
        data = np.concatenate([np.broadcast_to(prefix_digits, (need, len(prefix))), serial], axis=1)
        check = (10 - (data * weights).sum(axis=1) % 10) % 10
        blob = (np.concatenate([data, check[:, None]], axis=1) + ord("0")).astype(np.uint8)
        text = blob.tobytes().decode("ascii")
        for i in range(0, len(text), 13):
            value = text[i : i + 13]
            if value not in seen:
                seen.add(value)
                out.append(value)
    return out
