"""Codes across campaigns: a signature names its campaign, and cuts prefix from body, so a signed
code of one campaign never passes as another's; a signed campaign's prefix may not overlap
another's; a code typed in lower case is accepted on import as ``codes verify`` accepts it.
"""

from __future__ import annotations

import base64
import hmac
import random
from datetime import date

import pytest

from coupongen.codes import (
    CodeFormat,
    check_character,
    generate_codes,
    legacy_code_signature,
    signed_payload,
    verify_code,
)
from coupongen.config import DEFAULT_ALPHABET, load_job
from coupongen.errors import ConfigError
from coupongen.ledger import Ledger
from tests.conftest import invoke


def _job(tmp_path, codes: dict[str, str]):
    lines = ['name = "t"', "campaigns = [" + ", ".join(f'"{n}.toml"' for n in codes) + "]"]
    (tmp_path / "job.toml").write_text("\n".join(lines) + "\n")
    for name, code in codes.items():
        (tmp_path / f"{name}.toml").write_text(
            f'name = "{name}"\ntype = "vip_reward"\nreward = {{ type = "points", value = 100 }}\n'
            f"code = {{ {code} }}\n"
        )
    return tmp_path / "job.toml"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ('prefix = "V", signed = true', 'prefix = "V2", signed = true'),
        ('prefix = "V2"', 'prefix = "V", signed = true'),
    ],
)
def test_overlapping_prefixes_of_a_signed_campaign_are_refused(tmp_path, first, second):
    path = _job(tmp_path, {"one": first, "two": second})
    with pytest.raises(ConfigError) as e:
        load_job(path)
    mine, theirs = ("V2", "V") if "V2" in second else ("V", "V2")
    assert str(e.value) == (
        f"{tmp_path / 'two.toml'}: code.prefix {mine!r} overlaps the prefix {theirs!r} of campaign 'one' "
        f"({tmp_path / 'one.toml'}); a signed campaign needs a prefix that neither begins nor is begun "
        "by another campaign's"
    )


def test_distinct_or_unsigned_prefixes_are_fine(tmp_path):
    load_job(_job(tmp_path, {"one": 'prefix = "V", signed = true', "two": 'prefix = "W2", signed = true'}))
    load_job(_job(tmp_path, {"one": 'prefix = "V"', "two": 'prefix = "V2"'}))


def test_a_lower_case_code_is_accepted_on_import(fresh_copy, tmp_path):
    with Ledger.open(fresh_copy.ledger) as ledger:
        coupon = ledger.coupons(as_of=None, campaigns=["second_purchase"]).row(0, named=True)
    code = coupon["code"]
    lines = tmp_path / "redemptions.csv"
    lines.write_text(
        f"code,redeemed_at,store_id,receipt_id,card_number,discount\n{code.lower()},{coupon['valid_from']}T10:00:00,S001,R1,{coupon['card_number']},\n"
    )
    assert invoke("codes", "verify", code.lower(), "--out", str(fresh_copy.out)).exit_code == 0
    result = invoke("redemptions", "import", str(lines), "--out", str(fresh_copy.out))
    assert result.exit_code == 0, result.output
    with Ledger.open(fresh_copy.ledger) as ledger:
        assert ledger.totals()["redemptions"] == {"accepted": 1}


def test_an_import_killed_at_its_commit_has_its_rejected_file(fresh_copy, tmp_path, monkeypatch):
    from coupongen.loop import redemptions

    lines = tmp_path / "till.csv"
    lines.write_text(
        "code,redeemed_at,store_id,receipt_id,card_number,discount\nNOSUCHCODE1,2026-11-23T10:00:00,S001,R1,,\n"
    )
    recorded = Ledger.record_redemptions

    def commit_then_die(self, decided):
        recorded(self, decided)
        raise KeyboardInterrupt  # killed as it commits

    monkeypatch.setattr(Ledger, "record_redemptions", commit_then_die)
    folder = tmp_path / "rejected"
    with Ledger.open(fresh_copy.ledger) as ledger, pytest.raises(KeyboardInterrupt):
        redemptions.import_redemptions(lines, ledger, formats={}, rejected_folder=folder)
    assert (folder / "till.rejected.csv").read_text().count("NOSUCHCODE1") == 1


# --- a signature names its campaign ------------------------------------------------------------

KEY = b"k" * 32
DAY = date(2026, 11, 25)
V = CodeFormat(prefix="V", length=10, alphabet=DEFAULT_ALPHABET, signature_length=4)
V2 = CodeFormat(prefix="V2", length=9, alphabet=DEFAULT_ALPHABET, signature_length=4)


