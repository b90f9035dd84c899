from __future__ import annotations

import itertools
import random
import re
from datetime import date
from io import BytesIO

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pydantic import ValidationError

from coupongen.codes import (
    SIGNING_KEY_ENV,
    SIGNING_KEY_FILE_ENV,
    CodeFormat,
    SignedPayload,
    barcode_key,
    check_character,
    code_entropy_bits,
    code_maker,
    code_signature,
    generate_codes,
    generate_ean13,
    generate_gcn_serials,
    global_coupon_number,
    gs1_128_payload,
    guess_odds,
    has_valid_check,
    has_valid_signature,
    is_valid_ean13,
    load_signing_key,
    parse_gs1_elements,
    read_signed_payload,
    signed_payload,
    verify_code,
)
from coupongen.codes import check_digit as gs1_check_digit
from coupongen.config import DEFAULT_ALPHABET, CampaignConfig
from coupongen.delivery.images import render_png
from coupongen.errors import CodeFormatError, ConfigError

ALPHABET = DEFAULT_ALPHABET


def seeded_entropy(seed: int):
    rnd = random.Random(seed)
    return lambda n: rnd.randbytes(n)


def test_default_alphabet_has_no_look_alikes():
    assert not set("01OIL") & set(ALPHABET)
    assert len(ALPHABET) == 31


@pytest.mark.parametrize(
    ("data", "check"),
    [
        ("400614457735", "0"),  # GS1 General Specifications example: 4006144577350
        ("629104150021", "3"),  # 6291041500213
        ("501234567890", "0"),  # 5012345678900
        ("00000000000", "0"),
    ],
)
def test_gs1_check_digit_known_answers(data, check):
    assert gs1_check_digit(data) == check


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


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32), prefix=st.sampled_from(["99", "20", "29", "981"]))
def test_ean13_values_follow_the_gs1_rule(seed, prefix):
    values = generate_ean13(50, prefix=prefix, entropy=seeded_entropy(seed))
    assert len(set(values)) == 50
    for v in values:
        assert v.startswith(prefix) and len(v) == 13 and v.isdigit()
        assert v[12] == gs1_check_digit(v[:12])
        assert is_valid_ean13(v)


def test_ean13_serials_are_not_sequential():
    values = sorted(int(v[2:12]) for v in generate_ean13(200, prefix="99", entropy=seeded_entropy(9)))
    gaps = {b - a for a, b in itertools.pairwise(values)}
    assert 1 not in gaps


def test_ean13_refuses_a_prefix_too_long_for_the_count():
    with pytest.raises(CodeFormatError, match="too few"):
        generate_ean13(200_000, prefix="9912345")


def test_entropy_and_guess_odds():
    assert code_entropy_bits(10, ALPHABET) == pytest.approx(49.54, abs=0.01)
    assert guess_odds(10, ALPHABET, 1_000_000) == pytest.approx(1e6 / 31**10)


# --- known answers from GS1 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "check"),
    [
        ("61414112345", "2"),  # GTIN-12 614141123452, GS1's example GTIN
        ("10614141234567890", "8"),  # SSCC 106141412345678908, GS1's example SSCC
        ("401234500001", "6"),  # GCN 4012345000016 (GS1 Germany's example company prefix)
        # worked by hand: 0 6 1 4 1 4 1 0 0 0 4 1 weighted 1,3,... from the left -> 52 -> 8
        ("061414100041", "8"),
    ],
)
def test_gs1_check_digit_of_other_keys(data, check):
    assert gs1_check_digit(data) == check


def test_global_coupon_number_is_prefix_reference_and_check_digit():
    assert global_coupon_number("4012345", "00001") == "4012345000016"
    assert global_coupon_number("0614141", "00041") == "0614141000418"
    assert global_coupon_number("952123400001", "") == "9521234000013"
    with pytest.raises(CodeFormatError, match="12 digits together, got '401234500'"):
        global_coupon_number("4012345", "00")


def test_gs1_128_payload_is_the_element_string():
    assert gs1_128_payload("4012345000016", "123456", date(2026, 12, 31)) == (
        "(255)4012345000016123456(17)261231"
    )
    assert gs1_128_payload("4012345000016", "000000000042") == "(255)4012345000016000000000042"
    with pytest.raises(CodeFormatError, match="valid check digit"):
        gs1_128_payload("4012345000017", "1")
    with pytest.raises(CodeFormatError, match="1 to 12 digits"):
        gs1_128_payload("4012345000016", "1234567890123")


