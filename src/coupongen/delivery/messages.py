"""Customer messages: the text each customer receives, by the first channel that can carry it.

One message per customer holds all of their coupons of the night. A message a channel cannot carry
(an SMS over the part limit, a template that fails on this customer's values, a missing contact)
falls back to the customer's next allowed channel; when none is left the customer gets no message.
Either way the reason is recorded, and one customer's problem never stops the night.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import phonenumbers
import polars as pl
from babel import Locale

from coupongen.delivery import merge_fields
from coupongen.delivery.campaign_messages import CampaignMessages
from coupongen.delivery.images import human_readable
from coupongen.delivery.templates import OFFER_MACROS, Templates
from coupongen.errors import ConfigError

# GSM 03.38 basic character set, and the extension table whose characters take two septets.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"
_GSM7 = set(GSM7_BASIC) | set(GSM7_EXTENSION)
PROGRESS_EVERY = 1_000  # customers rendered between two progress reports
# What an app message says of each coupon.
APP_COUPON_KEYS = (
    "code",
    "kind",
    "barcode_value",
    "symbology",
    "campaign",
    "offer_type",
    "reward_type",
    "reward_value",
    "target_kind",
    "target",
    "target_name",
    "min_basket",
    "valid_from",
    "valid_to",
    "max_uses",
    "reward_buy",
    "reward_get",
)


@dataclass(frozen=True)
class SmsLength:
    """How an SMS text is encoded and how many parts it takes."""

    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    parts: int


def sms_length(text: str) -> SmsLength:
    """GSM-7 when every character is in the GSM 03.38 set (160 per part, 153 when split), else UCS-2
    (70 per part, 67 when split; characters outside the BMP, such as emoji, count twice).
    """
    if all(ch in _GSM7 for ch in text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    parts = 1 if units <= single else math.ceil(units / multi)
    return SmsLength(encoding, units, parts)


@dataclass
class Messages:
    """The night's messages per channel, one row per customer, and what became of each plan.

    email: customer_id, email, first_name, locale (the template language), subject, codes, html,
    fields (the coupons' merge fields as a JSON list, see `merge_fields`). sms: customer_id, msisdn
    (the phone's digits in international format, no '+'), text, encoding, parts. app: customer_id,
    payload (a JSON line). outcomes: customer_id, planned (the preferred channel), channel (the one
    that carries the message; null: no message). rejected: customer_id, campaign (the message's
    campaigns, '+'-joined), channel, reason, fallback (the channel that carried it instead; null:
    none), one row per channel that could not carry a message, and one per campaign whose coupons
    a message left out (`LEFT_OUT`, see `channels.rank_channels`); no contact values.
    """

    email: pl.DataFrame
    sms: pl.DataFrame
    app: pl.DataFrame
    outcomes: pl.DataFrame
    rejected: pl.DataFrame

    def counts(self) -> dict[str, int]:
        """Messages planned, sent by the preferred channel, fallen back to another, rejected.

        planned = sent + fallen_back + rejected.
        """
        carried = pl.col("channel").is_not_null()
        row = self.outcomes.select(
            pl.len().alias("planned"),
            (pl.col("channel") == pl.col("planned")).sum().alias("sent"),
            (carried & (pl.col("channel") != pl.col("planned"))).sum().alias("fallen_back"),
            (~carried).sum().alias("rejected"),
        ).row(0, named=True)
        return {k: int(v or 0) for k, v in row.items()}

    def left_out(self) -> int:
        """How many (customer, campaign) a message left out: coupons issued, not announced."""
        return int((self.rejected["reason"] == LEFT_OUT).sum())


# A phone: digits with the usual separators ("(212) 555-0100", "030/1234567") and an optional
# leading '+'. Anything else ("ext 5", letters, two numbers) is refused rather than dialled as a
# wrong number; libphonenumber reads what is left.
_PHONE = re.compile(r"\+?[0-9 ()./-]+")
# One address, no spaces, commas or angle brackets that would make it a list or a display name.
_EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+")
# Control characters (CR and LF among them) and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str | None) -> str | None:
    """``text`` with every run of control characters (CR, LF, tab, NUL...) made one space: what goes
    into an e-mail header or an SMS can never start a new header line or carry invisible bytes.
    """
    return None if text is None else _CONTROL.sub(" ", text).strip()


def phone_region(locale: str) -> str | None:
    """The country a job's customers write their phone numbers in without a country code: the
    territory of the job's locale (US of en_US), or None when the locale names no country with a
    numbering plan (ru, es_419).
    """
    territory = Locale.parse(locale).territory
    return territory if territory in phonenumbers.SUPPORTED_REGIONS else None


def msisdn_of(phone: str | None, region: str | None = None, *, strict: bool = True) -> str | None:
    """The phone's number in international format (E.164 digits without '+'), or None when it is
    not one number of its country.

    A number written with '+' is read in its own country and kept when its length is one of that
    country's. One without is read as written in ``region`` (a country such as US, see
    `phone_region`), with that country's trunk and international prefixes, and kept when it is a
    valid number there: "(212) 555-0100" and "1-212-555-0100" in US are 12125550100, "030 1234567"
    and "0049 30 1234567" in DE are 49301234567, "030 1234567" in US is refused. With no region it
    is refused. With ``strict`` false a number read in ``region`` too is kept when its length is
    one of that country's (what a suppression list is matched with: an opt-out errs towards
    silence).
    """
    if not phone or not _PHONE.fullmatch(phone.strip()):
        return None
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return None
    # Written in full with its country code, a number is taken as written when its length fits
    # its country (the gateway knows the ranges in service better than a copy of the plan); read
    # in the job's country, it must be one of that country's numbers, or it was not written there.
    lenient = phone.strip().startswith("+") or not strict
    if not (phonenumbers.is_possible_number(number) if lenient else phonenumbers.is_valid_number(number)):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).removeprefix("+")


def email_ok(email: str) -> bool:
    """True for a single plain address (name@domain.tld, no spaces or control characters)."""
    return _EMAIL.fullmatch(email) is not None


class _Refused(Exception):
    """A channel cannot carry this customer's message; the argument says why."""


