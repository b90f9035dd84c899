"""Reminders before coupons expire: only unused coupons of holders who consent, once per coupon."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from coupongen.config import CampaignConfig, ChannelsConfig, Job, JobConfig
from coupongen.delivery.reminders import due_reminders
from coupongen.errors import ConfigError, InputError
from coupongen.ledger import Ledger
from coupongen.offers.planning import OFFER_COLUMNS
from coupongen.reminding import run_reminders
from coupongen.settings import Settings
from tests.conftest import invoke

TEMPLATES = Path(__file__).resolve().parents[1] / "jobs" / "templates"
NIGHT = date(2026, 11, 22)
SOON, LATER = "2026-12-06", "2026-12-20"

CUSTOMERS = """customer_id,card_number,email,phone,email_opt_in,sms_opt_in,push_opt_in,first_name,locale
C1,2001,c1@x.com,,true,false,false,Ann,en
C2,2002,c2@x.com,,true,false,false,Bob,en
C3,2003,c3@x.com,+79160000003,false,false,false,Cy,en
C4,2004,c4@x.com,,true,false,false,Dee,en
C5,2005,c5@x.com,,true,false,false,Eve,en
C6,2006,c6@x.com,,true,false,false,Fay,en
C7,2007,c7@x.com,,true,false,false,Gus,en
C8,2008,c8@x.com,,true,false,false,Hal,en
C9,2009,c9@x.com,+79160000009,true,true,true,Ivy,en
"""


def coupon(customer: str, campaign: str, valid_to: str = SOON, slot: int = 0) -> dict:
    return {
        "offer_key": f"{campaign}:{NIGHT}:{customer}:{slot}",
        "kind": "personal",
        "symbology": "code128",
        "as_of": NIGHT.isoformat(),
        "campaign": campaign,
        "offer_type": "cross_sell",
        "customer_id": customer,
        "card_number": "2" + customer[1:].zfill(3),
        "target_kind": "sku",
        "target": "P1",
        "reward_type": "percent",
        "reward_value": 15.0,
        "reward_buy": None,
        "reward_get": None,
        "min_basket": 0.0,
        "valid_from": "2026-11-23",
        "valid_to": valid_to,
        "max_uses": 1,
        "expected_cost": 0.1,
        "reason": "because",
    }


@pytest.fixture
def setup(tmp_path) -> tuple[Job, Settings]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (data / "products.csv").write_text("sku,name,category\nP1,Spaghetti,pasta\n", encoding="utf-8")
    (tmp_path / "suppression.txt").write_text("c4@x.com\n", encoding="utf-8")
    campaigns = (
        CampaignConfig.model_validate(
            {"name": "cs", "type": "cross_sell", "reward": {"type": "percent", "value": 15}}
        ),
        CampaignConfig.model_validate(
            {
                "name": "sorry",
                "type": "service_recovery",
                "reward": {"type": "amount", "value": 300},
                "reminder": {"channel": "app", "days_before": 3},
                "messages": {
                    "en": {"reminder_subject": "Still sorry, {{ first_name }}", "reminder_body": "Use it."}
                },
            }
        ),
        CampaignConfig.model_validate(
            {
                "name": "quiet",
                "type": "cross_sell",
                "reward": {"type": "percent", "value": 5},
                "reminder": {"enabled": False},
            }
        ),
    )
    config = JobConfig(
        locale="en_US",
        channels=ChannelsConfig(templates=str(TEMPLATES), suppression="suppression.txt", brand="Shop"),
    )
    job = Job(tmp_path / "job.toml", config, campaigns)
    settings = Settings(
        data_dir=data, out_dir=tmp_path / "out", ledger_path=tmp_path / "ledger.sqlite", as_of=NIGHT, seed=1
    )
    rows = [
        coupon("C1", "cs"),  # two coupons expiring: one message
        coupon("C1", "cs", slot=1),
        coupon("C2", "cs"),  # redeemed
        coupon("C3", "cs"),  # no consent
        coupon("C4", "cs"),  # suppressed
        coupon("C5", "cs", valid_to=LATER),  # not expiring yet
        coupon("C7", "quiet"),  # its campaign sends no reminder
        coupon("C8", "cs"),  # void
        coupon("C9", "sorry"),  # reminded by app, in the campaign's words
    ]
    holdout = [
        {k: v for k, v in coupon("C6", "cs").items() if k in ("offer_key", "as_of", "campaign", "offer_type")}
        | {"customer_id": "C6", "target_kind": "sku", "target": "P1"}
    ]
    with Ledger.open(settings.ledger_path) as ledger:
        run = ledger.start_run(job="nightly", as_of=NIGHT, config_hash="h")
        counter = iter(range(100))

        def codes(n: int) -> tuple[list[str], list[str]]:
            drawn = [f"CODE{next(counter):03d}" for _ in range(n)]
            return drawn, drawn

        ledger.issue_coupons(pl.DataFrame(rows, schema=OFFER_COLUMNS), run=run, make_codes=codes)
        ledger.record_controls(pl.DataFrame(holdout), run=run)
        used = ledger.find_coupon(code=ledger.coupons().filter(pl.col("customer_id") == "C2")["code"][0])
        ledger.record_redemptions(
            pl.DataFrame(
                [(used["code"], used["coupon_id"], "2026-11-30", "S1", "R1", "2002", 10.0, "r.csv", 2, "accepted", None)],
                schema=["code", "coupon_id", "redeemed_at", "store_id", "receipt_id", "card_number", "discount",
                        "source_file", "line", "status", "reason"],
                orient="row",
            )
        )  # fmt: skip
        void = ledger.coupons().filter(pl.col("customer_id") == "C8")["code"].to_list()
        ledger.void_coupons(codes=void)
    return job, settings


def at(settings: Settings, day: date) -> Settings:
    return Settings(settings.data_dir, settings.out_dir, settings.ledger_path, day, settings.seed)


def test_only_unused_coupons_of_consenting_holders_are_reminded_once_per_customer(setup):
    job, settings = setup
    result = run_reminders(job, at(settings, date(2026, 12, 4)))
    # C1 x2, C2, C3, C4 of cs and C9 of sorry expire within 3 days; C5 later, C7's campaign is quiet
    assert (result.expiring, result.redeemed, result.reminded_before, result.due) == (6, 1, 0, 5)
    assert (result.holders, result.unreachable, result.suppressed, result.rejected) == (4, 2, 1, 0)
    assert (result.reminded, result.reminded_coupons, result.new) == (2, 3, 3)
    assert result.by_channel == {"email": 1, "sms": 0, "app": 1}
    folder = settings.out_dir / "2026-12-04" / "reminders"
    merge = pl.read_csv(folder / "email" / "merge.csv", infer_schema=False)
    assert merge["customer_id"].to_list() == ["C1"]  # one e-mail holding both coupons
    html = (folder / "email" / "html").glob("*.html").__next__().read_text(encoding="utf-8")
    assert "CODE000" in html and "CODE001" in html and "Last day: 12/6<" in html
    assert "not been used yet and expire soon" in html
    (app,) = [json.loads(line) for line in (folder / "app" / "messages.jsonl").read_text().splitlines()]
    assert (app["customer_id"], app["title"]) == ("C9", "Still sorry, Ivy")
    assert (folder / "email" / "_SUCCESS").exists() and (folder / "delivery" / "_SUCCESS").exists()
    with Ledger.open(settings.ledger_path) as ledger:
        recorded = ledger.reminders()
    assert recorded.select("customer_id", "channel", "as_of").rows() == [
        ("C1", "email", "2026-12-04"),
        ("C1", "email", "2026-12-04"),
        ("C9", "app", "2026-12-04"),
    ]


def test_a_rerun_of_the_night_records_nothing_new_and_publishes_the_same_messages(setup):
    job, settings = setup
    night = at(settings, date(2026, 12, 4))
    run_reminders(job, night)
    merge = settings.out_dir / "2026-12-04" / "reminders" / "email" / "merge.csv"
    first = merge.read_bytes()
    again = run_reminders(job, night)
    assert (again.new, again.reminded, again.reminded_coupons) == (0, 2, 3)
    assert merge.read_bytes() == first
    with Ledger.open(settings.ledger_path) as ledger:
        assert ledger.reminders().height == 3


def test_a_later_night_reminds_no_coupon_twice_but_one_whose_holder_now_consents(setup):
    job, settings = setup
    run_reminders(job, at(settings, date(2026, 12, 4)))
    customers = settings.data_dir / "customers.csv"
    text = customers.read_text(encoding="utf-8")
    customers.write_text(
        text.replace("C3,2003,c3@x.com,+79160000003,false", "C3,2003,c3@x.com,+79160000003,true")
    )
    later = run_reminders(job, at(settings, date(2026, 12, 5)))
    assert (later.expiring, later.redeemed, later.reminded_before, later.due) == (6, 1, 3, 2)
    assert (later.reminded, later.new, later.unreachable) == (1, 1, 1)  # C3 now; C4 still suppressed
    with Ledger.open(settings.ledger_path) as ledger:
        assert ledger.reminders()["customer_id"].to_list() == ["C1", "C1", "C9", "C3"]
        assert "C6" not in ledger.reminders()["customer_id"].to_list()  # the holdout member


def test_days_override_every_campaigns_own_days(setup):
    job, settings = setup
    result = run_reminders(job, at(settings, date(2026, 12, 4)), days=20)
    assert result.expiring == 7  # C5's coupon, expiring on 12-20, is within 20 days
    assert run_reminders(job, at(settings, date(2026, 12, 4)), days=1).expiring == 0


def test_due_reminders_splits_expiring_coupons_by_campaign_days():
    expiring = pl.DataFrame(
        {
            "code": ["A", "B", "C", "D", "E"],
            "campaign": ["x", "x", "y", "x", "z"],
            "valid_to": ["2026-12-02", "2026-12-04", "2026-12-02", "2026-12-01", "2026-12-01"],
            "uses": [0, 0, 0, 1, 0],
            "reminded_on": [None, None, "2026-11-30", None, None],
        }
    )
    found = due_reminders(expiring, as_of=date(2026, 12, 1), days={"x": 2, "y": 5})
    assert found.due["code"].to_list() == ["A"]  # B is 3 days away, E's campaign does not remind
    assert (found.expiring, found.redeemed, found.reminded_before) == (3, 1, 1)
    tonight = due_reminders(expiring, as_of=date(2026, 11, 30), days={"y": 5})
    assert tonight.due["code"].to_list() == ["C"]  # reminded on this very night: published again


def test_a_missing_reminder_template_is_a_config_error_naming_the_file(setup, tmp_path):
    job, settings = setup
    folder = tmp_path / "templates"
    folder.mkdir()
    for f in TEMPLATES.iterdir():
        if f.name != "reminder_sms_en.txt.j2":
            (folder / f.name).write_bytes(f.read_bytes())
    channels = job.config.channels.model_copy(update={"templates": str(folder)})
    job = Job(job.path, job.config.model_copy(update={"channels": channels}), job.campaigns)
    with pytest.raises(ConfigError, match=r"templates/reminder_sms_en\.txt\.j2: template not found$"):
        run_reminders(job, settings)


def test_no_ledger_is_an_input_error(setup, tmp_path):
    job, settings = setup
    missing = Settings(settings.data_dir, settings.out_dir, tmp_path / "none.sqlite", NIGHT, 1)
    with pytest.raises(InputError, match="no coupon ledger there"):
        run_reminders(job, missing)


def test_a_redemption_after_the_night_does_not_count_on_it(setup):
    job, settings = setup
    # C2 used the coupon on 2026-11-30: on the night of 2026-11-29 it was still unused
    early = run_reminders(job, at(settings, date(2026, 11, 29)), days=10)
    assert (early.expiring, early.redeemed) == (6, 0)


def test_the_command_prints_its_reconciliation_and_a_missing_ledger_exits_2(tmp_path):
    job = tmp_path / "job.toml"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "data" / "products.csv").write_text(
        "sku,name,category\nP1,Spaghetti,pasta\n", encoding="utf-8"
    )
    (tmp_path / "cs.toml").write_text(
        'name = "cs"\ntype = "cross_sell"\nreward = { type = "percent", value = 15 }\n'
    )
    job.write_text(
        f'name = "t"\ndata = "data"\nout = "out"\nledger = "out/ledger.sqlite"\ncampaigns = ["cs.toml"]\n'
        f'[channels]\ntemplates = "{TEMPLATES}"\n'
    )
    missing = invoke("remind", "--config", str(job), "--as-of", "2026-12-04")
    assert missing.exit_code == 2
    assert (
        missing.output
        == f"Error: {tmp_path / 'out' / 'ledger.sqlite'}: no coupon ledger there (check --ledger, --out or --config)\n"
    )
    with Ledger.open(tmp_path / "out" / "ledger.sqlite") as ledger:
        run = ledger.start_run(job="t", as_of=NIGHT, config_hash="h")
        ledger.issue_coupons(
            pl.DataFrame([coupon("C1", "cs")], schema=OFFER_COLUMNS),
            run=run,
            make_codes=lambda n: (["A1"], ["A1"]),
        )
    done = invoke("remind", "--config", str(job), "--as-of", "2026-12-04", "--days", "2")
    assert done.exit_code == 0
    assert done.output.splitlines()[:3] == [
        "reminders for 2026-12-04: 1 coupons expire soon = 1 due + 0 redeemed + 0 reminded before",
        "holders: 1 customers = 1 reminded (email 1, sms 0, app 0) + 0 without consent or contact (0 suppressed) + 0 not sent",
        "coupons reminded: 1 (1 new tonight)",
    ]
    assert invoke("remind", "--config", str(job), "--days", "0").exit_code == 2  # usage error
