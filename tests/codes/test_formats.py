"""Code formats: bits of randomness and the odds of guessing or forging a code."""

from __future__ import annotations

import pytest

from coupongen.codes.formats import CodeFormat, code_entropy_bits, guess_odds
from tests.codes.helpers import ALPHABET


def test_entropy_and_guess_odds():
    assert code_entropy_bits(10, ALPHABET) == pytest.approx(49.54, abs=0.01)
    assert guess_odds(10, ALPHABET, 1_000_000) == pytest.approx(1e6 / 31**10)


def test_strength_of_a_signed_gs1_format():
    fmt = CodeFormat(
        prefix="R",
        length=10,
        alphabet=ALPHABET,
        signature_length=4,
        symbology="gs1_128",
        barcode_digits=12,
    )
    s = fmt.strength(1_000_000)
    assert s["code_bits"] == pytest.approx(49.54, abs=0.01)
    assert s["code_guess_odds"] == pytest.approx(1e6 / 31**14)
    assert s["signature_bits"] == pytest.approx(19.82, abs=0.01)
    assert s["forgery_odds"] == pytest.approx(1 / 31**4)
    assert s["barcode_bits"] == pytest.approx(39.86, abs=0.01)
    assert s["barcode_guess_odds"] == pytest.approx(1e-6)
    assert CodeFormat(prefix="", length=10, alphabet=ALPHABET).strength(1)["forgery_odds"] is None
