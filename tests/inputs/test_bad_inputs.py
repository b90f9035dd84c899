"""Bad input files through the real command line: one clear line and exit 2, or a quarantine file.

Each case is a folder under ``tests/data/bad`` laid over the valid base in ``tests/data/bad/_base``
(see the README there). Whole-file problems must stop the run with exit code 2 and one line naming
the file and column; row-level problems must let the run finish and list every rejected line, with
its reason, in ``quarantine/<input>.csv``. No case may end in a traceback.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result

from coupongen.cli import cli

REPO = Path(__file__).resolve().parents[2]
NIGHTLY = REPO / "jobs" / "nightly.toml"
CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"
BASE = CORPUS / "_base"
AS_OF = "2026-11-22"
INPUTS = ("transactions", "products", "customers")
BASE_ROWS = {"transactions": 317, "products": 30, "customers": 30}
FIRST_APPENDED = {name: rows + 2 for name, rows in BASE_ROWS.items()}  # header is line 1


@dataclass(frozen=True)
class Fails:
    """A whole-file problem: exit code 2 and this one line ({data} is the data folder)."""

    message: str
    inputs: dict[str, str] = field(default_factory=dict)  # job [inputs] entries to change
    whole: bool = True  # False: the line starts with message (the rest is the reader's wording)


@dataclass(frozen=True)
class Quarantines:
    """A row-level problem: the run succeeds and these (line, reason) land in quarantine."""

    rows: dict[str, list[tuple[int, str]]]
    kept: dict[str, int] = field(default_factory=dict)  # expected kept counts, where they differ


def _lines(name: str, *reasons: str) -> list[tuple[int, str]]:
    """(line, reason) for consecutive appended lines of one input."""
    return [(FIRST_APPENDED[name] + i, r) for i, r in enumerate(reasons)]


ALL_TX_COLUMNS = "'receipt_id', 'customer_id', 'ts', 'store_id', 'sku', 'quantity', 'amount'"
WHOLE_FILE = {
    "empty_file": Fails("{data}/transactions.csv: file is empty (0 bytes; expected a header line)"),
    "header_only": Fails("{data}/transactions.csv: no data rows (only a header)"),
    "missing_column": Fails(
        "{data}/products.csv: missing required column 'category' "
        "(the header has: sku, name, brand, price, promo_allowed)"
    ),
    "renamed_column": Fails(
        "{data}/transactions.csv: missing required column 'ts' "
        "(the header has: receipt_id, customer_id, timestamp, store_id, sku, quantity, amount)"
    ),
    "duplicate_column": Fails("{data}/customers.csv: column 'email' appears more than once in the header"),
    "semicolon_delimiter": Fails(
        f"{{data}}/transactions.csv: missing required columns {ALL_TX_COLUMNS} "
        "(the header looks ';'-delimited; the job expects ',')"
    ),
    "decimal_comma": Fails(
        "{data}/transactions.csv: 317 of 317 rows rejected (100.0%, no row is usable); "
        "most common reason: amount: not a number (317 rows); "
        "see {out}/quarantine/transactions.csv"
    ),
    "dates_dotted": Fails(
        "{data}/transactions.csv: 317 of 317 rows rejected (100.0%, no row is usable); "
        "most common reason: ts: not an ISO-8601 date-time (317 rows); "
        "see {out}/quarantine/transactions.csv"
    ),
    "too_many_rejected": Fails(
        "{data}/transactions.csv: 20 of 337 rows rejected "
        "(5.9%, more than max_quarantine_share 5.0%); "
        "most common reason: sku: not in products (20 rows); "
        "see {out}/quarantine/transactions.csv"
    ),
    "cp1251": Fails(
        "{data}/products.csv: line 2 is not UTF-8 text (byte 0xCC at position 7); save the file as UTF-8"
    ),
    "utf16": Fails("{data}/customers.csv: not CSV text: the file is UTF-16 text; save it as UTF-8"),
    "excel_workbook": Fails(
        "{data}/products.csv: not CSV text: the file is a zip archive or an Excel workbook; "
        "export the sheet as CSV (UTF-8)"
    ),
    "parquet_named_csv": Fails(
        "{data}/products.csv: not CSV text: the file is a Parquet file; give it the .parquet extension"
    ),
    "corrupt_parquet": Fails(
        "{data}/products.parquet: not a readable Parquet file (",
        inputs={"products": "products.parquet"},
        whole=False,
    ),
    "truncated_parquet": Fails(
        "{data}/products.parquet: not a readable Parquet file (",
        inputs={"products": "products.parquet"},
        whole=False,
    ),
    "parquet_missing_column": Fails(
        "{data}/products.parquet: missing required column 'category' "
        "(the header has: sku, name, brand, price, promo_allowed)",
        inputs={"products": "products.parquet"},
    ),
    "no_data_files": Fails(
        "{data}/transactions: folder holds no .csv or .parquet file",
        inputs={"transactions": "transactions"},
    ),
    "glob_no_match": Fails(
        "{data}/exports/transactions-*.csv: no file matches this pattern",
        inputs={"transactions": "exports/transactions-*.csv"},
    ),
    "stray_quote": Fails(
        "{data}/products.csv: line 32 has a double quote inside a value that is not quoted; "
        'enclose the value in double quotes and double the quote inside ("27"" screen")'
    ),
    "unclosed_quote": Fails("{data}/transactions.csv: line 319 opens a quoted value that is never closed"),
}

ROW_LEVEL = {
    "bom": Quarantines({}),
    "crlf_and_blank_lines": Quarantines({}),
    "bad_dates": Quarantines(
        {
            "transactions": _lines(
                "transactions",
                "ts: not an ISO-8601 date-time",
                "ts: not an ISO-8601 date-time",
                "ts: not an ISO-8601 date-time",
                "ts: empty",
            )
        },
        # minutes only, an offset, Z with a fraction and a bare date are all fine
        kept={"transactions": 317 + 4},
    ),
    "bad_numbers": Quarantines(
        {
            "transactions": _lines(
                "transactions",
                "amount: not a number",
                "quantity: not a number",
                "amount: not a number",
                "amount: empty",
            )
        },
        kept={"transactions": 317 + 1},  # " 2 " is a number once trimmed
    ),
    "negative_and_huge": Quarantines(
        {
            "transactions": [
                (FIRST_APPENDED["transactions"] + 1, "amount: beyond max_line_amount (1000000)"),
                (
                    FIRST_APPENDED["transactions"] + 2,
                    ("quantity: beyond max_line_quantity (10000); amount: beyond max_line_amount (1000000)"),
                ),
                (FIRST_APPENDED["transactions"] + 3, "quantity: beyond max_line_quantity (10000)"),
            ]
        },
        kept={"transactions": 317 + 1},  # the return is kept, to be netted later
    ),
    "unknown_references": Quarantines(
        {
            "transactions": _lines(
                "transactions",
                "sku: not in products",
                "customer_id: not in customers",
                "sku: empty",
            )
        }
    ),
    "duplicate_lines": Quarantines(
        {
            "transactions": _lines(
                "transactions",
                "exact duplicate of an earlier line",
                "exact duplicate of an earlier line",
                "exact duplicate of an earlier line",
            )
        }
    ),
    "ragged_lines": Quarantines(
        {
            "transactions": _lines(
                "transactions", "more fields than the header", "quantity: empty; amount: empty"
            )
        }
    ),
    "bad_customer_row": Quarantines(
        {
            "customers": _lines(
                "customers",
                "email_opt_in: not true/false; birth_date: not an ISO-8601 date (YYYY-MM-DD); "
                "nps_score: outside 0-10",
            ),
            "transactions": _lines(
                "transactions",
                "customer_id: its customer row is quarantined",
                "customer_id: its customer row is quarantined",
            ),
        }
    ),
    "duplicate_customer": Quarantines(
        {"customers": _lines("customers", "customer_id: duplicate of an earlier customer")}
    ),
    "duplicate_card": Quarantines(
        {"customers": _lines("customers", "card_number: already used by an earlier customer")}
    ),
    "bad_product_row": Quarantines(
        {
            "products": _lines("products", "price: negative"),
            "transactions": _lines("transactions", "sku: its product row is quarantined"),
        }
    ),
    "duplicate_sku": Quarantines({"products": _lines("products", "sku: duplicate of an earlier product")}),
}


def test_every_corpus_folder_has_a_case():
    folders = {p.name for p in CORPUS.iterdir() if p.is_dir() and p.name != "_base"}
    assert folders == set(WHOLE_FILE) | set(ROW_LEVEL)


# --- helpers --------------------------------------------------------------------------------------


def build_case(name: str, data: Path) -> Path:
    """The base inputs with the case's files laid over them (see tests/data/bad/README.md)."""
    shutil.copytree(BASE, data)
    for src in sorted((CORPUS / name).rglob("*")):
        if src.is_dir():
            continue
        rel = src.relative_to(CORPUS / name)
        if src.name.endswith(".append.csv"):
            target = data / rel.parent / src.name.replace(".append.csv", ".csv")
            with target.open("ab") as fh:
                fh.write(src.read_bytes())
        else:
            (data / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, data / rel)
    return data


