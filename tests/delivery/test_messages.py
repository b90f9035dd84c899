from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from coupongen.delivery.channels import choose_channels, contact_status, rank_channels, read_suppression
from coupongen.delivery.messages import LEFT_OUT, msisdn_of, phone_region, render_messages, sms_length
from coupongen.delivery.templates import template_environment

TEMPLATES = Path(__file__).resolve().parents[2] / "jobs" / "templates"


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts"),
    [
        ("A" * 160, "GSM-7", 160, 1),
        ("A" * 161, "GSM-7", 161, 2),  # split messages carry 153 septets each
        ("A" * 306, "GSM-7", 306, 2),
        ("A" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters take two septets
        ("[" + "A" * 159, "GSM-7", 161, 2),
        ("Я" * 70, "UCS-2", 70, 1),  # any Cyrillic makes the whole text UCS-2
        ("Я" * 71, "UCS-2", 71, 2),  # 67 per part once split
        ("A" * 134 + "Я", "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: two UTF-16 units each
    ],
)
def test_sms_length_known_answers(text, encoding, units, parts):
    got = sms_length(text)
    assert (got.encoding, got.units, got.parts) == (encoding, units, parts)


def customers() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5"],
            "email": ["a@x.ru", "B@Y.RU", None, "not-an-email", "e@x.ru"],
            "phone": ["+7 916 111-22-33", "+79162223344", "+79163334455", None, "+79165556677"],
            "email_opt_in": [True, True, False, True, True],
            "sms_opt_in": [True, True, True, False, False],
            "push_opt_in": [False, False, False, True, False],
            "first_name": ["Анна", "Bob", "Вера", "Dan", "Eve"],
            "locale": ["ru", "en", "ru", "en", None],
        }
    )


def test_contact_status_needs_consent_and_contact_and_honours_suppression(tmp_path):
    path = tmp_path / "suppress.txt"
    path.write_text("# complaints\nb@y.ru\n79165556677  # by phone\n")
    status = contact_status(customers(), read_suppression(path))
    assert status.rows() == [
        ("C1", False, True, True, False),
        ("C2", True, False, False, False),  # e-mail matched case-insensitively: no channel at all
        ("C3", False, False, True, False),
        ("C4", False, False, False, True),  # malformed e-mail is not a channel
        ("C5", True, False, False, False),  # phone matched on digits
    ]


def test_missing_suppression_list_is_an_input_error(tmp_path):
    with pytest.raises(Exception, match=r"suppression list not found"):
        read_suppression(tmp_path / "nope.txt")


def offers(pairs) -> pl.DataFrame:
    return pl.DataFrame({"customer_id": [c for c, _ in pairs], "campaign": [k for _, k in pairs]})


def test_one_channel_per_customer_from_the_leading_campaigns_priority():
    status = contact_status(customers())
    priorities = {"sorry": ("sms", "email"), "cs": ("app", "email", "sms")}
    chosen = choose_channels(
        offers([("C1", "cs"), ("C1", "sorry"), ("C3", "cs"), ("C4", "cs"), ("C5", "cs")]), status, priorities
    )
    assert chosen.rows() == [
        ("C1", "sms", 2),  # 'sorry' leads: its SMS first; both coupons in one message
        ("C3", "sms", 1),  # no app, no e-mail consent: falls back to SMS
        ("C4", "app", 1),
        ("C5", "email", 1),
    ]


def test_unreachable_customers_are_kept_with_no_channel():
    status = contact_status(customers(), ["C1"])
    chosen = choose_channels(offers([("C1", "cs")]), status, {"cs": ("email", "sms", "app")})
    assert chosen.rows() == [("C1", None, 1)]


def coupon(cid: str, code: str, **kw) -> dict:
    base = {
        "customer_id": cid,
        "code": code,
        "kind": "personal",
        "barcode_value": code,
        "symbology": "qr",
        "campaign": "cs",
        "offer_type": "cross_sell",
        "reward_type": "percent",
        "reward_value": 15.0,
        "target_kind": "sku",
        "target": "P1",
        "min_basket": 0.0,
        "valid_from": "2026-11-23",
        "valid_to": "2026-12-06",
        "max_uses": 1,
    }
    base.update(kw)
    return base


