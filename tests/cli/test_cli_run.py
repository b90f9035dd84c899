from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import click
import polars as pl
from click.testing import CliRunner

from coupongen.cli import cli
from coupongen.codes import has_valid_check, is_valid_ean13
from coupongen.config import load_job
from coupongen.delivery.publish import is_published
from coupongen.offers import candidates
from tests.conftest import AS_OF, NIGHTLY, invoke, run_nightly


def test_every_command_has_help():
    def walk(group: click.Group, path: list[str]):
        for name, command in group.commands.items():
            assert command.help, f"{' '.join([*path, name])} has no help text"
            result = CliRunner().invoke(cli, [*path, name, "--help"])
            assert result.exit_code == 0
            if isinstance(command, click.Group):
                walk(command, [*path, name])

    walk(cli, [])


def test_counts_reconcile_and_the_pos_file_matches_the_ledger(sample_run):
    summary = json.loads((sample_run.night / "summary.json").read_text())
    for name, c in summary["inputs"].items():
        assert c["read"] == c["kept"] + c["quarantined"], name
    quarantined = summary["inputs"]["transactions"]["quarantined"]
    if quarantined:
        q = pl.read_csv(sample_run.night / "quarantine" / "transactions.csv", infer_schema=False)
        assert q.height == quarantined and q["reason"].null_count() == 0

    pos_dir = sample_run.night / "pos"
    assert is_published(pos_dir)
    pos = pl.read_csv(pos_dir / "coupons.csv", infer_schema=False)
    manifest = json.loads((pos_dir / "manifest.json").read_text())
    assert manifest["rows"]["coupons.csv"] == pos.height

    with sqlite3.connect(sample_run.ledger) as conn:
        n, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT code) FROM coupons").fetchone()
        controls = conn.execute("SELECT COUNT(*) FROM controls").fetchone()[0]
    assert n == distinct == pos.height == summary["coupons"]["total"] > 0
    assert controls == summary["coupons"]["control"] > 0
    assert pos["code"].n_unique() == pos.height
    by_type = pos.group_by("offer_type").len().sort("offer_type")
    assert dict(by_type.rows()) == summary["coupons"]["by_offer_type"]


def test_every_code_checks_and_every_barcode_is_well_formed(sample_run):
    job = load_job(NIGHTLY)
    pos = pl.read_csv(sample_run.night / "pos" / "coupons.csv", infer_schema=False)
    for row in pos.iter_rows(named=True):
        spec = job.campaign(row["campaign"]).code
        assert has_valid_check(row["code"], prefix=spec.prefix, alphabet=spec.alphabet), row["code"]
        if row["symbology"] == "ean13":
            assert is_valid_ean13(row["barcode_value"])


def test_no_coupon_targets_a_restricted_product_or_category(sample_run):
    products = pl.read_csv(NIGHTLY.parent.parent / "sample_data" / "products.csv", infer_schema=False)
    restricted = products.filter(pl.col("promo_allowed").str.to_lowercase() == "false")
    pos = pl.read_csv(sample_run.night / "pos" / "coupons.csv", infer_schema=False)
    assert restricted.height > 0
    assert pos.filter(pl.col("target").is_in(restricted["sku"].implode())).height == 0
    assert pos.filter(pl.col("target").is_in(restricted["category"].unique().implode())).height == 0


def test_the_dry_run_previews_exactly_what_the_real_run_issues_and_json_prints_only_that(
    tmp_path, sample_run
):
    dry = invoke(
        "run",
        "--config",
        str(NIGHTLY),
        "--out",
        str(tmp_path / "dry"),
        "--as-of",
        AS_OF,
        "--dry-run",
        "--json",
    )
    assert dry.exit_code == 0, dry.output
    assert dry.stderr == ""  # --json is for machines: no progress lines, even without -q
    assert not (tmp_path / "dry" / "ledger.sqlite").exists()
    assert not (tmp_path / "dry" / AS_OF / "pos").exists()
    planned = json.loads(dry.stdout)
    assert planned["dry_run"] is True and planned["as_of"] == AS_OF and planned["version"] == "0.1.0"
    assert set(planned["timings"]) == {"load", "analyse", "plan", "deliver"}
    issued = json.loads((sample_run.night / "summary.json").read_text())
    assert planned["dry_run"] and not issued["dry_run"]
    assert planned["campaigns"] == issued["campaigns"]
    assert planned["reach"] == issued["reach"]
    assert planned["offers_by_channel"] == issued["offers_by_channel"]


