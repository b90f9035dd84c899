"""`coupongen init`: a job folder calibrated to a retailer's data, ready for a first night.

Reads the retailer's three inputs as a night would, then writes a job file and campaign files whose
money settings are rules relative to the data (resolved again every night, see ``offers.money``),
a currency and locale given or guessed from the customers' phone numbers, a nightly budget from the
number of customers, campaigns that need customer columns the data lacks left out with the reason,
and ``[products] never_promote`` filled with the categories and product names the data shows for
fuel, tobacco, alcohol, gift and prepaid cards, deposits, coupons, lottery and tickets, sensitive
health products (laxatives, contraception, incontinence, pharmacy...) and unknown items. The CSV
inputs' delimiter is read from their header lines unless given; messages in a language coupongen
has no templates in are written in English, to translate.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from babel import Locale, UnknownLocaleError

from coupongen.analysis import features
from coupongen.config import InputsConfig, JobConfig
from coupongen.delivery.names import category_names
from coupongen.delivery.templates import copy_language, language_of, template_languages
from coupongen.errors import InputError
from coupongen.inputs.contract import Inputs
from coupongen.inputs.loading import detect_delimiter, load_job_inputs
from coupongen.offers.money import data_figures
from coupongen.safecsv import formula_like, write_csv

# Calling code (phone prefix) -> (locale, currency), the longest prefix wins.
PHONE_LOCALES = {
    "1": ("en_US", "USD"), "7": ("ru_RU", "RUB"), "44": ("en_GB", "GBP"), "49": ("de_DE", "EUR"),
    "33": ("fr_FR", "EUR"), "34": ("es_ES", "EUR"), "39": ("it_IT", "EUR"), "31": ("nl_NL", "EUR"),
    "48": ("pl_PL", "PLN"), "380": ("uk_UA", "UAH"), "375": ("be_BY", "BYN"), "61": ("en_AU", "AUD"),
    "64": ("en_NZ", "NZD"), "353": ("en_IE", "EUR"), "91": ("en_IN", "INR"), "55": ("pt_BR", "BRL"),
}  # fmt: skip
DEFAULT_LOCALE = ("en_US", "USD")
FALLBACK_LANGUAGE = "en"  # whose templates a job in a language without bundled ones starts with
# What no coupon should discount, as case-insensitive patterns on category names and product names.
NEVER_PROMOTE_CATEGORIES = {
    "fuel": r"\bfuel|gasoline|petrol|diesel|propane|топливо|бензин",
    "tobacco": r"tobacco|cigar|\bsnuff\b|vape|табак|сигарет",
    "alcohol": r"liquor|\bwines?\b|\bbeers?\b|\bales\b|spirits|vodka|whisk|алкогол|пиво|вино|водка",
    "gift cards": r"gift ?cards?|prepaid|calling cards?|phone ?cards?|подарочн|предоплач",
    "deposits": r"deposit|залог",
    "coupons and lottery": r"coupon|lotter|lotto|\btickets?\b|купон|лотере|билет",
    "infant formula": r"infant formula|детское питание|детская смесь",
    # what a customer would not want named in an SMS on a lock screen, and pharmacy (often
    # barred from promotions)
    "sensitive health": (
        r"laxative|incontinen|family planning|contracept|condom|pregnancy|feminine|\bfem\.? ?hyg|"
        r"hemorrhoid|haemorrhoid|sleep(ing)? aids?|smoking cessation|diet(ary)? aids?|weight loss|"
        r"pharmacy|prescription|ostomy|\blice\b|слабительн|контрацеп|презерватив|женская гигиена|"
        r"прокладк|недержан|аптек|снотворн|похуден"
    ),
    "unknown items": r"^\s*(unknown|n/?a|misc)\s*$|^\s*неизвестн",
}
NEVER_PROMOTE_NAMES = {  # unambiguous in a product name, whatever its category
    "fuel": r"gasoline|petrol|diesel",
    "tobacco": r"cigarette|tobacco",
    "gift cards": r"gift ?card|prepaid (wireless|phone|card)|calling card",
    "deposits": r"\bdeposit\b",
    "sensitive health": r"laxative|condom|pregnancy test|incontinence|sleep(ing)? aid",
    "unknown items": r"^\s*unknown\s*$",
}
BUDGET_SHARE = 0.01  # a nightly budget of this share of one median basket per customer
# (campaign file, the customer column it cannot do without)
CAMPAIGNS = (
    ("service_recovery", "nps_score"),
    ("birthday", "birth_date"),
    ("win_back", None),
    ("second_purchase", None),
    ("vip_reward", None),  # few customers: before the campaigns that reach nearly everyone
    ("replenishment", None),
    ("cross_sell", None),
    ("referral", "nps_score"),
)


@dataclass(frozen=True)
class Calibration:
    """What `init` measured in the data and decided from it."""

    locale: str
    currency: str
    guessed: bool
    customers: int
    median_basket: float
    basket_p75: float
    median_price: float
    point_value: float
    budget: float
    first: date | None
    last: date | None
    left_out: dict[str, str]
    never_categories: dict[str, list[str]]
    never_names: dict[str, str]


@dataclass(frozen=True)
class InitResult:
    """What `init` wrote: the job file and the calibration in it; the CSV inputs' delimiter, read
    from their header lines (``delimiter_detected``) or given; the brand given (None: messages show
    the default until ``[channels] brand`` is set); the e-mails' sender given (None: the .eml files
    carry no From until ``[channels] sender`` is set); and the templates written in English under the
    job's language's names (``untranslated``, in ``templates``) because coupongen has none in
    ``language`` (its English name); and the categories' names file (``names``, ``named``
    categories in it).
    """

    path: Path
    calibration: Calibration
    delimiter: str
    delimiter_detected: bool
    brand: str | None
    templates: Path
    language: str
    untranslated: tuple[str, ...]
    sender: str | None = None
    names: Path | None = None
    named: int = 0


def find_inputs(data_dir: Path) -> InputsConfig:
    """The inputs settings naming the three files found in ``data_dir`` (Parquet, else CSV)."""
    names = {}
    for name in ("transactions", "products", "customers"):
        found = [f"{name}.{ext}" for ext in ("parquet", "csv") if (data_dir / f"{name}.{ext}").exists()]
        if not found and (data_dir / name).is_dir():
            found = [name]
        if not found:
            raise InputError(f"{data_dir}: no {name}.parquet, {name}.csv or {name}/ folder")
        names[name] = found[0]
    return InputsConfig(**names)


def guess_locale(customers: pl.DataFrame) -> tuple[str, str] | None:
    """(locale, currency) of the most common phone calling code, None when phones say nothing."""
    if "phone" not in customers.columns:
        return None
    phones = customers["phone"].drop_nulls().str.strip_chars()
    codes = phones.filter(phones.str.starts_with("+")).str.slice(1)
    counts: dict[tuple[str, str], int] = {}
    for prefix in sorted(PHONE_LOCALES, key=len, reverse=True):
        hit = int(codes.str.starts_with(prefix).sum())
        codes = codes.filter(~codes.str.starts_with(prefix))
        if hit:
            counts[PHONE_LOCALES[prefix]] = counts.get(PHONE_LOCALES[prefix], 0) + hit
    return max(counts, key=lambda k: counts[k]) if counts else None


def _nice(x: float) -> float:
    """``x`` rounded down to 1, 2 or 5 times a power of ten (a point value, a budget)."""
    if x <= 0:
        return 0.0
    power = 10 ** math.floor(math.log10(x))
    return max(m * power for m in (1, 2, 5) if m * power <= x)


def never_promote(products: pl.DataFrame) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Categories (by reason) and product-name patterns (by reason) the data shows for ``never_promote``."""
    categories = products["category"].unique().sort().to_list()
    by_reason = {
        reason: [c for c in categories if re.search(pattern, c, re.IGNORECASE)]
        for reason, pattern in NEVER_PROMOTE_CATEGORIES.items()
    }
    banned = {c for found in by_reason.values() for c in found}
    rest = products.filter(~pl.col("category").is_in(sorted(banned)))["name"]
    names = {
        reason: pattern
        for reason, pattern in NEVER_PROMOTE_NAMES.items()
        if rest.str.contains("(?i)" + pattern).any()
    }
    return {k: v for k, v in by_reason.items() if v}, names


