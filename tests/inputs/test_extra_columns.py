"""Columns a retailer adds to customers.csv: read apart from the contract, typed, and filterable."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.config import CampaignConfig, Job, JobConfig
from coupongen.errors import ConfigError
from coupongen.inputs.loading import load_inputs
from coupongen.offers.eligibility import check_filter_columns, eligible_customers, with_customer_columns

HEADER = "customer_id,card_number,email,phone,email_opt_in,sms_opt_in"


def write_inputs(folder: Path, customers: str) -> tuple[Path, Path, Path]:
    (folder / "customers.csv").write_text(customers, encoding="utf-8")
    (folder / "products.csv").write_text("sku,name,category\nP1,Tea,tea\n", encoding="utf-8")
    (folder / "transactions.csv").write_text(
        "receipt_id,customer_id,ts,store_id,sku,quantity,amount\nR1,C1,2026-11-01T10:00:00,S1,P1,1,100\n",
        encoding="utf-8",
    )
    return folder / "transactions.csv", folder / "products.csv", folder / "customers.csv"


def test_extra_columns_are_typed_by_their_values_and_kept_apart_from_the_contract(tmp_path):
    text = (
        f"{HEADER},tier,income,store_zip,joined,vip,note,bad name,source_file\n"
        "C1,1,a@x.ru,,true,false,gold,52000,00123,2024-01-31,true,likes tea,x,y\n"
        "C2,2,b@x.ru,,true,false, silver ,61000.5,00456,2023-12-01,FALSE,,x,y\n"
        "C2,3,c@x.ru,,true,false,bronze,1,00789,2023-12-01,true,,x,y\n"  # a duplicate id: quarantined
        "C3,4,d@x.ru,,true,false,,,,,,,x,y\n"
    )
    inputs = load_inputs(*write_inputs(tmp_path, text))
    customers = inputs.customers
    assert customers.kept.columns[:6] == HEADER.split(",") and "tier" not in customers.kept.columns
    assert customers.counts == {"read": 4, "kept": 3, "quarantined": 1}
    expected = pl.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "tier": ["gold", "silver", None],
            "income": [52000.0, 61000.5, None],
            "store_zip": ["00123", "00456", None],  # leading zeros: a code, kept as text
            "joined": [date(2024, 1, 31), date(2023, 12, 1), None],
            "vip": [True, False, None],
            "note": ["likes tea", None, None],
        }
    )
    # "bad name" is not a column name and source_file is the loader's own: neither is read
    assert_frame_equal(customers.extra, expected)


def test_a_file_without_extra_columns_has_none():
    # the bundled sample's customers.csv holds the contract's columns only
    sample = Path(__file__).resolve().parents[2] / "sample_data"
    inputs = load_inputs(sample / "transactions.csv", sample / "products.csv", sample / "customers.csv")
    assert inputs.customers.extra is None


def campaign(columns: dict) -> CampaignConfig:
    return CampaignConfig.model_validate(
        {
            "name": "gold",
            "type": "cross_sell",
            "reward": {"type": "percent", "value": 10},
            "eligibility": {"columns": columns},
        }
    )


def test_column_filters_use_the_extra_columns(tmp_path):
    text = (
        f"{HEADER},tier,income,joined\n"
        "C1,1,a@x.ru,,true,false,gold,52000,2024-01-31\n"
        "C2,2,b@x.ru,,true,false,silver,61000,2023-12-01\n"
        "C3,3,c@x.ru,,true,false,gold,30000,2022-05-01\n"
    )
    inputs = load_inputs(*write_inputs(tmp_path, text))
    table = with_customer_columns(
        inputs.customers.kept.with_columns(pl.lit(100.0).alias("monetary")), inputs.customers.extra
    )
    rules = {"tier": "gold", "income": {"at_least": 40000}}
    assert eligible_customers(table, campaign(rules))["customer_id"].to_list() == ["C1"]
    since = {"joined": {"between": [date(2023, 1, 1), date(2024, 12, 31)]}}
    assert eligible_customers(table, campaign(since))["customer_id"].to_list() == ["C1", "C2"]
    text_range = {"tier": {"between": ["a", "h"]}}  # text bounds are values, not column names
    assert eligible_customers(table, campaign(text_range))["customer_id"].to_list() == ["C1", "C3"]


def test_an_unknown_column_names_the_campaign_file_and_key_and_lists_the_columns(tmp_path):
    table = pl.DataFrame({"customer_id": ["C1"], "tier": ["gold"], "monetary": [1.0]})
    job = Job(
        tmp_path / "job.toml",
        JobConfig(),
        (campaign({"teir": "gold"}),),
        campaign_files={"gold": tmp_path / "campaigns" / "gold.toml"},
    )
    with pytest.raises(ConfigError) as e:
        check_filter_columns(job, table)
    assert str(e.value) == (
        f"{tmp_path}/campaigns/gold.toml: eligibility.columns.teir: no customer column 'teir' "
        "(available: customer_id, monetary, tier)"
    )