def render(coupons, chosen, max_sms_parts=3, image_paths=None, people=None, phone_region=None):
    """Render ``coupons`` for ``chosen``: (customer_id, channel or list of channels, coupons) rows."""
    ranked = [
        (cid, ["cs"], channels if isinstance(channels, list) else [channels], n)
        for cid, channels, n in chosen
    ]
    schema = {
        "customer_id": pl.String,
        "campaigns": pl.List(pl.String),
        "channels": pl.List(pl.String),
        "coupons": pl.Int64,
    }
    return render_messages(
        pl.DataFrame(coupons),
        pl.DataFrame(ranked, schema=schema, orient="row"),
        customers() if people is None else people,
        {"P1": "Spaghetti <Barilla> 500 g"},
        template_environment(TEMPLATES, locale="ru_RU", currency="RUB"),
        brand="Shop",
        currency="RUB",
        max_sms_parts=max_sms_parts,
        phone_region=phone_region,
        image_paths=image_paths,
    )


def test_a_customer_with_several_coupons_gets_one_message_holding_all():
    msgs = render(
        [
            coupon("C1", "AAA"),
            coupon(
                "C1",
                "BBB",
                reward_type="amount",
                reward_value=300.0,
                target_kind="basket",
                target=None,
                min_basket=1000.0,
            ),
        ],
        [("C1", "sms", 2)],
    )
    assert msgs.sms.height == 1
    text = msgs.sms["text"].item()
    assert text == (
        "Shop: скидка 15 % на Spaghetti <Barilla> 500 g, код AAA до 06.12; "
        "300 ₽ скидки на покупку от 1 000 ₽, код BBB до 06.12"
    )
    assert msgs.sms["msisdn"].item() == "79161112233"
    assert (msgs.sms["encoding"].item(), msgs.sms["parts"].item()) == ("UCS-2", 2)


def test_email_html_is_escaped_and_app_payload_is_json():
    msgs = render([coupon("C2", "AAA"), coupon("C4", "BBB")], [("C2", "email", 1), ("C4", "app", 1)])
    html = msgs.email["html"].item()
    assert "Spaghetti &lt;Barilla&gt; 500 g" in html and "<Barilla>" not in html
    assert msgs.email["subject"].item() == "Bob, your personal Shop coupons"
    payload = json.loads(msgs.app["payload"].item())
    assert payload["title"] == "A new personal coupon"
    assert payload["coupons"][0]["code"] == "BBB"


def test_an_sms_longer_than_allowed_falls_back_to_the_next_channel_or_no_message():
    many = [coupon(cid, f"{cid}CODE{i:08d}") for cid in ("C1", "C3") for i in range(4)]
    msgs = render(many, [("C1", ["sms", "email"], 4), ("C3", ["sms"], 4)], max_sms_parts=2)
    assert msgs.sms.is_empty()
    assert msgs.email["customer_id"].to_list() == ["C1"]
    assert msgs.outcomes.rows() == [("C1", "sms", "email"), ("C3", "sms", None)]
    reason = "SMS needs 5 parts (288 UCS-2 units), more than max_sms_parts=2"
    assert msgs.rejected.rows() == [("C1", "cs", "sms", reason, "email"), ("C3", "cs", "sms", reason, None)]
    assert msgs.counts() == {"planned": 2, "sent": 0, "fallen_back": 1, "rejected": 1}


def test_a_template_failing_on_one_customer_falls_back_without_contact_values():
    bad = coupon("C1", "AAA", reward_value=None)  # the money filter cannot format a missing value
    msgs = render([bad, coupon("C4", "BBB")], [("C1", ["sms", "email"], 1), ("C4", "app", 1)])
    assert msgs.outcomes.rows() == [("C1", "sms", None), ("C4", "app", "app")]
    assert msgs.rejected["channel"].to_list() == ["sms", "email"]
    assert all(
        r.startswith(("template sms_ru.txt.j2: ", "template email_ru.html.j2: "))
        for r in msgs.rejected["reason"]
    )
    assert not any("a@x.ru" in r or "9161112233" in r for r in msgs.rejected["reason"])
    assert msgs.counts() == {"planned": 2, "sent": 1, "fallen_back": 0, "rejected": 1}


