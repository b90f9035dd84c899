"""Signed codes, signed QR payloads and the signing key."""

from __future__ import annotations

import hmac
import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coupongen.codes.generation import check_character, generate_codes, has_valid_check
from coupongen.codes.signing import (
    SIGNING_KEY_ENV,
    SIGNING_KEY_FILE_ENV,
    SignedPayload,
    code_signature,
    has_valid_signature,
    load_signing_key,
    read_signed_payload,
    signed_payload,
)
from coupongen.errors import CodeFormatError, ConfigError
from tests.codes.helpers import ALPHABET, KEY, OTHER_KEY, SIGNED, SIGNING_CAMPAIGN, signed_codes


def test_signed_codes_pass_check_and_signature():
    codes = signed_codes(300)
    assert len(set(codes)) == 300
    for code in codes:
        assert len(code) == SIGNED.size == 16
        assert has_valid_check(code, prefix="S", alphabet=ALPHABET)
        assert has_valid_signature(code, SIGNED, key=KEY, campaign=SIGNING_CAMPAIGN)
        assert not has_valid_signature(code, SIGNED, key=OTHER_KEY, campaign=SIGNING_CAMPAIGN)
        assert not has_valid_signature(code, SIGNED, key=KEY, campaign="another")


def test_the_signature_is_the_mac_of_campaign_prefix_and_body():
    code = signed_codes(1)[0]
    body, sig = code[1:11], code[11:15]
    assert sig == code_signature(
        body, prefix="S", campaign=SIGNING_CAMPAIGN, key=KEY, length=4, alphabet=ALPHABET
    )
    # Known answer: HMAC-SHA256(key, "coupongen/code/v2" 0x00 campaign 0x00 prefix 0x00 body), its
    # first 128 bits written in base 31, least significant digit first.
    mac = hmac.digest(KEY, f"coupongen/code/v2\x00{SIGNING_CAMPAIGN}\x00S\x00{body}".encode(), "sha256")
    value = int.from_bytes(mac[:16], "big")
    assert sig == "".join(ALPHABET[(value // 31**i) % 31] for i in range(4))
    # The same characters cut another way between prefix and body sign differently.
    assert (
        code_signature(
            body[1:], prefix="S" + body[0], campaign=SIGNING_CAMPAIGN, key=KEY, length=4, alphabet=ALPHABET
        )
        != sig
    )
    assert code[-1] == check_character(code[1:-1], ALPHABET)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(data=st.data())
def test_an_altered_signed_code_with_a_fixed_check_character_is_rejected(data):
    # A forger who knows the check rule can always repair the check character: only the MAC
    # stops them. (A random alteration passes with odds 31**-4; derandomized, this never flakes.)
    code = data.draw(st.sampled_from(signed_codes(50)))
    pos = data.draw(st.integers(1, len(code) - 2))
    wrong = data.draw(st.sampled_from([c for c in ALPHABET if c != code[pos]]))
    inner = code[1:pos] + wrong + code[pos + 1 : -1]
    forged = "S" + inner + check_character(inner, ALPHABET)
    assert has_valid_check(forged, prefix="S", alphabet=ALPHABET)
    assert not has_valid_signature(forged, SIGNED, key=KEY, campaign=SIGNING_CAMPAIGN)


def test_signing_needs_room_in_the_alphabet_and_both_key_and_length():
    with pytest.raises(CodeFormatError, match="greater than length \\+ 1"):
        generate_codes(1, prefix="", length=24, alphabet=ALPHABET, key=KEY, signature_length=8, campaign="c")
    with pytest.raises(CodeFormatError, match="a key, a signature length and its campaign"):
        generate_codes(1, prefix="", length=10, alphabet=ALPHABET, key=KEY, campaign="c")
    with pytest.raises(CodeFormatError, match="a key, a signature length and its campaign"):
        generate_codes(1, prefix="", length=10, alphabet=ALPHABET, key=KEY, signature_length=4)


def test_signed_payload_round_trip_and_tampering():
    payload = signed_payload("X7K2M9QRTA5", date(2026, 12, 6), key=KEY, campaign="c")
    assert re.fullmatch(r"CG2\.X7K2M9QRTA5\.20261206\.[A-Z2-7]{16}", payload)
    read = read_signed_payload(payload, key=KEY, campaigns=["b", "c"])
    assert read == SignedPayload("X7K2M9QRTA5", date(2026, 12, 6), True, "c")
    assert read_signed_payload(payload, key=None) == SignedPayload("X7K2M9QRTA5", date(2026, 12, 6), None)
    assert read_signed_payload(payload, key=OTHER_KEY, campaigns=["c"]).authentic is False
    # Another campaign's payload, even with the same key and code, is not this one's.
    assert read_signed_payload(payload, key=KEY, campaigns=["b"]).authentic is False
    later = payload.replace(".20261206.", ".20271206.")
    other_code = payload.replace("X7K2M9QRTA5", "X7K2M9QRTA6")
    assert read_signed_payload(later, key=KEY, campaigns=["c"]).authentic is False
    assert read_signed_payload(other_code, key=KEY, campaigns=["c"]).authentic is False
    # The tag is signed too: a version 2 MAC does not pass as a version 1 payload.
    assert read_signed_payload(payload.replace("CG2.", "CG1."), key=KEY, campaigns=["c"]).authentic is False
    assert read_signed_payload("CG2.X.2026.ABC", key=KEY) is None
    assert read_signed_payload(payload.replace(".20261206.", ".20261306."), key=KEY) is None


def test_signed_payload_fits_qr_alphanumeric_mode():
    payload = signed_payload("X7K2M9QRTA5", date(2026, 12, 6), key=KEY, campaign="c")
    assert set(payload) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def test_key_from_the_environment_or_a_private_file(tmp_path):
    assert load_signing_key(environ={SIGNING_KEY_ENV: "s" * 20 + "\n"}) == b"s" * 20
    key_file = tmp_path / "key"
    key_file.write_bytes(b"f" * 32 + b"\n")
    key_file.chmod(0o600)
    # a file wins over the variable, an explicit file over both
    env = {SIGNING_KEY_ENV: "s" * 20, SIGNING_KEY_FILE_ENV: str(key_file)}
    assert load_signing_key(environ=env) == b"f" * 32
    other = tmp_path / "other"
    other.write_bytes(b"x" * 16)
    other.chmod(0o400)
    assert load_signing_key(key_file=other, environ=env) == b"x" * 16


def test_key_problems_are_config_errors_that_never_show_the_key(tmp_path):
    secret = "TOPSECRET-" + "z" * 3
    with pytest.raises(ConfigError) as e:
        load_signing_key(environ={SIGNING_KEY_ENV: secret})
    assert str(e.value) == f"the signing key from {SIGNING_KEY_ENV} is too short (13 bytes; at least 16)"
    assert e.value.exit_code == 2
    with pytest.raises(ConfigError, match=f"campaign 'x' needs a signing key: set {SIGNING_KEY_ENV}"):
        load_signing_key(environ={}, needed_for="campaign 'x'")
    open_file = tmp_path / "key"
    open_file.write_text("TOPSECRET-" * 4)
    open_file.chmod(0o644)
    with pytest.raises(ConfigError) as e:
        load_signing_key(key_file=open_file, environ={})
    assert (
        str(e.value)
        == f"{open_file}: signing key file is accessible to group or others (chmod 600 {open_file})"
    )
    with pytest.raises(ConfigError, match="signing key file not found"):
        load_signing_key(key_file=tmp_path / "missing", environ={})