def calibrate(inputs: Inputs, *, currency: str | None = None, locale: str | None = None) -> Calibration:
    """Measure the data: baskets, prices, customers, columns present, products never to promote."""
    tx = inputs.transactions.kept
    last = tx["ts"].max() if tx.height else None
    as_of = (last.date() if last is not None else date.today()) + timedelta(days=1)  # type: ignore[union-attr]
    facts = features.describe_customers(tx, inputs.products.kept, as_of=as_of, lookback_days=365)
    figures = data_figures(tx, facts.features, as_of=as_of, lookback_days=365)
    guess = guess_locale(inputs.customers.kept) or DEFAULT_LOCALE
    prices = tx.filter((pl.col("quantity") > 0) & (pl.col("amount") > 0)).select(
        pl.col("amount") / pl.col("quantity")
    )
    median_price = float(prices.to_series().median() or 0.0) if prices.height else 0.0  # type: ignore[arg-type]
    point_value = _nice(median_price / 100) or 1.0
    customers = inputs.customers.kept
    left_out = {}
    for name, column in CAMPAIGNS:
        if column is not None and (column not in customers.columns or customers[column].is_null().all()):
            left_out[name] = f"the customers file has no {column} values"
    cats, names = never_promote(inputs.products.kept)
    median_basket = figures.basket_percentile(50)
    return Calibration(
        locale=locale or guess[0],
        currency=(currency or guess[1]).upper(),
        guessed=currency is None and locale is None,
        customers=customers.height,
        median_basket=round(median_basket, 2),
        basket_p75=round(figures.basket_percentile(75), 2),
        median_price=round(median_price, 2),
        point_value=point_value,
        budget=_nice(customers.height * median_basket * BUDGET_SHARE) or 1.0,
        first=figures.first.date() if figures.first else None,
        last=figures.last.date() if figures.last else None,
        left_out=left_out,
        never_categories=cats,
        never_names=names,
    )


