"""A campaign's own subject and body per locale, in the one message each customer gets."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from coupongen.config import CampaignConfig, Job, JobConfig
from coupongen.delivery.campaign_messages import compile_messages
from coupongen.delivery.messages import render_messages
from coupongen.delivery.templates import template_environment
from coupongen.errors import ConfigError
from tests.delivery.test_messages import TEMPLATES, coupon, customers

APOLOGY = {
    "en": {
        "subject": "We are sorry, {{ first_name }}",
        "body": "You told us we let you down. Please accept {{ coupons[0].reward_value | number }} {{ currency }} "
        "off your next visit <with our apologies>.",
    },
    "ru": {"subject": "Простите нас", "body": "Нам жаль, что мы вас подвели."},
}


def job(messages: dict) -> Job:
    sorry = CampaignConfig.model_validate(
        {
            "name": "sorry",
            "type": "service_recovery",
            "reward": {"type": "amount", "value": 300},
            "messages": messages,
        }
    )
    other = CampaignConfig.model_validate(
        {"name": "cs", "type": "cross_sell", "reward": {"type": "percent", "value": 15}}
    )
    return Job(Path("/jobs/job.toml"), JobConfig(), (sorry, other))


def render(coupons, chosen):
    ranked = [
        (cid, sorted({c["campaign"] for c in coupons if c["customer_id"] == cid}), [ch], 1)
        for cid, ch in chosen
    ]
    schema = {
        "customer_id": pl.String,
        "campaigns": pl.List(pl.String),
        "channels": pl.List(pl.String),
        "coupons": pl.Int64,
    }
    templates = template_environment(TEMPLATES, locale="ru_RU", currency="RUB")
    return render_messages(
        pl.DataFrame(coupons),
        pl.DataFrame(ranked, schema=schema, orient="row"),
        customers(),
        {"P1": "Spaghetti"},
        templates,
        brand="Shop",
        currency="RUB",
        max_sms_parts=3,
        campaign_messages=compile_messages(job(APOLOGY), templates.text),
    )


def test_the_campaigns_subject_and_body_replace_the_generic_words():
    sorry = {
        "campaign": "sorry",
        "offer_type": "service_recovery",
        "reward_type": "amount",
        "reward_value": 300.0,
    }
    msgs = render(
        [coupon("C2", "AAA", **sorry), coupon("C1", "BBB", **sorry), coupon("C5", "CCC")],
        [("C2", "email"), ("C1", "app"), ("C5", "email")],
    )
    email = msgs.email.sort("customer_id")
    assert email["subject"].to_list() == ["We are sorry, Bob", "Eve, ваши персональные купоны Shop"]
    bob = email["html"][0]
    assert (
        "You told us we let you down. Please accept 300 RUB off your next visit &lt;with our apologies&gt;."
        in bob
    )
    assert "We picked" not in bob
    # Eve holds no coupon of a campaign with its own words (and reads Russian, the default)
    assert "Мы подобрали для вас персональное предложение" in email["html"][1]
    assert json.loads(msgs.app["payload"].item())["title"] == "Простите нас"


def test_a_syntax_error_in_a_campaign_message_names_the_campaign_and_key():
    bad = {"en": {"subject": "Sorry {{ first_name ", "body": "x"}}
    with pytest.raises(ConfigError) as e:
        compile_messages(job(bad), template_environment(TEMPLATES, locale="ru_RU", currency="RUB").text)
    assert str(e.value) == (
        "/jobs/job.toml: campaign 'sorry': messages.en.subject: line 1: unexpected end of template, "
        "expected 'end of print statement'."
    )


def test_a_message_locale_must_look_like_one():
    with pytest.raises(ValueError, match="'english' is not a locale"):
        job({"english": APOLOGY["en"]})
