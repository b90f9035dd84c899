"""Parquet transactions whose numbers and time stamps are already typed are validated as values:
the same rows kept and quarantined, with the same reasons and text, as the same data as text."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.inputs.batches import load_transactions
from coupongen.inputs.contract import TRANSACTIONS, Loaded
from coupongen.inputs.reading import exact_typed_columns

KEYS = {"skus": pl.Series(["A", "B"]), "customer_ids": pl.Series(["C1", "C2"])}
T = datetime(2026, 3, 14, 10, 15)
NAN, INF = math.nan, math.inf

# receipt_id, customer_id, ts, store_id, sku, quantity, amount; each line's expected reasons.
Line = tuple[tuple[object, ...], str | None]
PART_1: list[Line] = [
    (("R1", "C1", T, "S1", "A", 2.0, 2.4), None),
    (("R1", "C1", T, "S1", "A", 2.0, 2.4), "exact duplicate of an earlier line"),
    (("R2", " C2 ", datetime(2026, 3, 14, 10, 15, 0, 123456), "S1", "B", 1.0, -0.0), None),
    (("R2", " C2 ", datetime(2026, 3, 14, 10, 15, 0, 123456), "S1", "B", 1.0, 0.0), None),  # -0.0 vs 0.0
    (("R3", "C1", T, "S1", "A", NAN, 1.0), "quantity: not a number"),
    (("R3", "C1", T, "S1", "A", NAN, 1.0), "quantity: not a number; exact duplicate of an earlier line"),
    (("R4", "C1", T, "S1", "A", 1.0, INF), "amount: not a number"),
    (("R5", "C1", T, "S1", "A", 1.0, -INF), "amount: not a number"),
    (("R6", "C1", None, "S1", "A", None, 1.0), "ts: empty; quantity: empty"),
    (("R7", "C1", datetime(1, 1, 1), "S1", "A", 1e300, 5e-324), "quantity: beyond max_line_quantity (10000)"),
]
PART_2: list[Line] = [
    (
        ("R8", "C1", datetime(9999, 12, 31, 23, 59, 59, 999999), "S1", "A", 1.0, 1e6 + 0.01),
        "amount: beyond max_line_amount (1000000)",
    ),
    (("R1", "C1", T, "S1", "A", 2.0, 2.4), "exact duplicate of an earlier line"),  # part 1, line 1
    (("R9", "C3", T, "S1", "Z", 1.0, 1.0), "sku: not in products; customer_id: not in customers"),
    (("R10", None, T, "S1", "A", 1.0, 1.0), None),  # anonymous
    (("R11", "C1", T, "  ", "B", 0.1 + 0.2, 1 / 3), None),
]
SCHEMA: dict[str, pl.DataType] = {
    "receipt_id": pl.String(),
    "customer_id": pl.String(),
    "ts": pl.Datetime("us"),
    "store_id": pl.String(),
    "sku": pl.String(),
    "quantity": pl.Float64(),
    "amount": pl.Float64(),
}


def _frame(lines: list[Line]) -> pl.DataFrame:
    return pl.DataFrame([row for row, _ in lines], schema=SCHEMA, orient="row")


def _write(tmp_path: Path, name: str, extra: Sequence[pl.DataFrame] = ()) -> list[Path]:
    """Both parts as typed Parquet under ``name``/, and as text (every value printed) under text/."""
    folders = {name: lambda f: f, "text": lambda f: f.select(pl.all().cast(pl.String))}
    files: dict[str, list[Path]] = {}
    for folder, as_written in folders.items():
        (tmp_path / folder).mkdir()
        files[folder] = []
        for i, part in enumerate([_frame(PART_1), _frame(PART_2), *extra], start=1):
            path = tmp_path / folder / f"part-{i}.parquet"
            as_written(part).write_parquet(path, row_group_size=3)
            files[folder].append(path)
    return files[name] + files["text"]


def _load(files: list[Path]) -> Loaded:
    return load_transactions(files, ",", max_amount=1e6, max_quantity=1e4, rows=4, **KEYS)


def test_typed_numbers_and_time_stamps_are_validated_as_their_text_would_be(tmp_path: Path) -> None:
    both = _write(tmp_path, "typed")
    typed, text = both[:2], both[2:]
    assert exact_typed_columns(typed, TRANSACTIONS) == {"ts", "quantity", "amount"}
    assert exact_typed_columns(text, TRANSACTIONS) == set()
    fast, slow = _load(typed), _load(text)
    assert_frame_equal(fast.kept, slow.kept)
    assert_frame_equal(fast.quarantined, slow.quarantined)
    expected = [
        (f"part-{part}.parquet", line, reason)
        for part, lines in ((1, PART_1), (2, PART_2))
        for line, (_, reason) in enumerate(lines, start=1)
        if reason is not None
    ]
    assert fast.quarantined.select("source_file", "line", "reason").rows() == expected
    assert fast.counts == {"read": 15, "kept": 15 - len(expected), "quarantined": len(expected)}


YEAR_1 = -62135596800_000000  # 0001-01-01 00:00, in microseconds
DAY = 86_400_000_000


@pytest.mark.parametrize(
    ("micros", "ok"),
    [
        (YEAR_1, True),
        (YEAR_1 - 366 * DAY, True),  # year 0: "0000-01-01 ..."
        (YEAR_1 - 366 * DAY - 1, False),  # year -1: "-0001-12-31 ..."
        (253402300800_000000 - 1, True),  # 9999-12-31 23:59:59.999999
        (253402300800_000000, False),  # year 10000: "+10000-01-01 ..."
    ],
)
def test_years_an_iso_text_cannot_hold_are_quarantined_alike(tmp_path: Path, micros: int, ok: bool) -> None:
    odd = pl.DataFrame(
        [("R12", "C1", micros, "S1", "A", 1.0, 1.0)], schema=SCHEMA | {"ts": pl.Int64()}, orient="row"
    ).with_columns(pl.col("ts").cast(pl.Datetime("us")))
    both = _write(tmp_path, "typed", [odd])
    fast, slow = _load(both[:3]), _load(both[3:])
    assert_frame_equal(fast.quarantined, slow.quarantined)
    assert_frame_equal(fast.kept, slow.kept)
    last = fast.quarantined.filter(pl.col("source_file") == "part-3.parquet")["reason"].to_list()
    assert last == ([] if ok else ["ts: not an ISO-8601 date-time"])


def test_a_part_of_another_type_reads_that_column_as_text_everywhere(tmp_path: Path) -> None:
    # Typed and text values hash differently: duplicates across parts are only found when every part
    # reads a column alike, so one part with quantities as text keeps quantity as text in all.
    as_text = _frame(PART_1[:1]).with_columns(pl.col("quantity").cast(pl.String))
    both = _write(tmp_path, "typed", [as_text])
    assert exact_typed_columns(both[:3], TRANSACTIONS) == {"ts", "amount"}
    fast, slow = _load(both[:3]), _load(both[3:])
    assert_frame_equal(fast.quarantined, slow.quarantined)
    assert_frame_equal(fast.kept, slow.kept)
    assert fast.quarantined.filter(pl.col("source_file") == "part-3.parquet")["reason"].to_list() == [
        "exact duplicate of an earlier line"
    ]
