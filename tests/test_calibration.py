from __future__ import annotations

import json
import tomllib
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from coupongen import pipeline
from coupongen.calibration import NEVER_PROMOTE_NAMES, guess_locale, init_job, never_promote
from coupongen.cli import cli
from coupongen.config import load_job
from coupongen.delivery import names as display_names
from coupongen.errors import InputError
from tests.conftest import REPO

PRODUCTS = """sku,name,category,brand,price
MILK,MILK 1 GAL,DAIRY,Private,2.00
BREAD,WHITE BREAD,BAKERY,Private,1.00
EGGS,EGGS 12 CT,DAIRY,National,3.00
GAS,GASOLINE-REG UNLEADED,COUPON/MISC ITEMS,Private,
GIFT,VISA GIFT CARD 25,GREETING CARDS,National,25.00
BEER,LAGER 6 PK,BEERS/ALES,National,8.00
X,UNKNOWN,UNKNOWN,National,
"""
CUSTOMERS = "customer_id,card_number,email,phone,email_opt_in,sms_opt_in\n" + "".join(
    f"C{i},27700000000{i},c{i}@example.com,+1555000000{i},true,true\n" for i in range(4)
)


def write_data(folder: Path, *, phone: str = "+1555", delimiter: str = ",") -> Path:
    """The three inputs in ``folder``: phones starting with ``phone``, fields split by ``delimiter``
    (no value holds a comma).
    """
    folder.mkdir()
    (folder / "products.csv").write_text(PRODUCTS.replace(",", delimiter))
    (folder / "customers.csv").write_text(CUSTOMERS.replace("+1555", phone).replace(",", delimiter))
    lines = ["receipt_id,customer_id,ts,store_id,sku,quantity,amount"]
    # four customers, a basket of 6.00, 8.00, 10.00 or 12.00 every week for 10 weeks (the last on
    # 2026-11-06); the first buys eggs too
    for week in range(10):
        for i in range(4):
            day = date(2026, 9, 1) + timedelta(days=7 * week + i)
            receipt = f"R{week}-{i}"
            lines.append(f"{receipt},C{i},{day}T10:00:00,S1,MILK,1,2.00")
            loaves = 1 if i == 0 else i + 2
            lines.append(f"{receipt},C{i},{day}T10:00:00,S1,BREAD,{loaves},{2.0 * loaves:.2f}")
            if i == 0:
                lines.append(f"{receipt},C{i},{day}T10:00:00,S1,EGGS,1,2.00")
    (folder / "transactions.csv").write_text("\n".join(lines).replace(",", delimiter) + "\n")
    return folder


def test_never_promote_lists_what_the_data_shows():
    import polars as pl

    products = pl.read_csv(PRODUCTS.encode(), infer_schema=False)
    categories, names = never_promote(products)
    assert categories == {
        "alcohol": ["BEERS/ALES"],
        "coupons and lottery": ["COUPON/MISC ITEMS"],
        "unknown items": ["UNKNOWN"],
    }
    assert names == {
        "gift cards": NEVER_PROMOTE_NAMES["gift cards"]
    }  # the gasoline's category is already banned


def test_never_promote_keeps_prepaid_cards_tickets_and_sensitive_health_products_out():
    # Guards against "39 bonus points on Sleeping Aids" in an SMS, or points on prepaid phone cards.
    import polars as pl

    categories = [
        "LAXATIVES",
        "FEMININE HYGIENE",
        "ADULT INCONTINENCE",
        "FAMILY PLANNING",
        "PHARMACY",
        "PREPAID WIRELESS&ACCESSORIES",
        "TICKETS",
        "Средства для похудения",
        "VITAMINS",
        "RESTRICTED DIET",
        "COLD AND FLU",
    ]
    names = [f"ITEM {i}" for i in range(len(categories))]
    names[-1] = "SLEEPING AIDS 32 CT"
    found, patterns = never_promote(pl.DataFrame({"sku": names, "name": names, "category": categories}))
    assert found == {
        "gift cards": ["PREPAID WIRELESS&ACCESSORIES"],
        "coupons and lottery": ["TICKETS"],
        "sensitive health": [
            "ADULT INCONTINENCE",
            "FAMILY PLANNING",
            "FEMININE HYGIENE",
            "LAXATIVES",
            "PHARMACY",
            "Средства для похудения",
        ],
    }
    assert list(patterns) == ["sensitive health"]  # the sleeping aids, in a category of their own


