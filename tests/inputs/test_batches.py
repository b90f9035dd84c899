"""Transactions validated a slice of lines at a time give what validating them whole gives."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.errors import InputError
from coupongen.inputs.batches import DuplicateFinder, load_transactions, read_batches, repeated_rows
from coupongen.inputs.contract import TRANSACTIONS
from coupongen.inputs.reading import ReadLimits, read_input
from coupongen.inputs.validation import validate_transactions
from tests.inputs.inputs_data import TX_HEADER, write

PART_1 = TX_HEADER + (
    "R1,C1,2026-03-14T10:15:00,S1,A,2,2.40\n"
    "R1,C1,2026-03-14T10:15:00,S1,A,2,2.40\n"  # duplicate of line 2, same slice
    "R2,C9,2026-03-15,S2,B,1,2.50\n"  # unknown customer
    "R3,C2,not a date,S1,A,1,1.20\n"
    "R4,C2,2026-03-16T09:00:00,S1,B,1,2.50\n"
)
PART_2 = TX_HEADER + (
    "R4,C2,2026-03-16T09:00:00,S1,B,1,2.50\n"  # duplicate of a line in the other file
    "R1,C1,2026-03-14T10:15:00,S1,A,2,2.40\n"  # duplicate of part 1's line 2
    "R5, C1 ,2026-03-17,S1,A,1,1.20\n"  # not a duplicate of R5 below: the text differs
    "R5,C1,2026-03-17,S1,A,1,1.20\n"
    "R6,C1,2026-03-17,S1,Z,1,1.20\n"  # unknown sku
)
KEYS = {"skus": pl.Series(["A", "B"]), "customer_ids": pl.Series(["C1", "C2"])}


def _files(tmp_path: Path) -> list[Path]:
    return [write(tmp_path / "part-1.csv", PART_1), write(tmp_path / "part-2.csv", PART_2)]


@pytest.mark.parametrize("rows", [1, 2, 3, 1_000])
def test_slices_of_any_size_give_the_whole_validation(tmp_path: Path, rows: int) -> None:
    files = _files(tmp_path)
    whole = validate_transactions(read_input(files, TRANSACTIONS, ","), **KEYS)
    sliced = load_transactions(files, ",", max_amount=1e6, max_quantity=1e4, rows=rows, **KEYS)
    assert_frame_equal(sliced.kept, whole.kept)
    assert_frame_equal(sliced.quarantined, whole.quarantined)
    assert sliced.counts == {"read": 10, "kept": 4, "quarantined": 6}
    assert sliced.quarantined.select("source_file", "line", "reason").rows() == [
        ("part-1.csv", 3, "exact duplicate of an earlier line"),
        ("part-1.csv", 4, "customer_id: not in customers"),
        ("part-1.csv", 5, "ts: not an ISO-8601 date-time"),
        ("part-2.csv", 2, "exact duplicate of an earlier line"),
        ("part-2.csv", 3, "exact duplicate of an earlier line"),
        ("part-2.csv", 6, "sku: not in products"),
    ]


def test_repeated_rows_are_the_lines_sharing_a_hash(tmp_path: Path) -> None:
    # Lines 0, 1 and 6 are one text, 4 and 5 another (over both files, from 0).
    assert repeated_rows(_files(tmp_path), TRANSACTIONS, ",").to_list() == [0, 1, 4, 5, 6]


def test_a_shared_hash_alone_marks_nothing() -> None:
    # Candidates that turn out different (as after a hash collision) stay unmarked.
    batch = pl.DataFrame({"a": ["x", "y", "x"], "b": ["1", "1", "1"]})
    finder = DuplicateFinder(pl.Series([0, 1, 2, 3], dtype=pl.UInt32), ["a", "b"])
    assert finder.next(batch.head(2)).to_list() == [False, False]
    assert finder.next(batch.tail(1)).to_list() == [True]
    assert finder.next(pl.DataFrame({"a": ["y"], "b": ["2"]})).to_list() == [False]


def test_an_empty_input_gives_empty_frames(tmp_path: Path) -> None:
    path = write(tmp_path / "transactions.csv", TX_HEADER)
    loaded = load_transactions([path], ",", max_amount=1e6, max_quantity=1e4, **KEYS)
    assert loaded.counts == {"read": 0, "kept": 0, "quarantined": 0}
    assert loaded.files == [path]


def test_a_value_too_long_is_named_by_file_and_line(tmp_path: Path) -> None:
    files = _files(tmp_path)
    write(files[1], PART_2 + "R7,C1,2026-03-17,S1," + "A" * 100 + ",1,1.20\n")
    with pytest.raises(InputError) as e:
        list(read_batches(files, TRANSACTIONS, ",", rows=2, limits=ReadLimits(value_bytes=64)))
    assert str(e.value) == (
        f"{files[1]}: line 7, column 'sku': a value longer than 64 bytes; "
        "is a double quote left open on or before this line?"
    )


def test_parquet_parts_in_slices_give_the_whole_validation(tmp_path: Path) -> None:
    files = []
    for path in _files(tmp_path):
        target = path.with_suffix(".parquet")
        pl.read_csv(path, infer_schema=False).write_parquet(target, row_group_size=2)
        files.append(target)
    whole = validate_transactions(read_input(files, TRANSACTIONS, ","), **KEYS)
    sliced = load_transactions(files, ",", max_amount=1e6, max_quantity=1e4, rows=2, **KEYS)
    assert_frame_equal(sliced.kept, whole.kept)
    assert_frame_equal(sliced.quarantined, whole.quarantined)
    assert sliced.quarantined.select("source_file", "line").rows() == [
        ("part-1.parquet", 2),
        ("part-1.parquet", 3),
        ("part-1.parquet", 4),
        ("part-2.parquet", 1),
        ("part-2.parquet", 2),
        ("part-2.parquet", 5),
    ]