def test_barcode_key_is_the_gcn_with_serial_and_ignores_the_expiry():
    value = "(255)4012345000016123456(17)261231"
    assert barcode_key(value, "gs1_128") == "4012345000016123456"
    assert barcode_key("9912345678909", "ean13") == "9912345678909"
    assert parse_gs1_elements(value) == {"255": "4012345000016123456", "17": "261231"}
    assert parse_gs1_elements("4012345") is None


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32), length=st.integers(6, 12))
def test_gcn_serials_are_distinct_digit_strings_of_the_length(seed, length):
    serials = generate_gcn_serials(200, length=length, entropy=seeded_entropy(seed))
    assert len(set(serials)) == 200
    assert all(len(s) == length and s.isdigit() for s in serials)


# --- signed codes ----------------------------------------------------------------------------------

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
SIGNED = CodeFormat(prefix="S", length=10, alphabet=ALPHABET, signature_length=4)


def signed_codes(n: int, seed: int = 5, key: bytes = KEY) -> list[str]:
    return generate_codes(
        n,
        prefix="S",
        length=10,
        alphabet=ALPHABET,
        entropy=seeded_entropy(seed),
        key=key,
        signature_length=4,
    )


def test_signed_codes_pass_check_and_signature():
    codes = signed_codes(300)
    assert len(set(codes)) == 300
    for code in codes:
        assert len(code) == SIGNED.size == 16
        assert has_valid_check(code, prefix="S", alphabet=ALPHABET)
        assert has_valid_signature(code, SIGNED, key=KEY)
        assert not has_valid_signature(code, SIGNED, key=OTHER_KEY)


def test_the_signature_is_the_mac_of_prefix_and_body():
    code = signed_codes(1)[0]
    body, sig = code[:11], code[11:15]
    assert sig == code_signature(body, key=KEY, length=4, alphabet=ALPHABET)
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
    assert not has_valid_signature(forged, SIGNED, key=KEY)


def test_signing_needs_room_in_the_alphabet_and_both_key_and_length():
    with pytest.raises(CodeFormatError, match="greater than length \\+ 1"):
        generate_codes(1, prefix="", length=24, alphabet=ALPHABET, key=KEY, signature_length=8)
    with pytest.raises(CodeFormatError, match="both a key and a signature length"):
        generate_codes(1, prefix="", length=10, alphabet=ALPHABET, key=KEY)


def test_signed_payload_round_trip_and_tampering():
    payload = signed_payload("X7K2M9QRTA5", date(2026, 12, 6), key=KEY)
    assert re.fullmatch(r"CG1\.X7K2M9QRTA5\.20261206\.[A-Z2-7]{16}", payload)
    assert read_signed_payload(payload, key=KEY) == SignedPayload("X7K2M9QRTA5", date(2026, 12, 6), True)
    assert read_signed_payload(payload, key=None) == SignedPayload("X7K2M9QRTA5", date(2026, 12, 6), None)
    assert read_signed_payload(payload, key=OTHER_KEY).authentic is False
    later = payload.replace(".20261206.", ".20271206.")
    other_code = payload.replace("X7K2M9QRTA5", "X7K2M9QRTA6")
    assert read_signed_payload(later, key=KEY).authentic is False
    assert read_signed_payload(other_code, key=KEY).authentic is False
    assert read_signed_payload("CG1.X.2026.ABC", key=KEY) is None
    assert read_signed_payload(payload.replace(".20261206.", ".20261306."), key=KEY) is None


def test_signed_payload_fits_qr_alphanumeric_mode():
    payload = signed_payload("X7K2M9QRTA5", date(2026, 12, 6), key=KEY)
    assert set(payload) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


# --- the signing key -------------------------------------------------------------------------------


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


# --- strength ------------------------------------------------------------------------------------


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


# --- campaign profiles: what code_maker draws ---------------------------------------------------


def campaign(**code: object) -> CampaignConfig:
    return CampaignConfig.model_validate(
        {"name": "c", "type": "win_back", "reward": {"type": "percent", "value": 10}, "code": code}
    )


AS_OF = date(2026, 11, 22)  # valid 2026-11-23 .. 2026-12-06 with the defaults (offset 1, 14 days)


