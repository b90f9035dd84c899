"""Tests for the image rendering stage: every image is decoded back with zxing-cpp."""

from __future__ import annotations

import json
import re
import stat
import xml.etree.ElementTree as ET
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import qrcode
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from polars.testing import assert_frame_equal

from coupongen.codes.gs1 import check_digit as gs1_check_digit
from coupongen.delivery.image_files import MANIFEST_NAME, PACK_NAME, read_pack, render_images
from coupongen.delivery.images import (
    SYMBOLOGIES,
    _encode_qr,
    render_png,
    render_svg,
)
from coupongen.errors import CodeFormatError

GCN = "(255)4012345000016123456(17)261231"
PAYLOADS = {
    "ean13": "4006144577350",
    "code128": "CPN-7KQ2-MX9P-4",
    "gs1_128": GCN,
    "qr": "CPN-7KQ2-MX9P-4A",
}
# ISO/IEC 15424 identifiers zxing reports: ]C1 = Code 128 with FNC1 first (GS1-128).
SYMBOLOGY_IDENTIFIERS = {"ean13": "]E0", "code128": "]C0", "gs1_128": "]C1", "qr": "]Q1"}
SVG_NS = "http://www.w3.org/2000/svg"
SVG_ROOT = f"{{{SVG_NS}}}svg"


def decode(png: bytes) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(Image.open(BytesIO(png)))


def decoded_text(png: bytes) -> str:
    (result,) = decode(png)
    return result.text


# --- decoding back ------------------------------------------------------------------------------


@pytest.mark.parametrize("symbology", SYMBOLOGIES)
@pytest.mark.parametrize("module_px", [1, 2, 3])
def test_png_decodes_to_payload(symbology, module_px):
    (result,) = decode(render_png(PAYLOADS[symbology], symbology, module_px=module_px))
    assert (result.text, result.symbology_identifier) == (
        PAYLOADS[symbology],
        SYMBOLOGY_IDENTIFIERS[symbology],
    )


@pytest.mark.parametrize("symbology", SYMBOLOGIES)
def test_png_with_text_line_still_decodes(symbology):
    plain = Image.open(BytesIO(render_png(PAYLOADS[symbology], symbology)))
    png = render_png(PAYLOADS[symbology], symbology, text=True)
    image = Image.open(BytesIO(png))
    assert decoded_text(png) == PAYLOADS[symbology]
    if symbology == "qr":
        assert image.size == plain.size  # QR codes carry no text line
    else:
        assert image.mode == "L" and image.height > plain.height


def test_png_is_one_bit_with_standard_quiet_zones():
    # EAN-13: 95 modules + 11 left + 7 right; QR version 1 (21 modules) + 4 on each side.
    ean = Image.open(BytesIO(render_png("4006144577350", "ean13", module_px=2)))
    qr = Image.open(BytesIO(render_png("CPN-1", "qr", module_px=2)))
    bare = Image.open(BytesIO(render_png("4006144577350", "ean13", module_px=2, quiet_zone=False)))
    assert (ean.mode, ean.width, qr.size) == ("1", 2 * 113, (2 * 29, 2 * 29))
    assert ean.height >= 50 and bare.width == 2 * 95
    row = np.asarray(ean.convert("L"))[0]
    assert (row[: 2 * 11] == 255).all() and row[2 * 11] == 0  # light quiet zone, then the guard


def test_gs1_128_has_fnc1_first_and_after_variable_length_ai():
    (result,) = decode(render_png(GCN, "gs1_128"))
    assert result.symbology_identifier == "]C1"  # FNC1 in first position
    assert result.content_type == zxingcpp.ContentType.GS1
    assert result.text == GCN  # zxing formats GS1 content with parentheses
    # AI 255 is variable length, so a group separator (FNC1) ends it; the parentheses are not data.
    assert result.bytes == b"2554012345000016123456\x1d17261231"


@pytest.mark.parametrize(
    ("payload", "raw"),
    [
        # odd digit count before FNC1: Code 128 has to leave code set C for one digit
        ("(255)40123450000161234567(17)261231", b"25540123450000161234567\x1d17261231"),
        # fixed-length AI first needs no separator; the last element string never has one
        ("(17)261231(255)4012345000016", b"172612312554012345000016"),
        ("(255)4012345000016(10)LOT-A1(17)270101", b"2554012345000016\x1d10LOT-A1\x1d17270101"),
    ],
)
def test_gs1_128_separators(payload, raw):
    (result,) = decode(render_png(payload, "gs1_128"))
    assert (result.text, result.bytes) == (payload, raw)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30))
