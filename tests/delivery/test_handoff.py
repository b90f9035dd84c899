"""The e-mail hand-off: merge fields, .eml files with inline images, barcode images people read."""

from __future__ import annotations

import email
import json
from email import policy
from io import BytesIO

import numpy as np
import polars as pl
import pytest
import zxingcpp
from PIL import Image

from coupongen.delivery.eml import build_eml, content_id
from coupongen.delivery.images import ImageStyle, human_readable, render_png
from coupongen.delivery.merge_fields import merge_frame, reward_text
from tests.delivery.test_messages import coupon, render

PAYLOADS = {
    "ean13": "4006144577350",
    "code128": "CPN-7KQ2-MX9P-4",
    "gs1_128": "(255)4012345000016123456(17)261231",
    "qr": "CPN-7KQ2-MX9P-4A",
}


@pytest.mark.parametrize("symbology", sorted(PAYLOADS))
@pytest.mark.parametrize(
    "style", [ImageStyle(text=True, qr_module_px=8), ImageStyle(text=True, qr_quiet_modules=2)]
)
def test_every_night_image_scans_back_and_1d_codes_print_their_digits(symbology, style):
    png = style.png(PAYLOADS[symbology], symbology)
    (result,) = zxingcpp.read_barcodes(Image.open(BytesIO(png)))
    assert result.text == PAYLOADS[symbology]
    if symbology != "qr":
        with_text = np.asarray(Image.open(BytesIO(png)).convert("L"))
        bars_only = Image.open(BytesIO(render_png(PAYLOADS[symbology], symbology))).height
        band = with_text[bars_only:]
        assert band.shape[0] > 20 and (band < 128).any()  # a dark line of text under the bars


def test_qr_size_and_quiet_zone_follow_the_style():
    # a 16-character code at level M is a version-1 symbol: 21 modules, plus the quiet zone
    assert Image.open(BytesIO(ImageStyle(qr_module_px=8).png(PAYLOADS["qr"], "qr"))).size == (232, 232)
    assert Image.open(
        BytesIO(ImageStyle(qr_module_px=5, qr_quiet_modules=2).png(PAYLOADS["qr"], "qr"))
    ).size == (
        125,
        125,
    )


def test_the_digits_a_cashier_keys():
    assert human_readable("4006144577350", "ean13") == "4006144577350"
    assert human_readable(PAYLOADS["gs1_128"], "gs1_128") == PAYLOADS["gs1_128"]
    assert human_readable("CPN-7KQ2", "code128") == "CPN-7KQ2"
    assert human_readable("https://shop.example/c/X", "qr") == ""


def test_reward_in_figures():
    assert [
        reward_text(t, v, "RUB")
        for t, v in (("percent", 15.0), ("amount", 150.5), ("points", 200.0), ("multiplier", 2.0))
    ] == [
        "15%",
        "150.50 RUB",
        "+200",
        "x2",
    ]


def test_merge_file_has_one_column_per_field_and_fixed_slots():
    ean = coupon(
        "C2",
        "BBB",
        barcode_value="4006144577350",
        symbology="ean13",
        reward_type="amount",
        reward_value=300.0,
    )
    msgs = render([coupon("C2", "AAA"), ean], [("C2", "email", 2)])
    merge = merge_frame(msgs.email, slots=3)
    assert merge.columns[:8] == [
        "customer_id", "email", "first_name", "locale", "subject", "coupon_count", "html_file", "eml_file",
    ]  # fmt: skip
    assert len(merge.columns) == 8 + 3 * 8
    row = merge.row(0, named=True)
    assert row["coupon_count"] == 2 and row["html_file"] == "html/C2.html"
    assert row["coupon1_headline"] == "15% off Spaghetti <Barilla> 500 g"  # text, not HTML: unescaped
    assert (row["coupon1_code"], row["coupon1_barcode_digits"], row["coupon1_reward"]) == (
        "AAA",
        "AAA",
        "15%",
    )
    assert (row["coupon2_code"], row["coupon2_barcode_digits"], row["coupon2_reward"]) == (
        "BBB",
        "4006144577350",
        "300 RUB",
    )
    assert row["coupon2_valid_to"] == "2026-12-06" and row["coupon1_image_url"] is None
    assert row["coupon3_code"] is None
    # the e-mail itself shows the EAN digits next to the code
    assert "BBB</b> (4006144577350)" in msgs.email["html"].item()


def test_merge_image_url_is_the_absolute_link():
    msgs = render(
        [coupon("C2", "AAA")], [("C2", "email", 1)], image_paths={"AAA": "https://cdn.example/c/qr/AAA.png"}
    )
    assert merge_frame(msgs.email, slots=1)["coupon1_image_url"].item() == "https://cdn.example/c/qr/AAA.png"


def test_eml_carries_relatively_linked_images_inline():
    png = render_png("AAA", "qr")
    html = '<p>Hi</p><img src="../images/qr/AAA.png" alt="AAA">'
    args = dict(
        to="a@x.ru",
        subject="Ваши купоны",
        html=html,
        images={"../images/qr/AAA.png": "qr/AAA.png"},
        image_data={"qr/AAA.png": png},
        unsubscribe_url="*|UNSUB|*",
    )
    data = build_eml(**args)
    assert data == build_eml(**args)  # same message, same bytes
    msg = email.message_from_bytes(data, policy=policy.default)
    assert msg["To"] == "a@x.ru" and msg["Subject"] == "Ваши купоны"
    assert msg["List-Unsubscribe"] == "<*|UNSUB|*>"
    assert msg.get_content_type() == "multipart/related"
    body, image = list(msg.iter_parts())
    assert f'src="cid:{content_id("AAA")}"' in body.get_content() and "../images" not in body.get_content()
    assert image["Content-ID"] == f"<{content_id('AAA')}>"
    assert image.get_content() == png


def test_eml_keeps_absolute_links():
    html = '<img src="https://cdn.example/qr/AAA.png">'
    msg = email.message_from_bytes(
        build_eml(to="a@x.ru", subject="S", html=html, images={}, image_data={}, unsubscribe_url="{{u}}"),
        policy=policy.default,
    )
    assert msg.get_content_type() == "text/html" and "https://cdn.example/qr/AAA.png" in msg.get_content()


def test_fields_column_is_json_per_message():
    msgs = render([coupon("C2", "AAA")], [("C2", "email", 1)])
    (fields,) = json.loads(msgs.email["fields"].item())
    assert fields["code"] == "AAA" and fields["reward_type"] == "percent"
    assert isinstance(merge_frame(msgs.email.head(0), slots=2), pl.DataFrame)
