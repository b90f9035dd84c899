"""The redemption import: every line judged against the ledger, every rejection with its reason,
and nothing recorded twice."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from coupongen.codes import check_character, code_maker
from coupongen.config import DEFAULT_ALPHABET, CampaignConfig, load_job
from coupongen.ledger import Ledger
from coupongen.loop import redemptions
from coupongen.offers.planning import OFFER_COLUMNS
from tests.conftest import invoke

NIGHT = date(2026, 11, 22)
HEADER = "code,redeemed_at,store_id,receipt_id,card_number,discount\n"

JOB = """
name = "t"
ledger = "ledger.sqlite"
campaigns = ["plain.toml", "ean.toml", "gs1.toml", "friends.toml"]
"""
CAMPAIGNS = {
    "plain": """
name = "plain"
type = "cross_sell"
reward = { type = "percent", value = 10 }
code = { prefix = "X", length = 10 }
""",
    "ean": """
name = "ean"
type = "win_back"
reward = { type = "percent", value = 20 }
code = { prefix = "W", length = 10, symbology = "ean13", ean_prefix = "99" }
""",
    "gs1": """
name = "gs1"
type = "replenishment"
reward = { type = "points", value = 50 }
[code]
prefix = "R"
length = 10
symbology = "gs1_128"
gs1_company_prefix = "9521234"
gs1_coupon_reference = "00001"
expiry_in_barcode = true
""",
    "friends": """
name = "friends"
type = "referral"
reward = { type = "percent", value = 10 }
max_uses = 2
code = { prefix = "F", length = 8 }
""",
}
OWNERS = {"plain": ["C1", "C2", "C3"], "ean": ["C4"], "gs1": ["C5"], "friends": ["C6"]}


def card(customer: str) -> str:
    return f"27700000000{customer[1:]}"


def offer_rows(campaign: CampaignConfig, customers: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "offer_key": f"{campaign.name}:{NIGHT}:{c}:0",
                "kind": "referral" if campaign.type == "referral" else "personal",
                "symbology": campaign.code.symbology,
                "as_of": NIGHT.isoformat(),
                "campaign": campaign.name,
                "offer_type": campaign.type,
                "customer_id": c,
                "card_number": card(c),
                "target_kind": "basket",
                "target": None,
                "reward_type": "percent",
                "reward_value": 10.0,
                "min_basket": 0.0,
                "valid_from": "2026-11-23",
                "valid_to": "2026-12-06",
                "max_uses": campaign.max_uses,
                "expected_cost": 1.0,
                "reason": "test",
            }
            for c in customers
        ],
        schema=OFFER_COLUMNS,
    )


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A job of four campaigns (code, EAN-13, GS1-128, referral) and a ledger with their coupons."""
    (tmp_path / "job.toml").write_text(JOB)
    for name, text in CAMPAIGNS.items():
        (tmp_path / f"{name}.toml").write_text(text)
    job = load_job(tmp_path / "job.toml")
    with Ledger.open(tmp_path / "ledger.sqlite") as led:
        run = led.start_run(job="t", as_of=NIGHT, config_hash="h")
        for campaign in job.campaigns:
            rows = offer_rows(campaign, OWNERS[campaign.name])
            make = code_maker(campaign, as_of=NIGHT)
            led.issue_coupons(rows, run=run, make_codes=make)
        led.finish_run(run, status="succeeded")
    return tmp_path


def coupon(shop: Path, customer: str) -> dict:
    with Ledger.open(shop / "ledger.sqlite") as led:
        return led.coupons().filter(pl.col("customer_id") == customer).row(0, named=True)


def write(path: Path, lines: list[str]) -> Path:
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def run_import(shop: Path, path: Path) -> redemptions.ImportResult:
    job = load_job(shop / "job.toml")
    formats = {c.name: c.code.code_format() for c in job.campaigns}
    with Ledger.open(shop / "ledger.sqlite") as led:
        return redemptions.import_redemptions(path, led, formats=formats)


def recorded(shop: Path) -> pl.DataFrame:
    with Ledger.open(shop / "ledger.sqlite") as led:
        return led.redemptions().drop("imported_at")


def mistype(code: str) -> str:
    """The code with its second body character replaced: the check character no longer fits."""
    other = next(ch for ch in DEFAULT_ALPHABET if ch != code[2])
    return code[:2] + other + code[3:]


def unknown_code() -> str:
    body = "ABCDEFGHJK"
    return "X" + body + check_character(body, DEFAULT_ALPHABET)