def message_context(
    coupons: Sequence[Mapping[str, Any]],
    *,
    first_name: str | None,
    brand: str,
    currency: str,
    locale: str,
    target_names: Mapping[str, str],
    image_paths: Mapping[str, str] | None = None,
    unsubscribe_url: str = "",
) -> dict[str, object]:
    """What the templates see: first_name, brand, currency, locale (the Babel tag the filters format
    in), unsubscribe_url (the placeholder the e-mail platform fills), message (a campaign's own
    subject and body, see `campaign_messages`; None here) and coupons: each coupon's columns plus
    target_name (the display name of its target), image (the link of its barcode image in the HTML,
    or None), digits (what a cashier keys when the scan fails: the barcode's human-readable line,
    or the code for a QR code).
    """
    items = [
        {
            **c,
            "target_name": target_names.get(c["target"] or "", c["target"]),
            "image": (image_paths or {}).get(c["code"]),
            "digits": human_readable(c["barcode_value"], c["symbology"]) or c["code"],
        }
        for c in coupons
    ]
    return {
        "first_name": one_line(first_name) or "",
        "coupons": items,
        "brand": brand,
        "currency": currency,
        "message": None,
        "locale": locale,
        "unsubscribe_url": unsubscribe_url,
    }


def _merge_fields(templates: Templates, locale: str, context: dict[str, Any]) -> str:
    """The message's coupon merge fields as a JSON list (see `merge_fields`)."""
    name = OFFER_MACROS.format(locale=locale)
    out = []
    for c in context["coupons"]:
        try:
            headline = templates.call_macro(name, "describe", c, context=context)
        except ConfigError as e:
            raise _Refused(f"template {name}: {e.__cause__}") from e
        image = c["image"]
        url = image if image and image.startswith(("https://", "http://")) else None
        fields = merge_fields.coupon_fields(
            {**c, "image_url": url}, headline[:1].upper() + headline[1:], context["currency"]
        )
        out.append(fields)
    return json.dumps(out, ensure_ascii=False)


