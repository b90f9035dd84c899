"""Codes across campaigns: a signed campaign's prefix may not overlap another's; a code typed in
lower case is accepted on import as ``codes verify`` accepts it.
"""

from __future__ import annotations

import pytest

from coupongen.config import load_job
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
