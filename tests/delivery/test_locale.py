"""Messages in the job's locale and currency: Babel formats, template language per customer,
category display names."""

from __future__ import annotations

import shutil
from datetime import date

import polars as pl
import pytest

from coupongen.config import load_job
from coupongen.delivery import names
from coupongen.delivery.formatting import day, money, number, percent, plural
from coupongen.delivery.messages import render_messages
from coupongen.delivery.templates import template_environment
from coupongen.errors import ConfigError, InputError
from tests.conftest import AS_OF, NIGHTLY, SAMPLE, invoke
from tests.delivery.test_messages import TEMPLATES, coupon, customers


@pytest.mark.parametrize(
    ("value", "currency", "locale", "text"),
    [
        (5.0, "USD", "en_US", "$5"),
        (1.9, "USD", "en_US", "$1.90"),
        (1500.0, "USD", "en_US", "$1,500"),
        (1500.0, "RUB", "ru_RU", "1\u00a0500\u00a0₽"),
        (1500.5, "RUB", "ru_RU", "1\u00a0500,50\u00a0₽"),
        (2.5, "USD", "ru_RU", "2,50\u00a0$"),
        (10.0, "EUR", "de_DE", "10\u00a0€"),
    ],
)
def test_money_is_formatted_by_the_locale_whole_amounts_without_a_fraction(value, currency, locale, text):
    assert money(value, currency, locale) == text


def test_numbers_percents_dates_and_plurals_follow_the_locale():
    assert (number(12345.5, "en_US"), number(12345.5, "ru_RU")) == ("12,345.5", "12\u00a0345,5")
    assert (percent(15, "en_US"), percent(15, "ru_RU")) == ("15%", "15\u00a0%")
    assert (day("2026-12-06", "en_US"), day("2026-12-06", "ru_RU")) == ("12/6", "06.12")
    assert day(date(2026, 12, 6), "en_US", "long") == "December 6, 2026"
    forms = {"one": "бонус", "few": "бонуса", "many": "бонусов", "other": "бонуса"}
    assert [plural(n, "ru_RU", forms) for n in (1, 3, 5, 21, 1.5)] == [
        "бонус",
        "бонуса",
        "бонусов",
        "бонус",
        "бонуса",
    ]
    with pytest.raises(ValueError, match="unknown date format 'weekday'"):
        day("2026-12-06", "en_US", "weekday")


def render_for(locale: str, currency: str, chosen, people: pl.DataFrame | None = None):
    coupons = [
        coupon(cid, f"CODE{i}", reward_type="amount", reward_value=2.0, min_basket=15.0)
        for i, (cid, _, _) in enumerate(chosen)
    ]
    ranked = pl.DataFrame(
        [(cid, ["cs"], [ch], n) for cid, ch, n in chosen],
        schema={
            "customer_id": pl.String,
            "campaigns": pl.List(pl.String),
            "channels": pl.List(pl.String),
            "coupons": pl.Int64,
        },
        orient="row",
    )
    return render_messages(
        pl.DataFrame(coupons),
        ranked,
        customers() if people is None else people,
        {"P1": "Spaghetti 500 g"},
        template_environment(TEMPLATES, locale=locale, currency=currency),
        brand="Shop",
        currency=currency,
        max_sms_parts=3,
    )


def test_an_english_job_in_dollars_writes_english_sms_in_gsm7():
    people = customers().with_columns(locale=pl.lit(None, pl.String))
    msgs = render_for("en_US", "USD", [("C1", "sms", 1)], people)
    text = msgs.sms["text"].item()
    assert (
        text
        == "Shop: $2 off Spaghetti 500 g with a basket of $15 or more, code CODE0 until 12/6. Reply STOP to opt out"
    )
    assert msgs.sms["encoding"].item() == "GSM-7"


def test_the_russian_template_prints_the_jobs_currency_not_roubles():
    msgs = render_for("ru_RU", "USD", [("C1", "sms", 1)])
    assert msgs.sms["text"].item() == (
        "Shop: 2 $ скидки на Spaghetti 500 g при покупке от 15 $, код CODE0 до 06.12"
    )


def test_a_customers_own_locale_picks_the_language_when_templates_exist_money_stays_the_jobs():
    people = customers().with_columns(locale=pl.Series(["en_GB", "ru", "fr", "en", None]))
    msgs = render_for("ru_RU", "USD", [("C1", "sms", 1), ("C2", "email", 1), ("C3", "sms", 1)], people)
    texts = dict(zip(msgs.sms["customer_id"], msgs.sms["text"], strict=True))
    # en_GB: English words, British dates, the job's dollars
    assert (
        texts["C1"]
        == "Shop: US$2 off Spaghetti 500 g with a basket of US$15 or more, code CODE0 until 06/12. Reply STOP to opt out"
    )
    # no French templates: the job's language and formats
    assert texts["C3"].startswith("Shop: 2 $ скидки на Spaghetti 500 g")
    assert msgs.email.select("customer_id", "locale").rows() == [("C2", "ru")]
    assert msgs.email["subject"].item() == "Bob, ваши персональные купоны Shop"


def test_a_job_language_without_templates_is_a_config_error_before_anything_is_issued():
    templates = template_environment(TEMPLATES, locale="de_DE", currency="EUR")
    with pytest.raises(ConfigError, match=r"sms_de\.txt\.j2: template not found"):
        templates.compile(["sms"])


