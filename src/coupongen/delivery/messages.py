"""Customer messages: which channel reaches each customer, and the text they receive.

A customer with several coupons in one night gets one message holding all of them. The channel is
the first one, in the priority of the customer's leading campaign (then the others'), that the
customer consented to and has a contact for; a suppression list always wins. SMS texts are measured
in GSM-7 or UCS-2 parts before anything is sent, so a text that is too long fails the preview.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError

from coupongen.errors import ConfigError, InputError

CHANNELS = ("email", "sms", "app")
LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"

# GSM 03.38 basic character set, and the extension table whose characters take two septets.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"
_GSM7 = set(GSM7_BASIC) | set(GSM7_EXTENSION)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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


def contact_status(customers: pl.DataFrame, suppression: Iterable[str] = ()) -> pl.DataFrame:
    """Per customer: whether each channel may be used, and whether the customer is suppressed.

    Columns: customer_id, suppressed, email_ok, sms_ok, app_ok. email needs email_opt_in and a
    well-formed address, sms needs sms_opt_in and a phone, app needs push_opt_in. A suppression entry
    matches the customer id, the e-mail (case-insensitive) or the phone (digits only).
    """
    entries = list(suppression)
    lowered = [e.lower() for e in entries]
    phones = [d for e in entries if len(d := re.sub(r"\D", "", e)) >= 7]
    suppressed = (
        pl.col("customer_id").is_in(entries)
        | pl.col("email").str.to_lowercase().is_in(lowered).fill_null(False)
        | _digits("phone").is_in(phones).fill_null(False)
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


def choose_channels(
    offers: pl.DataFrame, contacts: pl.DataFrame, priorities: Mapping[str, Sequence[str]]
) -> pl.DataFrame:
    """One channel per customer who has offers, or null when none reaches them.

    ``priorities`` maps each campaign, in job order, to its channel priority. A customer's order of
    preference is their leading campaign's list, then the channels the later campaigns add.
    Columns: customer_id, channel, coupons (how many of the night's coupons the message holds).
    """
    order = {name: i for i, name in enumerate(priorities)}
    per_customer = (
        offers.select("customer_id", "campaign")
        .with_columns(pl.col("campaign").replace_strict(order, return_dtype=pl.Int64).alias("order"))
        .sort("customer_id", "order")
        .group_by("customer_id", maintain_order=True)
        .agg(pl.col("campaign"), pl.len().alias("coupons"))
        .join(contacts, on="customer_id", how="left")
    )
    chosen = []
    for row in per_customer.iter_rows(named=True):
        preference = list(dict.fromkeys(ch for camp in row["campaign"] for ch in priorities[camp]))
        chosen.append(next((ch for ch in preference if row.get(f"{ch}_ok")), None))
    return (
        per_customer.select("customer_id", "coupons")
        .with_columns(pl.Series("channel", chosen, dtype=pl.String))
        .select("customer_id", "channel", "coupons")
    )


# --- texts -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Templates:
    """The job's Jinja2 templates: ``*.html.j2`` rendered with every value HTML-escaped (the shared
    macros they import included), the text templates (SMS, subjects, titles) without.
    """

    folder: Path
    html: Environment
    text: Environment

    def render(self, name: str, context: dict[str, object]) -> str:
        """Render template ``name``; a template error becomes a ConfigError naming the file."""
        env = self.html if name.endswith(".html.j2") else self.text
        try:
            return env.get_template(name).render(**context).strip()
        except TemplateError as e:
            raise ConfigError(f"{self.folder / name}: {e}") from e


def _environment(folder: Path, *, html: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # a plain space groups thousands: a no-break space is not in GSM-7 and would make SMS UCS-2
    env.filters["money"] = lambda v: (f"{v:,.0f}" if v == int(v) else f"{v:,.2f}").replace(",", " ")
    env.filters["ddmm"] = lambda iso: f"{iso[8:10]}.{iso[5:7]}"
    env.filters["first_upper"] = lambda s: s[:1].upper() + s[1:]
    return env


def template_environment(folder: Path) -> Templates:
    """Load the job's templates folder; undefined names in a template are errors, not blanks."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: templates folder not found")
    return Templates(folder, _environment(folder, html=True), _environment(folder, html=False))


@dataclass
class Messages:
    """The night's messages per channel, one row per customer.

    email: customer_id, email, first_name, locale, subject, codes, html. sms: customer_id, msisdn
    (the phone's digits in international format, no '+'), text, encoding, parts. app: customer_id,
    payload (a JSON line).
    """

    email: pl.DataFrame
    sms: pl.DataFrame
    app: pl.DataFrame