# --- accepted lines --------------------------------------------------------------------------------


def test_a_code_an_ean13_and_a_gs1_element_string_find_their_coupons(shop, tmp_path):
    plain, ean, gs1 = coupon(shop, "C1"), coupon(shop, "C4"), coupon(shop, "C5")
    assert ean["symbology"] == "ean13" and gs1["barcode_value"].startswith("(255)")
    # A till that prints the expiry differently still names the same GCN and serial.
    scanned = gs1["barcode_value"].split("(17)")[0]
    path = write(
        tmp_path / "r.csv",
        [
            f"{plain['code']},2026-11-23T10:00:00,S1,R1,{card('C1')},12.50",
            f"{ean['barcode_value']},2026-11-24T11:00:00+03:00,S1,R2,{card('C4')},30",
            f"{scanned},2026-11-25T12:00:00,S2,R3,{card('C5')},",
        ],
    )
    result = run_import(shop, path)
    assert (result.read, result.accepted, result.already_imported) == (3, 3, 0)
    assert result.rejected.is_empty()
    rows = recorded(shop)
    assert rows.select(
        "coupon_code", "redeemed_at", "store_id", "receipt_id", "discount", "status"
    ).rows() == [
        (plain["code"], "2026-11-23T10:00:00", "S1", "R1", 12.5, "accepted"),
        (ean["code"], "2026-11-24T11:00:00", "S1", "R2", 30.0, "accepted"),
        (gs1["code"], "2026-11-25T12:00:00", "S2", "R3", None, "accepted"),
    ]
    with Ledger.open(shop / "ledger.sqlite") as led:
        uses = led.redemption_counts().filter(pl.col("uses") > 0)
    assert sorted(uses["customer_id"].to_list()) == ["C1", "C4", "C5"]


def test_a_referral_code_is_used_with_friends_cards_up_to_its_maximum(shop, tmp_path):
    code = coupon(shop, "C6")["code"]
    path = write(
        tmp_path / "r.csv",
        [
            f"{code},2026-11-23T10:00:00,S1,R1,{card('C6')},5",
            f"{code},2026-11-24T10:00:00,S1,R2,{card('C1')},5",
            f"{code},2026-11-25T10:00:00,S1,R3,{card('C2')},5",
            f"{code},2026-11-26T10:00:00,S1,R4,{card('C3')},5",
        ],
    )
    result = run_import(shop, path)
    assert result.decided.select("line", "status", "reason").rows() == [
        (2, "rejected", "referral used with its owner's card"),
        (3, "accepted", None),
        (4, "accepted", None),
        (5, "rejected", "over its maximum uses"),
    ]


# --- rejected lines --------------------------------------------------------------------------------


def test_each_rejected_line_is_kept_with_its_reason(shop, tmp_path):
    c1, c2, c3, c6 = (coupon(shop, c)["code"] for c in ("C1", "C2", "C3", "C6"))
    lines = [
        f"{c1},2026-11-24T10:00:00,S1,R1,{card('C1')},10",  # 2 accepted
        f"{unknown_code()},2026-11-24T10:00:00,S1,R2,{card('C1')},10",  # 3
        f"{mistype(c2)},2026-11-24T10:00:00,S1,R3,{card('C2')},10",  # 4
        f"{c2},2026-12-07T09:00:00,S1,R4,{card('C2')},10",  # 5
        f"{c2},2026-11-22T23:59:00,S1,R5,{card('C2')},10",  # 6
        f"{c1},2026-11-25T10:00:00,S1,R6,{card('C1')},10",  # 7
        f"{c3},2026-11-24T10:00:00,S1,R7,{card('C2')},10",  # 8
        f"{c3},2026-11-24T10:00:00,S1,R8,,10",  # 9
        f"{c6},2026-11-24T10:00:00,S1,R9,{card('C6')},10",  # 10
        f"{c2},24.11.2026 10:00,S1,R10,{card('C2')},10",  # 11
        f",2026-11-24T10:00:00,S1,R11,{card('C2')},10",  # 12
        f"{c2},2026-11-24T10:00:00,S1,R12,{card('C2')},-5",  # 13
        f"{c1},2026-11-24T10:00:00,S1,R1,{card('C1')},10",  # 14 duplicate of line 2
        f"{c2},2026-11-24T10:00:00,S1,,{card('C2')},ten",  # 15
    ]
    result = run_import(shop, write(tmp_path / "r.csv", lines))
    assert (result.read, result.accepted, result.rejected.height, result.already_imported) == (14, 1, 13, 0)
    assert result.rejected.select("line", "reason").rows() == [
        (3, "unknown code"),
        (4, "bad check character"),
        (5, "expired"),
        (6, "not yet valid"),
        (7, "already redeemed"),
        (8, "used with another card"),
        (9, "used without a card"),
        (10, "referral used with its owner's card"),
        (11, "redeemed_at: not an ISO-8601 date-time"),
        (12, "code: empty"),
        (13, "discount: negative"),
        (14, "duplicate of an earlier line"),
        (15, "receipt_id: empty; discount: not a number"),
    ]
    details = dict(result.rejected.select("line", "detail").rows())
    assert details[5] == "campaign plain, personal, customer C2; valid until 2026-12-06"
    assert details[8] == "bound to the card of customer C3"
    assert details[14] == "same coupon, store and receipt as line 2"
    assert result.rejected.filter(pl.col("line") == 15)["discount"].item() == "ten"
    assert result.reason_counts()[0] == ("already redeemed", 1)
    assert len(result.reason_counts()) == 14  # line 15 has two reasons
    # The ledger keeps every line with its status and reason.
    rows = recorded(shop)
    assert rows.height == 14
    assert rows.filter(pl.col("status") == "rejected").height == 13
    assert rows.filter(pl.col("line") == 11)["redeemed_at"].item() == "24.11.2026 10:00"