def test_code_maker_ean13():
    codes, values, keys = code_maker(campaign(prefix="W", symbology="ean13"), seeded_entropy(1), as_of=AS_OF)(
        50
    )
    assert all(has_valid_check(c, prefix="W", alphabet=ALPHABET) for c in codes)
    assert all(is_valid_ean13(v) and v.startswith("99") for v in values)
    assert keys == values


def test_code_maker_gs1_128_with_and_without_expiry():
    spec = {
        "symbology": "gs1_128",
        "gs1_company_prefix": "4012345",
        "gs1_coupon_reference": "00001",
    }
    _, values, keys = code_maker(campaign(**spec, expiry_in_barcode=True), seeded_entropy(2), as_of=AS_OF)(50)
    for value, key in zip(values, keys, strict=True):
        assert re.fullmatch(r"\(255\)4012345000016\d{12}\(17\)261206", value)
        assert key == barcode_key(value, "gs1_128") == value[5:30]
    assert len(set(keys)) == 50
    _, plain, _ = code_maker(campaign(**spec, gcn_serial_length=8), seeded_entropy(2), as_of=AS_OF)(3)
    assert all(re.fullmatch(r"\(255\)4012345000016\d{8}", v) for v in plain)


def test_code_maker_code128_and_qr_carry_the_code():
    for symbology in ("code128", "qr"):
        codes, values, keys = code_maker(campaign(symbology=symbology), seeded_entropy(3), as_of=AS_OF)(5)
        assert codes == values == keys


def test_code_maker_qr_url():
    spec = campaign(symbology="qr", qr_payload="url", url_template="https://shop.example/c/{code}?src=qr")
    codes, values, _ = code_maker(spec, seeded_entropy(4), as_of=AS_OF)(5)
    assert values == [f"https://shop.example/c/{c}?src=qr" for c in codes]


def test_code_maker_signed_code_and_signed_payload():
    spec = campaign(prefix="S", symbology="qr", signed=True, qr_payload="signed")
    codes, values, _ = code_maker(spec, seeded_entropy(5), as_of=AS_OF, key=KEY)(20)
    fmt = spec.code.code_format()
    for code, value in zip(codes, values, strict=True):
        assert has_valid_signature(code, fmt, key=KEY)
        assert read_signed_payload(value, key=KEY) == SignedPayload(code, date(2026, 12, 6), True)


