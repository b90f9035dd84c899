"""Barcode and QR symbols: one coupon's payload drawn as a PNG or SVG.

Every coupon carries its code as a barcode the till scans (EAN-13, Code 128 or GS1-128) or as a QR
code a phone or scanner reads. python-barcode encodes 1D payloads and ``qr_symbols`` QR payloads
(the symbol qrcode builds); the PNG raster is drawn here with numpy as a 1-bit image and written
by ``png`` (the bytes Pillow writes, faster): several times faster than the libraries' own image
writers. A 1D code with its human-readable line is drawn and written by Pillow. SVGs come from
the libraries' own SVG writers. Writing the night's image files is ``image_files``' job.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from io import BytesIO

import barcode
import numpy as np
import qrcode
import qrcode.image.svg
from barcode.writer import SVGWriter
from PIL import Image, ImageDraw, ImageFont

from coupongen.codes import gs1
from coupongen.delivery.png import png_1bit
from coupongen.delivery.qr_symbols import ERROR_CORRECTION, QUIET_MODULES, encode_qr, qr_raster
from coupongen.errors import CodeFormatError

SYMBOLOGIES = ("code128", "ean13", "gs1_128", "qr")

# Quiet zones in modules: ISO/IEC 15420 (EAN-13: 11 left, 7 right), ISO/IEC 15417 (Code 128: 10),
# ISO/IEC 18004 (QR: 4 on every side).
_QUIET_LEFT_RIGHT = {"ean13": (11, 7), "code128": (10, 10), "gs1_128": (10, 10)}
_QR_QUIET = QUIET_MODULES
# Bar heights in modules: EAN-13 at its nominal 22.85 mm for a 0.33 mm module; Code 128 at least
# 15 % of the symbol's width (ISO/IEC 15417 recommendation) and never below 32 modules.
_EAN13_BAR_MODULES = 69
_CODE128_MIN_BAR_MODULES = 32
_MIN_BAR_PX = 50

_QR_MAX_CHARS = 256
_CODE128_MAX_CHARS = 48
_GS1_MAX_DATA_CHARS = 48

_EAN13_RE = re.compile(r"\d{13}")
_PRINTABLE_ASCII_RE = re.compile(r"[\x20-\x7e]+")
_GS1_ELEMENT_RE = re.compile(r"\((\d{2,4})\)([^()]*)")
# GS1 AI encodable character set 82 (GS1 General Specifications, figure 7.11-1).
_GS1_CSET82_RE = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+")
# AIs whose first two digits give a predefined total length (AI + data): these need no FNC1
# separator after them. Every other element string is variable length (GS1 General Specifications,
# figure 7.8.5-2).
_GS1_PREDEFINED_LENGTH = {
    "00": 20, "01": 16, "02": 16, "03": 16, "04": 18,
    "11": 8, "12": 8, "13": 8, "14": 8, "15": 8, "16": 8, "17": 8, "18": 8, "19": 8,
    "20": 4, "31": 10, "32": 10, "33": 10, "34": 10, "35": 10, "36": 10, "41": 16,
}  # fmt: skip
_GS1_FNC1 = "\xf1"  # python-barcode's stand-in for FNC1 inside a Code 128 string


def render_png(
    payload: str,
    symbology: str,
    *,
    module_px: int = 3,
    quiet_zone: bool = True,
    text: bool = False,
    qr_quiet_modules: int = _QR_QUIET,
) -> bytes:
    """Render one payload as a black-on-white PNG, one module = `module_px` pixels.

    1D codes are `max(50 px, nominal height)` tall with their standard quiet zones left and right;
    QR codes get a `qr_quiet_modules` quiet zone on every side (ISO/IEC 18004 asks for 4).
    `quiet_zone=False` leaves the margins to the caller. `text=True` prints the human-readable line
    under a 1D code (`human_readable`: the element string with parentheses for GS1-128); QR codes
    carry no text. Without text the PNG is 1-bit, with text 8-bit greyscale. The same arguments
    always give byte-identical output.
    """
    _check_symbology(symbology)
    if isinstance(module_px, bool) or not isinstance(module_px, int) or module_px < 1:
        raise CodeFormatError(f"module_px must be a positive integer, got {module_px!r}")
    if isinstance(qr_quiet_modules, bool) or not isinstance(qr_quiet_modules, int) or qr_quiet_modules < 0:
        raise CodeFormatError(f"qr_quiet_modules must be a non-negative integer, got {qr_quiet_modules!r}")
    if symbology == "qr":
        quiet = qr_quiet_modules if quiet_zone else 0
        light = qr_raster(_encode_qr(payload), module_px, quiet)
    else:
        light = _linear_raster(symbology, _encode_linear(payload, symbology), module_px, quiet_zone)
    if symbology == "qr" or not text:
        # Rows repeat (every row of a 1D code, each module row of a QR code): written from the
        # distinct rows, faster than Pillow's encoder, which works pixel by pixel.
        fast = png_1bit(light)
        if fast is not None:
            return fast
    image = Image.fromarray(light)
    if text and symbology != "qr":
        image = _add_text_line(image, payload, module_px)
    buffer = BytesIO()
    # Level 1 compresses these mostly-repeated rows nearly as well as level 9, several times faster.
    image.save(buffer, "PNG", optimize=False, compress_level=1)
    return buffer.getvalue()


@dataclass(frozen=True)
class ImageStyle:
    """How a night's PNGs are drawn: pixels per module of 1D codes and of QR codes, the QR quiet
    zone in modules, and whether 1D codes print their human-readable line.
    """

    module_px: int = 3
    qr_module_px: int = 3
    qr_quiet_modules: int = _QR_QUIET
    text: bool = False

    def png(self, payload: str, symbology: str) -> bytes:
        """`payload` drawn as a PNG in this style."""
        qr = symbology == "qr"
        return render_png(
            payload,
            symbology,
            module_px=self.qr_module_px if qr else self.module_px,
            text=self.text,
            qr_quiet_modules=self.qr_quiet_modules,
        )


def render_svg(payload: str, symbology: str) -> bytes:
    """Render one payload as an SVG document with the libraries' own SVG writers.

    1D codes come from python-barcode's `SVGWriter` with the human-readable line under the bars,
    QR codes from qrcode's `SvgPathImage` (one path, 4-module quiet zone, 1 mm per module).
    """
    _check_symbology(symbology)
    if symbology == "qr":
        _check_qr_payload(payload)
        qr = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_MODULES)
        qr.add_data(payload)
        qr.make(fit=True)
        svg: bytes = qr.make_image(image_factory=qrcode.image.svg.SvgPathImage).to_string()
        return svg
    code = _library_code(payload, symbology)
    symbol = barcode.get(symbology, code, writer=SVGWriter())
    svg = symbol.render(text=payload)
    return svg


# --- validation -------------------------------------------------------------------------------


def human_readable(payload: str, symbology: str) -> str:
    """What a person reads, and a cashier keys when the scan fails: the digits under an EAN-13, the
    element string with its AI brackets under a GS1-128, the code under a Code 128; a QR code's
    payload may be a URL or a signed token, so nothing is keyed from it (empty).
    """
    return "" if symbology == "qr" else payload


def _check_symbology(symbology: str) -> None:
    if symbology not in SYMBOLOGIES:
        raise CodeFormatError(f"Unknown symbology {symbology!r}; allowed values: {', '.join(SYMBOLOGIES)}")


def _check_ean13(payload: str) -> None:
    if not _EAN13_RE.fullmatch(payload):
        raise CodeFormatError(f"EAN-13 payload must be exactly 13 digits, got {payload!r}")
    expected = gs1.check_digit(payload[:12])
    if payload[12] != expected:
        raise CodeFormatError(
            f"EAN-13 payload {payload!r} has check digit {payload[12]}, expected {expected}"
        )


def _check_code128(payload: str) -> None:
    if not _PRINTABLE_ASCII_RE.fullmatch(payload):
        raise CodeFormatError(f"Code 128 payload must be printable ASCII (space to '~'), got {payload!r}")
    if len(payload) > _CODE128_MAX_CHARS:
        raise CodeFormatError(
            f"Code 128 payload is {len(payload)} characters long; at most {_CODE128_MAX_CHARS} scan reliably"
        )


def _check_qr_payload(payload: str) -> None:
    if not payload:
        raise CodeFormatError("QR payload is empty")
    if len(payload) > _QR_MAX_CHARS:
        raise CodeFormatError(
            f"QR payload is {len(payload)} characters long; at most {_QR_MAX_CHARS} allowed"
        )


def check_payload(payload: str, symbology: str) -> None:
    """Raise CodeFormatError if `payload` cannot be encoded as `symbology`."""
    _check_symbology(symbology)
    if symbology == "qr":
        _check_qr_payload(payload)
    else:
        _library_code(payload, symbology)


def _parse_gs1(payload: str) -> list[tuple[str, str]]:
    """Split a human-readable GS1 element string `(AI)data(AI)data...` into (AI, data) pairs."""
    elements = [(m.group(1), m.group(2)) for m in _GS1_ELEMENT_RE.finditer(payload)]
    if not elements or "".join(f"({ai}){data}" for ai, data in elements) != payload:
        raise CodeFormatError(
            f"GS1-128 payload must be element strings like '(255)...(17)YYMMDD', got {payload!r}"
        )
    for ai, data in elements:
        _check_gs1_element(ai, data)
    return elements


def _check_gs1_element(ai: str, data: str) -> None:
    if not _GS1_CSET82_RE.fullmatch(data):
        raise CodeFormatError(f"GS1 AI ({ai}) has empty or invalid data {data!r}")
    total = _GS1_PREDEFINED_LENGTH.get(ai[:2])
    if total is not None and (len(ai) + len(data) != total or not data.isdigit()):
        raise CodeFormatError(f"GS1 AI ({ai}) takes {total - len(ai)} digits, got {data!r}")
    # AIs 11 to 17 are dates YYMMDD; day 00 means the last day of the month.
    if len(ai) == 2 and "11" <= ai <= "17" and not ("01" <= data[2:4] <= "12" and data[4:] <= "31"):
        raise CodeFormatError(f"GS1 AI ({ai}) must be a date YYMMDD, got {data!r}")
    if ai == "255":
        # Global Coupon Number: 13-digit GCN with its check digit, then an optional serial.
        if not data.isdigit() or not 13 <= len(data) <= 25:
            raise CodeFormatError(f"GS1 AI (255) takes 13 to 25 digits, got {data!r}")
        if data[12] != gs1.check_digit(data[:12]):
            raise CodeFormatError(
                f"GS1 AI (255) {data!r} has check digit {data[12]}, expected {gs1.check_digit(data[:12])}"
            )


# --- 1D codes ---------------------------------------------------------------------------------


def _library_code(payload: str, symbology: str) -> str:
    """Validate `payload` and return the string python-barcode's class for `symbology` expects."""
    if symbology == "ean13":
        _check_ean13(payload)
        return payload
    if symbology == "code128":
        _check_code128(payload)
        return payload
    # python-barcode's Gs1_128 puts FNC1 in first position but would encode the parentheses as
    # data: strip them and end every variable-length element string with FNC1 except the last.
    elements = _parse_gs1(payload)
    parts = []
    for i, (ai, data) in enumerate(elements):
        parts.append(ai + data)
        if ai[:2] not in _GS1_PREDEFINED_LENGTH and i < len(elements) - 1:
            parts.append(_GS1_FNC1)
    code = "".join(parts)
    if len(code) > _GS1_MAX_DATA_CHARS:
        raise CodeFormatError(
            f"GS1-128 payload {payload!r} has {len(code)} data characters with separators; "
            f"at most {_GS1_MAX_DATA_CHARS} allowed"
        )
    return code


