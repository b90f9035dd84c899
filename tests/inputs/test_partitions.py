"""Day-partitioned Parquet transactions (date=YYYY-MM-DD/): only the window's days are read."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.errors import InputError
from coupongen.inputs.loading import load_inputs
from coupongen.inputs.partitions import is_partitioned, partition_files

PRODUCTS = "sku,name,category\nP1,Spaghetti,pasta\nP2,Sauce,sauce\n"
CUSTOMERS = (
    "customer_id,card_number,email,phone,email_opt_in,sms_opt_in,nps_score\n"
    "C1,,,,false,false,9\nC2,,,,false,false,\n"
)


def day_lines(day: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "receipt_id": [f"R{day}a", f"R{day}b"],
            "customer_id": ["C1", "C2"],
            "ts": [datetime(2026, 11, day, 10), datetime(2026, 11, day, 18, 30)],
            "store_id": ["S1", "S1"],
            "sku": ["P1", "P2"],
            "quantity": [1.0, 2.0],
            "amount": [2.5, 7.0],
        }
    )


def _dataset(tmp_path: Path) -> Path:
    (tmp_path / "products.csv").write_text(PRODUCTS)
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    root = tmp_path / "transactions"
    for day in (18, 19, 20, 21):
        part = root / f"date=2026-11-{day}"
        part.mkdir(parents=True)
        day_lines(day).write_parquet(part / "part-00000.parquet")
        (part / "_SUCCESS").write_text("")
        (part / ".part-00000.parquet.crc").write_bytes(b"crc")
    # An old day outside every window: its file is damaged, so reading it would fail the load.
    old = root / "date=2025-01-01"
    old.mkdir()
    (old / "part-00000.parquet").write_bytes(b"PAR1 not really parquet")
    (root / "_delta_log").mkdir()
    return tmp_path


def _load(data: Path, window: tuple[date, date]):
    return load_inputs(
        data / "transactions",
        data / "products.csv",
        data / "customers.csv",
        file_format="parquet",
        window=window,
    )


def test_only_the_window_days_are_listed_and_read(tmp_path):
    data = _dataset(tmp_path)
    root = data / "transactions"
    assert is_partitioned(root) and not is_partitioned(data / "products.csv")
    files = partition_files(root, (date(2026, 11, 19), date(2026, 11, 21)))
    assert [p.relative_to(root).as_posix() for p in files] == [
        "date=2026-11-19/part-00000.parquet",
        "date=2026-11-20/part-00000.parquet",
    ]
    inputs = _load(data, (date(2026, 11, 19), date(2026, 11, 21)))
    assert inputs.transactions.counts == {"read": 4, "kept": 4, "quarantined": 0}
    expected = pl.concat([day_lines(19), day_lines(20)])
    assert_frame_equal(inputs.transactions.kept, expected, check_dtypes=False)


def test_a_partition_that_is_not_a_day_is_refused_in_one_line(tmp_path):
    data = _dataset(tmp_path)
    bad = data / "transactions" / "date=2026-13-01"
    bad.mkdir()
    with pytest.raises(InputError) as e:
        _load(data, (date(2026, 11, 19), date(2026, 11, 21)))
    assert str(e.value) == f"{bad}: not a day partition (expected date=YYYY-MM-DD)"


def test_a_window_without_partitions_reads_no_line(tmp_path):
    data = _dataset(tmp_path)
    inputs = _load(data, (date(2026, 12, 1), date(2026, 12, 5)))
    assert inputs.transactions.counts == {"read": 0, "kept": 0, "quarantined": 0}
