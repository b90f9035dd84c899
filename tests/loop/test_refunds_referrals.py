"""Refund lines give a use back; a friend's first use of a referral code credits its owner once;
importing either file again changes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from coupongen.codes import code_maker
from coupongen.config import load_job
from coupongen.ledger import Ledger
from coupongen.loop import redemptions
from coupongen.loop.refunds import ReferralTerms, referral_terms
from coupongen.offers.planning import OFFER_COLUMNS
from tests.conftest import AS_OF, NIGHTLY, invoke

NIGHT = date(2026, 11, 22)
HEADER = "code,redeemed_at,store_id,receipt_id,card_number,discount,kind\n"
CAMPAIGNS = {
    "plain": 'name = "plain"\ntype = "cross_sell"\nreward = { type = "percent", value = 10 }\n'
    'code = { prefix = "X", length = 10 }\n',
    "friends": 'name = "friends"\ntype = "referral"\nmax_uses = 3\ncode = { prefix = "F", length = 8 }\n'
    '[reward]\ntype = "percent"\nvalue = 10\nreferrer_reward = { type = "points", value = 200 }\n',
}
OWNERS = {"plain": ["C1"], "friends": ["C6"]}


def card(customer: str) -> str:
    return f"27700000000{customer[1:]}"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A cross-sell coupon for C1 and a referral code shared by C6, in a fresh ledger."""
    (tmp_path / "job.toml").write_text(
        'name = "t"\nledger = "ledger.sqlite"\ncampaigns = ["plain.toml", "friends.toml"]\n'
    )
    for name, text in CAMPAIGNS.items():
        (tmp_path / f"{name}.toml").write_text(text)
    job = load_job(tmp_path / "job.toml")
    with Ledger.open(tmp_path / "ledger.sqlite") as led:
        run = led.start_run(job="t", as_of=NIGHT, config_hash="h")
        for campaign in job.campaigns:
            rows = pl.DataFrame(
                [
                    {
                        "offer_key": f"{campaign.name}:{NIGHT}:{c}:0",
                        "kind": "referral" if campaign.type == "referral" else "personal",
                        "symbology": "code128",
                        "as_of": NIGHT.isoformat(),
                        "campaign": campaign.name,
                        "offer_type": campaign.type,
                        "customer_id": c,
                        "card_number": card(c),
                        "target_kind": "basket",
                        "reward_type": "percent",
                        "reward_value": 10.0,
                        "min_basket": 0.0,
                        "valid_from": "2026-11-23",
                        "valid_to": "2026-12-06",
                        "max_uses": campaign.max_uses,
                        "expected_cost": 1.0,
                        "reason": "test",
                    }
                    for c in OWNERS[campaign.name]
                ],
                schema=OFFER_COLUMNS,
            )
            led.issue_coupons(rows, run=run, make_codes=code_maker(campaign, as_of=NIGHT))
        led.finish_run(run, status="succeeded")
    return tmp_path


def code_of(shop: Path, customer: str) -> str:
    with Ledger.open(shop / "ledger.sqlite") as led:
        return str(led.coupons().filter(pl.col("customer_id") == customer)["code"][0])


def write(path: Path, lines: list[str]) -> Path:
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def run_import(shop: Path, path: Path) -> redemptions.ImportResult:
    job = load_job(shop / "job.toml")
    with Ledger.open(shop / "ledger.sqlite") as led:
        return redemptions.import_redemptions(
            path,
            led,
            formats={c.name: c.code.code_format() for c in job.campaigns},
            terms=referral_terms(job.campaigns),
        )


def credits(shop: Path) -> list[tuple]:
    with Ledger.open(shop / "ledger.sqlite") as led:
        return (
            led.referral_credits().select("customer_id", "friend_card", "reward_type", "reward_value").rows()
        )


def test_referral_terms_come_from_the_campaign_reward():
    job = load_job(NIGHTLY)
    assert referral_terms(job.campaigns) == {"referral": ReferralTerms(1, ("points", 200.0))}


def test_a_friends_first_use_credits_the_referrer_once_and_repeat_or_owner_uses_are_refused(shop, tmp_path):
    code = code_of(shop, "C6")
    path = write(
        tmp_path / "r.csv",
        [
            f"{code},2026-11-23T10:00:00,S1,R1,{card('C2')},5,",
            f"{code},2026-11-24T10:00:00,S1,R2,{card('C2')},5,",
            f"{code},2026-11-24T11:00:00,S1,R3,{card('C6')},5,",
            f"{code},2026-11-25T10:00:00,S2,R4,{card('C3')},5,redemption",
        ],
    )
    first = run_import(shop, path)
    assert first.decided.select("line", "status", "reason").rows() == [
        (2, "accepted", None),
        (3, "rejected", "referral already used with this card"),
        (4, "rejected", "referral used with its owner's card"),
        (5, "accepted", None),
    ]
    assert first.credited == 2
    assert credits(shop) == [("C6", card("C2"), "points", 200.0), ("C6", card("C3"), "points", 200.0)]
    again = run_import(shop, path)
    assert (again.read, again.accepted, again.already_imported, again.credited) == (4, 0, 4, 0)
    # the same friend's use reported in a later file with a new receipt is still refused
    later = run_import(
        shop, write(tmp_path / "r2.csv", [f"{code},2026-11-26T10:00:00,S1,R9,{card('C2')},5,"])
    )
    assert later.decided.select("reason").rows() == [("referral already used with this card",)]
    assert len(credits(shop)) == 2


