from __future__ import annotations

import json
import sqlite3

import click
import polars as pl
from click.testing import CliRunner

from coupongen.cli import cli
from coupongen.codes import has_valid_check, is_valid_ean13
from coupongen.config import load_job
from coupongen.publish import is_published

from .conftest import AS_OF, NIGHTLY, invoke, run_nightly


def test_every_command_has_help():
    def walk(group: click.Group, path: list[str]):
        for name, command in group.commands.items():
            assert command.help, f"{' '.join(path + [name])} has no help text"
            result = CliRunner().invoke(cli, [*path, name, "--help"])
            assert result.exit_code == 0
            if isinstance(command, click.Group):
                walk(command, [*path, name])

    walk(cli, [])


def test_run_on_the_bundled_data_prints_the_summary(sample_run):
    out = sample_run.result.output
    assert out.startswith(f"coupongen nightly as of {AS_OF}\n")
    for heading in ("inputs:", "segments (", "rules:", "campaigns:", "coupons:"):
        assert heading in out


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


def test_a_rerun_of_the_same_night_issues_nothing_and_republishes_the_same_file(fresh_copy):
    pos = fresh_copy.night / "pos" / "coupons.csv"
    before = pos.read_bytes()
    result = run_nightly(fresh_copy.out)
    assert result.exit_code == 0, result.output
    summary = json.loads((fresh_copy.night / "summary.json").read_text())
    assert summary["coupons"]["issued_this_run"] == 0
    assert pos.read_bytes() == before


def test_the_dry_run_previews_exactly_what_the_real_run_issues(tmp_path, sample_run):
    dry = run_nightly(tmp_path / "dry", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "(dry run)" in dry.output
    assert not (tmp_path / "dry" / "ledger.sqlite").exists()
    assert not (tmp_path / "dry" / AS_OF / "pos").exists()
    campaigns = lambda out: out[out.index("campaigns:") : out.index("coupons:") if "coupons:" in out else None]
    assert campaigns(dry.output).strip() == campaigns(sample_run.result.output).strip()


def test_analysis_outputs_are_deterministic(tmp_path, sample_run):
    again = run_nightly(tmp_path / "again")
    assert again.exit_code == 0
    for rel in ("analysis/segments.parquet", "analysis/rules.csv", "analysis/category_rules.csv"):
        assert (tmp_path / "again" / AS_OF / rel).read_bytes() == (sample_run.night / rel).read_bytes(), rel
    crm = lambda p: pl.read_csv(p / AS_OF / "crm" / "offers.csv", infer_schema=False).drop("code")
    assert crm(tmp_path / "again").equals(crm(sample_run.out))


def test_a_bad_config_key_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "job.toml"
    bad.write_text('data = "x"\ncolour = "red"\n')
    result = CliRunner().invoke(cli, ["run", "--config", str(bad)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: {bad}: unknown key 'colour' (allowed here: affinity, campaigns, "
        "currency, data, inputs, ledger, max_coupons_per_customer, name, out, point_value, points_per_currency, seed, segments)"
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
    assert result.output.strip() == f"Error: {tmp_path / 'nope' / 'products.csv'}: file not found"