def test_locale_and_currency_are_guessed_from_phone_numbers():
    import polars as pl

    phones = pl.DataFrame({"phone": ["+79161234567", "+79031112233", "+15550000000", None]})
    assert guess_locale(phones) == ("ru_RU", "RUB")
    assert guess_locale(pl.DataFrame({"phone": ["5550000", None]})) is None


def test_init_writes_a_job_that_loads_and_fits_the_data(tmp_path):
    data = write_data(tmp_path / "data")
    done = init_job(data, tmp_path / "job")
    job_path, cal = done.path, done.calibration
    assert (cal.currency, cal.locale, cal.guessed) == ("USD", "en_US", True)
    assert cal.median_basket == 9.0  # baskets of 6, 8, 10 and 12
    assert cal.left_out == {
        "service_recovery": "the customers file has no nps_score values",
        "birthday": "the customers file has no birth_date values",
        "referral": "the customers file has no nps_score values",
    }
    text = job_path.read_text()
    assert '# "campaigns/birthday.toml",  left out: the customers file has no birth_date values' in text
    doc = tomllib.loads(text)
    assert doc["currency"] == "USD"
    assert doc["products"]["never_promote"]["categories"] == ["BEERS/ALES", "COUPON/MISC ITEMS", "UNKNOWN"]
    job = load_job(job_path)
    assert [c.name for c in job.campaigns] == [
        "win_back",
        "second_purchase",
        "vip_reward",
        "replenishment",
        "cross_sell",
    ]
    settings = pipeline.resolve_settings(job, as_of=date(2026, 11, 7))
    result = pipeline.run_job(job, settings, dry_run=True)
    money = {(m["campaign"], m["setting"]): m["value"] for m in result.summary.preflight["money"]}
    assert money[("cross_sell", "min_basket")] == 9.0  # the median basket: half the baskets reach it
    assert money[("second_purchase", "reward")] == 1.35  # 15% of it
    with pytest.raises(InputError, match="already exists"):
        init_job(data, tmp_path / "job")


def test_init_writes_the_categories_names_for_the_crm_team_to_edit(tmp_path):
    import polars as pl

    data = write_data(tmp_path / "data")
    products = pl.read_csv(data / "products.csv", infer_schema=False)
    # a key a spreadsheet would run as a formula stays out of a file written to be opened in one
    risky = products.head(1).with_columns(sku=pl.lit("RISKY"), category=pl.lit("=HYPERLINK(0)"))
    pl.concat([products, risky]).write_csv(data / "products.csv")
    done = init_job(data, tmp_path / "job")
    names = pl.read_csv(tmp_path / "job" / "category_names.csv", infer_schema=False)
    assert names.columns == ["category", "name"]
    keys = sorted(set(products["category"].to_list()))
    assert names["category"].to_list() == keys  # every category once, the risky one left out
    assert dict(names.iter_rows())["BEERS/ALES"] == "Beers/Ales"  # as the night shows it
    assert tomllib.loads(done.path.read_text())["products"]["names"] == "category_names.csv"
    # the CRM team's name is the one the night reads
    names.with_columns(
        pl.when(pl.col("category") == "DAIRY").then(pl.lit("Milk & Eggs")).otherwise("name").alias("name")
    ).write_csv(tmp_path / "job" / "category_names.csv")
    job = load_job(done.path)
    shown = display_names.target_names(
        products,
        display_names.read_category_names(job.resolve(job.config.products.names or "")),
        name_case=job.config.products.name_case,
    )
    assert (shown["DAIRY"], shown["BEERS/ALES"]) == ("Milk & Eggs", "Beers/Ales")


def test_check_lists_every_finding_and_a_stale_night_exits_2(tmp_path):
    data = write_data(tmp_path / "data")
    job_path = init_job(data, tmp_path / "job", currency="usd", locale="en_US").path
    args = ["check", "--config", str(job_path), "-q"]
    fresh = CliRunner().invoke(cli, [*args, "--as-of", "2026-11-07"])
    assert "preflight: transactions from 2026-09-01 to 2026-11-06" in fresh.output
    assert (
        "cross_sell             ok           min_basket: 50.0% of baskets reach min_basket 9.00"
        in fresh.output
    )
    # nobody in four weekly shoppers is lapsing, new or a top spender among champions
    assert (
        "win_back               CANNOT FIRE  eligible: no customer meets its eligibility tonight"
        in fresh.output
    )
    assert fresh.output.splitlines()[-1] == (
        "4 campaign(s) cannot fire: win_back, second_purchase, vip_reward, replenishment"
    )
    assert fresh.exit_code == 1
    stale = CliRunner().invoke(cli, [*args, "--as-of", "2027-01-05"])
    assert stale.exit_code == 2
    assert stale.output.strip() == (
        "Error: transactions: the newest transaction is from 2026-11-06, 60 days before --as-of "
        "2027-01-05 (stale_after_days = 14); pass --allow-stale to run on it anyway"
    )