def test_a_bad_config_key_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "job.toml"
    bad.write_text('data = "x"\ncolour = "red"\n')
    result = CliRunner().invoke(cli, ["run", "--config", str(bad)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: {bad}: unknown key 'colour' (allowed here: affinity, campaigns, channels, "
        "currency, data, engine, exports, inputs, ledger, locale, margin_rate, max_coupons_per_customer, name, out, point_value, "
        "points_per_currency, products, ranking, seed, segments, spark, stale_after_days)"
    ]


def test_a_locked_ledger_exits_1_naming_the_holder(fresh_copy):
    with sqlite3.connect(fresh_copy.ledger) as conn:
        conn.execute(
            "INSERT INTO locks (name, run_id, pid, host, acquired_at) VALUES ('run', 99, 1, 'othermachine', 'then')"
        )
    result = run_nightly(fresh_copy.out)
    assert result.exit_code == 1
    assert "ledger is locked by run 99 (pid 1 on othermachine, since then)" in result.output


def test_a_bad_date_is_a_usage_error():
    result = CliRunner().invoke(cli, ["run", "--as-of", "22.11.2026"])
    assert result.exit_code == 2
    assert "'22.11.2026' is not a date in the form YYYY-MM-DD" in result.output


def test_missing_data_folder_names_the_file(tmp_path):
    result = invoke("run", "--config", str(NIGHTLY), "--data", str(tmp_path / "nope"), "--out", str(tmp_path))
    assert result.exit_code == 2
    *progress, error = result.output.strip().splitlines()
    assert error == f"Error: {tmp_path / 'nope' / 'products.csv'}: file not found"
    assert [line.split(" ", 1)[1] for line in progress] == ["INFO stage=load started"]


def test_a_data_uri_is_read_as_a_uri_and_named_without_its_secret(tmp_path):
    missing = f"{(tmp_path / 'nope').as_uri()}"
    result = invoke("run", "--config", str(NIGHTLY), "--data", missing, "--out", str(tmp_path))
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == f"Error: {missing}/products.csv: file not found"
    result = invoke(
        "run",
        "--config",
        str(NIGHTLY),
        "--data",
        "nowhere://user:s3cr3t@exports?token=s3cr3t",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: nowhere://user@exports/products.csv: cannot open the location: "
        "Unrecognized filesystem type in URI: nowhere://user@exports/products.csv"
    )


def test_every_email_image_scans_back_to_the_ledgers_barcode_value(sample_run):
    import io
    import zipfile

    import zxingcpp
    from PIL import Image

    with sqlite3.connect(sample_run.ledger) as conn:
        expected = dict(conn.execute("SELECT code, barcode_value FROM coupons").fetchall())
    assert not (sample_run.night / "email" / "images").exists()  # one archive, not a file per image
    with zipfile.ZipFile(sample_run.night / "email" / "images.zip") as archive:
        images = {name: archive.read(name) for name in archive.namelist()}
    assert len(images) > 100
    # each image read as the till reads it, for its own symbology (the folder): read for every
    # symbology at once, part of a random Code 128 image may pass for an EAN-13
    formats = {
        "code128": zxingcpp.BarcodeFormat.Code128,
        "gs1_128": zxingcpp.BarcodeFormat.Code128,
        "ean13": zxingcpp.BarcodeFormat.EAN13,
        "qr": zxingcpp.BarcodeFormat.QRCode,
    }
    for name, data in images.items():
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)), formats=formats[Path(name).parts[0]])
        assert len(found) == 1, name
        assert found[0].text == expected[Path(name).stem], name


def test_one_message_per_reached_customer_and_suppression_wins(sample_run):
    night = sample_run.night
    email = pl.read_csv(night / "email" / "merge.csv", infer_schema=False)
    sms = pl.read_csv(night / "sms" / "messages.csv", infer_schema=False)
    app = pl.read_ndjson(night / "app" / "messages.jsonl")
    reached = pl.concat([email["customer_id"], sms["customer_id"], app["customer_id"]])
    assert reached.n_unique() == reached.len()
    suppressed = {"C0000007", "C0000042"}
    pos = pl.read_csv(night / "pos" / "coupons.csv", infer_schema=False)
    assert suppressed & set(pos["customer_id"])  # they still hold coupons at the till...
    assert not suppressed & set(reached)  # ...but are never contacted
    summary = json.loads((night / "summary.json").read_text())
    reach = summary["reach"]
    assert reach["email"] == email.height and reach["sms"] == sms.height and reach["app"] == app.height
    # a customer whose message no channel could carry is counted as rejected
    reached_or_not = (
        reach["email"] + reach["sms"] + reach["app"] + reach["unreachable"] + reach.get("rejected", 0)
    )
    assert reached_or_not == pos["customer_id"].n_unique()
    assert all(int(p) <= 3 for p in sms["parts"])


