"""Verifying a presented code, barcode value, URL or signed payload, with the ledger or offline."""

from __future__ import annotations

from datetime import date

import pytest

from coupongen.codes.formats import CodeFormat
from coupongen.codes.generation import check_character, generate_codes
from coupongen.codes.signing import signed_payload
from coupongen.codes.verify import normalize_code, verify_code
from coupongen.errors import ConfigError
from tests.codes.helpers import ALPHABET, KEY, OTHER_KEY, SIGNED, seeded_entropy, signed_codes

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
    payload = signed_payload(CODE, date(2026, 12, 6), key=KEY, campaign="cross_sell")
    assert verify_code(payload, formats=FORMATS, as_of=date(2026, 12, 6), key=KEY).ok
    assert verify_code(payload, formats=FORMATS, as_of=date(2026, 12, 7), key=KEY).status == "expired"
    tampered = payload.replace(".20261206.", ".20271206.")
    assert str(verify_code(tampered, formats=FORMATS, as_of=date(2026, 12, 1), key=KEY)) == (
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


def test_typed_codes_are_stripped_and_upper_cased_when_no_alphabet_has_lower_case():
    assert normalize_code(f"  {CODE.lower()}\n", FORMATS) == CODE
    assert normalize_code(" 9912345678909 ", FORMATS) == "9912345678909"
    # a URL or a payload keeps its case: only letters and digits are typed codes
    assert normalize_code(" https://shop.example/c/x7 ", FORMATS) == "https://shop.example/c/x7"
    lower = CodeFormat(prefix="x", length=10, alphabet="abcdefghijkmnpqrstuvwxyz2345678")
    assert normalize_code("xAbc", {"mixed": lower}) == "xAbc"
    assert normalize_code("  ", FORMATS) == ""
