"""`coupongen segments` and `coupongen affinities` on the bundled sample data."""

from __future__ import annotations

import io
import stat
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from click.testing import Result
from PIL import Image

from coupongen.cli import cli
from coupongen.report import charts
from tests.conftest import AS_OF, NIGHTLY, SAMPLE, invoke

SEGMENT_FILES = {
    "segments.parquet",
    "segments.csv",
    "regular_products.parquet",
    "segment_summary.parquet",
    "segment_summary.csv",
    "lifecycle_summary.parquet",
    "lifecycle_summary.csv",
    "segments.png",
}
RULE_FILES = {
    "rules.parquet",
    "rules.csv",
    "rules.png",
    "category_rules.parquet",
    "category_rules.csv",
    "category_rules.png",
}


@dataclass
class Ran:
    result: Result
    folder: Path


def analyse(command: str, out: Path, *extra: str) -> Ran:
    result = invoke(command, "--config", str(NIGHTLY), "--out", str(out), "--as-of", AS_OF, "-q", *extra)
    return Ran(result, out / AS_OF / "analysis")


@pytest.fixture(scope="module")
def segmented(tmp_path_factory) -> Ran:
    ran = analyse("segments", tmp_path_factory.mktemp("segments"))
    assert ran.result.exit_code == 0, ran.result.output
    return ran


@pytest.fixture(scope="module")
def mined(tmp_path_factory) -> Ran:
    ran = analyse("affinities", tmp_path_factory.mktemp("affinities"))
    assert ran.result.exit_code == 0, ran.result.output
    return ran


def png_image(path: Path) -> Image.Image:
    image = Image.open(io.BytesIO(path.read_bytes()))
    image.load()
    return image


def test_segments_writes_its_files_and_no_others(segmented):
    assert {p.name for p in segmented.folder.iterdir()} == SEGMENT_FILES


def test_segments_prints_sizes_spend_shares_and_nps_that_add_up(segmented):
    out = segmented.result.output
    summary = pl.read_parquet(segmented.folder / "segment_summary.parquet")
    customers = pl.read_parquet(segmented.folder / "segments.parquet")
    assert summary["customers"].sum() == customers.height
    assert summary["nps_answers"].sum() == customers["nps_score"].is_not_null().sum()
    lines = out.splitlines()
    assert lines[0].startswith(
        f"segments as of {AS_OF}: {customers.height:,} customers with purchases, spend "
    )
    assert lines[1].split() == ["segment", "customers", "share", "spend", "share", "NPS", "answers"]
    first = summary.row(0, named=True)
    assert lines[2].split()[:4] == [
        first["rfm_segment"],
        f"{first['customers']:,}",
        f"{first['customer_share']:.1%}",
        f"{first['spend_share']:.1%}",
    ]
    total = next(line for line in lines if line.split()[0] == "total")
    assert total.split()[1:4] == [f"{customers.height:,}", "100.0%", "100.0%"]
    assert "lifecycle:" in lines
    assert out.rstrip().splitlines()[-1].startswith(f"wrote {len(SEGMENT_FILES)} files to {segmented.folder}")


def test_segments_match_the_customers_who_bought(segmented):
    tx = pl.read_csv(SAMPLE / "transactions.csv", infer_schema=False)
    known = pl.read_csv(SAMPLE / "customers.csv", infer_schema=False)["customer_id"]
    buyers = (
        tx.filter(pl.col("ts") < AS_OF, pl.col("customer_id").is_in(known.implode()))
        .with_columns(pl.col("amount").cast(pl.Float64, strict=False))
        .group_by("receipt_id")
        .agg(pl.col("customer_id").first(), pl.col("amount").sum())
        .filter(pl.col("amount") > 0)
    )
    customers = pl.read_parquet(segmented.folder / "segments.parquet")
    assert sorted(customers["customer_id"]) == sorted(buyers["customer_id"].unique())


def test_segment_files_leave_contact_details_out_and_are_private(segmented):
    customers = pl.read_parquet(segmented.folder / "segments.parquet")
    assert not {"email", "phone", "first_name", "birth_date"} & set(customers.columns)
    for name in ("segments.parquet", "segments.csv", "regular_products.parquet"):
        assert stat.S_IMODE((segmented.folder / name).stat().st_mode) == 0o600
    csv = pl.read_csv(segmented.folder / "segments.csv", infer_schema=False)
    assert csv.height == customers.height
    assert csv["favourite_categories"][0] == " | ".join(customers["favourite_categories"][0])