def test_init_on_an_old_history_names_the_night_to_check(tmp_path):
    # The history ends on 2026-11-06, more than stale_after_days before any day this test runs on.
    data = write_data(tmp_path / "data")
    result = CliRunner().invoke(cli, ["init", "--data", str(data), "--out", str(tmp_path / "job")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    job = tmp_path / "job" / "nightly.toml"
    assert lines[-2:] == [
        f"next: coupongen check --config {job} --as-of 2026-11-07",
        "  (the history ends on 2026-11-06: run its nights with --as-of, as above)",
    ]
    suggested = lines[-2].removeprefix("next: coupongen ").split()
    assert CliRunner().invoke(cli, [*suggested, "-q"]).exit_code == 1  # findings, not a stale refusal


def init(data: Path, out: Path, *options: str) -> list[str]:
    """Run `coupongen init` on ``data`` into ``out``; its output lines."""
    result = CliRunner().invoke(cli, ["init", "--data", str(data), "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def first_night(job: Path, *options: str) -> str:
    """Run the night after the test data's history on the job file ``job``; its output."""
    result = CliRunner().invoke(cli, ["run", "--config", str(job), "--as-of", "2026-11-07", "-q", *options])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_job_in_a_language_without_templates_runs_in_english_with_its_own_formats(tmp_path):
    # Guards the first night of a German retailer's job, which stopped on
    # "templates/email_subject_de.txt.j2: template not found".
    data = write_data(tmp_path / "data", phone="+49")
    out = tmp_path / "job"
    lines = init(data, out)
    first_night(out / "nightly.toml")
    templates = out / "templates"
    assert lines[1].startswith("  EUR / de_DE (guessed);")
    assert lines[2] == (
        f"  messages in English: coupongen has no German templates; translate the 9 files {templates}/*_de.*"
    )
    assert (templates / "sms_de.txt.j2").read_text() == (templates / "sms_en.txt.j2").read_text().replace(
        '"_offer_en.j2"', '"_offer_de.j2"'
    )
    night = out / "out" / "2026-11-07" / "email"
    assert "Subject: Your personal coupongen coupons" in (night / "eml" / "C2.eml").read_text()
    # English words, German numbers and money
    assert (
        "15\xa0% off Eggs 12 ct with a basket of 9\xa0€ or more" in (night / "html" / "C2.html").read_text()
    )


def test_a_given_locale_without_templates_gets_english_ones_and_english_or_russian_none(tmp_path):
    data = write_data(tmp_path / "data")
    lines = init(data, tmp_path / "ja", "--locale", "ja_JP", "--currency", "JPY")
    first_night(tmp_path / "ja" / "nightly.toml", "--dry-run")
    assert f"translate the 9 files {tmp_path / 'ja' / 'templates'}/*_ja.*" in lines[2]
    for locale in ("en_GB", "ru_RU"):
        lines = init(data, tmp_path / locale, "--locale", locale, "--currency", "EUR")
        assert not any("messages in English" in line for line in lines)
        bundled = sorted(p.name for p in (REPO / "jobs" / "templates").iterdir())
        assert sorted(p.name for p in (tmp_path / locale / "templates").iterdir()) == bundled


def test_the_brand_and_sender_given_to_init_sign_the_messages(tmp_path):
    data = write_data(tmp_path / "data")
    out = tmp_path / "job"
    lines = init(data, out, "--brand", "Acme", "--sender", " Acme Foods <offers@acme.example> ")
    assert not any("[channels] brand" in line or "[channels] sender" in line for line in lines)
    job = out / "nightly.toml"
    channels = tomllib.loads(job.read_text())["channels"]
    assert (channels["brand"], channels["sender"]) == ("Acme", "Acme Foods <offers@acme.example>")
    first_night(job)
    eml = (out / "out" / "2026-11-07" / "email" / "eml" / "C2.eml").read_text()
    assert "Subject: Your personal Acme coupons" in eml
    assert "From: Acme Foods <offers@acme.example>" in eml
    check = CliRunner().invoke(cli, ["check", "--config", str(job), "--as-of", "2026-11-07", "-q"])
    assert "[channels] brand" not in check.output


def test_without_a_brand_init_and_check_say_to_set_one(tmp_path):
    # Guards against messages to customers signed "coupongen", the default brand.
    data = write_data(tmp_path / "data")
    out = tmp_path / "job"
    job = out / "nightly.toml"
    lines = init(data, out)
    assert f'  set [channels] brand in {job}: until then e-mails and SMS are signed "coupongen"' in lines
    assert (
        f"  set [channels] sender in {job} (or init --sender): until then the .eml files carry no From, "
        "which a platform sending them as they are needs"
    ) in lines
    assert {"brand", "sender"}.isdisjoint(tomllib.loads(job.read_text())["channels"])
    check = CliRunner().invoke(cli, ["check", "--config", str(job), "--as-of", "2026-11-07", "-q"])
    assert check.output.splitlines()[-2] == (
        f'WARNING: {job.resolve()}: [channels] brand is the default "coupongen", which customers read in '
        "e-mails and SMS; set it to the retailer's name"
    )
    assert check.exit_code == 1  # campaigns that cannot fire, as without the warning
    for campaign in (out / "campaigns").iterdir():
        text = campaign.read_text()
        campaign.write_text(
            text[: text.index("channels = ")] + 'channels = ["app"]\n' + text[text.index("code = ") :]
        )
    assert load_job(job).unbranded_channels() == ()


def test_init_refuses_a_sender_that_is_not_one_address_before_writing_anything(tmp_path):
    data = write_data(tmp_path / "data")
    for bad in ("offers at acme", "a@b.example, c@d.example", "Acme <offers@acme.example>\nBcc: x@y.example"):
        result = CliRunner().invoke(
            cli, ["init", "--data", str(data), "--out", str(tmp_path / "job"), "--sender", bad]
        )
        assert result.exit_code == 2
        assert "Error: Invalid value for --sender: must be one address (offers@example.com)" in result.output
    assert not (tmp_path / "job").exists()


def test_init_reads_a_semicolon_separated_export_and_its_job_runs_on_it(tmp_path):
    # Guards against init refusing a ';'-separated export with no way to say so.
    semicolons = write_data(tmp_path / "semicolons", delimiter=";")
    lines = init(semicolons, tmp_path / "job")
    assert lines[2] == (
        "  CSV inputs ';'-delimited (read from their header lines), as the job file's [inputs] delimiter says"
    )
    job = tmp_path / "job" / "nightly.toml"
    assert tomllib.loads(job.read_text())["inputs"]["delimiter"] == ";"
    init(write_data(tmp_path / "commas"), tmp_path / "commas_job")
    offers = [
        json.loads(first_night(j, "--dry-run", "--json"))["campaigns"]
        for j in (job, tmp_path / "commas_job" / "nightly.toml")
    ]
    assert offers[0] == offers[1]


def test_init_takes_the_delimiter_given_and_refuses_inputs_split_differently(tmp_path):
    semicolons = write_data(tmp_path / "semicolons", delimiter=";")
    given = init(semicolons, tmp_path / "given", "--delimiter", ";")
    assert "(given)" in given[2]
    wrong = CliRunner().invoke(
        cli, ["init", "--data", str(semicolons), "--out", str(tmp_path / "x"), "--delimiter", ","]
    )
    assert wrong.exit_code == 2
    assert wrong.output.strip() == (
        f"Error: {semicolons / 'products.csv'}: missing required columns 'sku', 'name', 'category' "
        "(the header looks ';'-delimited; the job expects ',')"
    )
    mixed = write_data(tmp_path / "mixed")
    (mixed / "products.csv").write_text(PRODUCTS.replace(",", ";"))
    result = CliRunner().invoke(cli, ["init", "--data", str(mixed), "--out", str(tmp_path / "y")])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"Error: {mixed / 'products.csv'}: the header looks ';'-delimited, but the header of "
        f"{mixed / 'transactions.csv'} looks ','-delimited; export every input with one delimiter"
    )
    assert not (tmp_path / "y").exists()


def test_init_refuses_an_unknown_locale_or_currency_before_writing_and_reads_them_as_a_job_does(tmp_path):
    data = write_data(tmp_path / "data")
    for option, value in (("--locale", "xx_YY"), ("--currency", "ZZZ")):
        result = CliRunner().invoke(
            cli, ["init", "--data", str(data), "--out", str(tmp_path / "x"), option, value]
        )
        assert result.exit_code == 2
        assert result.output.splitlines()[-1].startswith(f"Error: Invalid value for {option}: unknown ")
        assert not (tmp_path / "x").exists()
    init(data, tmp_path / "job", "--locale", "en-us", "--currency", "usd")
    assert load_job(tmp_path / "job" / "nightly.toml").config.currency == "USD"
    assert load_job(tmp_path / "job" / "nightly.toml").config.locale == "en_US"