def test_a_signing_campaign_without_a_key_is_a_config_error(monkeypatch):
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    monkeypatch.delenv(SIGNING_KEY_FILE_ENV, raising=False)
    with pytest.raises(ConfigError, match="campaign 'c' needs a signing key"):
        code_maker(campaign(signed=True), as_of=AS_OF)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ({"symbology": "gs1_128"}, "symbology gs1_128 needs gs1_company_prefix"),
        (
            {
                "symbology": "gs1_128",
                "gs1_company_prefix": "4012345",
                "gs1_coupon_reference": "0001",
            },
            "must be 12 digits together (got 11)",
        ),
        ({"gs1_company_prefix": "4012345"}, "apply only to symbology gs1_128"),
        ({"qr_payload": "url"}, "qr_payload applies only to symbology qr"),
        (
            {"symbology": "qr", "qr_payload": "url"},
            'url_template is needed with qr_payload = "url"',
        ),
        (
            {"symbology": "qr", "qr_payload": "url", "url_template": "https://x/{code}/{id}"},
            "must contain {code} exactly once and no other field",
        ),
        (
            {"symbology": "qr", "qr_payload": "url", "url_template": "ftp://x/{code}"},
            "must start with https:// or http://",
        ),
        (
            {"signed": True, "length": 24, "signature_length": 6},
            "greater than length + signature_length + 1",
        ),
        ({"prefix": "x y"}, "must be up to 8 characters A-Z, 0-9 or '-', not starting with '-'"),
        ({"prefix": "-X"}, "not starting with '-'"),
        ({"symbology": "gs1_128", "gs1_company_prefix": "95X"}, "must be 4 to 12 digits"),
    ],
)
def test_bad_code_profiles_are_refused(code, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        campaign(**code)


# --- barcodes decode back to what the ledger records ---------------------------------------------


def decode(png: bytes) -> zxingcpp.Barcode:
    (result,) = zxingcpp.read_barcodes(Image.open(BytesIO(png)))
    return result


def test_gs1_128_payload_scans_back_as_gs1_with_the_gcn_and_expiry():
    spec = {
        "symbology": "gs1_128",
        "gs1_company_prefix": "9521234",
        "gs1_coupon_reference": "00001",
        "expiry_in_barcode": True,
    }
    _, (value,), _ = code_maker(campaign(**spec), seeded_entropy(6), as_of=AS_OF)(1)
    scanned = decode(render_png(value, "gs1_128"))
    assert scanned.symbology_identifier == "]C1" and scanned.text == value
    # FNC1 (GS, 0x1d) ends the variable-length GCN before the expiry date
    assert scanned.bytes == f"255{value[5:30]}\x1d17261206".encode()


def test_signed_qr_payload_scans_back():
    spec = campaign(symbology="qr", qr_payload="signed")
    _, (value,), _ = code_maker(spec, seeded_entropy(7), as_of=AS_OF, key=KEY)(1)
    assert decode(render_png(value, "qr")).text == value


# --- verification ---------------------------------------------------------------------------------

PLAIN = CodeFormat(prefix="X", length=10, alphabet=ALPHABET)
FORMATS = {"cross_sell": PLAIN, "signed_one": SIGNED}


def record(code: str, **changes: object) -> dict[str, object]:
    base = {
        "code": code, "kind": "personal", "campaign": "cross_sell", "customer_id": "C001",
        "valid_from": "2026-11-23", "valid_to": "2026-12-06", "max_uses": 1, "uses": 0,
        "last_used_at": None, "status": "issued",
    }  # fmt: skip
    return base | changes


class FakeLedger:
    def __init__(self, *records: dict[str, object], barcodes: dict[tuple[str, str], str] | None = None):
        self.by_code = {str(r["code"]): r for r in records}
        self.barcodes = barcodes or {}

    def __call__(self, *, code=None, symbology=None, key=None):
        if code is not None:
            return self.by_code.get(code)
        found = self.barcodes.get((symbology, key))
        return self.by_code.get(found) if found else None


CODE = generate_codes(1, prefix="X", length=10, alphabet=ALPHABET, entropy=seeded_entropy(11))[0]
TYPO = CODE[:3] + ("2" if CODE[3] != "2" else "3") + CODE[4:]


@pytest.mark.parametrize(
    ("changes", "as_of", "status", "detail"),
    [
        ({}, date(2026, 11, 23), "valid", "valid 2026-11-23 to 2026-12-06, used 0 of 1"),
        ({}, date(2026, 12, 7), "expired", "valid until 2026-12-06"),
        ({}, date(2026, 11, 22), "not yet valid", "valid from 2026-11-23"),
        (
            {"uses": 1, "last_used_at": "2026-11-25T10:00:00"},
            date(2026, 11, 26),
            "redeemed",
            "used 1 of 1, last on 2026-11-25T10:00:00",
        ),
        ({"max_uses": 3, "uses": 2}, date(2026, 11, 26), "valid", "used 2 of 3"),
        ({"status": "void"}, date(2026, 11, 26), "void", "the coupon was voided"),
    ],
)
def test_a_code_in_the_ledger_gets_its_record_s_verdict(changes, as_of, status, detail):
    verdict = verify_code(CODE, formats=FORMATS, as_of=as_of, lookup=FakeLedger(record(CODE, **changes)))
    assert verdict.status == status
    assert str(verdict).startswith(f"{status}: {CODE} (campaign cross_sell, personal, customer C001; ")
    assert detail in verdict.detail
    assert verdict.ok == (status == "valid")


def test_a_code_not_in_the_ledger_is_diagnosed():
    ledger = FakeLedger()
    day = date(2026, 11, 25)
    assert str(verify_code(TYPO, formats=FORMATS, as_of=day, lookup=ledger)) == (
        f"bad check character: {TYPO} (format of cross_sell: a character is mistyped or two are swapped)"
    )
    assert str(verify_code(CODE, formats=FORMATS, as_of=day, lookup=ledger)) == (
        f"unknown: {CODE} (well formed, but not in the ledger)"
    )
    assert verify_code("Q123", formats=FORMATS, as_of=day, lookup=ledger).detail == (
        "not in the ledger and matches no campaign's code format"
    )


def test_signed_codes_offline():
    good = signed_codes(1)[0]
    day = date(2026, 11, 25)
    verdict = verify_code(good, formats=FORMATS, as_of=day, key=KEY)
    assert verdict.ok and verdict.detail == (
        "campaign signed_one, signature valid; checked offline, so redemptions and expiry were not seen"
    )
    # A forger who repairs the check character is still caught by the signature.
    inner = good[1:11] + "2222"
    forged = "S" + inner + check_character(inner, ALPHABET)
    assert verify_code(forged, formats=FORMATS, as_of=day, key=KEY).status == "bad signature"
    assert verify_code(good, formats=FORMATS, as_of=day, key=OTHER_KEY).status == "bad signature"
    assert verify_code(
        good[:-1] + ("2" if good[-1] != "2" else "3"), formats=FORMATS, as_of=day, key=KEY
    ).status == ("bad check character")
    with pytest.raises(ConfigError, match="verifying a signed code offline needs the signing key"):
        verify_code(good, formats=FORMATS, as_of=day)


def test_an_unsigned_code_cannot_be_valid_offline():
    verdict = verify_code(CODE, formats=FORMATS, as_of=date(2026, 11, 25), key=KEY)
    assert str(verdict) == (
        f"unknown: {CODE} (check character is right, but cross_sell does not sign its codes: "
        "only signed codes can be verified offline)"
    )


def test_a_forged_signed_code_not_in_the_ledger_is_a_bad_signature_online():
    inner = signed_codes(1)[0][1:11] + "2222"
    forged = "S" + inner + check_character(inner, ALPHABET)
    verdict = verify_code(forged, formats=FORMATS, as_of=date(2026, 11, 25), key=KEY, lookup=FakeLedger())
    assert verdict.status == "bad signature"
    # without the key the ledger alone can only say it does not know the code
    assert (
        verify_code(forged, formats=FORMATS, as_of=date(2026, 11, 25), lookup=FakeLedger()).status
        == "unknown"
    )


def test_signed_payloads_offline_and_online():
    payload = signed_payload(CODE, date(2026, 12, 6), key=KEY)
    assert verify_code(payload, formats={}, as_of=date(2026, 12, 6), key=KEY).ok
    assert verify_code(payload, formats={}, as_of=date(2026, 12, 7), key=KEY).status == "expired"
    tampered = payload.replace(".20261206.", ".20271206.")
    assert str(verify_code(tampered, formats={}, as_of=date(2026, 12, 1), key=KEY)) == (
        f"bad signature: {tampered} (the payload was forged or altered)"
    )
    online = verify_code(
        payload, formats=FORMATS, as_of=date(2026, 12, 1), lookup=FakeLedger(record(CODE, uses=1))
    )
    assert online.status == "redeemed"


def test_scanned_barcodes_are_found_by_their_key():
    ean = "9912345678909"
    gs1 = "(255)4012345000016123456789012(17)261206"
    ledger = FakeLedger(
        record(CODE),
        barcodes={("ean13", ean): CODE, ("gs1_128", "4012345000016123456789012"): CODE},
    )
    day = date(2026, 11, 30)
    assert verify_code(ean, formats=FORMATS, as_of=day, lookup=ledger).ok
    assert verify_code(gs1, formats=FORMATS, as_of=day, lookup=ledger).ok
    # the key ignores the expiry: a barcode with an altered date is still the same coupon
    assert verify_code(gs1.replace("261206", "271206"), formats=FORMATS, as_of=day, lookup=ledger).ok
    assert (
        verify_code("9912345678903", formats=FORMATS, as_of=day, lookup=ledger).status
        == "bad check character"
    )
    assert (
        verify_code("(255)4012345000017123", formats=FORMATS, as_of=day, lookup=ledger).status
        == "bad check character"
    )
    assert verify_code("(255)4012345000016999(17)261129", formats=FORMATS, as_of=day).status == "expired"
    assert (
        verify_code("9912345678909", formats=FORMATS, as_of=day).detail
        == "well-formed EAN-13, cannot be verified offline"
    )


def test_urls_are_read_with_the_campaign_template():
    fmt = CodeFormat(
        prefix="X",
        length=10,
        alphabet=ALPHABET,
        symbology="qr",
        url_template="https://shop.example/c/{code}",
    )
    url = f"https://shop.example/c/{CODE}"
    assert verify_code(
        url, formats={"cross_sell": fmt}, as_of=date(2026, 11, 30), lookup=FakeLedger(record(CODE))
    ).ok
    assert verify_code(
        "https://elsewhere.example/x",
        formats={"cross_sell": fmt},
        as_of=date(2026, 11, 30),
        lookup=FakeLedger(),
    ).detail == ("a URL no campaign issues")
