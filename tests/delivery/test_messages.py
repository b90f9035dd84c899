from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from coupongen.delivery.channels import choose_channels, contact_status, rank_channels, read_suppression
from coupongen.delivery.messages import render_messages, sms_length
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


def render(coupons, chosen, max_sms_parts=3, image_paths=None):
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
        customers(),
        {"P1": "Spaghetti <Barilla> 500 g"},
        template_environment(TEMPLATES, locale="ru_RU", currency="RUB"),
        brand="Shop",
        currency="RUB",
        max_sms_parts=max_sms_parts,
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
    assert ranked.rows() == [("C1", ["sorry", "cs"], ["sms", "email"], 2), ("C4", ["cs"], ["app"], 1)]


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
        "Shop: the 1 cheapest of 3 × any item in coffee free, code CCC until 12/6",
    ]
