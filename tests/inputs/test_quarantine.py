"""Tests of the quarantine share a run tolerates, and of the job-level loader."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from coupongen.config import InputsConfig
from coupongen.errors import InputError
from coupongen.inputs.contract import (
    REASON_COL,
    SOURCE_COL,
    Inputs,
    Loaded,
)
from coupongen.inputs.loading import load_job_inputs
from coupongen.inputs.quarantine import check_quarantine_share
from tests.inputs.inputs_data import TX_CSV, TX_HEADER, write, write_inputs


@pytest.fixture
def inputs_dir(tmp_path: Path) -> Path:
    return write_inputs(tmp_path)


# --- the quarantine share -------------------------------------------------------------------------


def loaded_with(name: str, kept: int, reasons_: list[str], files: list[str]) -> Loaded:
    quarantined = pl.DataFrame(
        {SOURCE_COL: [files[i % len(files)] for i in range(len(reasons_))], REASON_COL: reasons_},
        schema={SOURCE_COL: pl.String, REASON_COL: pl.String},
    )
    return Loaded(name, pl.DataFrame({"x": range(kept)}), quarantined, [Path("/d") / f for f in files])


def inputs_with(tx: Loaded) -> Inputs:
    """Transactions as given, with products and customers that pass."""

    def ok(name: str) -> Loaded:
        return loaded_with(name, 5, [], [f"{name}.csv"])

    return Inputs(transactions=tx, products=ok("products"), customers=ok("customers"))


def test_within_the_share_the_run_goes_on():
    check_quarantine_share(inputs_with(loaded_with("transactions", 95, ["a"] * 5, ["t.csv"])), 0.05, None)


def test_beyond_the_share_names_the_file_share_and_most_common_single_reason():
    tx = loaded_with(
        "transactions",
        94,
        ["sku: empty; amount: empty", "amount: empty", "sku: not in products"] * 2,
        ["t.csv"],
    )
    with pytest.raises(InputError) as e:
        check_quarantine_share(inputs_with(tx), 0.05, Path("/out/q"))
    assert str(e.value) == (
        "/d/t.csv: 6 of 100 rows rejected (6.0%, more than max_quarantine_share 5.0%); "
        "most common reason: amount: empty (4 rows); see /out/q/transactions.csv"
    )


def test_with_several_parts_the_message_names_the_worst_part():
    tx = loaded_with("transactions", 1, ["ts: empty"] * 3, ["a.csv", "b.csv", "b.csv"])
    with pytest.raises(InputError) as e:
        check_quarantine_share(inputs_with(tx), 0.5, None)
    assert str(e.value) == (
        "transactions (3 files), most in b.csv: 3 of 4 rows rejected "
        "(75.0%, more than max_quarantine_share 50.0%); most common reason: ts: empty (3 rows)"
    )


def test_no_rows_or_no_usable_row_fails_whatever_the_share():
    with pytest.raises(InputError) as e:
        check_quarantine_share(inputs_with(loaded_with("transactions", 0, [], ["t.csv"])), 1.0, None)
    assert str(e.value) == "/d/t.csv: no data rows (only a header)"
    with pytest.raises(InputError) as e:
        check_quarantine_share(
            inputs_with(loaded_with("transactions", 0, ["ts: empty"], ["t.csv"])), 1.0, None
        )
    assert str(e.value) == (
        "/d/t.csv: 1 of 1 rows rejected (100.0%, no row is usable); most common reason: ts: empty (1 row)"
    )


# --- the job-level loader -------------------------------------------------------------------------


def test_the_job_loader_writes_the_rejected_rows_owner_only_and_checks_the_share(inputs_dir: Path):
    write(inputs_dir / "transactions.csv", TX_CSV + "R4,C1,yesterday,S1,A,1,1.20\n")
    qdir = inputs_dir / "night" / "quarantine"
    inputs = load_job_inputs(InputsConfig(max_quarantine_share=0.5), inputs_dir, quarantine_dir=qdir)
    assert inputs.transactions.counts == {"read": 5, "kept": 4, "quarantined": 1}
    assert sorted(p.name for p in qdir.iterdir()) == ["transactions.csv"]
    assert (qdir / "transactions.csv").stat().st_mode & 0o777 == 0o600
    assert (qdir / "transactions.csv").read_text() == (
        "receipt_id,customer_id,ts,store_id,sku,quantity,amount,source_file,line,reason\n"
        "R4,C1,yesterday,S1,A,1,1.20,transactions.csv,6,ts: not an ISO-8601 date-time\n"
    )
    with pytest.raises(InputError) as e:
        load_job_inputs(InputsConfig(max_quarantine_share=0.1), inputs_dir, quarantine_dir=qdir)
    assert str(e.value).endswith(f"; see {qdir / 'transactions.csv'}")


def test_the_job_loader_without_a_quarantine_folder_writes_nothing(inputs_dir: Path):
    write(inputs_dir / "other.csv", TX_HEADER + "R9,C2,2026-03-20,S1,B,1,2.50\n")
    before = sorted(inputs_dir.rglob("*"))
    inputs = load_job_inputs(InputsConfig(), inputs_dir, transactions=inputs_dir / "other.csv")
    assert inputs.transactions.kept["receipt_id"].to_list() == ["R9"]
    assert sorted(inputs_dir.rglob("*")) == before
