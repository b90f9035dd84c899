"""What a campaign's codes and barcodes look like, and how hard they are to guess.

Verification checks a presented code against its campaign's format; the ``codes entropy`` command
shows each format's bits of randomness and the odds that a made-up code or barcode is a live one.
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass

from coupongen.codes.generation import has_valid_check
from coupongen.codes.patterns import has_valid_pattern_check, pattern_bits
from coupongen.errors import CodeFormatError


def code_entropy_bits(length: int, alphabet: str) -> float:
    """Bits of randomness in a code body of ``length`` characters."""
    return length * math.log2(len(alphabet))


def guess_odds(length: int, alphabet: str, issued: int) -> float:
    """Chance that one random guess of a well-formed code hits one of ``issued`` live codes."""
    return issued / (len(alphabet) ** length)


def forgery_odds(signature_length: int, alphabet: str) -> float:
    """Chance that one made-up code passes an offline signature check (whatever was issued)."""
    return 1.0 / (len(alphabet) ** signature_length)


@dataclass(frozen=True)
class CodeFormat:
    """What a campaign's codes and barcodes look like, as far as checking them needs.

    ``signature_length`` is 0 for unsigned codes; ``barcode_digits`` is the number of random digits
    in the barcode when it is not the code itself (EAN-13 and GS1-128), else 0. A code is prefix,
    body, signature, check character and ``suffix``; with ``pattern`` it is the pattern filled in
    (see ``codes.patterns``); ``imported`` codes (pre-printed or a partner's) have no format to check.
    """

    prefix: str
    length: int
    alphabet: str
    signature_length: int = 0
    symbology: str = "code128"
    barcode_digits: int = 0
    url_template: str | None = None
    suffix: str = ""
    pattern: str | None = None
    imported: bool = False

    @property
    def size(self) -> int:
        """Characters in a whole code."""
        if self.pattern is not None:
            return len(self.pattern)
        return len(self.prefix) + self.length + self.signature_length + 1 + len(self.suffix)

    def fits(self, code: str) -> bool:
        """True when ``code`` has this format's shape (length, fixed characters), right or wrong check."""
        if self.imported:
            return False
        if self.pattern is not None:
            return len(code) == len(self.pattern) and all(
                p in "#?" or c == p for c, p in zip(code, self.pattern, strict=True)
            )
        return code.startswith(self.prefix) and code.endswith(self.suffix) and len(code) == self.size

    def has_valid_check(self, code: str) -> bool:
        """True when ``code`` fits this format and its check character is right."""
        if self.pattern is not None:
            return has_valid_pattern_check(code, self.pattern, self.alphabet)
        body = code[: len(code) - len(self.suffix)] if self.suffix else code
        return self.fits(code) and has_valid_check(body, prefix=self.prefix, alphabet=self.alphabet)

    @property
    def bits(self) -> float:
        """Bits of randomness in a code (the signature and check character add none)."""
        if self.pattern is not None:
            return pattern_bits(self.pattern, self.alphabet)
        return code_entropy_bits(self.length, self.alphabet)

    def strength(self, issued: int) -> dict[str, float | None]:
        """Entropy in bits and guessing odds of this format with ``issued`` live coupons.

        code_bits / code_guess_odds: a made-up well-formed code is one of the live ones (None for
        imported codes, whose randomness is not known here);
        forgery_odds: a made-up code passes the offline signature check (None if unsigned);
        barcode_bits / barcode_guess_odds: a made-up barcode value is a live one (None when the
        barcode carries the code).
        """
        digits = "0123456789"
        return {
            "code_bits": None if self.imported else self.bits,
            "code_guess_odds": (
                None
                if self.imported
                else issued / 2 ** (self.bits + code_entropy_bits(self.signature_length, self.alphabet))
            ),
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


def code_from_url(url: str, template: str) -> str | None:
    """The code a coupon URL made from ``template`` carries, or None if the URL is not one."""
    head, tail = template.split("{code}")
    pattern = re.escape(head.replace("{{", "{").replace("}}", "}")) + "([A-Za-z0-9-]+)"
    pattern += re.escape(tail.replace("{{", "{").replace("}}", "}"))
    m = re.fullmatch(pattern, url)
    return m[1] if m else None
