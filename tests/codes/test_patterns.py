"""Codes with a suffix or drawn to a pattern keep their check character; imported codes are issued
instead of drawn ones, reach the POS file, and never twice."""

from __future__ import annotations

import itertools
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from coupongen import pipeline
from coupongen.codes import verify_code
from coupongen.codes.imported import read_code_file
from coupongen.codes.maker import code_maker
from coupongen.codes.patterns import generate_pattern_codes, has_valid_pattern_check
from coupongen.config import load_job
from coupongen.delivery.pos import pos_rows
from coupongen.errors import CodeFormatError, ConfigError, InputError
from coupongen.ledger import Ledger
from coupongen.offers.planning import OFFER_COLUMNS, OfferPlan
from tests.codes.helpers import ALPHABET, seeded_entropy

AS_OF = date(2026, 11, 22)
PATTERN = "SPRING-####-????"


def job_with(tmp_path: Path, code: str) -> Path:
    (tmp_path / "c.toml").write_text(
        f'name = "c"\ntype = "cross_sell"\nreward = {{ type = "percent", value = 10 }}\ncode = {code}\n'
    )
    (tmp_path / "job.toml").write_text('name = "t"\nledger = "ledger.sqlite"\ncampaigns = ["c.toml"]\n')
    return tmp_path / "job.toml"


def test_pattern_codes_match_the_pattern_and_keep_the_check_character():
    codes = generate_pattern_codes(200, pattern=PATTERN, alphabet=ALPHABET, entropy=seeded_entropy(3))
    assert len(set(codes)) == 200
    shape = re.compile(r"SPRING-[2-9]{4}-[" + ALPHABET + "]{4}")
    assert all(shape.fullmatch(c) for c in codes)
    assert all(has_valid_pattern_check(c, PATTERN, ALPHABET) for c in codes)
    # every single mistyped random character and every swap of two neighbours is caught
    code = codes[0]
    slots = [i for i, p in enumerate(PATTERN) if p in "#?"]
    for i in slots:
        for ch in "23456789" if PATTERN[i] == "#" else ALPHABET:
            if ch != code[i]:
                assert not has_valid_pattern_check(code[:i] + ch + code[i + 1 :], PATTERN, ALPHABET)
    for a, b in itertools.pairwise(slots):
        swapped = list(code)
        swapped[a], swapped[b] = swapped[b], swapped[a]
        if swapped != list(code) and re.fullmatch(shape, "".join(swapped)):
            assert not has_valid_pattern_check("".join(swapped), PATTERN, ALPHABET)


def test_a_campaigns_pattern_and_suffix_codes_are_checked_by_their_format(tmp_path):
    job = load_job(job_with(tmp_path, f'{{ pattern = "{PATTERN}" }}'))
    fmt = {"c": job.campaigns[0].code.code_format()}
    code = code_maker(job.campaigns[0], seeded_entropy(1), as_of=AS_OF)(1)[0][0]
    assert has_valid_pattern_check(code, PATTERN, ALPHABET)
    typo = code[:-2] + ("A" if code[-2] != "A" else "B") + code[-1]
    assert (
        verify_code(typo, formats=fmt, as_of=AS_OF, lookup=lambda **_: None).status == "bad check character"
    )
    assert verify_code(code, formats=fmt, as_of=AS_OF, lookup=lambda **_: None).detail == (
        "well formed, but not in the ledger"
    )
    job = load_job(job_with(tmp_path, '{ prefix = "X", suffix = "-XMAS", length = 8 }'))
    fmt = {"c": job.campaigns[0].code.code_format()}
    code = code_maker(job.campaigns[0], seeded_entropy(1), as_of=AS_OF)(1)[0][0]
    assert re.fullmatch(r"X[" + ALPHABET + r"]{9}-XMAS", code)
    assert fmt["c"].has_valid_check(code) and fmt["c"].size == len(code) == 15
    typo = code[:2] + ("A" if code[2] != "A" else "B") + code[3:]
    assert (
        verify_code(typo, formats=fmt, as_of=AS_OF, lookup=lambda **_: None).status == "bad check character"
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ('{ pattern = "SPRING-####-???#" }', "pattern 'SPRING-####-???#': the last placeholder must be ? (it holds the check character)"),
        ('{ pattern = "AB-###-??" }', "pattern 'AB-###-??' holds 14.0 bits of randomness, fewer than 24: add placeholders"),
        ('{ pattern = "A=?????????" }', "pattern 'A=?????????': '=' cannot be written; use A-Z, 0-9, '-', '_', '.', '/' or space between the placeholders # (digit) and ? (character)"),
        (f'{{ pattern = "{PATTERN}", prefix = "X" }}', "pattern replaces prefix, length and suffix, and is not signed (drop prefix)"),
        ('{ import_file = "codes.csv", symbology = "ean13" }', "import_file works with symbology code128 or qr (the barcode holds the code)"),
        ('{ import_file = "codes.csv", prefix = "X" }', "import_file supplies the codes: drop prefix"),
    ],
)  # fmt: skip
def test_bad_code_layouts_are_refused_naming_the_key(tmp_path, code, message):
    with pytest.raises(ConfigError) as e:
        load_job(job_with(tmp_path, code))
    assert str(e.value) == f"{tmp_path / 'c.toml'}: code: {message}"


