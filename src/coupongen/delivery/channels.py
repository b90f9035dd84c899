"""Which channels may reach each customer, in the order the campaigns prefer them.

A customer with several coupons in one night gets one message holding them. Its channel is the
first one, in the priority of the customer's leading campaign, that every campaign in the message
lists and that the customer consented to and has a contact for (a campaign's coupons never travel
by a channel it does not list); a suppression list always wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import polars as pl

from coupongen.delivery.messages import msisdn_of
from coupongen.errors import InputError

CHANNELS = ("email", "sms", "app")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _digits(col: str) -> pl.Expr:
    return pl.col(col).str.replace_all(r"\D", "")


def read_suppression(path: Path) -> list[str]:
    """A suppression list: one customer id, email or phone per line; '#' starts a comment."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError as e:
        raise InputError(f"{path}: suppression list not found") from e
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the suppression list ({e})") from e
    return [v for line in lines if (v := line.split("#", 1)[0].strip())]


def _same_numbers(customers: pl.DataFrame, listed: pl.DataFrame, region: str | None) -> list[str]:
    """The customers' phones that are one of the ``listed`` entries' numbers (entry, digits: the
    phone-like entries of a suppression list) however either writes it
    ("(212) 555-0118" and "+1 212 555 0118" in a US job): the same international number, each read
    as leniently as a number that may be sent (`messages.msisdn_of` with ``strict=False``: an
    opt-out is honoured even for a number the plan does not know). Only the entries and phones
    ending in the same seven digits as one of the other side are read.
    """
    phones = customers.select("phone", _digits("phone").str.slice(-7).alias("tail")).drop_nulls()
    alike = listed.filter(pl.col("digits").str.slice(-7).is_in(phones["tail"].implode()))["entry"]
    numbers = {n for e in alike if (n := msisdn_of(e, region, strict=False))}
    if not numbers:
        return []
    candidates = phones.filter(pl.col("tail").is_in([n[-7:] for n in numbers]))["phone"].unique()
    return [p for p in candidates if msisdn_of(p, region, strict=False) in numbers]


def contact_status(
    customers: pl.DataFrame, suppression: Iterable[str] = (), *, phone_region: str | None = None
) -> pl.DataFrame:
    """Per customer: whether each channel may be used, and whether the customer is suppressed.

    Columns: customer_id, suppressed, email_ok, sms_ok, app_ok. email needs email_opt_in and a
    well-formed address, sms needs sms_opt_in and a phone, app needs push_opt_in. A suppression entry
    matches the customer id, the e-mail (case-insensitive) or the phone: the same digits, or the same
    international number (numbers without a country code read in ``phone_region``, see
    `messages.msisdn_of`).
    """
    entries = list(suppression)
    lowered = [e.lower() for e in entries]
    listed = (
        pl.DataFrame({"entry": entries}, schema={"entry": pl.String})
        .with_columns(_digits("entry").alias("digits"))
        .filter(pl.col("digits").str.len_chars() >= 7)
    )
    suppressed = (
        pl.col("customer_id").is_in(entries)
        | pl.col("email").str.to_lowercase().is_in(lowered).fill_null(False)
        | _digits("phone").is_in(listed["digits"].implode()).fill_null(False)
        | pl.col("phone").is_in(_same_numbers(customers, listed, phone_region)).fill_null(False)
    )
    email_ok = pl.col("email_opt_in") & pl.col("email").str.contains(_EMAIL.pattern).fill_null(False)
    sms_ok = pl.col("sms_opt_in") & (_digits("phone").str.len_chars() >= 7).fill_null(False)
    return customers.select(
        "customer_id",
        suppressed.alias("suppressed"),
        (email_ok & ~suppressed).alias("email_ok"),
        (sms_ok & ~suppressed).alias("sms_ok"),
        (pl.col("push_opt_in") & ~suppressed).alias("app_ok"),
    )


def rank_channels(
    offers: pl.DataFrame, contacts: pl.DataFrame, priorities: Mapping[str, Sequence[str]]
) -> pl.DataFrame:
    """The channels the message of each customer who has offers may go by, most preferred first.

    ``priorities`` maps each campaign, in job order, to its channels in order of preference: the
    only channels its coupons may travel by. A customer's message holds the coupons of their
    leading campaign (the first in job order with a channel that reaches them) and of every later
    campaign that shares one of the channels still open; its channels are those every campaign in
    it lists, in the leading campaign's order, that the customer consented to and has a contact
    for. A campaign that shares none is left out of the message (its coupons are issued, not
    announced). Columns: customer_id, campaigns (the message's campaigns, in job order), channels
    (empty: none reaches the customer), coupons (how many of the night's coupons the message
    holds), left_out (the campaigns left out of a message).
    """
    order = {name: i for i, name in enumerate(priorities)}
    per_customer = (
        offers.select("customer_id", "campaign")
        .with_columns(pl.col("campaign").replace_strict(order, return_dtype=pl.Int64).alias("order"))
        .sort("customer_id", "order")
        .group_by("customer_id", maintain_order=True)
        .agg(pl.col("campaign"))
        .join(contacts, on="customer_id", how="left")
    )
    held, allowed, counts, left = [], [], [], []
    for row in per_customer.iter_rows(named=True):
        open_: list[str] | None = None
        mine: list[str] = []
        out: list[str] = []
        for campaign in dict.fromkeys(row["campaign"]):
            reach = [ch for ch in priorities[campaign] if row.get(f"{ch}_ok")]
            shared = reach if open_ is None else [ch for ch in open_ if ch in reach]
            if shared:
                mine.append(campaign)
                open_ = shared
            else:
                out.append(campaign)
        if not mine:  # no channel reaches the customer: the message that cannot go holds them all
            mine, out = out, []
        held.append(mine)
        allowed.append(open_ or [])
        counts.append(sum(c in mine for c in row["campaign"]))
        left.append(out)
    return per_customer.select(
        "customer_id",
        pl.Series("campaigns", held, dtype=pl.List(pl.String)),
        pl.Series("channels", allowed, dtype=pl.List(pl.String)),
        pl.Series("coupons", counts, dtype=pl.UInt32),
        pl.Series("left_out", left, dtype=pl.List(pl.String)),
    )


def choose_channels(
    offers: pl.DataFrame, contacts: pl.DataFrame, priorities: Mapping[str, Sequence[str]]
) -> pl.DataFrame:
    """One channel per customer who has offers: the first of `rank_channels`, null when none.

    Columns: customer_id, channel, coupons.
    """
    ranked = rank_channels(offers, contacts, priorities)
    return ranked.select("customer_id", pl.col("channels").list.first().alias("channel"), "coupons")
