"""Codes drawn to a pattern with separators, such as ``SPRING-####-????``, keeping a check character.

In a pattern ``#`` is a random digit of the alphabet, ``?`` a random character of the alphabet and
anything else is written as it stands. The last placeholder, which must be ``?``, holds the check
character over the random characters before it, so a till still catches every mistyped character
and every swap of two neighbouring random characters.
"""

from __future__ import annotations

import math
import re
import secrets

import numpy as np

from coupongen.codes.generation import Entropy, _check_value, draw_indices, is_prime
from coupongen.errors import CodeFormatError

DIGIT = "#"
CHAR = "?"
MIN_PATTERN_BITS = 24.0
"""Fewest bits of randomness a pattern may hold (six random characters of the default alphabet
hold 29.7); below it made-up codes hit live ones too often."""
_LITERAL = re.compile(r"[A-Z0-9\-_./ ]")


def _digits(alphabet: str) -> str:
    return "".join(ch for ch in alphabet if ch.isdigit())


def pattern_bits(pattern: str, alphabet: str) -> float:
    """Bits of randomness in a code of ``pattern`` (the check character adds none)."""
    digits = len(_digits(alphabet))
    random_chars = pattern.count(CHAR) - 1
    return pattern.count(DIGIT) * math.log2(max(digits, 1)) + random_chars * math.log2(len(alphabet))


def check_pattern(pattern: str, alphabet: str) -> str:
    """``pattern`` if codes can be drawn and checked with it, else CodeFormatError saying why."""
    bad = sorted({ch for ch in pattern if ch not in (DIGIT, CHAR) and not _LITERAL.fullmatch(ch)})
    if bad:
        raise CodeFormatError(
            f"pattern {pattern!r}: {''.join(bad)!r} cannot be written; use A-Z, 0-9, '-', '_', '.', '/' or "
            "space between the placeholders # (digit) and ? (character)"
        )
    slots = [ch for ch in pattern if ch in (DIGIT, CHAR)]
    if not slots or slots[-1] != CHAR:
        raise CodeFormatError(
            f"pattern {pattern!r}: the last placeholder must be ? (it holds the check character)"
        )
    if DIGIT in slots and not _digits(alphabet):
        raise CodeFormatError(f"pattern {pattern!r}: # needs digits in the code alphabet")
    if not is_prime(len(alphabet)) or len(alphabet) <= len(slots):
        raise CodeFormatError(
            f"pattern {pattern!r}: the alphabet needs a prime number of characters greater than the "
            f"{len(slots)} placeholders (got {len(alphabet)})"
        )
    bits = pattern_bits(pattern, alphabet)
    if bits < MIN_PATTERN_BITS:
        raise CodeFormatError(
            f"pattern {pattern!r} holds {bits:.1f} bits of randomness, fewer than {MIN_PATTERN_BITS:.0f}: "
            "add placeholders"
        )
    return pattern


def pattern_regex(pattern: str, alphabet: str) -> re.Pattern[str]:
    """A regular expression that codes of ``pattern`` match in full."""
    digit = "[" + re.escape(_digits(alphabet)) + "]"
    char = "[" + re.escape(alphabet) + "]"
    return re.compile(
        "".join(digit if ch == DIGIT else char if ch == CHAR else re.escape(ch) for ch in pattern)
    )


def has_valid_pattern_check(code: str, pattern: str, alphabet: str) -> bool:
    """True when ``code`` matches ``pattern`` and its last placeholder holds the right check."""
    if not pattern_regex(pattern, alphabet).fullmatch(code):
        return False
    index = {ch: i for i, ch in enumerate(alphabet)}
    values = [index[c] for c, p in zip(code, pattern, strict=True) if p in (DIGIT, CHAR)]
    check = int(_check_value(np.array([values[:-1]], dtype=np.int64), len(alphabet))[0])
    return values[-1] == check


def generate_pattern_codes(
    n: int, *, pattern: str, alphabet: str, entropy: Entropy = secrets.token_bytes
) -> list[str]:
    """``n`` distinct codes of ``pattern``, drawn with ``entropy`` (the secure source by default)."""
    check_pattern(pattern, alphabet)
    p = len(alphabet)
    digit_index = np.array([alphabet.index(ch) for ch in _digits(alphabet)], dtype=np.int64)
    slots = [ch for ch in pattern if ch in (DIGIT, CHAR)][:-1]
    codes: list[str] = []
    seen: set[str] = set()
    while len(codes) < n:
        need = n - len(codes)
        columns = [
            digit_index[draw_indices(need, len(digit_index), entropy)]
            if slot == DIGIT
            else draw_indices(need, p, entropy)
            for slot in slots
        ]
        values = np.stack(columns, axis=1)
        values = np.concatenate([values, _check_value(values, p)[:, None]], axis=1)
        for row in values.tolist():
            chars = iter(alphabet[v] for v in row)
            code = "".join(next(chars) if ch in (DIGIT, CHAR) else ch for ch in pattern)
            if code not in seen:
                seen.add(code)
                codes.append(code)
    return codes