def test_code128_round_trips_printable_ascii(payload):
    assert decoded_text(render_png(payload, "code128", module_px=2)) == payload


@pytest.mark.parametrize(
    "payload",
    [
        "https://shop.example/c/CPN-7KQ2-MX9P-4?utm_source=email",
        "CPN-7KQ2-MX9P-4." + "a1B2c3D4e5F6g7H8" * 12,  # a signed payload, ~210 characters
        "Café 10 % off",
        "12345678901234567890",
    ],
)
def test_qr_decodes_long_and_non_ascii_payloads(payload):
    assert decoded_text(render_png(payload, "qr", module_px=2)) == payload


@pytest.mark.parametrize("length", [1, 16, 40, 90, 150, 256])
def test_qr_matrix_is_the_one_qrcode_chooses(length):
    # Guards the numpy mask scoring: same version and mask as qrcode's own 8-mask evaluation.
    payload = ("CPN-7KQ2-mx9p/4?" * 16)[:length]
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(payload)
    qr.make(fit=True)
    np.testing.assert_array_equal(_encode_qr(payload), np.array(qr.modules, dtype=bool))


@pytest.mark.parametrize("symbology", SYMBOLOGIES)
def test_png_is_deterministic(symbology):
    assert render_png(PAYLOADS[symbology], symbology) == render_png(PAYLOADS[symbology], symbology)


@pytest.mark.parametrize("symbology", SYMBOLOGIES)
def test_svg_is_xml_with_svg_root(symbology):
    root = ET.fromstring(render_svg(PAYLOADS[symbology], symbology))
    assert root.tag == SVG_ROOT


@pytest.mark.parametrize("symbology", ["ean13", "code128", "gs1_128"])
def test_linear_svg_draws_the_png_bars_and_the_human_readable_line(symbology):
    # No SVG rasteriser is at hand: read the bars back from the rectangles (x and width in mm).
    root = ET.fromstring(render_svg(PAYLOADS[symbology], symbology))
    bars = [r for r in root.iter(f"{{{SVG_NS}}}rect") if r.get("x")]
    spans = [(float(r.get("x")[:-2]), float(r.get("width")[:-2])) for r in bars]
    module = min(width for _, width in spans)
    origin = spans[0][0]
    dark = np.zeros(round((spans[-1][0] + spans[-1][1] - origin) / module), dtype=bool)
    for x, width in spans:
        dark[round((x - origin) / module) : round((x + width - origin) / module)] = True
    png = np.asarray(
        Image.open(BytesIO(render_png(PAYLOADS[symbology], symbology, module_px=1, quiet_zone=False)))
    )
    np.testing.assert_array_equal(dark, ~png[0])
    (text,) = (t.text for t in root.iter(f"{{{SVG_NS}}}text"))
    assert text == PAYLOADS[symbology]


def test_qr_svg_draws_the_png_modules():
    root = ET.fromstring(render_svg(PAYLOADS["qr"], "qr"))
    (path,) = root.iter(f"{{{SVG_NS}}}path")
    corners = re.findall(r"M(\d+),(\d+)H", path.get("d"))
    matrix = _encode_qr(PAYLOADS["qr"])
    drawn = np.zeros_like(matrix)
    for x, y in corners:
        drawn[int(y) - 4, int(x) - 4] = True  # 4-module quiet zone
    np.testing.assert_array_equal(drawn, matrix)


# --- bad input ----------------------------------------------------------------------------------


def test_gs1_check_digit_known_answers():
    assert gs1_check_digit("400614457735") == "0"
    assert gs1_check_digit("401234500001") == "6"