def test_files_with_personal_data_are_private(sample_run):
    import stat

    night = sample_run.night
    for rel in (
        "email/merge.csv",
        "sms/messages.csv",
        "app/messages.jsonl",
        "pos/coupons.csv",
        "quarantine/transactions.csv",
    ):
        assert stat.S_IMODE((night / rel).stat().st_mode) == 0o600, rel


def test_log_lines_carry_no_personal_data(tmp_path):
    result = CliRunner().invoke(
        cli, ["run", "--config", str(NIGHTLY), "--out", str(tmp_path), "--as-of", AS_OF, "--dry-run"]
    )
    assert result.exit_code == 0
    assert result.stdout.startswith(f"coupongen nightly as of {AS_OF} (dry run)\n")
    for heading in ("inputs:", "segments (", "rules:", "campaigns (money in RUB):", "customers reached:"):
        assert heading in result.stdout
    logs = result.stderr if result.stderr_bytes is not None else result.output
    customers = pl.read_csv(NIGHTLY.parent.parent / "sample_data" / "customers.csv", infer_schema=False)
    for value in (
        customers["email"].drop_nulls().head(500).to_list()
        + customers["phone"].drop_nulls().head(500).to_list()
    ):
        assert value not in logs


def test_an_sms_too_long_for_some_customers_falls_back_and_the_night_succeeds(tmp_path, small_sample):
    import shutil

    jobs = tmp_path / "jobs"
    shutil.copytree(NIGHTLY.parent, jobs)
    (jobs / "templates" / "sms_ru.txt.j2").write_text(
        '{% import "_offer_ru.j2" as offer with context %}\n{{ brand }}: '
        + "очень длинное вступление " * 12
        + "{% for c in coupons %}{{ offer.describe(c) }}, код {{ c.code }}{% endfor %}\n"
    )
    # A small sample has SMS customers whose messages fall back to e-mail, to the app, and to none.
    text = (jobs / "nightly.toml").read_text().replace('data = "../sample_data"', f'data = "{small_sample}"')
    (jobs / "nightly.toml").write_text(text)
    outputs = []
    for extra in (["--dry-run"], []):
        result = CliRunner().invoke(
            cli,
            [
                "run",
                "--config",
                str(jobs / "nightly.toml"),
                "--out",
                str(tmp_path / "out"),
                "--as-of",
                AS_OF,
                "--json",
                *extra,
            ],
        )
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(result.stdout))
    # the dry run counts the same messages as the run that sends them
    counted = [out["reach"] for out in outputs]
    assert counted[0] == counted[1] and counted[1]["fallen_back"] and counted[1]["rejected"], counted

    night = tmp_path / "out" / AS_OF
    rejected = pl.read_csv(night / "delivery" / "rejected_messages.csv", infer_schema=False)
    assert rejected.columns == ["customer_id", "campaign", "channel", "reason", "fallback"]
    assert rejected.height > 0 and set(rejected["channel"]) == {"sms"}
    assert rejected["reason"].str.ends_with("more than max_sms_parts=3").all()
    counts = json.loads((night / "delivery" / "manifest.json").read_text())["messages"]
    assert counts["planned"] == counts["sent"] + counts["fallen_back"] + counts["rejected"]
    assert counts["fallen_back"] + counts["rejected"] == rejected.height
    assert counts["fallen_back"] == rejected["fallback"].is_not_null().sum() > 0
    sms = pl.read_csv(night / "sms" / "messages.csv", infer_schema=False)
    assert sms.join(rejected, on="customer_id").is_empty()
    fell_back = rejected.filter(pl.col("fallback").is_not_null())
    for channel, customers in fell_back.group_by("fallback"):
        if channel[0] == "email":
            merge = pl.read_csv(night / "email" / "merge.csv", infer_schema=False)
            assert customers["customer_id"].is_in(merge["customer_id"].implode()).all()
    with sqlite3.connect(tmp_path / "out" / "ledger.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM coupons").fetchone()[0] > 0


