"""GS1 barcodes of coupons: EAN-13 values, Global Coupon Numbers and GS1-128 element strings.

Tills scan these instead of typing the code; a random serial makes each barcode unguessable. The
GS1 mod-10 check digit (also that of the sample's card numbers) is computed here and nowhere else.
"""

from __future__ import annotations

import re
import secrets
from datetime import date

import numpy as np

from coupongen.codes.generation import Entropy, draw_indices
from coupongen.errors import CodeFormatError


def check_digit(digits: str) -> str:
    """GS1 mod-10 check digit of a digit string: weights 3, 1, 3, ... from the rightmost digit."""
    if not digits.isdigit():
        raise CodeFormatError(f"GS1 data must be digits, got {digits!r}")
    total = 3 * sum(map(int, digits[-1::-2])) + sum(map(int, digits[-2::-2]))
    return str(-total % 10)


def check_digits(data: np.ndarray) -> np.ndarray:
    """GS1 check digits of many values at once: ``data`` is an (n, k) array of digits 0-9, one
    value a row with its most significant digit first; returns the n check digits (int64).
    """
    k = data.shape[1]
    weights = np.where(np.arange(k)[::-1] % 2 == 0, 3, 1).astype(np.int64)
    return np.asarray(-(data.astype(np.int64) @ weights) % 10, dtype=np.int64)


def is_valid_ean13(value: str) -> bool:
    """True for 13 digits whose last is the GS1 check digit of the first twelve."""
    return len(value) == 13 and value.isdigit() and check_digit(value[:12]) == value[12]


def _digit_strings(digits: np.ndarray) -> list[str]:
    """The rows of an (n, k) array of digits 0-9 as strings of k digits."""
    width = digits.shape[1]
    blob = (digits + ord("0")).astype(np.uint8).tobytes().decode("ascii")
    return [blob[i : i + width] for i in range(0, len(blob), width)]


def generate_ean13(n: int, *, prefix: str, entropy: Entropy = secrets.token_bytes) -> list[str]:
    """``n`` distinct EAN-13 values: GS1 ``prefix`` + random serial digits + check digit."""
    serial_len = 12 - len(prefix)
    if not prefix.isdigit() or serial_len < 5:
        raise CodeFormatError(f"EAN-13 prefix must be 2 to 7 digits, got {prefix!r}")
    if n > 10**serial_len // 10:
        raise CodeFormatError(
            f"EAN-13 prefix {prefix!r} leaves {serial_len} serial digits: too few for {n} coupons"
        )
    prefix_digits = np.array([int(d) for d in prefix], dtype=np.int64)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        need = n - len(out)
        serial = draw_indices(need * serial_len, 10, entropy).reshape(need, serial_len)
        data = np.concatenate([np.broadcast_to(prefix_digits, (need, len(prefix))), serial], axis=1)
        for value in _digit_strings(np.concatenate([data, check_digits(data)[:, None]], axis=1)):
            if value not in seen:
                seen.add(value)
                out.append(value)
    return out


def global_coupon_number(company_prefix: str, coupon_reference: str) -> str:
    """The 13-digit GCN: GS1 Company Prefix + coupon reference (12 digits) + GS1 check digit."""
    data = company_prefix + coupon_reference
    if not data.isdigit() or len(data) != 12:
        raise CodeFormatError(
            f"GS1 Company Prefix and coupon reference must be 12 digits together, got {data!r}"
        )
    return data + check_digit(data)


def generate_gcn_serials(n: int, *, length: int, entropy: Entropy = secrets.token_bytes) -> list[str]:
    """``n`` distinct random serial components of ``length`` digits (GS1 allows up to 12)."""
    if not 1 <= length <= 12:
        raise CodeFormatError(f"a GCN serial component has 1 to 12 digits, got {length}")
    if n > 10**length // 10:
        raise CodeFormatError(f"{length} serial digits are too few for {n} coupons")
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        need = n - len(out)
        for serial in _digit_strings(draw_indices(need * length, 10, entropy).reshape(need, length)):
            if serial not in seen:
                seen.add(serial)
                out.append(serial)
    return out


def gs1_128_payload(gcn: str, serial: str, expiry: date | None = None) -> str:
    """The human-readable element string ``(255)<GCN><serial>`` and, if given, ``(17)<YYMMDD>``."""
    if len(gcn) != 13 or not is_valid_ean13(gcn):
        raise CodeFormatError(f"{gcn!r} is not a 13-digit GCN with a valid check digit")
    if not serial.isdigit() or len(serial) > 12:
        raise CodeFormatError(f"GCN serial component must be 1 to 12 digits, got {serial!r}")
    payload = f"(255){gcn}{serial}"
    return payload + (f"(17){expiry:%y%m%d}" if expiry is not None else "")


_GS1_ELEMENT_RE = re.compile(r"\((\d{2,4})\)([^()]*)")


def parse_gs1_elements(payload: str) -> dict[str, str] | None:
    """``{AI: data}`` of a human-readable element string, or None if it is not one."""
    elements = _GS1_ELEMENT_RE.findall(payload)
    if not elements or "".join(f"({ai}){data}" for ai, data in elements) != payload:
        return None
    return dict(elements)


def barcode_key(value: str, symbology: str) -> str:
    """The part of a barcode value that identifies one coupon: the GCN with its serial for GS1-128
    (the expiry date is an attribute, not part of the identity), the whole value otherwise.
    """
    if symbology == "gs1_128":
        elements = parse_gs1_elements(value)
        if elements is None or "255" not in elements:
            raise CodeFormatError(f"GS1-128 value {value!r} carries no AI (255)")
        return elements["255"]
    return value


def read_gs1_date(data: str) -> date | None:
    """A GS1 date YYMMDD (AI 17, the expiry) in 2000-2099, or None if it is not a date; day 00
    means the last day of the month.
    """
    try:
        year, month, day = 2000 + int(data[:2]), int(data[2:4]), int(data[4:6])
        if day == 0:
            nxt = date(year + month // 12, month % 12 + 1, 1)
            return date.fromordinal(nxt.toordinal() - 1)
        return date(year, month, day)
    except ValueError:
        return None