@pytest.mark.parametrize(
    ("payload", "symbology", "message"),
    [
        ("4006144577351", "ean13", "EAN-13 payload '4006144577351' has check digit 1, expected 0"),
        ("400614457735", "ean13", "EAN-13 payload must be exactly 13 digits, got '400614457735'"),
        ("40061445773A0", "ean13", "EAN-13 payload must be exactly 13 digits"),
        ("CPN-ÄÖ", "code128", "Code 128 payload must be printable ASCII"),
        ("", "code128", "Code 128 payload must be printable ASCII"),
        ("2554012345000016", "gs1_128", "GS1-128 payload must be element strings"),
        ("(17)2612", "gs1_128", "GS1 AI (17) takes 6 digits, got '2612'"),
        ("(255)4012345000017", "gs1_128", "GS1 AI (255) '4012345000017' has check digit 7"),
        (
            "(255)4012345000016123456789012(10)ABCDEFGHIJKLMNOPQRST",
            "gs1_128",
            "GS1-128 payload '(255)4012345000016123456789012(10)ABCDEFGHIJKLMNOPQRST' has 51 data "
            "characters with separators; at most 48 allowed",
        ),
        ("(17)261331", "gs1_128", "GS1 AI (17) must be a date YYMMDD, got '261331'"),
        ("(255)4012345000016(10)", "gs1_128", "GS1 AI (10) has empty or invalid data ''"),
        ("", "qr", "QR payload is empty"),
        ("x" * 257, "qr", "QR payload is 257 characters long; at most 256 allowed"),
        (
            "123",
            "pdf417",
            "Unknown symbology 'pdf417'; allowed values: code128, ean13, gs1_128, qr",
        ),
    ],
)
def test_bad_payload_raises_value_error(payload, symbology, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        render_png(payload, symbology)
    with pytest.raises(CodeFormatError, match="^" + re.escape(message)):
        render_svg(payload, symbology)


# --- render_images ------------------------------------------------------------------------------

ITEMS = pl.DataFrame(
    {
        "code": ["CPN-7KQ2-MX9P-4", "CPN-AAAA-BBBB-1", "E1", "G1"],
        "payload": ["CPN-7KQ2-MX9P-4", "https://shop.example/c/CPN-AAAA-BBBB-1", "4006144577350",
                    GCN],
        "symbology": ["code128", "qr", "ean13", "gs1_128"],
    }
)  # fmt: skip


def mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}


def test_the_images_and_their_manifest_are_readable_by_the_owner_only(tmp_path):
    # both name every coupon's code, and a code redeems its coupon
    folder = tmp_path / "images"
    render_images(ITEMS, folder, formats=("png",), workers=1)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in (MANIFEST_NAME, PACK_NAME):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    # as an earlier version left them; a rerun with the same images rewrites neither file
    folder.chmod(0o755)
    for name in (MANIFEST_NAME, PACK_NAME):
        (folder / name).chmod(0o644)
    render_images(ITEMS, folder, formats=("png",), workers=1)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in (MANIFEST_NAME, PACK_NAME):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600


def test_render_images_packs_every_image_into_one_archive_named_by_code(tmp_path):
    result = render_images(ITEMS, tmp_path, formats=("png", "svg"), workers=1)
    expected = ITEMS.with_columns(
        png_path=pl.Series(["code128/CPN-7KQ2-MX9P-4.png", "qr/CPN-AAAA-BBBB-1.png",
                            "ean13/E1.png", "gs1_128/G1.png"]),
        svg_path=pl.Series(["code128/CPN-7KQ2-MX9P-4.svg", "qr/CPN-AAAA-BBBB-1.svg",
                            "ean13/E1.svg", "gs1_128/G1.svg"]),
    )  # fmt: skip
    assert_frame_equal(result, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST_NAME, PACK_NAME]  # two files, not eight
    pack = read_pack(tmp_path)
    assert list(pack) == [name for row in result.iter_rows() for name in row[3:]]  # in the order of items
    for row in result.iter_rows(named=True):
        png = pack[row["png_path"]]
        assert png == render_png(row["payload"], row["symbology"])
        assert decoded_text(png) == row["payload"]
        assert ET.fromstring(pack[row["svg_path"]]).tag == SVG_ROOT
    with zipfile.ZipFile(tmp_path / PACK_NAME) as archive:  # any unzip tool reads it
        assert archive.testzip() is None
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}


def test_render_images_rerun_leaves_the_archive_untouched(tmp_path):
    first = render_images(ITEMS, tmp_path, workers=1)
    before = mtimes(tmp_path)
    contents = {name: (tmp_path / name).read_bytes() for name in before}
    second = render_images(ITEMS, tmp_path, workers=1)
    assert_frame_equal(second, first)
    assert mtimes(tmp_path) == before
    assert {name: (tmp_path / name).read_bytes() for name in before} == contents


def test_render_images_same_images_same_archive_bytes(tmp_path):
    render_images(ITEMS, tmp_path / "a", workers=1)
    render_images(ITEMS, tmp_path / "b", workers=1)
    assert (tmp_path / "a" / PACK_NAME).read_bytes() == (tmp_path / "b" / PACK_NAME).read_bytes()