def test_a_broken_template_stops_the_night_before_anything_is_issued(tmp_path):
    import shutil

    jobs = tmp_path / "jobs"
    shutil.copytree(NIGHTLY.parent, jobs)
    (jobs / "templates" / "sms_en.txt.j2").write_text("{{ brand }}: {{ no_such_value }}\n")
    text = (
        (jobs / "nightly.toml")
        .read_text()
        .replace('data = "../sample_data"', f'data = "{NIGHTLY.parent.parent / "sample_data"}"')
    )
    (jobs / "nightly.toml").write_text(text)
    for extra in (["--dry-run"], []):
        result = CliRunner().invoke(
            cli,
            [
                "run",
                "--config",
                str(jobs / "nightly.toml"),
                "--out",
                str(tmp_path / "out"),
                "--as-of",
                AS_OF,
                "-q",
                *extra,
            ],
        )
        assert result.exit_code == 2, result.output
        assert "sms_en.txt.j2: 'no_such_value' is undefined" in result.output
    with sqlite3.connect(tmp_path / "out" / "ledger.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM coupons").fetchone()[0] == 0


def test_campaign_preview_equals_what_the_run_issued(tmp_path, sample_run):
    result = invoke(
        "campaign",
        "preview",
        "cross_sell",
        "--config",
        str(NIGHTLY),
        "--out",
        str(tmp_path),
        "--as-of",
        AS_OF,
        "-q",
    )
    assert result.exit_code == 0, result.output
    budget_row = next(line for line in result.output.splitlines() if line.startswith("| cross_sell"))
    sent, holdout = (int(x.strip().replace(",", "")) for x in budget_row.split("|")[2:4])
    with sqlite3.connect(sample_run.ledger) as conn:
        issued = conn.execute("SELECT COUNT(*) FROM coupons WHERE campaign = 'cross_sell'").fetchone()[0]
        controls = conn.execute("SELECT COUNT(*) FROM controls WHERE campaign = 'cross_sell'").fetchone()[0]
    assert (sent, holdout) == (issued, controls)
    segment_rows = [
        line
        for line in result.output.split("by channel:")[0].splitlines()
        if line.startswith("| ") and "rfm_segment" not in line
    ]
    assert sum(int(r.split("|")[4].replace(",", "")) for r in segment_rows) == issued
    assert not (tmp_path / "ledger.sqlite").exists()


def test_preview_of_an_unknown_campaign_lists_the_known_ones():
    result = CliRunner().invoke(cli, ["campaign", "preview", "nope", "--config", str(NIGHTLY)])
    assert result.exit_code == 2
    assert "no campaign named 'nope' (known: service_recovery, birthday, win_back" in result.output


def test_the_html_report_is_self_contained_with_every_chart(sample_run):
    import base64
    import io
    import re

    from PIL import Image

    html = (sample_run.night / "report.html").read_text(encoding="utf-8")
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', html)
    assert [alt.split(":")[0] for alt, _ in images] == [
        "segment sizes and spend share",
        "association rules",
        "offers and holdout per campaign, expected cost against budget",
        "coupons by offer type and channel",
    ]
    for _, data in images:
        assert Image.open(io.BytesIO(base64.b64decode(data))).size[0] >= 600
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing to fetch from a network
    summary = json.loads((sample_run.night / "summary.json").read_text())
    assert f"{summary['coupons']['total']:,}" in html


# A later night's report comparing with the previous night: tests/report/test_evaluation.py, whose
# later night also shows the latest evaluation.


def test_the_sample_nights_eml_files_come_from_the_jobs_sender(sample_run):
    sent = sorted((sample_run.night / "email" / "eml").glob("*.eml"))
    assert sent
    headers = {f.read_bytes().split(b"\r\n", 1)[0] for f in sent}
    assert headers == {b"From: Sample Market <offers@sample-market.example>"}


def test_every_offer_type_the_sample_allows_issues_coupons(sample_run):
    summary = json.loads((sample_run.night / "summary.json").read_text())
    job = load_job(NIGHTLY)
    assert set(summary["coupons"]["by_offer_type"]) == {c.type for c in job.campaigns}
    assert all(n > 0 for n in summary["coupons"]["by_offer_type"].values())