def job_with_inputs(tmp_path: Path, inputs: dict[str, str]) -> Path:
    """The real nightly job, or a copy of the jobs folder whose [inputs] name other locations."""
    if not inputs:
        return NIGHTLY
    jobs = tmp_path / "jobs"
    shutil.copytree(NIGHTLY.parent, jobs)
    text = NIGHTLY.read_text()
    for key, value in inputs.items():
        text, n = re.subn(rf'(?m)^{key}\s*=\s*"[^"]*"', f'{key} = "{value}"', text, count=1)
        assert n == 1, f"no '{key} = ...' line in {NIGHTLY}"
    job = jobs / NIGHTLY.name
    job.write_text(text)
    return job


def run(config: Path, data: Path, out: Path) -> Result:
    args = ["run", "--config", str(config), "--data", str(data), "--out", str(out)]
    # The small hand-made histories end weeks before AS_OF: freshness is not what these tests check.
    return CliRunner().invoke(cli, [*args, "--as-of", AS_OF, "--allow-stale", "-q"])


def assert_no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def quarantine(out: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(out / AS_OF / "quarantine" / f"{name}.csv", infer_schema=False)


# --- the cases ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(WHOLE_FILE))
def test_a_whole_file_problem_exits_2_with_one_line(name: str, tmp_path: Path):
    case = WHOLE_FILE[name]
    data = build_case(name, tmp_path / "data")
    out = tmp_path / "out"
    result = run(job_with_inputs(tmp_path, case.inputs), data, out)
    assert_no_traceback(result)
    assert result.exit_code == 2, result.output
    expected = "Error: " + case.message.format(data=data, out=out / AS_OF)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0] == expected if case.whole else lines[0].startswith(expected), lines[0]
    assert not (out / AS_OF / "pos").exists()