def test_ranked_channels_keep_every_allowed_channel_in_preference_order():
    status = contact_status(customers())
    priorities = {"sorry": ("sms", "email"), "cs": ("app", "email", "sms")}
    ranked = rank_channels(offers([("C1", "cs"), ("C1", "sorry"), ("C4", "cs")]), status, priorities)
    assert ranked.rows() == [("C1", ["sorry", "cs"], ["sms", "email"], 2, []), ("C4", ["cs"], ["app"], 1, [])]


def test_a_coupon_never_travels_by_a_channel_its_campaign_does_not_list():
    # C1 may get e-mail and SMS; the VIP campaign speaks by app or e-mail only, cross-sell by SMS
    status = contact_status(customers())
    priorities = {"vip": ("app", "email"), "cs": ("sms",), "sorry": ("email", "sms")}
    ranked = rank_channels(offers([("C1", "cs"), ("C1", "vip"), ("C1", "sorry")]), status, priorities)
    # VIP leads: by e-mail, which the apology shares; the cross-sell coupon is left out of it
    assert ranked.rows() == [("C1", ["vip", "sorry"], ["email"], 2, ["cs"])]
    coupons = [
        coupon("C1", "VVV", campaign="vip"),
        coupon("C1", "XXX", campaign="cs"),
        coupon("C1", "SSS", campaign="sorry"),
    ]
    msgs = render_messages(
        pl.DataFrame(coupons),
        ranked,
        customers(),
        {"P1": "Spaghetti 500 g"},
        template_environment(TEMPLATES, locale="ru_RU", currency="RUB"),
        brand="Shop",
        currency="RUB",
        max_sms_parts=3,
    )
    assert msgs.sms.is_empty()
    assert msgs.email["codes"].to_list() == ["SSS VVV"]
    assert msgs.rejected.select("customer_id", "campaign", "channel", "reason").rows() == [
        ("C1", "cs", "email", LEFT_OUT)
    ]
    assert msgs.counts() == {"planned": 1, "sent": 1, "fallen_back": 0, "rejected": 0}
    assert msgs.left_out() == 1


def test_item_rewards_are_worded_in_each_language():
    items = dict(target_kind="category", target="coffee")
    coupons = [
        coupon("C1", "AAA", reward_type="free_product", reward_value=100.0, reward_get=1, **items),
        coupon(
            "C1", "BBB", reward_type="buy_x_get_y", reward_value=50.0, reward_buy=2, reward_get=1, **items
        ),
        coupon(
            "C2", "CCC", reward_type="cheapest_free", reward_value=100.0, reward_buy=3, reward_get=1, **items
        ),
    ]
    msgs = render(coupons, [("C1", "sms", 2), ("C2", "sms", 1)])
    assert msgs.sms.sort("customer_id")["text"].to_list() == [
        "Shop: 1 шт.: категорию «coffee» в подарок, код AAA до 06.12; "
        # CLDR: Russian writes a space before %, US English dates are month/day
        "купите 2 шт.: категорию «coffee», ещё 1 шт. со скидкой 50 %, код BBB до 06.12",
        "Shop: the 1 cheapest of 3 × any item in coffee free, code CCC until 12/6. Reply STOP to opt out",
    ]


# The SMS feed holds every number in one international format (E.164 digits, no '+'): a US
# retailer's national "212.555.0102" once went out as 2125550102, which a gateway reads as Morocco,
# and "(212) 555-0118" was refused.
@pytest.mark.parametrize(
    "phone",
    [
        "(212) 555-0118",
        "212-555-0118",
        "212.555.0118",
        "212 555 0118",
        "2125550118",
        "1-212-555-0118",
        "1 (212) 555-0118",
        "+1 212 555 0118",
        "+1 (212) 555-0118",
        "+12125550118",
        "011 1 212 555 0118",  # the US international prefix
    ],
)
def test_a_us_jobs_ways_of_writing_a_number_give_one_international_number(phone):
    assert msisdn_of(phone, "US") == "12125550118"


@pytest.mark.parametrize(
    "phone", ["030 1234567", "(030) 123 45 67", "030/1234567", "0049 30 1234567", "+49 (0)30 1234567"]
)
def test_a_german_jobs_national_numbers_drop_the_trunk_zero_for_the_country_code(phone):
    assert msisdn_of(phone, "DE") == "49301234567"


