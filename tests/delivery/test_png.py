"""The 1-bit PNG writer gives Pillow's bytes; the QR encoder gives qrcode's codewords and symbol."""

from __future__ import annotations

from io import BytesIO

import numpy as np
import pytest
import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from qrcode import util

from coupongen.delivery.images import SYMBOLOGIES, _encode_linear, _linear_raster, render_png
from coupongen.delivery.png import png_1bit
from coupongen.delivery.qr_symbols import ERROR_CORRECTION, codewords, encode_qr, qr_raster

PAYLOADS = {
    "ean13": "4006144577350",
    "code128": "CPN-7KQ2-MX9P-4",
    "gs1_128": "(255)4012345000016123456(17)261231",
    "qr": "CPN-7KQ2-MX9P-4A",
}


def pillow_png(light: np.ndarray) -> bytes:
    buffer = BytesIO()
    Image.fromarray(light).save(buffer, "PNG", optimize=False, compress_level=1)
    return buffer.getvalue()


@pytest.mark.parametrize("symbology", SYMBOLOGIES)
@pytest.mark.parametrize("module_px", [1, 3])
def test_symbols_are_written_as_pillow_writes_them(symbology: str, module_px: int) -> None:
    payload = PAYLOADS[symbology]
    if symbology == "qr":
        light = qr_raster(encode_qr(payload), module_px, 4)
    else:
        light = _linear_raster(symbology, _encode_linear(payload, symbology), module_px, True)
    assert png_1bit(light) == pillow_png(light)
    assert render_png(payload, symbology, module_px=module_px) == pillow_png(light)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_any_image_is_written_as_pillow_writes_it(height: int, width: int, seed: int, share: float) -> None:
    # Random pixels make every filter (None, Up, Sub, Paeth) win on some row; odd widths pad bits.
    light = np.random.default_rng(seed).random((height, width)) < share
    light[height // 2 :] = light[: height - height // 2]  # repeated rows, as in barcodes
    assert png_1bit(light) == pillow_png(light)


def test_an_image_too_large_for_one_chunk_is_left_to_pillow() -> None:
    noise = np.random.default_rng(1).random((1200, 1200)) < 0.5
    assert png_1bit(noise) is None


def _qrcode_codewords(payload: str) -> tuple[int, list[int]]:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECTION)
    qr.add_data(payload)
    qr.make(fit=True)
    return qr.version, util.create_data(qr.version, ERROR_CORRECTION, qr.data_list)


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789ABCDEFGHXYZ $%*+-./:abcxyz_é€"), min_size=1, max_size=256))
def test_qr_codewords_and_symbol_are_qrcodes_own(payload: str) -> None:
    version, expected = _qrcode_codewords(payload)
    segments = list(util.optimal_data_chunks(payload, minimum=20))
    assert list(codewords(segments, version, ERROR_CORRECTION)) == expected
    qr = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=0)
    qr.add_data(payload)
    qr.make(fit=True)
    np.testing.assert_array_equal(encode_qr(payload), np.array(qr.modules, dtype=bool))


@pytest.mark.parametrize("payload", ["1" * 41, "1" * 42, "A" * 26, "a" * 15, "1" * 20 + "A" * 20 + "b" * 3])
def test_qr_versions_at_segment_boundaries(payload: str) -> None:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=0)
    qr.add_data(payload)
    qr.make(fit=True)
    np.testing.assert_array_equal(encode_qr(payload), np.array(qr.modules, dtype=bool))
