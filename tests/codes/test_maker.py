"""What a campaign's code profile draws, and barcodes that scan back to it."""

from __future__ import annotations

import re
from datetime import date
from io import BytesIO

import pytest
import zxingcpp
from PIL import Image
from pydantic import ValidationError

from coupongen.codes.generation import has_valid_check
from coupongen.codes.gs1 import barcode_key, is_valid_ean13
from coupongen.codes.maker import check_barcode_expiry, code_maker
from coupongen.codes.signing import (
    SIGNING_KEY_ENV,
    SIGNING_KEY_FILE_ENV,
    SignedPayload,
    has_valid_signature,
    read_signed_payload,
)
from coupongen.delivery.images import render_png
from coupongen.errors import CodeFormatError, ConfigError
from tests.codes.helpers import ALPHABET, AS_OF, KEY, campaign, seeded_entropy


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
        assert has_valid_signature(code, fmt, key=KEY, campaign="c")
        read = read_signed_payload(value, key=KEY, campaigns=["c"])
        assert read == SignedPayload(code, date(2026, 12, 6), True, "c")


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


def test_barcodes_that_state_a_day_must_state_every_offer_s_last_day():
    gs1 = {"symbology": "gs1_128", "gs1_company_prefix": "4012345", "gs1_coupon_reference": "00001"}
    check_barcode_expiry(campaign(**gs1, expiry_in_barcode=True), ["2026-12-06"] * 3, as_of=AS_OF)
    with pytest.raises(CodeFormatError) as e:
        check_barcode_expiry(
            campaign(**gs1, expiry_in_barcode=True), ["2026-12-07", "2026-12-06"], as_of=AS_OF
        )
    assert (
        str(e.value)
        == "campaign 'c': offers are valid to 2026-12-06, 2026-12-07, but its barcodes would say 2026-12-06"
    )
    with pytest.raises(CodeFormatError, match="barcodes would say 2026-12-06"):
        check_barcode_expiry(campaign(symbology="qr", qr_payload="signed"), ["2026-12-01"], as_of=AS_OF)
    # barcodes that state no day accept any validity
    check_barcode_expiry(campaign(**gs1), ["2026-12-01"], as_of=AS_OF)
    check_barcode_expiry(campaign(symbology="ean13"), ["2026-12-01"], as_of=AS_OF)