def test_render_images_without_manifest_compares_bytes(tmp_path):
    render_images(ITEMS, tmp_path, workers=1)
    before = (tmp_path / PACK_NAME).stat().st_mtime_ns
    (tmp_path / MANIFEST_NAME).unlink()
    render_images(ITEMS, tmp_path, workers=1)
    assert (tmp_path / PACK_NAME).stat().st_mtime_ns == before  # drawn again, the same bytes: kept
    assert len(json.loads((tmp_path / MANIFEST_NAME).read_text())["files"]) == len(ITEMS)


def test_render_images_replaces_a_damaged_archive_and_changed_images(tmp_path):
    render_images(ITEMS, tmp_path, workers=1)
    (tmp_path / PACK_NAME).write_bytes(b"truncated")
    changed = ITEMS.with_columns(
        payload=pl.when(pl.col("code") == "G1")
        .then(pl.lit("(255)4012345000016999(17)261231"))
        .otherwise(pl.col("payload"))
    )
    render_images(changed, tmp_path, workers=1)
    pack = read_pack(tmp_path)
    assert decoded_text(pack["ean13/E1.png"]) == "4006144577350"
    assert decoded_text(pack["gs1_128/G1.png"]) == "(255)4012345000016999(17)261231"
    render_images(ITEMS, tmp_path, workers=1)  # changed back: the image is drawn again
    assert decoded_text(read_pack(tmp_path)["gs1_128/G1.png"]) == GCN


def test_render_images_two_workers_match_one(tmp_path):
    items = pl.DataFrame(
        {
            "code": [f"C{i:03d}" for i in range(40)],
            "payload": [f"CPN-{i:04d}-TEST" if i % 2 else f"200000{i:06d}" for i in range(40)],
            "symbology": ["qr" if i % 2 else "ean13" for i in range(40)],
        }
    ).with_columns(
        payload=pl.when(pl.col("symbology") == "ean13")
        .then(pl.col("payload") + pl.col("payload").map_elements(gs1_check_digit, pl.String))
        .otherwise(pl.col("payload"))
    )
    one = render_images(items, tmp_path / "one", workers=1)
    two = render_images(items, tmp_path / "two", workers=2)
    assert_frame_equal(two, one)
    assert (tmp_path / "two" / PACK_NAME).read_bytes() == (tmp_path / "one" / PACK_NAME).read_bytes()
    assert (tmp_path / "two" / MANIFEST_NAME).read_bytes() == (tmp_path / "one" / MANIFEST_NAME).read_bytes()


def test_render_images_with_no_items_writes_nothing(tmp_path):
    result = render_images(ITEMS.head(0), tmp_path / "out", formats=("svg",))
    assert_frame_equal(result, ITEMS.head(0).with_columns(svg_path=pl.lit(None, pl.String)))
    assert [p.name for p in (tmp_path / "out").iterdir()] == [MANIFEST_NAME]


def test_bad_module_px():
    with pytest.raises(ValueError, match=r"^module_px must be a positive integer, got 0$"):
        render_png("CPN-1", "qr", module_px=0)


def test_render_images_missing_columns(tmp_path):
    with pytest.raises(CodeFormatError) as error:
        render_images(ITEMS.select("code"), tmp_path)
    assert str(error.value) == "Input data is missing required columns: ['payload', 'symbology']"


def test_render_images_reports_every_bad_row_before_writing(tmp_path):
    items = pl.concat(
        [
            ITEMS,
            pl.DataFrame(
                {
                    "code": ["BAD-EAN", "../escape"],
                    "payload": ["4006144577351", "x"],
                    "symbology": ["ean13", "qr"],
                }
            ),
        ]
    )
    with pytest.raises(CodeFormatError) as error:
        render_images(items, tmp_path, workers=1)
    assert str(error.value) == (
        "2 rows cannot be rendered: code 'BAD-EAN': EAN-13 payload '4006144577351' has check "
        "digit 1, expected 0; code '../escape' is not a safe file name (A-Z, a-z, 0-9, '_.-')"
    )
    assert list(tmp_path.iterdir()) == []


def test_render_images_rejects_duplicate_codes_and_unknown_formats(tmp_path):
    with pytest.raises(CodeFormatError, match=r"^Duplicate codes: E1$"):
        render_images(pl.concat([ITEMS, ITEMS.slice(2, 1)]), tmp_path)
    with pytest.raises(CodeFormatError, match=r"^Unknown image formats \['jpg'\]; allowed values"):
        render_images(ITEMS, tmp_path, formats=("png", "jpg"))
