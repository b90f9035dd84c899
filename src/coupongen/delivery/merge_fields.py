"""The e-mail merge file: one column per merge field, so that a platform's own template can be used.

An e-mail platform imports ``email/merge.csv`` as a contact list and fills its template from the
columns, with no converter: the recipient (``email``, ``first_name``, ``locale``, ``subject``) and,
for each coupon slot ``1..n``, ``couponN_headline`` (the offer in the customer's language, as our
e-mails say it), ``couponN_reward`` and ``couponN_reward_type``, ``couponN_valid_from`` and
``couponN_valid_to`` (ISO dates), ``couponN_code``, ``couponN_barcode_digits`` (what a cashier keys
when the scan fails) and ``couponN_image_url``. A customer with fewer coupons leaves the later slots
empty. The number of slots is fixed by the job (its coupons-per-customer cap), so the columns are
the same every night.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

SLOT_FIELDS = (
    "headline",
    "reward",
    "reward_type",
    "valid_from",
    "valid_to",
    "code",
    "barcode_digits",
    "image_url",
)
RECIPIENT_COLUMNS = ("customer_id", "email", "first_name", "locale", "subject")


def reward_text(reward_type: str, value: float, currency: str) -> str:
    """The reward in figures, no words: ``10%``, ``150 RUB``, ``+200`` (points), ``x2`` (multiplier)."""
    figure = f"{value:.0f}" if value == int(value) else f"{value:.2f}"
    if reward_type == "percent":
        return f"{figure}%"
    if reward_type == "amount":
        return f"{figure} {currency}"
    if reward_type == "points":
        return f"+{figure}"
    return f"x{figure}"


def coupon_fields(coupon: Mapping[str, Any], headline: str, currency: str) -> dict[str, str | None]:
    """One coupon's merge fields (``SLOT_FIELDS``); ``coupon`` is a message context's coupon."""
    return {
        "headline": headline,
        "reward": reward_text(coupon["reward_type"], float(coupon["reward_value"]), currency),
        "reward_type": coupon["reward_type"],
        "valid_from": str(coupon["valid_from"]),
        "valid_to": str(coupon["valid_to"]),
        "code": coupon["code"],
        "barcode_digits": coupon["digits"],
        "image_url": coupon["image_url"],
    }


def slot_columns(slots: int) -> list[str]:
    """The coupon columns of ``slots`` slots, slot by slot."""
    return [f"coupon{i}_{field}" for i in range(1, slots + 1) for field in SLOT_FIELDS]


def merge_frame(email: pl.DataFrame, slots: int, stems: pl.Series | None = None) -> pl.DataFrame:
    """The merge file's rows: the recipient columns, ``coupon_count``, ``html_file``, ``eml_file``
    and the coupon slots. ``email`` is `messages.Messages.email` (its ``fields`` column holds each
    message's coupon fields as a JSON list); ``stems`` the messages' safe file names (see
    `safe_names`; the customer ids when not given); a message with more coupons than ``slots``
    widens the file to fit.
    """
    per_message: Sequence[list[dict[str, str | None]]] = [json.loads(f) for f in email["fields"]]
    width = max([slots, *(len(f) for f in per_message)])
    columns = slot_columns(width)
    rows = [
        [c[field] for c in fields for field in SLOT_FIELDS]
        + [None] * (len(columns) - len(fields) * len(SLOT_FIELDS))
        for fields in per_message
    ]
    coupons = pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row")
    stems = email["customer_id"] if stems is None else stems
    head = email.select(
        *RECIPIENT_COLUMNS,
        pl.Series("coupon_count", [len(f) for f in per_message], dtype=pl.Int64),
        ("html/" + stems + ".html").alias("html_file"),
        ("eml/" + stems + ".eml").alias("eml_file"),
    )
    return pl.concat([head, coupons], how="horizontal")