def _signed(campaign: str, n: int = 200) -> list[str]:
    entropy = random.Random(3).randbytes
    return generate_codes(
        n, prefix="V", length=10, alphabet=DEFAULT_ALPHABET, entropy=entropy, key=KEY, signature_length=4,
        campaign=campaign,
    )  # fmt: skip


def test_a_code_of_one_campaign_does_not_pass_offline_as_another_with_the_same_format():
    code = _signed("campaign_a", 1)[0]
    assert verify_code(code, formats={"campaign_a": V}, as_of=DAY, key=KEY).ok
    # Another job sharing the key, or the prefix given to a new campaign: same format, other name.
    verdict = verify_code(code, formats={"campaign_b": V}, as_of=DAY, key=KEY)
    assert str(verdict) == f"bad signature: {code} (format of campaign_b: forged or altered)"


def test_prefix_and_body_are_signed_apart():
    # A code of campaign V whose body starts with "2" has the shape of a V2 code: the prefix "V2"
    # and the body cut after it are not what V signed, even under the same campaign name.
    # Anyone can repair the check character for the other layout.
    code = next(c for c in _signed("v") if c[1] == "2")
    assert verify_code(code, formats={"v": V}, as_of=DAY, key=KEY).ok
    inner = code[2:-1]
    altered = "V2" + inner + check_character(inner, DEFAULT_ALPHABET)
    assert V2.has_valid_check(altered)
    assert verify_code(altered, formats={"v": V2}, as_of=DAY, key=KEY).status == "bad signature"
    assert verify_code(altered, formats={"v2": V2}, as_of=DAY, key=KEY).status == "bad signature"


def test_the_redemption_import_refuses_another_campaigns_signed_code(tmp_path):
    code = _signed("campaign_a", 1)[0]
    lines = tmp_path / "till.csv"
    lines.write_text(
        f"code,redeemed_at,store_id,receipt_id,card_number,discount\n{code},2026-11-25T10:00:00,S001,R1,,\n"
    )
    from coupongen.loop import redemptions

    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        result = redemptions.import_redemptions(lines, ledger, formats={"campaign_b": V}, key=KEY)
    assert result.decided.select("status", "reason", "detail").row(0) == (
        "rejected",
        "bad signature",
        "format of campaign_b: forged or altered",
    )


def _legacy(code_body: str) -> str:
    signature = legacy_code_signature("V" + code_body, key=KEY, length=4, alphabet=DEFAULT_ALPHABET)
    inner = code_body + signature
    return "V" + inner + check_character(inner, DEFAULT_ALPHABET)


def test_codes_signed_before_signatures_named_the_campaign_still_verify_when_asked():
    old = _legacy("23456789AB")
    formats = {"campaign_a": V}
    assert str(verify_code(old, formats=formats, as_of=DAY, key=KEY)) == (
        f"bad signature: {old} (format of campaign_a: a version 1 signature, which names no campaign; "
        "accepted offline with --legacy-signatures while such codes are out)"
    )
    assert str(verify_code(old, formats=formats, as_of=DAY, key=KEY, legacy_signatures=True)) == (
        f"valid: {old} (campaign campaign_a, version 1 signature valid (it names no campaign); checked "
        "offline, so redemptions and expiry were not seen)"
    )
    # With the ledger the coupon's record decides, as for any code.
    record = {
        "code": old, "kind": "personal", "campaign": "campaign_a", "customer_id": "C1",
        "valid_from": "2026-11-23", "valid_to": "2026-12-06", "max_uses": 1, "uses": 0,
        "last_used_at": None, "status": "issued",
    }  # fmt: skip
    found = verify_code(old, formats=formats, as_of=DAY, key=KEY, lookup=lambda **k: record)
    assert found.ok


def test_a_version_1_payload_is_accepted_offline_only_when_asked():
    text = f"CG1.{_legacy('23456789AB')}.20261206"
    mac = base64.b32encode(
        hmac.digest(KEY, b"coupongen/qr-payload/v1\x00" + text.encode(), "sha256")[:10]
    ).decode()
    payload = f"{text}.{mac}"
    assert verify_code(payload, formats={"a": V}, as_of=DAY, key=KEY).status == "bad signature"
    assert verify_code(payload, formats={"a": V}, as_of=DAY, key=KEY, legacy_signatures=True).ok
    fresh = signed_payload("VX", date(2026, 12, 6), key=KEY, campaign="a")
    assert verify_code(fresh, formats={"a": V}, as_of=DAY, key=KEY).ok
    assert verify_code(fresh, formats={"b": V}, as_of=DAY, key=KEY).status == "bad signature"