def test_regular_products_have_a_cycle_and_the_days_since_last_bought(segmented):
    regular = pl.read_parquet(segmented.folder / "regular_products.parquet")
    customers = pl.read_parquet(segmented.folder / "segments.parquet")
    assert regular.height == customers["regular_products"].sum() > 0
    assert regular["cycle_days"].is_not_null().all() and (regular["receipts"] >= 3).all()
    assert (regular["days_since_last"] >= 1).all()


def test_segments_chart_is_a_real_png(segmented):
    image = png_image(segmented.folder / "segments.png")
    assert image.format == "PNG"
    assert image.width == 800 and image.height > 300
    assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or []) > 10


def test_affinities_writes_its_files_and_no_others(mined):
    assert {p.name for p in mined.folder.iterdir()} == RULE_FILES


def test_affinities_says_the_top_rules_in_words(mined):
    out = mined.result.output
    rules = pl.read_parquet(mined.folder / "category_rules.parquet")
    assert "  categories: " in out
    top = rules.row(0, named=True)
    said = f"    {top['antecedent'][0]} -> {top['consequent'][0]}: lift {top['lift']:.1f}, confidence {top['confidence']:.0%}"
    assert said in out.splitlines()
    assert any(line.startswith("    pasta -> pasta_sauce: lift ") for line in out.splitlines())


def test_affinities_names_products_in_the_csv(mined):
    csv = pl.read_csv(mined.folder / "rules.csv", infer_schema=False)
    assert {"antecedent", "consequent", "antecedent_names", "consequent_names", "lift"} <= set(csv.columns)
    names = pl.read_csv(SAMPLE / "products.csv", infer_schema=False)
    first = csv.row(0, named=True)
    assert names.filter(pl.col("sku") == first["antecedent"])["name"][0] == first["antecedent_names"]


def test_affinities_charts_are_real_pngs(mined):
    for name in ("rules.png", "category_rules.png"):
        image = png_image(mined.folder / name)
        assert image.format == "PNG" and image.width == 800


def test_top_limits_the_rules_printed(tmp_path):
    ran = analyse("affinities", tmp_path, "--top", "0")
    assert ran.result.exit_code == 0
    assert not [line for line in ran.result.output.splitlines() if line.startswith("    ")]


def test_a_rerun_writes_the_same_bytes(tmp_path, segmented, mined):
    again = analyse("segments", tmp_path)
    assert analyse("affinities", tmp_path).result.exit_code == 0
    assert again.result.exit_code == 0
    for name in sorted(SEGMENT_FILES):
        assert (again.folder / name).read_bytes() == (segmented.folder / name).read_bytes(), name
    for name in sorted(RULE_FILES):
        assert (again.folder / name).read_bytes() == (mined.folder / name).read_bytes(), name


def test_missing_data_folder_exits_2_with_one_line(tmp_path):
    missing = tmp_path / "nowhere"
    for command in ("segments", "affinities"):
        result = invoke(
            command,
            "--config",
            str(NIGHTLY),
            "--data",
            str(missing),
            "--out",
            str(tmp_path),
            "--as-of",
            AS_OF,
        )
        assert result.exit_code == 2
        assert result.output.splitlines()[-1] == f"Error: {missing / 'products.csv'}: file not found"


def test_a_bad_date_is_a_usage_error():
    result = invoke("segments", "--config", str(NIGHTLY), "--as-of", "22.11.2026")
    assert result.exit_code == 2
    assert "'22.11.2026' is not a date in the form YYYY-MM-DD" in result.output


def test_both_commands_have_help():
    listing = invoke("--help").output
    for name in ("segments", "affinities"):
        short = cli.commands[name].get_short_help_str()
        assert short and f"{name}  " in listing
        assert invoke(name, "--help").exit_code == 0


def test_charts_are_deterministic_and_cope_with_nothing_to_show():
    empty_rules = pl.DataFrame(
        schema={
            "antecedent": pl.List(pl.String),
            "consequent": pl.List(pl.String),
            "support": pl.Float64,
            "confidence": pl.Float64,
            "lift": pl.Float64,
        }
    )
    for png in (charts.plot_rules(empty_rules), charts.plot_segments(pl.DataFrame({"rfm_segment": []}))):
        assert Image.open(io.BytesIO(png)).format == "PNG"
    rules = pl.DataFrame(
        {
            "antecedent": [["a"], ["b"]],
            "consequent": [["b"], ["a"]],
            "support": [0.1, 0.1],
            "confidence": [0.5, 0.4],
            "lift": [2.0, 2.0],
        }
    )
    assert charts.plot_rules(rules, names={"a": "Apples"}) == charts.plot_rules(rules, names={"a": "Apples"})