def test_a_voided_coupon_is_refused(shop, tmp_path):
    code = coupon(shop, "C1")["code"]
    with Ledger.open(shop / "ledger.sqlite") as led:
        led.void_coupons(codes=[code])
    result = run_import(
        shop, write(tmp_path / "r.csv", [f"{code},2026-11-24T10:00:00,S1,R1,{card('C1')},10"])
    )
    assert result.rejected.select("reason", "detail").rows() == [
        ("void", "campaign plain, personal, customer C1; the coupon was voided")
    ]


def test_of_two_uses_of_a_single_use_coupon_the_earlier_counts_whatever_the_line_order(shop, tmp_path):
    code = coupon(shop, "C1")["code"]
    path = write(
        tmp_path / "r.csv",
        [
            f"{code},2026-11-25T10:00:00,S1,R2,{card('C1')},10",
            f"{code},2026-11-24T10:00:00,S1,R1,{card('C1')},10",
        ],
    )
    result = run_import(shop, path)
    assert result.decided.select("line", "status", "reason").rows() == [
        (2, "rejected", "already redeemed"),
        (3, "accepted", None),
    ]


# --- importing twice -------------------------------------------------------------------------------


def test_importing_the_same_file_twice_changes_nothing_the_second_time(shop, tmp_path):
    c1, c2 = coupon(shop, "C1")["code"], coupon(shop, "C2")["code"]
    path = write(
        tmp_path / "r.csv",
        [
            f"{c1},2026-11-24T10:00:00,S1,R1,{card('C1')},10",
            f"{c2},2026-11-24T10:00:00,S1,R2,{card('C1')},10",
            f"{c2},not a time,S1,R3,{card('C2')},10",
        ],
    )
    first = run_import(shop, path)
    assert (first.accepted, first.rejected.height) == (1, 2)
    before = recorded(shop)
    second = run_import(shop, path)
    assert (second.read, second.accepted, second.rejected.height, second.already_imported) == (3, 0, 0, 3)
    assert recorded(shop).equals(before)


def test_a_redemption_sent_again_in_another_file_is_recorded_once(shop, tmp_path):
    c1, c4 = coupon(shop, "C1"), coupon(shop, "C4")
    write(
        tmp_path / "monday.csv",
        [
            f"{c1['code']},2026-11-24T10:00:00,S1,R1,{card('C1')},10",
            f"{c4['barcode_value']},2026-11-24T11:00:00,S1,R2,{card('C4')},10",
            f"{unknown_code()},2026-11-24T12:00:00,S1,R3,{card('C2')},10",
        ],
    )
    run_import(shop, tmp_path / "monday.csv")
    # The re-export repeats Monday (the EAN-13 coupon now keyed in by its code) and adds a line.
    c2 = coupon(shop, "C2")["code"]
    again = run_import(
        shop,
        write(
            tmp_path / "monday-and-tuesday.csv",
            [
                f"{c1['code']},2026-11-24T10:00:00,S1,R1,{card('C1')},10",
                f"{c4['code']},2026-11-24T11:00:00,S1,R2,{card('C4')},10",
                f"{unknown_code()},2026-11-24T12:00:00,S1,R3,{card('C2')},10",
                f"{c2},2026-11-25T10:00:00,S1,R4,{card('C2')},10",
            ],
        ),
    )
    assert (again.read, again.accepted, again.rejected.height, again.already_imported) == (4, 1, 0, 3)
    rows = recorded(shop)
    assert rows.height == 4
    assert rows.filter(pl.col("status") == "accepted")["coupon_code"].sort().to_list() == sorted(
        [c1["code"], c4["code"], c2]
    )