def _toml(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


BASKET = "{ basket_percentile = 50 }"  # half of the baskets reach it
# Each campaign: its file's text after the name, with {budget} filled in.
CAMPAIGN_TEXT = {
    "service_recovery": """type = "service_recovery"
description = "An apology and a fifth of a median basket off the next basket"
eligibility = { nps = ["detractor"] }
reward = { type = "amount", value = { median_basket = 0.2 } }
min_basket = { median_basket = 1.0 }
valid_days = 30
expected_redemption_rate = 0.15
budget = {budget}
frequency_cap_days = 90
channels = ["email", "sms", "app"]
code = { prefix = "S", length = 10, symbology = "code128" }
""",
    "birthday": """type = "birthday"
description = "Triple points on a birthday-week basket"
reward = { type = "multiplier", value = 3 }
valid_days = 7
expected_redemption_rate = 0.25
frequency_cap_days = 300
channels = ["email", "app", "sms"]
code = { prefix = "B", length = 10, symbology = "qr" }
""",
    "win_back": f"""type = "win_back"
description = "20% off the customer's favourite category to bring them back"
eligibility = {{ lifecycle = ["lapsing", "lapsed"], min_spend = {{ spend_percentile = 50 }} }}
reward = {{ type = "percent", value = 20 }}
min_basket = {BASKET}
valid_days = 21
expected_redemption_rate = 0.05
budget = {{budget}}
channels = ["email", "sms", "app"]
code = {{ prefix = "W", length = 10, symbology = "ean13", ean_prefix = "99" }}
""",
    "second_purchase": f"""type = "second_purchase"
description = "An amount off a second basket for customers who came once"
eligibility = {{ lifecycle = ["new"] }}
reward = {{ type = "amount", value = {{ median_basket = 0.15 }} }}
min_basket = {BASKET}
valid_days = 14
expected_redemption_rate = 0.12
budget = {{budget}}
frequency_cap_days = 60
channels = ["sms", "email", "app"]
code = {{ prefix = "N", length = 10, symbology = "code128" }}
""",
    "replenishment": """type = "replenishment"
description = "Bonus points worth a fifth of the price of a regular product that is due"
eligibility = { lifecycle = ["active", "lapsing"] }
# at least 10 points: about a tenth of a typical unit price
reward = { type = "points", value = { target_price = 0.2 }, min_value = 10 }
valid_from_offset_days = 0
valid_days = 10
expected_redemption_rate = 0.20
budget = {budget}
frequency_cap_days = 14
channels = ["app", "email", "sms"]
code = { prefix = "R", length = 10, symbology = "code128" }
""",
    "cross_sell": f"""type = "cross_sell"
description = "15% off a product that goes with what the customer already buys"
eligibility = {{ segments = ["champions", "loyal", "potential", "new", "promising", "need_attention"] }}
reward = {{ type = "percent", value = 15 }}
min_basket = {BASKET}
valid_days = 14
expected_redemption_rate = 0.08
budget = {{budget}}
channels = ["app", "email", "sms"]
code = {{ prefix = "X", length = 10, symbology = "qr" }}
""",
    "vip_reward": """type = "vip_reward"
description = "Double points for the best customers"
eligibility = { segments = ["champions"], min_spend = { spend_percentile = 80 } }
reward = { type = "multiplier", value = 2 }
valid_days = 14
expected_redemption_rate = 0.30
budget = {budget}
frequency_cap_days = 28
channels = ["app", "email"]
code = { prefix = "V", length = 10, symbology = "qr" }
""",
    "referral": f"""type = "referral"
description = "Invite a friend: 10% off for them"
eligibility = {{ nps = ["promoter"] }}
reward = {{ type = "percent", value = 10 }}
min_basket = {BASKET}
valid_days = 60
max_uses = 3
expected_redemption_rate = 0.05
budget = {{budget}}
frequency_cap_days = 90
channels = ["email", "app", "sms"]
code = {{ prefix = "F", length = 8, symbology = "qr" }}
""",
}


NAMES_FILE = "category_names.csv"
"""The job folder's category names (category, name), which init fills with the names the data gives."""


def starter_names(products: pl.DataFrame) -> pl.DataFrame:
    """category, name: each category of the products and the name customers would read (the
    products' ``category_name``, else the key, in title case when written in capitals), for the CRM
    team to edit. A key or name a spreadsheet would read as a formula is left out (the night falls
    back to the data's name for it): the file is written to be opened in one.
    """
    named = category_names(products.filter(pl.col("category").is_not_null()), name_case="auto")
    return named.filter(~formula_like("category") & ~formula_like("name"))


def job_text(
    cal: Calibration,
    data_dir: Path,
    inputs: InputsConfig,
    brand: str | None = None,
    sender: str | None = None,
) -> str:
    """The job file of a calibrated job folder; without ``brand`` or ``sender``, ``[channels]
    brand`` or ``sender`` is left to set (commented out).
    """
    source = "given" if not cal.guessed else "guessed from the customers' phone numbers"
    locale_line = (
        f"locale = {_toml(cal.locale)}"
        if "locale" in JobConfig.model_fields
        else f"# locale: {cal.locale} ({source})"
    )
    lines = [
        f"# A nightly job calibrated by `coupongen init` on {data_dir}: transactions from",
        f"# {cal.first} to {cal.last}, {cal.customers:,} customers, median basket {cal.median_basket:,.2f},",
        f"# 75th percentile {cal.basket_p75:,.2f}, median unit price {cal.median_price:,.2f} {cal.currency}.",
        "# Money settings in campaigns/ are rules on the data, resolved again every night (see",
        "# `coupongen check`); replace any of them by a number to fix it in the job's currency.",
        'name = "nightly"',
        f"data = {_toml(str(data_dir))}",
        'out = "out"',
        'ledger = "out/ledger.sqlite"',
        "seed = 1",
        "max_coupons_per_customer = 2",
        f"currency = {_toml(cal.currency)}  # {source}",
        locale_line,
        f"point_value = {cal.point_value:g}  # money value of one point: a hundredth of a typical unit price",
        f"points_per_currency = {0.01 / cal.point_value:g}  # 1% of spend back in points",
        "stale_after_days = 14",
        "",
        "campaigns = [",
    ]
    for name, _ in CAMPAIGNS:
        if name in cal.left_out:
            lines.append(f'  # "campaigns/{name}.toml",  left out: {cal.left_out[name]}')
        else:
            lines.append(f'  "campaigns/{name}.toml",')
    lines += [
        "]",
        "",
        "[inputs]",
        f"transactions = {_toml(inputs.transactions)}",
        f"products = {_toml(inputs.products)}",
        f"customers = {_toml(inputs.customers)}",
        *([f"delimiter = {_toml(inputs.delimiter)}"] if inputs.delimiter != "," else []),
        "",
        "[channels]",
        'templates = "templates"',
        f"brand = {_toml(brand)}"
        if brand is not None
        else '# brand = "..."  # the retailer\'s name, which e-mails and SMS show customers',
        f"sender = {_toml(sender)}"
        if sender is not None
        else '# sender = "Name <offers@example.com>"  # the From of the .eml files',
        "",
        "[products]",
        f"names = {_toml(NAMES_FILE)}  # the categories' names customers read: edit them there",
        "",
        "[products.never_promote]  # what the data shows for fuel, tobacco, alcohol, gift cards, deposits...",
        "categories = [",
    ]
    for reason, cats in cal.never_categories.items():
        lines.append(f"  # {reason}")
        lines += [f"  {_toml(c)}," for c in cats]
    lines.append("]")
    lines.append("name_patterns = [")
    for reason, pattern in cal.never_names.items():
        lines.append(f"  {_toml(pattern)},  # {reason}")
    lines.append("]")
    return "\n".join(lines) + "\n"


def campaign_text(name: str, cal: Calibration) -> str:
    """A campaign file of a calibrated job folder, its budget in the job's currency."""
    head = (
        f"# Calibrated by `coupongen init`: budget is {BUDGET_SHARE:.0%} of a median basket per customer.\n"
    )
    body = CAMPAIGN_TEXT[name].replace("{budget}", f"{cal.budget:g}")
    return head + f"name = {_toml(name)}\n" + body


def bundled_templates() -> Path | None:
    """The message templates that come with coupongen, to copy into a new job folder."""
    here = Path(__file__).resolve().parent
    for folder in (here / "templates", here.parents[1] / "jobs" / "templates"):
        if folder.is_dir():
            return folder
    return None


def copy_templates(folder: Path, locale: str) -> list[str]:
    """Copy the bundled message templates to ``folder`` (not over an existing one); when none is
    in the language of ``locale``, write the English ones under its names too (see
    `copy_language`), so that the job runs. Returns the names written in English that way.
    """
    bundled = bundled_templates()
    if bundled is None or folder.exists():
        return []
    shutil.copytree(bundled, folder)
    language = language_of(locale)
    if language in template_languages(folder):
        return []
    return copy_language(folder, FALLBACK_LANGUAGE, language)


def language_name(locale: str) -> str:
    """The English name of the language of ``locale`` (``German`` of ``de_DE``), else its code."""
    try:
        return Locale.parse(language_of(locale)).get_display_name("en") or language_of(locale)
    except (UnknownLocaleError, ValueError):
        return language_of(locale)


def init_job(
    data_dir: Path,
    out: Path,
    *,
    currency: str | None = None,
    locale: str | None = None,
    brand: str | None = None,
    delimiter: str | None = None,
    sender: str | None = None,
) -> InitResult:
    """Write a job folder calibrated to the data in ``data_dir`` into ``out``, its messages signed
    ``brand`` and its e-mails sent from ``sender`` (default: ``[channels] brand`` and ``sender``
    left to set).

    ``delimiter`` splits the CSV inputs (default: read from their header lines, see
    `detect_delimiter`). Refuses (InputError) to write over an existing job file.
    """
    data_dir = data_dir.resolve()
    job_path = out / "nightly.toml"
    if job_path.exists():
        raise InputError(f"{job_path}: already exists; choose another --out folder")
    found = find_inputs(data_dir)
    settings = InputsConfig.model_validate(
        {**found.model_dump(exclude_unset=True), "delimiter": delimiter or detect_delimiter(found, data_dir)}
    )
    inputs = load_job_inputs(settings.model_copy(update={"max_quarantine_share": 1.0}), data_dir)
    cal = calibrate(inputs, currency=currency, locale=locale)
    (out / "campaigns").mkdir(parents=True, exist_ok=True)
    for name, _ in CAMPAIGNS:
        (out / "campaigns" / f"{name}.toml").write_text(campaign_text(name, cal), encoding="utf-8")
    untranslated = copy_templates(out / "templates", cal.locale)
    names = starter_names(inputs.products.kept)
    write_csv(names, out / NAMES_FILE)
    job_path.write_text(job_text(cal, data_dir, settings, brand, sender), encoding="utf-8")
    return InitResult(
        path=job_path,
        calibration=cal,
        delimiter=settings.delimiter,
        delimiter_detected=delimiter is None,
        brand=brand,
        sender=sender,
        templates=out / "templates",
        language=language_name(cal.locale),
        untranslated=tuple(untranslated),
        names=out / NAMES_FILE,
        named=names.height,
    )