def _render(templates: Templates, name: str, context: dict[str, object]) -> str:
    try:
        return templates.render(name, context)
    except ConfigError as e:
        raise _Refused(f"template {name}: {e.__cause__}") from e


def _compose(
    channel: str,
    row: dict[str, Any],
    context: dict[str, Any],
    templates: Templates,
    max_sms_parts: int,
    locale: str,
    phone_region: str | None,
) -> dict[str, object]:
    """One customer's message by ``channel`` in the template ``locale`` (a language), phones
    without a country code read as written in ``phone_region``; raises _Refused when the channel
    cannot carry it.
    """
    customer_id = row["customer_id"]
    own = context["message"]
    if channel == "email":
        if not row["email"]:
            raise _Refused("no e-mail address")
        if not email_ok(row["email"]):
            raise _Refused("e-mail address is not valid")
        return {
            "customer_id": customer_id,
            "email": row["email"],
            "first_name": one_line(row["first_name"]),
            "locale": locale,
            "subject": one_line(own["subject"])
            if own
            else one_line(_render(templates, templates.name("email", "subject", locale), context)),
            "codes": " ".join(c["code"] for c in context["coupons"]),
            "html": _render(templates, templates.name("email", "html", locale), context),
            "fields": _merge_fields(templates, locale, context),
        }
    if channel == "sms":
        if not row["phone"]:
            raise _Refused("no phone number")
        msisdn = msisdn_of(row["phone"], phone_region)
        if msisdn is None and phone_region is None and not row["phone"].strip().startswith("+"):
            raise _Refused("phone number has no country code and the job's locale names no country")
        if msisdn is None:
            raise _Refused("phone number is not valid")
        text = one_line(_render(templates, templates.name("sms", "text", locale), context)) or ""
        length = sms_length(text)
        if length.parts > max_sms_parts:
            raise _Refused(
                f"SMS needs {length.parts} parts ({length.units} {length.encoding} units), "
                f"more than max_sms_parts={max_sms_parts}"
            )
        return {
            "customer_id": customer_id,
            "msisdn": msisdn,
            "text": text,
            "encoding": length.encoding,
            "parts": length.parts,
        }
    payload = {
        "customer_id": customer_id,
        "locale": locale,
        "title": own["subject"]
        if own
        else _render(templates, templates.name("app", "title", locale), context),
        "coupons": [{k: c.get(k) for k in APP_COUPON_KEYS} for c in context["coupons"]],
    }
    return {"customer_id": customer_id, "payload": json.dumps(payload, ensure_ascii=False, sort_keys=True)}


