"""A night on the us-grocery sample profile: English messages with dollar amounts, the currency in
the POS file and the summary, fuel lines and UNKNOWN products in the data."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import date
from pathlib import Path

import polars as pl
from click.testing import CliRunner

import coupongen
from coupongen.cli import cli
from coupongen.synthetic.sample import generate_sample, write_sample

REPO = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 6, 1)

CAMPAIGNS = {
    # amounts in dollars: what a US grocery would offer on a median basket of about 17 USD
    "second_purchase.toml": """
name = "second_purchase"
type = "second_purchase"
eligibility = { lifecycle = ["new"] }
reward = { type = "amount", value = 5 }
min_basket = 25
valid_days = 14
expected_redemption_rate = 0.12
holdout_share = 0.0
channels = ["sms", "email", "app"]
code = { prefix = "N", length = 10, symbology = "code128" }
""",
    "win_back.toml": """
name = "win_back"
type = "win_back"
eligibility = { lifecycle = ["lapsing", "lapsed"] }
reward = { type = "percent", value = 20 }
min_basket = 20
valid_from_offset_days = 1
valid_days = 21
expected_redemption_rate = 0.05
holdout_share = 0.0
channels = ["sms", "email", "app"]
code = { prefix = "W", length = 10, symbology = "ean13", ean_prefix = "99" }
""",
}


def us_job(tmp_path: Path) -> coupongen.Job:
    """The us-grocery sample as a job, every other phone written as a US retailer's file often has
    it: (212) 555-0118, no country code.
    """
    data = generate_sample(300, seed=11, as_of=AS_OF, days=180, lines_per_customer=30, profile="us-grocery")
    national = pl.col("phone").str.replace(r"^\+1(\d{3})(\d{3})(\d{4})$", "($1) $2-$3")
    every_other = pl.int_range(pl.len()) % 2 == 0
    customers = data.customers.with_columns(phone=pl.when(every_other).then(national).otherwise("phone"))
    write_sample(dataclasses.replace(data, customers=customers), tmp_path / "data", fmt="parquet")
    jobs = tmp_path / "jobs"
    (jobs / "campaigns").mkdir(parents=True)
    for name, text in CAMPAIGNS.items():
        (jobs / "campaigns" / name).write_text(text)
    (jobs / "job.toml").write_text(
        f"""
data = "../data"
out = "../out"
ledger = "../out/ledger.sqlite"
locale = "en_US"
currency = "USD"
campaigns = ["campaigns/second_purchase.toml", "campaigns/win_back.toml"]
[inputs]
transactions = "transactions.parquet"
products = "products.parquet"
customers = "customers.parquet"
[channels]
templates = "{REPO / "jobs" / "templates"}"
brand = "Corner Grocery"
email_images = false
"""
    )
    return coupongen.load_job(jobs / "job.toml")


def test_the_us_profile_looks_like_a_us_grocery_export():
    data = generate_sample(300, seed=11, as_of=AS_OF, days=180, lines_per_customer=30, profile="us-grocery")
    sales = data.transactions.filter(pl.col("amount") > 0)
    median_basket = sales.group_by("receipt_id").agg(pl.col("amount").sum())["amount"].median()
    assert 12 <= median_basket <= 25  # a 600-rouble basket at the profile's price level, plus fuel
    lines = data.transactions.join(data.products, on="sku")
    fuel = lines.filter(pl.col("category") == "fuel")
    assert fuel.height > 0 and fuel["quantity"].min() >= 1000  # thousandths of a gallon
    assert lines.filter(pl.col("name") == "UNKNOWN").height > 0
    assert set(data.customers["locale"]) == {"en"}
    assert data.customers["phone"].drop_nulls().str.contains(r"^\+1\d{3}555\d{4}$").all()
    assert data.products.filter(pl.col("category") == "pasta_sauce")["category_name"].unique().to_list() == [
        "Pasta sauce"
    ]


def test_a_night_on_the_us_profile_writes_english_messages_in_dollars(tmp_path):
    job = us_job(tmp_path)
    settings = coupongen.resolve_settings(job, as_of=AS_OF, out_dir=tmp_path / "out")
    result = coupongen.run_job(job, settings, entropy=random.Random(3).randbytes)
    night = tmp_path / "out" / AS_OF.isoformat()

    pos = pl.read_csv(night / "pos" / "coupons.csv", infer_schema=False)
    assert pos.height > 0 and set(pos["currency"]) == {"USD"}
    summary = json.loads((night / "summary.json").read_text())
    assert (summary["currency"], summary["locale"]) == ("USD", "en_US")
    assert result.summary.currency == "USD"

    sms = pl.read_csv(night / "sms" / "messages.csv", infer_schema=False)
    email = pl.read_csv(night / "email" / "merge.csv", infer_schema=False)
    texts = sms["text"].to_list() + email["subject"].to_list()
    assert sms.height > 0 and email.height > 0
    # one international format for every number, whether the file wrote it with +1 or without
    phones = pl.read_parquet(tmp_path / "data" / "customers.parquet").select("customer_id", "phone")
    sent = sms.join(phones, on="customer_id")
    assert sent["phone"].str.starts_with("(").any() and sent["phone"].str.starts_with("+").any()
    assert (
        sent["msisdn"] == sent["phone"].str.replace_all(r"\D", "").str.replace(r"^(\d{10})$", "1$1")
    ).all()
    assert sent["msisdn"].str.contains(r"^1\d{3}555\d{4}$").all()
    assert not any(ch in text for text in texts for ch in "₽абвгдеёжзийклмнопрстуфхцчшщыэюя")
    assert set(sms["encoding"]) == {"GSM-7"}  # English and $: no UCS-2
    assert all(t.startswith("Corner Grocery: ") for t in sms["text"])
    # every amount is in dollars, as en_US writes them
    assert sms["text"].str.contains(r"\$5 off a basket of \$25 or more|with a basket of \$20 or more").all()
    win_back = sms.filter(pl.col("text").str.contains("20% off any item in "))
    assert win_back.height > 0  # category offers read the category's display name, not its key
    assert not win_back["text"].str.contains(r"any item in [a-z_]+_").any()
    html = (night / "email" / email["html_file"][0]).read_text()
    assert '<html lang="en">' in html and "$" in html


def test_sample_data_makes_the_us_profile_and_says_how_to_run_it(tmp_path):
    args = ["sample-data", "--profile", "us-grocery", "--customers", "40", "--days", "60", "--bad-rows", "0"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == 'a job for it: locale = "en_US", currency = "USD"'
    products = pl.read_csv(tmp_path / "products.csv", infer_schema=False)
    assert "category_name" in products.columns and "GASOLINE-REG UNLEADED" in products["name"].to_list()
    bad = CliRunner().invoke(cli, ["sample-data", "--profile", "fr-bakery", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "Invalid value for '--profile': 'fr-bakery' is not one of" in bad.output