def test_a_changed_file_under_the_same_name_is_a_new_source(shop, tmp_path):
    c1, c2 = coupon(shop, "C1")["code"], coupon(shop, "C2")["code"]
    path = write(tmp_path / "r.csv", [f"{c1},2026-11-24T10:00:00,S1,R1,{card('C1')},10"])
    first = run_import(shop, path)
    write(path, [f"{c2},2026-11-24T10:00:00,S1,R9,{card('C2')},10"])
    second = run_import(shop, path)
    assert first.source != second.source and first.source.startswith("r.csv#")
    assert (second.accepted, second.already_imported) == (1, 0)


# --- the rejected-lines file and the command line --------------------------------------------------


def test_rejected_lines_are_written_once_and_owner_only(shop, tmp_path):
    c1 = coupon(shop, "C1")["code"]
    path = write(tmp_path / "r.csv", [f"{c1},2026-12-24T10:00:00,S1,R1,{card('C1')},10"])
    written = redemptions.write_rejected(run_import(shop, path), tmp_path / "out")
    assert written == tmp_path / "out" / "r.rejected.csv"
    assert os.stat(written).st_mode & 0o777 == 0o600
    assert pl.read_csv(written, infer_schema=False).select("source_file", "line", "reason").rows() == [
        ("r.csv", "2", "expired")
    ]
    assert redemptions.write_rejected(run_import(shop, path), tmp_path / "out") is None


def test_import_command_reconciles_and_prints_one_line_per_reason(shop, tmp_path):
    c1, c2 = coupon(shop, "C1")["code"], coupon(shop, "C2")["code"]
    path = write(
        tmp_path / "pos.csv",
        [
            f"{c1},2026-11-24T10:00:00,S1,R1,{card('C1')},10",
            f"{c1},2026-11-25T10:00:00,S1,R2,{card('C1')},10",
            f"{c2},2026-12-24T10:00:00,S1,R3,{card('C2')},10",
            f"{c2},2026-12-25T10:00:00,S1,R4,{card('C2')},10",
        ],
    )
    config = str(shop / "job.toml")
    result = invoke("redemptions", "import", str(path), "--config", config)
    assert result.exit_code == 0
    rejected = tmp_path / "pos.rejected.csv"
    assert result.output == (
        "pos.csv: 4 lines read = 1 accepted + 3 rejected + 0 already imported\n"
        f"rejected lines by reason (written to {rejected}):\n"
        "        2  expired\n"
        "        1  already redeemed\n"
    )
    again = invoke("redemptions", "import", str(path), "--config", config)
    assert again.exit_code == 0
    assert (
        again.output == "pos.csv: 4 lines read = 0 accepted + 0 rejected + 4 already imported (nothing new)\n"
    )
    elsewhere = invoke("redemptions", "import", str(path), "--out", str(shop))
    assert elsewhere.exit_code == 0 and not (shop / "redemptions").exists()


def test_import_command_refuses_a_missing_file_or_column_with_exit_2(shop, tmp_path):
    config = str(shop / "job.toml")
    missing = invoke("redemptions", "import", str(tmp_path / "nope.csv"), "--config", config)
    assert missing.exit_code == 2
    assert missing.output == f"Error: {tmp_path / 'nope.csv'}: file not found\n"
    path = tmp_path / "short.csv"
    path.write_text("code,redeemed_at,receipt_id\nX,2026-11-24,R1\n")
    short = invoke("redemptions", "import", str(path), "--config", config)
    assert short.exit_code == 2
    assert short.output == (
        f"Error: {path}: missing required columns 'store_id', 'card_number', 'discount' "
        "(the header has: code, redeemed_at, receipt_id)\n"
    )
    with Ledger.open(shop / "ledger.sqlite") as led:
        assert led.redemptions().is_empty()
