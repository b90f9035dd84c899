"""The project's exceptions: each carries a one-line message fit to show a user."""

from __future__ import annotations


class CoupongenError(Exception):
    """Base class of every error coupongen reports to its user."""

    exit_code = 1


class InputError(CoupongenError, ValueError):
    """An input file is missing, unreadable or does not follow the data contract."""

    exit_code = 2


class ConfigError(CoupongenError, ValueError):
    """A job or campaign file has an unknown key or a bad value."""

    exit_code = 2


class LedgerError(CoupongenError):
    """The coupon ledger cannot be used (locked by another run, corrupt, wrong version)."""

    exit_code = 1


class LedgerBusyError(LedgerError):
    """Another run holds the ledger's lock."""


class CodeFormatError(CoupongenError, ValueError):
    """A coupon code or barcode payload is malformed."""

    exit_code = 2