def render_messages(
    coupons: pl.DataFrame,
    channels: pl.DataFrame,
    customers: pl.DataFrame,
    target_names: Mapping[str, str],
    templates: Templates,
    *,
    brand: str,
    currency: str,
    max_sms_parts: int,
    phone_region: str | None = None,
    image_paths: Mapping[str, str] | None = None,
    campaign_messages: CampaignMessages | None = None,
    unsubscribe_url: str = "",
    on_progress: Callable[[int], None] | None = None,
) -> Messages:
    """Render one message per reachable customer holding all of their coupons.

    ``coupons`` has the ledger's coupon columns; ``channels`` is `channels.rank_channels`' frame
    (customer_id, campaigns, channels, coupons, left_out: the message holds the coupons of its
    campaigns only); ``phone_region`` is the country of phone numbers
    written without a country code (see `phone_region`; None: only '+' numbers reach an SMS);
    ``image_paths`` maps a code to its barcode image for the e-mails; ``campaign_messages`` the
    campaigns' own subjects and bodies. Each customer's channels are tried in order until one
    carries the message. ``on_progress`` hears how many more customers were rendered, every
    ``PROGRESS_EVERY``.
    """
    people = customers.select("customer_id", "email", "phone", "first_name", "locale")
    grouped = (
        coupons.sort("campaign", "code")
        .group_by("customer_id", maintain_order=True)
        .agg(pl.struct(pl.all().exclude("customer_id")).alias("coupons"))
        .join(channels.filter(pl.col("channels").list.len() > 0), on="customer_id")
        .join(people, on="customer_id", how="left")
        .sort("customer_id")
    )
    out: dict[str, list[dict[str, object]]] = {"email": [], "sms": [], "app": []}
    outcomes, rejected = [], []
    for i, row in enumerate(grouped.iter_rows(named=True), 1):
        if on_progress is not None and i % PROGRESS_EVERY == 0:
            on_progress(PROGRESS_EVERY)
        if row.get("left_out"):  # coupons of campaigns that use none of the message's channels
            mine = set(row["campaigns"])
            row["coupons"] = [c for c in row["coupons"] if c["campaign"] in mine]
        language, formats = templates.locale_for(row["locale"])
        context = message_context(
            row["coupons"],
            first_name=row["first_name"],
            brand=brand,
            currency=currency,
            locale=formats,
            target_names=target_names,
            image_paths=image_paths,
            unsubscribe_url=unsubscribe_url,
        )
        refusals, carrier = [], None
        try:
            if campaign_messages is not None:
                held = [c["campaign"] for c in row["coupons"]]
                context["message"] = campaign_messages.render(held, formats, context)
        except ConfigError as e:
            refusals = [(channel, str(e)) for channel in row["channels"]]
        for channel in row["channels"] if not refusals else ():
            try:
                message = _compose(channel, row, context, templates, max_sms_parts, language, phone_region)
                out[channel].append(message)
            except _Refused as e:
                refusals.append((channel, str(e)))
                continue
            carrier = channel
            break
        campaign = "+".join(row["campaigns"])
        outcomes.append((row["customer_id"], row["channels"][0], carrier))
        rejected += [(row["customer_id"], campaign, ch, reason, carrier) for ch, reason in refusals]
        rejected += [
            (row["customer_id"], other, carrier or row["channels"][0], LEFT_OUT, None)
            for other in row.get("left_out") or []
        ]
    if on_progress is not None and grouped.height % PROGRESS_EVERY:
        on_progress(grouped.height % PROGRESS_EVERY)
    return Messages(
        email=pl.DataFrame(out["email"], schema=_EMAIL_SCHEMA),
        sms=pl.DataFrame(out["sms"], schema=_SMS_SCHEMA),
        app=pl.DataFrame(out["app"], schema={"customer_id": pl.String, "payload": pl.String}),
        outcomes=pl.DataFrame(outcomes, schema=_OUTCOME_SCHEMA, orient="row"),
        rejected=pl.DataFrame(rejected, schema=REJECTED_SCHEMA, orient="row"),
    )


_EMAIL_SCHEMA = {
    "customer_id": pl.String,
    "email": pl.String,
    "first_name": pl.String,
    "locale": pl.String,
    "subject": pl.String,
    "codes": pl.String,
    "html": pl.String,
    "fields": pl.String,
}
_SMS_SCHEMA = {
    "customer_id": pl.String,
    "msisdn": pl.String,
    "text": pl.String,
    "encoding": pl.String,
    "parts": pl.Int64,
}
LEFT_OUT = "coupons issued, not in the message: the campaign does not use this channel"
"""The reason of a campaign left out of a customer's message (it shares no channel with the first)."""

_OUTCOME_SCHEMA = {"customer_id": pl.String, "planned": pl.String, "channel": pl.String}
REJECTED_SCHEMA = {
    "customer_id": pl.String,
    "campaign": pl.String,
    "channel": pl.String,
    "reason": pl.String,
    "fallback": pl.String,
}