@pytest.fixture(scope="module")
def row_level_night(tmp_path_factory):
    """The night of a row-level case, run once per test process and only read by the tests."""
    nights: dict[str, tuple[Path, Result]] = {}

    def night(name: str) -> tuple[Path, Result]:
        if name not in nights:
            root = tmp_path_factory.mktemp(name)
            data = build_case(name, root / "data")
            nights[name] = (root / "out", run(NIGHTLY, data, root / "out"))
        return nights[name]

    return night


@pytest.mark.parametrize("name", sorted(ROW_LEVEL))
def test_row_level_problems_are_quarantined_and_the_run_goes_on(name: str, row_level_night):
    case = ROW_LEVEL[name]
    out, result = row_level_night(name)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output

    summary = json.loads((out / AS_OF / "summary.json").read_text())
    for input_name in INPUTS:
        counts = summary["inputs"][input_name]
        expected = case.rows.get(input_name, [])
        assert counts["read"] == counts["kept"] + counts["quarantined"], input_name
        assert counts["quarantined"] == len(expected), input_name
        if input_name in case.kept:
            assert counts["kept"] == case.kept[input_name], input_name
        path = out / AS_OF / "quarantine" / f"{input_name}.csv"
        if not expected:
            assert not path.exists(), input_name
            continue
        rows = quarantine(out, input_name).select(pl.col("line").cast(pl.Int64), "reason").rows()
        assert rows == expected, input_name


def test_the_quarantine_file_keeps_the_text_as_read_with_file_line_and_reason(row_level_night):
    out, result = row_level_night("bad_numbers")
    assert result.exit_code == 0
    q = quarantine(out, "transactions")
    assert q.columns == [
        "receipt_id",
        "customer_id",
        "ts",
        "store_id",
        "sku",
        "quantity",
        "amount",
        "source_file",
        "line",
        "reason",
    ]
    assert q.row(0) == (
        "R09201",
        "C002",
        "2026-05-01T10:00:00",
        "S01",
        "P002",
        "1",
        "79,50",
        "transactions.csv",
        "319",
        "amount: not a number",
    )


def test_too_many_rejected_rows_still_leave_the_quarantine_file_to_look_at(tmp_path: Path):
    data = build_case("too_many_rejected", tmp_path / "data")
    out = tmp_path / "out"
    assert run(NIGHTLY, data, out).exit_code == 2
    q = quarantine(out, "transactions")
    assert q.height == 20 and set(q["reason"]) == {"sku: not in products"}


def test_a_missing_input_file_names_it(tmp_path: Path):
    data = build_case("bom", tmp_path / "data")
    (data / "customers.csv").unlink()
    result = run(NIGHTLY, data, tmp_path / "out")
    assert_no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"Error: {data}/customers.csv: file not found"]


def test_a_folder_of_csv_and_parquet_parts_reads_like_one_file(tmp_path: Path):
    data = build_case("bom", tmp_path / "data")
    whole = pl.read_csv(data / "transactions.csv", infer_schema=False)
    (data / "transactions.csv").unlink()
    parts = data / "transactions"
    parts.mkdir()
    whole.head(100).write_csv(parts / "part-0000.csv")
    whole.slice(100).write_parquet(parts / "part-0001.parquet")
    (parts / "_SUCCESS").write_bytes(b"")
    result = run(job_with_inputs(tmp_path, {"transactions": "transactions"}), data, tmp_path / "out")
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / AS_OF / "summary.json").read_text())
    assert summary["inputs"]["transactions"] == {"read": 317, "kept": 317, "quarantined": 0}