def test_an_import_file_is_checked_line_by_line(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("code,batch\nPARTNER-0001,a\nPARTNER-0002,a\nPARTNER-0001,b\n")
    with pytest.raises(InputError) as e:
        read_code_file(path)
    assert str(e.value) == f"{path}: line 4: the same code as line 2"
    path.write_text("code\n=HYPERLINK(1)\n")
    with pytest.raises(InputError) as e:
        read_code_file(path)
    assert (
        str(e.value) == f"{path}: line 2: code must be 4 to 40 letters, digits or '-', not starting with '-'"
    )
    path.write_text("id\nX\n")
    with pytest.raises(InputError, match="missing required column 'code'"):
        read_code_file(path)


def plan(customers: list[str], night: date = AS_OF) -> OfferPlan:
    offers = pl.DataFrame(
        [
            {
                "offer_key": f"c:{night}:{c}:0",
                "kind": "personal",
                "symbology": "code128",
                "as_of": night.isoformat(),
                "campaign": "c",
                "offer_type": "cross_sell",
                "customer_id": c,
                "card_number": None,
                "target_kind": "basket",
                "reward_type": "percent",
                "reward_value": 10.0,
                "min_basket": 0.0,
                "valid_from": "2026-11-23",
                "valid_to": "2026-12-06",
                "max_uses": 1,
                "expected_cost": 1.0,
                "reason": "test",
            }
            for c in customers
        ],
        schema=OFFER_COLUMNS,
    )
    return OfferPlan(offers=offers, controls=offers.clear(), funnel=pl.DataFrame())


def test_imported_codes_are_issued_in_file_order_reach_the_pos_file_and_are_never_issued_twice(tmp_path):
    job = load_job(job_with(tmp_path, '{ import_file = "codes.csv" }'))
    (tmp_path / "codes.csv").write_text("code\nPART-0001\nPART-0002\nPART-0003\nPART-0004\n")
    with Ledger.open(tmp_path / "ledger.sqlite") as led:
        run = led.start_run(job="t", as_of=AS_OF, config_hash="h")
        assert pipeline.issue(job, plan(["C1", "C2"]), led, run) == 2
        led.finish_run(run, status="succeeded")
        pos = pos_rows(led.coupons(), currency="RUB")
        assert pos.select("customer_id", "code", "barcode_value").rows() == [
            ("C1", "PART-0001", "PART-0001"),
            ("C2", "PART-0002", "PART-0002"),
        ]
        # the next night the codes already in the ledger are refused: the file's next ones go out
        night = date(2026, 11, 23)
        run = led.start_run(job="t", as_of=night, config_hash="h")
        assert pipeline.issue(job, plan(["C3"], night), led, run) == 1
        led.finish_run(run, status="succeeded")
        assert led.coupons(as_of=night)["code"].to_list() == ["PART-0003"]
        # more coupons than unused codes: a clear error, nothing drawn instead
        night = date(2026, 11, 24)
        run = led.start_run(job="t", as_of=night, config_hash="h")
        with pytest.raises(CodeFormatError) as e:
            pipeline.issue(job, plan(["C4", "C5"], night), led, run)
        assert str(e.value) == "campaign 'c': its import file has 1 unused codes left, 2 needed"
        assert led.coupons(as_of=night).is_empty()
