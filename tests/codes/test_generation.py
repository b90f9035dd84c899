"""Drawing codes and their check character."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coupongen.codes.generation import check_character, generate_codes, has_valid_check
from coupongen.errors import CodeFormatError
from tests.codes.helpers import ALPHABET, seeded_entropy


def test_default_alphabet_has_no_look_alikes():
    assert not set("01OIL") & set(ALPHABET)
    assert len(ALPHABET) == 31


def test_generated_codes_have_prefix_length_and_valid_check():
    codes = generate_codes(500, prefix="CS", length=10, alphabet=ALPHABET, entropy=seeded_entropy(1))
    assert len(set(codes)) == 500
    for code in codes:
        assert code.startswith("CS") and len(code) == 13
        assert has_valid_check(code, prefix="CS", alphabet=ALPHABET)


def test_codes_are_drawn_uniformly_over_the_alphabet():
    codes = generate_codes(3000, prefix="", length=10, alphabet=ALPHABET, entropy=seeded_entropy(2))
    counts = {ch: 0 for ch in ALPHABET}
    for code in codes:
        for ch in code[:-1]:
            counts[ch] += 1
    expected = 30000 / len(ALPHABET)
    assert all(abs(c - expected) < 0.15 * expected for c in counts.values())


def test_same_entropy_same_codes_and_default_source_differs():
    a = generate_codes(20, prefix="", length=8, alphabet=ALPHABET, entropy=seeded_entropy(3))
    b = generate_codes(20, prefix="", length=8, alphabet=ALPHABET, entropy=seeded_entropy(3))
    assert a == b
    assert generate_codes(20, prefix="", length=8, alphabet=ALPHABET) != a


def test_alphabet_size_must_be_prime():
    with pytest.raises(CodeFormatError, match="prime number of characters"):
        generate_codes(1, prefix="", length=8, alphabet="ABCDEFGHJK")


bodies = st.text(alphabet=ALPHABET, min_size=6, max_size=24)


@settings(max_examples=300, deadline=None)
@given(body=bodies, data=st.data())
def test_every_single_character_error_is_detected(body, data):
    code = body + check_character(body, ALPHABET)
    pos = data.draw(st.integers(0, len(code) - 1))
    wrong = data.draw(st.sampled_from([c for c in ALPHABET if c != code[pos]]))
    typo = code[:pos] + wrong + code[pos + 1 :]
    assert has_valid_check(code, prefix="", alphabet=ALPHABET)
    assert not has_valid_check(typo, prefix="", alphabet=ALPHABET)


@settings(max_examples=300, deadline=None)
@given(body=bodies, data=st.data())
def test_every_adjacent_swap_is_detected(body, data):
    code = body + check_character(body, ALPHABET)
    pos = data.draw(st.integers(0, len(code) - 2))
    if code[pos] == code[pos + 1]:
        return
    swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]
    assert not has_valid_check(swapped, prefix="", alphabet=ALPHABET)


def test_code_with_foreign_character_or_wrong_prefix_fails_check():
    code = generate_codes(1, prefix="W", length=10, alphabet=ALPHABET)[0]
    assert not has_valid_check(code.replace("W", "X", 1), prefix="W", alphabet=ALPHABET)
    assert not has_valid_check(code[:-1] + "0", prefix="W", alphabet=ALPHABET)