def _locale(value: str | None) -> str:
    return value if value in LOCALES else DEFAULT_LOCALE


def render_messages(
    coupons: pl.DataFrame,
    channels: pl.DataFrame,
    customers: pl.DataFrame,
    target_names: Mapping[str, str],
    env: Templates,
    *,
    brand: str,
    currency: str,
    max_sms_parts: int,
    image_paths: Mapping[str, str] | None = None,
) -> Messages:
    """Render one message per reachable customer holding all of their coupons.

    ``coupons`` has the ledger's coupon columns; ``image_paths`` maps a code to its barcode image for
    the e-mails. Raises ConfigError naming the template when an SMS needs more than
    ``max_sms_parts`` parts (checked for every customer, so it fails before anything is sent).
    """
    people = customers.select("customer_id", "email", "phone", "first_name", "locale")
    grouped = (
        coupons.sort("campaign", "code")
        .group_by("customer_id", maintain_order=True)
        .agg(pl.struct(pl.all().exclude("customer_id")).alias("coupons"))
        .join(channels.filter(pl.col("channel").is_not_null()), on="customer_id")
        .join(people, on="customer_id", how="left")
        .sort("customer_id")
    )
    email, sms, app = [], [], []
    too_long: dict[str, list[SmsLength]] = {}
    for row in grouped.iter_rows(named=True):
        locale = _locale(row["locale"])
        items = [
            {
                **c,
                "target_name": target_names.get(c["target"] or "", c["target"]),
                "image": (image_paths or {}).get(c["code"]),
            }
            for c in row["coupons"]
        ]
        context = {
            "first_name": row["first_name"] or "",
            "coupons": items,
            "brand": brand,
            "currency": currency,
        }
        if row["channel"] == "email":
            email.append(
                {
                    "customer_id": row["customer_id"],
                    "email": row["email"],
                    "first_name": row["first_name"],
                    "locale": locale,
                    "subject": env.render(f"email_subject_{locale}.txt.j2", context),
                    "codes": " ".join(c["code"] for c in items),
                    "html": env.render(f"email_{locale}.html.j2", context),
                }
            )
        elif row["channel"] == "sms":
            text = env.render(f"sms_{locale}.txt.j2", context)
            length = sms_length(text)
            if length.parts > max_sms_parts:
                too_long.setdefault(f"sms_{locale}.txt.j2", []).append(length)
            sms.append(
                {
                    "customer_id": row["customer_id"],
                    "msisdn": re.sub(r"\D", "", row["phone"] or ""),
                    "text": text,
                    "encoding": length.encoding,
                    "parts": length.parts,
                }
            )
        else:
            payload = {
                "customer_id": row["customer_id"],
                "locale": locale,
                "title": env.render(f"app_title_{locale}.txt.j2", context),
                "coupons": [
                    {
                        k: c[k]
                        for k in (
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
                        )
                    }
                    for c in items
                ],
            }
            app.append(
                {
                    "customer_id": row["customer_id"],
                    "payload": json.dumps(payload, ensure_ascii=False, sort_keys=True),
                }
            )
    if too_long:
        name, lengths = max(too_long.items(), key=lambda item: (len(item[1]), item[0]))
        worst = max(lengths, key=lambda x: (x.parts, x.units))
        others = sum(len(v) for k, v in too_long.items() if k != name)
        also = f"; {others} more from other templates" if others else ""
        raise ConfigError(
            f"{env.folder / name}: {len(lengths)} SMS texts need more than max_sms_parts={max_sms_parts} "
            f"parts (longest: {worst.units} {worst.encoding} units, {worst.parts} parts){also}; "
            "shorten the template or raise max_sms_parts"
        )
    return Messages(
        email=pl.DataFrame(email, schema=_EMAIL_SCHEMA),
        sms=pl.DataFrame(sms, schema=_SMS_SCHEMA),
        app=pl.DataFrame(app, schema={"customer_id": pl.String, "payload": pl.String}),
    )


_EMAIL_SCHEMA = {
    "customer_id": pl.String,
    "email": pl.String,
    "first_name": pl.String,
    "locale": pl.String,
    "subject": pl.String,
    "codes": pl.String,
    "html": pl.String,
}
_SMS_SCHEMA = {
    "customer_id": pl.String,
    "msisdn": pl.String,
    "text": pl.String,
    "encoding": pl.String,
    "parts": pl.Int64,
}
