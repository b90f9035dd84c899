"""Public codes: one shared code per campaign, issued once, any card, up to its total uses."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from coupongen.codes import code_maker
from coupongen.config import CampaignConfig
from coupongen.delivery.pos import publish_pos
from coupongen.ledger import Ledger
from coupongen.loop import redemptions
from coupongen.offers.candidates import OfferContext
from coupongen.offers.planning import OFFER_COLUMNS, plan_offers
from coupongen.offers.public import public_offer

NIGHT = date(2026, 11, 22)
HEADER = "code,redeemed_at,store_id,receipt_id,card_number,discount\n"
PRODUCTS = pl.DataFrame(
    {"sku": ["P1", "P2"], "name": ["Coffee", "Tea"], "category": ["coffee", "tea"], "price": [400.0, 100.0]}
)


def flyer(**kw) -> CampaignConfig:
    doc = {
        "name": "flyer",
        "type": "cross_sell",
        "reward": {"type": "percent", "value": 10},
        "target": {"skus": ["P1"]},
        "expected_redemption_rate": 0.5,
        "code": {"public": True, "total_uses": 3, "pattern": "FLY-####-????"},
    } | kw
    return CampaignConfig.model_validate(doc)


def context(as_of: date = NIGHT) -> OfferContext:
    customers = pl.DataFrame({"customer_id": ["C1"], "card_number": ["1"], "monetary": [10.0]})
    return OfferContext(
        customers=customers,
        bought=pl.DataFrame(),
        categories=pl.DataFrame(),
        products=PRODUCTS,
        rules=pl.DataFrame(),
        as_of=as_of,
        lookback_days=365,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": {"public": True}}, "a public code needs total_uses"),
        ({"code": {"total_uses": 5}}, r"total_uses applies only to a public code \(public = true\)"),
        ({"type": "referral"}, "a referral campaign shares personal codes"),
        ({"max_uses": 2}, "a public code's uses are code.total_uses: drop max_uses"),
        (
            {"target": {"skus": ["P1", "P2"]}},
            "a public code applies to the whole basket, one sku or one category",
        ),
        ({"target": {"rule": "favourite"}}, "a public code applies to the whole basket"),
    ],
)
def test_a_public_code_is_refused_with_keys_it_cannot_have(change, message):
    with pytest.raises(ValidationError, match=message):
        flyer(**change)


def test_the_public_coupon_is_planned_once_without_a_holder():
    campaign = flyer()
    row = public_offer(campaign, context(), {}).row(0, named=True)
    assert {
        k: row[k] for k in ("offer_key", "kind", "customer_id", "card_number", "target_kind", "target")
    } == {
        "offer_key": "flyer:public",
        "kind": "public",
        "customer_id": None,
        "card_number": None,
        "target_kind": "sku",
        "target": "P1",
    }
    assert (row["max_uses"], row["valid_from"], row["valid_to"]) == (3, "2026-11-23", "2026-12-06")
    assert row["expected_cost"] == pytest.approx(400 * 0.10 * 0.5 * 3)  # price x 10% x rate x uses
    # a rerun of the night plans it again (the ledger keeps the first); a later night plans nothing
    assert public_offer(campaign, context(), {"flyer": "2026-11-22"}).height == 1
    assert public_offer(campaign, context(date(2026, 11, 23)), {"flyer": "2026-11-22"}).height == 0
    plan = plan_offers((campaign,), context(), max_per_customer=2, seed=1)
    assert plan.offers["offer_key"].to_list() == ["flyer:public"] and plan.controls.is_empty()
    assert plan.funnel.select("eligible", "treated", "control").row(0) == (0, 1, 0)


@pytest.fixture
def issued(tmp_path: Path) -> tuple[Path, str]:
    campaign = flyer()
    with Ledger.open(tmp_path / "ledger.sqlite") as led:
        run = led.start_run(job="t", as_of=NIGHT, config_hash="h")
        offers = public_offer(campaign, context(), {}).cast(OFFER_COLUMNS)
        led.issue_coupons(offers, run=run, make_codes=code_maker(campaign, as_of=NIGHT))
        led.finish_run(run, status="succeeded")
        code = led.coupons()["code"][0]
    return tmp_path, code


def import_file(folder: Path, lines: list[str]) -> redemptions.ImportResult:
    path = folder / "redemptions.csv"
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    with Ledger.open(folder / "ledger.sqlite") as led:
        return redemptions.import_redemptions(path, led, formats={"flyer": flyer().code.code_format()})


def test_any_card_may_use_a_public_code_up_to_its_total_uses_and_the_next_is_refused(issued):
    folder, code = issued
    assert code.startswith("FLY-") and len(code) == len("FLY-####-????")
    lines = [
        f"{code},2026-11-24T10:00:00,S1,R1,111,40",
        f"{code},2026-11-24T11:00:00,S1,R2,111,40",  # the same card again: still within the total
        f"{code},2026-11-24T12:00:00,S2,R3,,40",  # no card at all
        f"{code},2026-11-24T13:00:00,S2,R4,444,40",
    ]
    result = import_file(folder, lines)
    assert (result.read, result.accepted, result.already_imported) == (4, 3, 0)
    assert result.reason_counts() == [("over total uses", 1)]
    again = import_file(folder, lines)  # the same file twice changes nothing
    assert (again.accepted, again.already_imported) == (0, 4)
    with Ledger.open(folder / "ledger.sqlite") as led:
        assert led.find_coupon(code=code)["uses"] == 3
        assert led.live(as_of=date(2026, 11, 25)).is_empty()  # used up: the tills drop it


def test_the_pos_file_lists_the_public_code_for_any_card(issued, tmp_path):
    folder, code = issued
    with Ledger.open(folder / "ledger.sqlite") as led:
        coupons, live = led.coupons(), led.live(as_of=NIGHT)
        publish_pos(coupons, live, live.clear(), tmp_path / "night", run_id=1, as_of=NIGHT, currency="RUB")
    row = pl.read_csv(tmp_path / "night" / "pos" / "coupons.csv", infer_schema=False).row(0, named=True)
    assert (row["code"], row["kind"], row["card_number"], row["customer_id"], row["max_uses"]) == (
        code,
        "public",
        None,
        None,
        "3",
    )