def _encode_linear(payload: str, symbology: str) -> np.ndarray:
    """Bar pattern of a 1D code as a bool row, True = dark module, without quiet zones."""
    code = _library_code(payload, symbology)
    # EAN-13 with a validated check digit: python-barcode recomputes the same digit.
    (pattern,) = barcode.get(symbology, code).build()
    dark: np.ndarray = np.frombuffer(pattern.encode("ascii"), dtype=np.uint8) != ord("0")
    return dark


def _linear_raster(symbology: str, bars: np.ndarray, module_px: int, quiet_zone: bool) -> np.ndarray:
    """Pixels of a 1D code as a 2D bool array, True = light."""
    left, right = _QUIET_LEFT_RIGHT[symbology] if quiet_zone else (0, 0)
    row = np.ones(left + bars.size + right, dtype=bool)
    row[left : left + bars.size] = ~bars
    if symbology == "ean13":
        height_modules = _EAN13_BAR_MODULES
    else:
        height_modules = max(_CODE128_MIN_BAR_MODULES, math.ceil(0.15 * row.size))
    height_px = max(_MIN_BAR_PX, height_modules * module_px)
    return np.broadcast_to(np.repeat(row, module_px), (height_px, row.size * module_px))


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _add_text_line(image: Image.Image, text: str, module_px: int) -> Image.Image:
    """Return `image` in 8-bit greyscale with `text` centred on a white band under it."""
    size = max(10, 8 * module_px)
    band = size + 3 * module_px
    out = Image.new("L", (image.width, image.height + band), 255)
    out.paste(image.convert("L"), (0, 0))
    draw = ImageDraw.Draw(out)
    draw.text((image.width / 2, image.height + module_px), text, fill=0, font=_font(size), anchor="ma")
    return out


# --- QR codes ---------------------------------------------------------------------------------


def _encode_qr(payload: str) -> np.ndarray:
    """QR module matrix, True = dark, without quiet zone: smallest version at level M, the symbol
    qrcode itself would build (see ``qr_symbols``).
    """
    _check_qr_payload(payload)
    return encode_qr(payload)