def test_a_number_written_with_another_countrys_code_stays_in_that_country():
    assert msisdn_of("+49 30 1234567", "US") == "49301234567"
    assert msisdn_of("+7 916 111-22-33", "US") == "79161112233"
    assert msisdn_of("+1 212 555 0118", "DE") == "12125550118"
    assert msisdn_of("8 (916) 111-22-33", "RU") == "79161112233"  # the Russian trunk prefix


@pytest.mark.parametrize(
    ("phone", "region"),
    [
        ("212 555 011", "US"),  # a digit short
        ("212 555 01188", "US"),  # a digit too many
        ("030 1234567", "US"),  # a German number, not a US one
        ("2125550118", None),  # no country code and no country to read it in
        ("+1 212 555 0118 ext 5", "US"),
        ("+1 212 555 0118, +1 212 555 0119", "US"),
        ("2125550118 2125550119", "US"),
        ("call 2125550118", "US"),
        ("()", "US"),
    ],
)
def test_a_number_not_valid_in_its_country_is_no_msisdn(phone, region):
    assert msisdn_of(phone, region) is None


def test_a_number_written_in_full_is_taken_as_written_when_its_length_fits_its_country():
    # 555 is no area code in service: written with its country code the number goes to the
    # gateway as written; written as a national number it cannot be read as a US number
    assert msisdn_of("+1 555 962 1966", "US") == "15559621966"
    assert msisdn_of("+1 555 962 1966", None) == "15559621966"
    assert msisdn_of("(555) 962-1966", "US") is None
    assert msisdn_of("+1 555 962 196", "US") is None  # a digit short


def test_the_phone_region_is_the_country_of_the_jobs_locale():
    assert [phone_region(locale) for locale in ("en_US", "de_DE", "ru_RU", "en_GB")] == [
        "US",
        "DE",
        "RU",
        "GB",
    ]
    assert phone_region("ru") is None  # a language alone names no country
    assert phone_region("es_419") is None  # Latin America: no one numbering plan


def test_sms_numbers_are_written_one_way_and_invalid_ones_are_refused_with_a_reason():
    people = customers().with_columns(
        phone=pl.Series(["(212) 555-0118", "212.555.0102", "030 1234567", None, "+7 916 555-66-77"])
    )
    chosen = [("C1", "sms", 1), ("C2", "sms", 1), ("C3", "sms", 1), ("C5", "sms", 1)]
    coupons = [coupon(cid, f"{cid}CODE") for cid, _, _ in chosen]
    msgs = render(coupons, chosen, people=people, phone_region="US")
    assert msgs.sms.select("customer_id", "msisdn").rows() == [
        ("C1", "12125550118"),
        ("C2", "12125550102"),
        ("C5", "79165556677"),
    ]
    assert msgs.rejected.rows() == [("C3", "cs", "sms", "phone number is not valid", None)]
    no_country = render(coupons, chosen, people=people)
    assert no_country.sms.select("customer_id", "msisdn").rows() == [("C5", "79165556677")]
    reason = "phone number has no country code and the job's locale names no country"
    assert no_country.rejected.rows() == [(cid, "cs", "sms", reason, None) for cid in ("C1", "C2", "C3")]


def test_a_suppressed_number_is_matched_however_the_list_and_the_customer_write_it():
    # Guards an opt-out: "+1 212 555 0118" on the list is the customer's "(212) 555-0118".
    people = customers().with_columns(
        phone=pl.Series(["(212) 555-0118", "+1 212 555 0102", "212.555.0103", None, "+7 916 555-66-77"])
    )
    entries = ["+1 212 555 0118", "(212) 555-0102", "89165556677"]
    us = contact_status(people, entries, phone_region="US")
    assert us.filter("suppressed")["customer_id"].to_list() == ["C1", "C2"]
    ru = contact_status(people, entries, phone_region="RU")  # 8 916...: the Russian trunk prefix
    assert ru.filter("suppressed")["customer_id"].to_list() == ["C5"]
    # a number sent as written (+1 555: no area code in service) is silenced however it is listed
    fictional = people.with_columns(phone=pl.Series(["+1 555 123 4567", "+44 7700 900123", None, None, None]))
    listed = ["(555) 123-4567", "07700 900123"]
    assert contact_status(fictional, listed, phone_region="US").filter("suppressed")[
        "customer_id"
    ].to_list() == ["C1"]
    assert contact_status(fictional, listed, phone_region="GB")["suppressed"].to_list()[:2] == [False, True]