def test_job_locale_and_currency_are_checked_when_the_job_is_loaded(tmp_path):
    job = tmp_path / "job.toml"
    job.write_text('locale = "xx_YY"\n')
    with pytest.raises(ConfigError, match=r"job\.toml: locale: unknown locale 'xx_YY'"):
        load_job(job)
    job.write_text('currency = "DOLLARS"\n')
    with pytest.raises(ConfigError, match=r"job\.toml: currency: unknown currency 'DOLLARS'"):
        load_job(job)
    job.write_text('locale = "en-GB"\ncurrency = "GBP"\n')
    assert load_job(job).config.locale == "en_GB"


def test_category_display_names_come_from_the_names_file_then_the_products_column_then_the_key(tmp_path):
    products = pl.DataFrame(
        {
            "sku": ["P1", "P2", "P3", "P4"],
            "name": ["Milk 1 l", "Gouda", "Cola", "Lager"],
            "category": ["milk", "cheese", "soft_drinks", "beer"],
            "category_name": ["Milk", "Cheese", None, ""],
        }
    )
    path = tmp_path / "category_names.csv"
    path.write_text("category,name\ncheese, Fine cheese \nnot_sold,Whatever\n")
    got = names.target_names(products, names.read_category_names(path))
    assert {k: got[k] for k in ("P1", "milk", "cheese", "soft_drinks", "beer")} == {
        "P1": "Milk 1 l",
        "milk": "Milk",
        "cheese": "Fine cheese",
        "soft_drinks": "soft drinks",
        "beer": "beer",
    }
    assert names.target_names(products)["cheese"] == "Cheese"


def test_a_bad_names_file_is_an_input_error_naming_the_file_and_row(tmp_path):
    path = tmp_path / "names.csv"
    with pytest.raises(InputError, match=r"names\.csv: category names file not found"):
        names.read_category_names(path)
    path.write_text("category,label\nmilk,Milk\n")
    with pytest.raises(InputError, match=r"names\.csv: missing column\(s\) name \(need category, name\)"):
        names.read_category_names(path)
    path.write_text("category,name\nmilk,Milk\ncheese,Cheese\nmilk,Dairy\n")
    with pytest.raises(InputError, match=r"names\.csv: row 4: category named twice"):
        names.read_category_names(path)


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("BANANAS 40 LB", "Bananas 40 lb"),
        ("ICE - CRUSHED/CUBED 22 LB", "Ice - Crushed/Cubed 22 lb"),
        ("VITAMINS 300 CT(1)", "Vitamins 300 ct(1)"),
        ("EGGS - X-LARGE 1 DZ", "Eggs - X-Large 1 dz"),
        ("MARGARINE  STICK 1 GA", "Margarine Stick 1 ga"),
        ("DON'T STOP SODA 12OZ", "Don't Stop Soda 12oz"),
        ("МОЛОКО 3,2% 1 Л", "Молоко 3,2% 1 Л"),
        ("ÉCLAIRS AU CHOCOLAT", "Éclairs Au Chocolat"),
        ("Café au lait 1 L", "Café au lait 1 L"),  # the retailer's own casing
        ("iPhone CASE", "iPhone CASE"),
        ("A", "A"),
        ("4011", "4011"),
    ],
)
def test_names_written_in_capitals_read_in_title_case_units_in_lower_case(written, shown):
    assert names.readable_name(written) == shown


def test_name_case_applies_to_names_from_the_data_not_to_the_names_file(tmp_path):
    products = pl.DataFrame(
        {
            "sku": ["P1", "P2", "P3"],
            "name": ["WHOLE MILK 1 GAL", "Gouda 200 g", "4011"],
            "category": ["DAIRY", "CHEESE", "FRZN_ICE"],
            "category_name": ["DAIRY PRODUCTS", None, None],
        }
    )
    path = tmp_path / "category_names.csv"
    path.write_text("category,name\nCHEESE,CHEESE BAR\n")
    given = names.read_category_names(path)
    auto = names.target_names(products, given)
    assert [auto[k] for k in ("P1", "P2", "P3", "DAIRY", "CHEESE", "FRZN_ICE")] == [
        "Whole Milk 1 gal",
        "Gouda 200 g",
        "4011",
        "Dairy Products",
        "CHEESE BAR",
        "Frzn Ice",
    ]
    kept = names.target_names(products, given, name_case="as_written")
    assert [kept[k] for k in ("P1", "DAIRY", "FRZN_ICE")] == [
        "WHOLE MILK 1 GAL",
        "DAIRY PRODUCTS",
        "FRZN ICE",
    ]


def test_offer_reasons_name_products_as_the_messages_do(tmp_path):
    # a retailer whose systems write every product name in capitals
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    products = pl.read_csv(data / "products.csv", infer_schema=False)
    products.with_columns(pl.col("name").str.to_uppercase()).write_csv(data / "products.csv")
    out = tmp_path / "out"
    result = invoke(
        "run", "--config", str(NIGHTLY), "--data", str(data), "--out", str(out), "--as-of", AS_OF, "-q"
    )
    assert result.exit_code == 0, result.output
    offers = pl.read_csv(out / AS_OF / "crm" / "offers.csv", infer_schema=False)
    named = offers.filter(pl.col("reason").str.contains("bought|buys"))
    assert named.height > 100
    shown = set(offers["target_name"].drop_nulls().to_list())
    assert "Barilla Tagliatelle 450 g" in shown
    # every product a reason names reads as its display name: no word of three capitals or more
    assert named.filter(pl.col("reason").str.contains(r"\b[A-Z]{3,}\b")).is_empty()
