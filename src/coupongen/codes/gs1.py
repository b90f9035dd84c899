"""The GS1 mod-10 check digit (EAN-13, GCN, card numbers): the one place it is computed."""

from __future__ import annotations

import numpy as np

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