def test_a_rerun_of_a_finished_night_says_so_and_writes_nothing(sample_run):
    def files() -> dict[str, tuple[int, int]]:
        return {
            p.relative_to(sample_run.out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(sample_run.out.rglob("*"))
            if p.is_file() and not p.name.startswith("ledger.sqlite")
        }

    before = files()
    result = invoke("run", "--config", str(NIGHTLY), "--out", str(sample_run.out), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    total = json.loads((sample_run.night / "summary.json").read_text())["coupons"]["total"]
    assert f"night {AS_OF} already complete: {total:,} coupons; nothing to do" in result.output.splitlines()
    assert files() == before
    quiet = invoke("run", "--config", str(NIGHTLY), "--out", str(sample_run.out), "--as-of", AS_OF, "-q")
    assert f"{total:,} coupons (already complete, nothing to do)" in quiet.output
    assert files() == before


def test_offers_without_a_reason_are_set_aside_and_the_rest_of_the_night_is_issued(
    sample_run, tmp_path, monkeypatch
):
    # One offer type's path giving some offers no reason once failed the whole night at the ledger
    # (NOT NULL constraint failed: coupons.reason); those offers are set aside, the others issued.
    propose = candidates.OFFER_TYPES["win_back"]
    spoiled: set[str] = set()

    def without_some_reasons(eligible, ctx, campaign):
        proposed = propose(eligible, ctx, campaign)
        spoil = pl.int_range(pl.len()) % 10 == 0
        spoiled.update(proposed.filter(spoil)["customer_id"])
        return proposed.with_columns(pl.when(~spoil).then(pl.col("reason")).alias("reason"))

    monkeypatch.setitem(candidates.OFFER_TYPES, "win_back", without_some_reasons)
    out = tmp_path / "out"
    result = run_nightly(out)
    assert result.exit_code == 0, result.output

    night = out / AS_OF
    path = night / "quarantine" / "offers.csv"
    aside = pl.read_csv(path, infer_schema=False)
    assert aside.columns == ["campaign", "offer_type", "customer_id", "target_kind", "target", "problem"]
    assert aside["campaign"].unique().to_list() == ["win_back"]
    assert aside["problem"].unique().to_list() == ["no reason"]
    assert set(aside["customer_id"]) <= spoiled
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # one warning line, naming the campaign, the count, the problem and the file, and no customer
    warned = [line for line in result.stderr.splitlines() if "set aside" in line]
    assert len(warned) == 1
    assert warned[0].endswith(f"campaign win_back: {aside.height} offers set aside (no reason); see {path}")
    assert not any(c in result.stderr for c in aside["customer_id"])

    # Each campaign chose as it would have without the fault; the funnel counts what was set aside.
    funnel = {c["campaign"]: c for c in json.loads((night / "summary.json").read_text())["campaigns"]}
    unspoiled = {
        c["campaign"]: c for c in json.loads((sample_run.night / "summary.json").read_text())["campaigns"]
    }
    wb, before = funnel["win_back"], unspoiled["win_back"]
    assert {n: c for n, c in funnel.items() if n != "win_back"} == {
        n: c for n, c in unspoiled.items() if n != "win_back"
    }
    assert wb["set_aside"] == aside.height > 0
    assert wb["within_budget"] == before["within_budget"] == wb["treated"] + wb["control"] + wb["set_aside"]
    with sqlite3.connect(out / "ledger.sqlite") as conn:
        issued = dict(conn.execute("SELECT campaign, COUNT(*) FROM coupons GROUP BY campaign").fetchall())
        held = dict(conn.execute("SELECT campaign, COUNT(*) FROM controls GROUP BY campaign").fetchall())
        recorded = {
            r[0]
            for r in conn.execute(
                "SELECT customer_id FROM coupons WHERE campaign = 'win_back' "
                "UNION SELECT customer_id FROM controls WHERE campaign = 'win_back'"
            )
        }
    assert issued == {n: c["treated"] for n, c in funnel.items() if c["treated"]}
    assert held == {n: c["control"] for n, c in funnel.items() if c["control"]}
    assert recorded.isdisjoint(aside["customer_id"])

    # A run of the night that sets nothing aside removes the file an earlier run left.
    monkeypatch.undo()
    dry = run_nightly(out, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert not path.exists()
    assert "set aside" not in dry.stderr