def test_a_refund_line_gives_the_use_back_and_importing_it_again_changes_nothing(shop, tmp_path):
    code = code_of(shop, "C1")
    c1 = card("C1")
    run_import(shop, write(tmp_path / "a.csv", [f"{code},2026-11-23T10:00:00,S1,R1,{c1},5,"]))
    used = run_import(shop, write(tmp_path / "b.csv", [f"{code},2026-11-24T10:00:00,S1,R2,{c1},5,"]))
    assert used.decided.select("reason").rows() == [("already redeemed",)]
    refund = write(tmp_path / "refund.csv", [f"{code},2026-11-24T12:00:00,S1,R1,{c1},5,refund"])
    result = run_import(shop, refund)
    assert (result.read, result.accepted, result.refunded, result.already_imported) == (1, 0, 1, 0)
    with Ledger.open(shop / "ledger.sqlite") as led:
        assert led.find_coupon(code=code)["uses"] == 0
        assert led.redemption_counts().filter(pl.col("code") == code)["uses"].to_list() == [0]
    again = run_import(shop, refund)
    assert (again.read, again.refunded, again.already_imported) == (1, 0, 1)
    # the same refund in another file undoes nothing more
    copy = write(tmp_path / "refund-copy.csv", [f"{code},2026-11-24T13:00:00,S1,R1,{c1},5,refund"])
    assert (run_import(shop, copy).refunded, run_import(shop, copy).already_imported) == (0, 1)
    reused = run_import(shop, write(tmp_path / "c.csv", [f"{code},2026-11-25T10:00:00,S1,R3,{c1},5,"]))
    assert reused.accepted == 1


def test_a_refund_in_the_same_file_undoes_its_redemption_and_an_unmatched_refund_is_rejected(shop, tmp_path):
    code = code_of(shop, "C1")
    c1 = card("C1")
    path = write(
        tmp_path / "r.csv",
        [
            f"{code},2026-11-24T12:00:00,S1,R1,{c1},5,refund",
            f"{code},2026-11-23T10:00:00,S1,R1,{c1},5,",
            f"{code},2026-11-24T12:00:00,S1,R7,{c1},5,REFUND",
            f"X{'2' * 11},2026-11-24T12:00:00,S1,R8,{c1},5,refund",
            f"{code},2026-11-24T12:00:00,S1,R8,{c1},5,swap",
        ],
    )
    result = run_import(shop, path)
    assert (result.read, result.accepted, result.refunded, result.already_imported) == (5, 1, 1, 0)
    assert result.rejected.select("line", "reason").rows() == [
        (4, "refund of no recorded redemption"),
        (5, "refund of an unknown code"),
        (6, "kind: not redemption or refund"),
    ]
    with Ledger.open(shop / "ledger.sqlite") as led:
        assert led.find_coupon(code=code)["uses"] == 0
        assert led.totals()["refunds"] == {"accepted": 1, "rejected": 2}


def test_import_command_prints_refunds_and_credits(shop, tmp_path):
    code, c1 = code_of(shop, "C1"), card("C1")
    friends = code_of(shop, "C6")
    path = write(
        tmp_path / "r.csv",
        [
            f"{code},2026-11-23T10:00:00,S1,R1,{c1},5,",
            f"{code},2026-11-24T12:00:00,S1,R1,{c1},5,refund",
            f"{friends},2026-11-23T10:00:00,S1,R2,{card('C2')},5,",
        ],
    )
    result = invoke("redemptions", "import", str(path), "--config", str(shop / "job.toml"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "r.csv: 3 lines read = 2 accepted + 1 refunded + 0 rejected + 0 already imported",
        "referrers credited: 1 (first use of their code by a friend)",
    ]


def test_simulated_referral_round_trip_credits_each_referrer_once_per_friend(fresh_copy):
    out = fresh_copy.out
    assert invoke("simulate-redemptions", "--config", str(NIGHTLY), "--out", str(out), "--effect", "0.3",
                  "--bad-lines", "6").exit_code == 0  # fmt: skip
    path = out / "simulation" / AS_OF / "redemptions.csv"
    first = invoke("redemptions", "import", str(path), "--config", str(NIGHTLY), "--out", str(out))
    assert first.exit_code == 0, first.output
    with Ledger.open(out / "ledger.sqlite") as led:
        accepted = led.redemptions(status="accepted").join(
            led.coupons().filter(pl.col("kind") == "referral").select(pl.col("code").alias("coupon_code")),
            on="coupon_code",
        )
        made = led.referral_credits()
    assert accepted.height > 0
    assert made.height == accepted.select("coupon_code", "card_number").unique().height
    assert made.select("coupon_id", "friend_card").is_unique().all()
    assert set(made["reward_value"]) == {200.0}
    second = invoke("redemptions", "import", str(path), "--config", str(NIGHTLY), "--out", str(out))
    assert "(nothing new)" in second.output and "referrers credited" not in second.output
    with Ledger.open(out / "ledger.sqlite") as led:
        assert led.referral_credits().height == made.height
