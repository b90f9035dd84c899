"""Tests of the input data contract: locating files, reading them, row validation and quarantine.

Tiny hand-made inputs, exact expected frames (dtypes included) and exact reasons. The command-line
view of the same rules is in ``test_bad_inputs.py``.
"""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from coupongen.errors import InputError
from coupongen.inputs.contract import (
    CUSTOMERS,
    LINE_COL,
    PRODUCTS,
    REASON_COL,
    SOURCE_COL,
    SPECS,
    TRANSACTIONS,
    Inputs,
    Loaded,
)
from coupongen.inputs.loading import load_inputs
from coupongen.inputs.parsing import parse_timestamp, parse_timestamps
from coupongen.inputs.quarantine import check_quarantine_share
from coupongen.inputs.reading import resolve_files, scan_input
from coupongen.inputs.validation import validate_customers, validate_products, validate_transactions

TX_SCHEMA = {
    "receipt_id": pl.String,
    "customer_id": pl.String,
    "ts": pl.Datetime("us"),
    "store_id": pl.String,
    "sku": pl.String,
    "quantity": pl.Float64,
    "amount": pl.Float64,
}
PRODUCT_SCHEMA = {
    "sku": pl.String,
    "name": pl.String,
    "category": pl.String,
    "brand": pl.String,
    "price": pl.Float64,
    "promo_allowed": pl.Boolean,
}
CUSTOMER_SCHEMA = {
    "customer_id": pl.String,
    "card_number": pl.String,
    "email": pl.String,
    "phone": pl.String,
    "email_opt_in": pl.Boolean,
    "sms_opt_in": pl.Boolean,
    "push_opt_in": pl.Boolean,
    "birth_date": pl.Date,
    "nps_score": pl.Int64,
    "first_name": pl.String,
    "locale": pl.String,
}

PRODUCTS_CSV = """sku,name,category,brand,price,promo_allowed
A,Spaghetti 500g,pasta,Nonna,1.20,true
B,"Tomato sauce, basil",sauce,Rosso,2.50,
W,Red wine,wine,Vino,7.90,false
"""
CUSTOMERS_CSV = """customer_id,card_number,email,phone,email_opt_in,sms_opt_in
C1,111,a@example.com,+4911,true,false
C2,222,b@example.com,+4922,yes,1
"""
TX_HEADER = "receipt_id,customer_id,ts,store_id,sku,quantity,amount\n"
TX_CSV = TX_HEADER + (
    "R1,C1,2026-03-14T10:15:00,S1,A,2,2.40\n"
    "R1,C1,2026-03-14T10:15:00,S1,B,1,2.50\n"
    "R2,C2,2026-03-15 18:00:05,S2,W,1,7.90\n"
    "R3,,2026-03-16,S1,A,-1,-1.20\n"
)
KEPT_TX = pl.DataFrame(
    {
        "receipt_id": ["R1", "R1", "R2", "R3"],
        "customer_id": ["C1", "C1", "C2", None],
        "ts": [
            datetime(2026, 3, 14, 10, 15),
            datetime(2026, 3, 14, 10, 15),
            datetime(2026, 3, 15, 18, 0, 5),
            datetime(2026, 3, 16),
        ],
        "store_id": ["S1", "S1", "S2", "S1"],
        "sku": ["A", "B", "W", "A"],
        "quantity": [2.0, 1.0, 1.0, -1.0],
        "amount": [2.4, 2.5, 7.9, -1.2],
    },
    schema=TX_SCHEMA,
)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.fixture
def inputs_dir(tmp_path: Path) -> Path:
    write(tmp_path / "products.csv", PRODUCTS_CSV)
    write(tmp_path / "customers.csv", CUSTOMERS_CSV)
    write(tmp_path / "transactions.csv", TX_CSV)
    return tmp_path


def load(folder: Path, transactions: str | Path = "transactions.csv", **kw: object) -> Inputs:
    return load_inputs(folder / transactions, folder / "products.csv", folder / "customers.csv", **kw)


def text_frame(rows: list[dict[str, str | None]], spec_name: str) -> pl.DataFrame:
    """A raw frame as the reader makes it: every contract column as text, absent ones null."""
    names = [c.name for c in SPECS[spec_name].columns]
    return pl.DataFrame({n: [r.get(n) for r in rows] for n in names}, schema={n: pl.String for n in names})


def reasons(loaded: Loaded) -> list[tuple[int, str]]:
    return loaded.quarantined.select(LINE_COL, REASON_COL).rows()


# --- locating files -------------------------------------------------------------------------------


def test_a_file_resolves_to_itself(tmp_path: Path):
    f = write(tmp_path / "tx.csv", TX_CSV)
    assert resolve_files(f) == [f]
    assert resolve_files(str(f)) == [f]


def test_a_folder_gives_its_csv_and_parquet_parts_sorted_without_markers(tmp_path: Path):
    for name in (
        "part-2.csv",
        "part-1.parquet",
        "part-10.CSV",
        "_SUCCESS",
        ".part-1.csv",
        "_tmp.csv",
        "notes.txt",
    ):
        write(tmp_path / "tx" / name, "x")
    write(tmp_path / "tx" / "sub" / "part-3.csv", "x")
    assert [p.name for p in resolve_files(tmp_path / "tx")] == [
        "part-1.parquet",
        "part-10.CSV",
        "part-2.csv",
    ]


def test_a_glob_gives_the_matching_files_sorted_and_may_recurse(tmp_path: Path):
    for name in ("2026-02/tx.csv", "2026-01/tx.csv", "2026-01/_SUCCESS", "other.csv"):
        write(tmp_path / name, "x")
    found = resolve_files(tmp_path / "2026-*" / "*")
    assert found == [tmp_path / "2026-01" / "tx.csv", tmp_path / "2026-02" / "tx.csv"]
    assert resolve_files(f"{tmp_path}/**/tx.csv") == found


def test_a_file_whose_name_looks_like_a_glob_is_taken_literally(tmp_path: Path):
    f = write(tmp_path / "tx[1].csv", TX_CSV)
    assert resolve_files(f) == [f]


@pytest.mark.parametrize(
    ("make", "location", "message"),
    [
        (lambda d: None, "missing.csv", "{d}/missing.csv: file not found"),
        (
            lambda d: (d / "parts").mkdir(),
            "parts",
            "{d}/parts: folder holds no .csv or .parquet file",
        ),
        (
            lambda d: write(d / "parts" / "_SUCCESS", ""),
            "parts",
            "{d}/parts: folder holds no .csv or .parquet file",
        ),
        (
            lambda d: write(d / "a.txt", ""),
            "tx-*.csv",
            "{d}/tx-*.csv: no file matches this pattern",
        ),
        (lambda d: write(d / "_x.csv", ""), "*.csv", "{d}/*.csv: no file matches this pattern"),
    ],
)
def test_nothing_to_read_is_one_line_naming_the_location(tmp_path, make, location, message):
    make(tmp_path)
    with pytest.raises(InputError) as e:
        resolve_files(tmp_path / location)
    assert str(e.value) == message.format(d=tmp_path)


# --- reading files --------------------------------------------------------------------------------


def test_load_keeps_typed_rows_and_returns_with_their_sign(inputs_dir: Path):
    inputs = load(inputs_dir)
    assert_frame_equal(inputs.transactions.kept, KEPT_TX)
    assert inputs.transactions.quarantined.height == 0
    assert_frame_equal(
        inputs.products.kept,
        pl.DataFrame(
            {
                "sku": ["A", "B", "W"],
                "name": ["Spaghetti 500g", "Tomato sauce, basil", "Red wine"],
                "category": ["pasta", "sauce", "wine"],
                "brand": ["Nonna", "Rosso", "Vino"],
                "price": [1.2, 2.5, 7.9],
                "promo_allowed": [True, True, False],  # blank = allowed
            },
            schema=PRODUCT_SCHEMA,
        ),
    )
    assert_frame_equal(
        inputs.customers.kept,
        pl.DataFrame(
            {
                "customer_id": ["C1", "C2"],
                "card_number": ["111", "222"],
                "email": ["a@example.com", "b@example.com"],
                "phone": ["+4911", "+4922"],
                "email_opt_in": [True, True],
                "sms_opt_in": [False, True],
                "push_opt_in": [False, False],  # absent column: no consent
                "birth_date": [None, None],
                "nps_score": [None, None],
                "first_name": [None, None],
                "locale": [None, None],
            },
            schema=CUSTOMER_SCHEMA,
        ),
    )
    assert [x.counts for x in inputs.all()] == [
        {"read": 3, "kept": 3, "quarantined": 0},
        {"read": 2, "kept": 2, "quarantined": 0},
        {"read": 4, "kept": 4, "quarantined": 0},
    ]
    assert inputs.transactions.files == [inputs_dir / "transactions.csv"]


def test_parquet_gives_the_same_kept_frames_as_csv(inputs_dir: Path, tmp_path: Path):
    from_csv = load(inputs_dir)
    pq = tmp_path / "pq"
    pq.mkdir()
    # typed Parquet columns, as a warehouse export writes them
    from_csv.transactions.kept.write_parquet(pq / "transactions.parquet")
    pl.read_csv(inputs_dir / "products.csv", infer_schema=False).write_parquet(pq / "products.parquet")
    from_csv.customers.kept.drop("push_opt_in", "first_name").write_parquet(pq / "customers.parquet")
    from_parquet = load_inputs(pq / "transactions.parquet", pq / "products.parquet", pq / "customers.parquet")
    for a, b in zip(from_csv.all(), from_parquet.all(), strict=True):
        assert_frame_equal(a.kept, b.kept)


def test_parquet_text_columns_are_validated_like_csv(tmp_path: Path, inputs_dir: Path):
    pl.DataFrame(
        {
            "receipt_id": ["R1", "R2"],
            "customer_id": ["C1", "C1"],
            "ts": ["2026-03-14T10:15:00", "14.03.2026"],
            "store_id": ["S1", "S1"],
            "sku": ["A", "A"],
            "quantity": [1, 1],
            "amount": [1.2, 1.2],
        }
    ).write_parquet(tmp_path / "tx.parquet")
    tx = load(inputs_dir, tmp_path / "tx.parquet").transactions
    assert tx.kept.height == 1
    assert tx.quarantined.select(SOURCE_COL, LINE_COL, REASON_COL).rows() == [
        ("tx.parquet", 2, "ts: not an ISO-8601 date-time")  # Parquet lines are row numbers from 1
    ]


def test_a_folder_of_parts_and_a_glob_read_like_one_file(inputs_dir: Path):
    whole = pl.read_csv(inputs_dir / "transactions.csv", infer_schema=False)
    write(inputs_dir / "tx" / "part-0.csv", whole.head(2).write_csv())
    whole.slice(2).write_parquet(inputs_dir / "tx" / "part-1.parquet")
    for location in ("tx", "tx/part-*"):
        inputs = load(inputs_dir, location)
        assert_frame_equal(inputs.transactions.kept, KEPT_TX)
        assert [p.name for p in inputs.transactions.files] == ["part-0.csv", "part-1.parquet"]


def test_an_empty_part_among_several_holds_no_rows(inputs_dir: Path):
    write(inputs_dir / "tx" / "part-0.csv", TX_CSV)
    write(inputs_dir / "tx" / "part-1.csv", b"")
    inputs = load(inputs_dir, "tx")
    assert_frame_equal(inputs.transactions.kept, KEPT_TX)
    assert len(inputs.transactions.files) == 2


def test_only_empty_parts_mean_no_rows(inputs_dir: Path):
    write(inputs_dir / "tx" / "part-0.csv", b"")
    write(inputs_dir / "tx" / "part-1.csv", b"")
    inputs = load(inputs_dir, "tx")
    assert inputs.transactions.counts == {"read": 0, "kept": 0, "quarantined": 0}
    with pytest.raises(InputError) as e:
        check_quarantine_share(inputs, 0.05, None)
    assert str(e.value) == "transactions (2 files): no data rows"


def test_quarantined_rows_name_their_part_and_line(inputs_dir: Path):
    write(inputs_dir / "tx" / "a.csv", TX_HEADER + "R1,C1,2026-03-14,S1,A,1,1\n")
    write(
        inputs_dir / "tx" / "b.csv",
        TX_HEADER + "R2,C1,2026-03-14,S1,A,1,1\nR3,C1,2026-03-14,S1,ZZ,1,1\n",
    )
    tx = load(inputs_dir, "tx").transactions
    assert tx.quarantined.select(SOURCE_COL, LINE_COL, REASON_COL).rows() == [
        ("b.csv", 3, "sku: not in products")
    ]


def test_parts_with_the_same_name_are_told_apart_by_their_path(inputs_dir: Path):
    write(inputs_dir / "tx" / "2026-01" / "part.csv", TX_HEADER + "R1,C1,2026-01-14,S1,ZZ,1,1\n")
    write(inputs_dir / "tx" / "2026-02" / "part.csv", TX_HEADER + "R2,C1,2026-02-14,S1,ZZ,1,1\n")
    tx = load(inputs_dir, "tx/*/part.csv").transactions
    assert tx.quarantined[SOURCE_COL].to_list() == ["2026-01/part.csv", "2026-02/part.csv"]


def test_bom_crlf_quotes_blank_lines_and_column_order_do_not_matter(inputs_dir: Path):
    text = (
        "\ufeffamount,sku,ts,receipt_id,customer_id,store_id,quantity,comment\r\n"
        '2.40,A,2026-03-14T10:15:00,R1,C1,S1,2,"ok, thanks"\r\n'
        '2.50,"B",2026-03-14T10:15:00,R1,C1,S1,1,"said ""hi""\r\nover two lines"\r\n'
        "\r\n"
        "7.90,W,2026-03-15 18:00:05,R2,C2,S2,1,\r\n"
        "-1.20,A,2026-03-16,R3,,S1,-1,\r\n"
        "\r\n"
    )
    write(inputs_dir / "transactions.csv", text.encode("utf-8"))
    inputs = load(inputs_dir)
    assert_frame_equal(inputs.transactions.kept, KEPT_TX)
    assert inputs.transactions.counts == {"read": 4, "kept": 4, "quarantined": 0}


def test_blanks_around_values_and_header_names_are_trimmed(inputs_dir: Path):
    write(
        inputs_dir / "transactions.csv",
        ' receipt_id , customer_id ,ts,store_id,"sku",quantity,amount\n'
        "R1 , C1,2026-03-14T10:15:00 ,S1, A , 2 ,2.40\n",
    )
    kept = load(inputs_dir).transactions.kept
    assert kept.row(0) == ("R1", "C1", datetime(2026, 3, 14, 10, 15), "S1", "A", 2.0, 2.4)


def test_a_delimiter_other_than_comma_is_honoured(inputs_dir: Path):
    for name in ("products.csv", "customers.csv", "transactions.csv"):
        frame = pl.read_csv(inputs_dir / name, infer_schema=False)
        write(inputs_dir / name, frame.write_csv(separator=";"))
    assert_frame_equal(load(inputs_dir, delimiter=";").transactions.kept, KEPT_TX)


def test_a_delimiter_of_more_than_one_byte_is_refused(inputs_dir: Path):
    with pytest.raises(InputError) as e:
        load(inputs_dir, delimiter="¦")
    assert str(e.value) == (
        f"{inputs_dir}/products.csv: cannot split CSV on '¦': the delimiter must be one ASCII character"
    )


def test_lines_with_more_or_fewer_fields_than_the_header_are_quarantined(inputs_dir: Path):
    write(
        inputs_dir / "transactions.csv",
        TX_HEADER
        + "R1,C1,2026-03-14,S1,A,1,1.20,surplus\n"  # a comma inside an unquoted value?
        + "R2,C1,2026-03-14,S1,A,1\n"
        + "R3,C1,2026-03-14,S1,A,1,1.20,\n"  # an empty trailing field is harmless
        + "R4,C1,2026-03-14,S1,A,1,1.20,x,y,z\n",
    )
    tx = load(inputs_dir).transactions
    assert reasons(tx) == [
        (2, "more fields than the header"),
        (3, "amount: empty"),
        (5, "more fields than the header"),
    ]
    assert tx.kept["receipt_id"].to_list() == ["R3"]
    assert tx.quarantined.row(0)[:7] == ("R1", "C1", "2026-03-14", "S1", "A", "1", "1.20")


# --- whole-file problems --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty (0 bytes; expected a header line)"),
        (b"\n\nR1,C1\n", "line 1 is blank (expected a header line)"),
        (
            TX_HEADER.encode() + "R1,C1,2026-03-14,S1,Пе,1,1\n".encode() + b"R2,C1,2026-03-14,S1,\xc0,1,1\n",
            "line 3 is not UTF-8 text (byte 0xC0 at position 21); save the file as UTF-8",
        ),
        (
            "квитанция,ts\n".encode("cp1251"),
            "line 1 is not UTF-8 text (byte 0xEA at position 1); save the file as UTF-8",
        ),
        (TX_CSV.encode("utf-16"), "not CSV text: the file is UTF-16 text; save it as UTF-8"),
        (
            b"PK\x03\x04rest",
            ("not CSV text: the file is a zip archive or an Excel workbook; export the sheet as CSV (UTF-8)"),
        ),
        (b"\x1f\x8b\x08rest", "not CSV text: the file is gzip-compressed; unpack it first"),
        (b"PAR1rest", "not CSV text: the file is a Parquet file; give it the .parquet extension"),
        (b"\x00\x01\x02,\x03\n", "not CSV text: line 1 holds control characters (binary data?)"),
        (
            (TX_HEADER + 'R1,C1,2026-03-14,S1,A,1,1\nR2,C1,2026-03-14,S1,TV 27" wide,1,1\n').encode(),
            (
                "line 3 has a double quote inside a value that is not quoted; "
                'enclose the value in double quotes and double the quote inside ("27"" screen")'
            ),
        ),
        (
            (TX_HEADER + 'R1,C1,2026-03-14,S1,"A,1,1\nR2,C1,2026-03-14,S1,A,1,1\n').encode(),
            "line 2 opens a quoted value that is never closed",
        ),
        (
            b"receipt_id;customer_id;ts;store_id;sku;quantity;amount\n",
            (
                "missing required columns 'receipt_id', 'customer_id', 'ts', 'store_id', 'sku', "
                "'quantity', 'amount' (the header looks ';'-delimited; the job expects ',')"
            ),
        ),
        (
            b"receipt_id\tcustomer_id\tts\tstore_id\tsku\tquantity\tamount\n",
            (
                "missing required columns 'receipt_id', 'customer_id', 'ts', 'store_id', 'sku', "
                "'quantity', 'amount' (the header looks tab-delimited; the job expects ',')"
            ),
        ),
        (
            b"Receipt_ID,customer_id,ts,store_id,sku,quantity,amount,amount\n",
            (
                "missing required column 'receipt_id' (the header has: Receipt_ID, customer_id, "
                "ts, store_id, sku, quantity, amount, amount)"
            ),
        ),
        (
            b"receipt_id,customer_id,ts,store_id,sku,quantity,amount,sku\n",
            "column 'sku' appears more than once in the header",
        ),
    ],
)
def test_a_whole_file_problem_is_one_line_naming_the_file(inputs_dir, content, message):
    path = write(inputs_dir / "transactions.csv", content)
    with pytest.raises(InputError) as e:
        load(inputs_dir)
    assert str(e.value) == f"{path}: {message}"
    assert "\n" not in str(e.value)


def test_a_header_line_listing_many_columns_is_shortened(inputs_dir: Path):
    names = ",".join(f"col{i}" for i in range(20))
    path = write(inputs_dir / "products.csv", names + "\n")
    with pytest.raises(InputError) as e:
        load(inputs_dir)
    assert str(e.value) == (
        f"{path}: missing required columns 'sku', 'name', 'category' (the header has: "
        + ", ".join(f"col{i}" for i in range(12))
        + ", ...)"
    )


def test_an_error_names_the_part_that_holds_it(inputs_dir: Path):
    write(inputs_dir / "tx" / "a.csv", TX_CSV)
    bad = write(inputs_dir / "tx" / "b.csv", TX_HEADER.encode() + b"R9,C1,2026-03-14,S1,\xff,1,1\n")
    with pytest.raises(InputError) as e:
        load(inputs_dir, "tx")
    assert (
        str(e.value) == f"{bad}: line 2 is not UTF-8 text (byte 0xFF at position 21); save the file as UTF-8"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PAR1 not really", "not a readable Parquet file ("),
        (b"", "not a readable Parquet file ("),
    ],
)
def test_a_corrupt_parquet_file_is_one_line(inputs_dir, content, message):
    path = write(inputs_dir / "tx.parquet", content)
    with pytest.raises(InputError) as e:
        load(inputs_dir, "tx.parquet")
    assert str(e.value).startswith(f"{path}: {message}")
    assert "\n" not in str(e.value)


def test_a_parquet_file_with_a_missing_or_nested_column_is_one_line(inputs_dir: Path):
    path = inputs_dir / "tx.parquet"
    KEPT_TX.drop("amount").write_parquet(path)
    with pytest.raises(InputError) as e:
        load(inputs_dir, "tx.parquet")
    assert str(e.value) == (
        f"{path}: missing required column 'amount' "
        "(the header has: receipt_id, customer_id, ts, store_id, sku, quantity)"
    )
    KEPT_TX.with_columns(pl.concat_list("sku").alias("sku")).write_parquet(path)
    with pytest.raises(InputError) as e:
        load(inputs_dir, "tx.parquet")
    assert str(e.value) == (
        f"{path}: column 'sku' has Parquet type List(String); expected text, a number, a date or a boolean"
    )


def test_scan_input_is_lazy_text_with_source_line_and_reason(inputs_dir: Path):
    lf = scan_input([inputs_dir / "transactions.csv"], TRANSACTIONS)
    assert isinstance(lf, pl.LazyFrame)
    frame = lf.collect()
    assert frame.columns == [c.name for c in TRANSACTIONS.columns] + [
        SOURCE_COL,
        LINE_COL,
        REASON_COL,
    ]
    assert frame.row(3) == (
        "R3",
        None,
        "2026-03-16",
        "S1",
        "A",
        "-1",
        "-1.20",
        "transactions.csv",
        5,
        None,
    )


# --- products -------------------------------------------------------------------------------------


def test_products_need_sku_name_category_and_a_unique_sku():
    raw = text_frame(
        [
            {
                "sku": "A",
                "name": "Pasta",
                "category": "pasta",
                "price": "1.5",
                "promo_allowed": "no",
            },
            {"sku": "A", "name": "Pasta again", "category": "pasta"},
            {"sku": " ", "name": "Nameless", "category": "misc"},
            {"sku": "B", "name": "", "category": None},
            {"sku": "C", "name": "Gift card", "category": "gifts", "price": "-5"},
            {
                "sku": "D",
                "name": "Cheese",
                "category": "dairy",
                "price": "2,5",
                "promo_allowed": "maybe",
            },
            {"sku": "E", "name": "Tea", "category": "tea", "promo_allowed": "TRUE"},
        ],
        "products",
    )
    loaded = validate_products(raw)
    assert reasons(loaded) == [
        (2, "sku: duplicate of an earlier product"),
        (3, "sku: empty"),
        (4, "name: empty; category: empty"),
        (5, "price: negative"),
        (6, "price: not a number; promo_allowed: not true/false"),
    ]
    assert_frame_equal(
        loaded.kept,
        pl.DataFrame(
            {
                "sku": ["A", "E"],
                "name": ["Pasta", "Tea"],
                "category": ["pasta", "tea"],
                "brand": [None, None],
                "price": [1.5, None],
                "promo_allowed": [False, True],
            },
            schema=PRODUCT_SCHEMA,
        ),
    )


# --- customers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("Y", True),
        ("t", True),
        ("false", False),
        ("0", False),
        ("No", False),
        ("n", False),
        ("F", False),
        ("", False),
        (None, False),
        ("  ", False),  # consent must be explicit
    ],
)
def test_consent_words_and_blank_consent(text, value):
    loaded = validate_customers(
        text_frame([{"customer_id": "C1", "email_opt_in": text, "sms_opt_in": text}], "customers")
    )
    assert loaded.kept.select("email_opt_in", "sms_opt_in", "push_opt_in").row(0) == (
        value,
        value,
        False,
    )


def test_customers_have_unique_ids_and_cards_and_nps_from_0_to_10():
    raw = text_frame(
        [
            {
                "customer_id": "C1",
                "card_number": "111",
                "nps_score": "10",
                "birth_date": "1980-05-01",
            },
            {
                "customer_id": "C2",
                "card_number": None,
                "nps_score": "0",
                "birth_date": "1980-05-01T00:00:00",
            },
            {"customer_id": "C3", "card_number": "", "nps_score": "7.0"},
            {"customer_id": "C1", "card_number": "333"},
            {"customer_id": "C4", "card_number": "111"},
            {"customer_id": "C5", "nps_score": "11"},
            {"customer_id": "C6", "nps_score": "-1"},
            {"customer_id": "C7", "nps_score": "7.5"},
            {"customer_id": "C8", "nps_score": "ten"},
            {"customer_id": "C9", "nps_score": "1e30"},
            {"customer_id": "C10", "birth_date": "01.05.1980", "email_opt_in": "maybe"},
            {"customer_id": None, "email": "x@example.com"},
        ],
        "customers",
    )
    loaded = validate_customers(raw)
    assert reasons(loaded) == [
        (4, "customer_id: duplicate of an earlier customer"),
        (5, "card_number: already used by an earlier customer"),
        (6, "nps_score: outside 0-10"),
        (7, "nps_score: outside 0-10"),
        (8, "nps_score: not a whole number"),
        (9, "nps_score: not a whole number"),
        (10, "nps_score: outside 0-10"),
        (11, "email_opt_in: not true/false; birth_date: not an ISO-8601 date (YYYY-MM-DD)"),
        (12, "customer_id: empty"),
    ]
    kept = loaded.kept.select("customer_id", "card_number", "birth_date", "nps_score")
    assert_frame_equal(
        kept,
        pl.DataFrame(
            {
                "customer_id": ["C1", "C2", "C3"],
                "card_number": ["111", None, None],  # no card is not a duplicate card
                "birth_date": [date(1980, 5, 1), date(1980, 5, 1), None],
                "nps_score": [10, 0, 7],
            },
            schema={k: CUSTOMER_SCHEMA[k] for k in kept.columns},
        ),
    )
    assert loaded.kept.schema == pl.Schema(CUSTOMER_SCHEMA)


# --- transactions ---------------------------------------------------------------------------------


def validate(rows: list[dict[str, str | None]], **kw: object) -> Loaded:
    defaults = {
        "receipt_id": "R1",
        "customer_id": "C1",
        "ts": "2026-03-14T10:15:00",
        "store_id": "S1",
        "sku": "A",
        "quantity": "1",
        "amount": "1.20",
    }
    raw = text_frame([defaults | r for r in rows], "transactions")
    return validate_transactions(
        raw,
        skus=pl.Series(["A", "B"]),
        customer_ids=pl.Series(["C1", "C2"]),
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2026-03-14T10:15:00", datetime(2026, 3, 14, 10, 15)),
        ("2026-03-14 10:15:00", datetime(2026, 3, 14, 10, 15)),
        ("2026-03-14T10:15", datetime(2026, 3, 14, 10, 15)),
        ("2026-03-14 10:15", datetime(2026, 3, 14, 10, 15)),
        ("2026-03-14", datetime(2026, 3, 14)),
        ("2026-03-14T10:15:00Z", datetime(2026, 3, 14, 10, 15)),  # offsets are dropped:
        ("2026-03-14T10:15:00+03:00", datetime(2026, 3, 14, 10, 15)),  # store wall time
        ("2026-03-14T10:15:00-0500", datetime(2026, 3, 14, 10, 15)),
        ("2026-03-14T10:15+01", datetime(2026, 3, 14, 10, 15)),
        ("2026-03-14T10:15:00.5", datetime(2026, 3, 14, 10, 15, 0, 500000)),
        ("2026-03-14T10:15:00,25Z", datetime(2026, 3, 14, 10, 15, 0, 250000)),
        ("2026-03-14 10:15:00.123456789", datetime(2026, 3, 14, 10, 15, 0, 123456)),
        ("2026-03-14 10:15:00.000000+03:00", datetime(2026, 3, 14, 10, 15)),
    ],
)
def test_accepted_timestamps(text, value):
    loaded = validate([{"ts": text}])
    assert loaded.quarantined.height == 0
    assert loaded.kept["ts"].to_list() == [value]


@pytest.mark.parametrize(
    "text",
    [
        "14.03.2026",
        "03/14/2026",
        "2026-3-14",
        "2026-02-30",
        "2026-03-14T24:00",
        "2026-03-14T10:60",
        "2026-03-14T10:15:60",
        "2026-03-14Z",
        "2026-03-14T10",
        "+2026-03-14T10:15:0",
        "20260314",
        "today",
    ],
)
def test_rejected_timestamps(text):
    loaded = validate([{"ts": text}])
    assert reasons(loaded) == [(1, "ts: not an ISO-8601 date-time")]


def test_transaction_row_reasons():
    loaded = validate(
        [
            {},
            {"quantity": "-1", "amount": "-1.20"},  # a return: kept
            {"customer_id": None},  # anonymous: kept
            {"customer_id": "  "},
            {"sku": ""},
            {"sku": "Z"},
            {"customer_id": "C9"},
            {"amount": "1,20"},
            {"amount": "abc", "quantity": "two"},
            {"amount": "inf"},
            {"amount": "NaN"},
            {"amount": "2000000"},
            {"quantity": "-20000", "amount": "-1"},
            {"receipt_id": None, "ts": None, "quantity": None, "amount": ""},
            {},  # exact duplicate of the first line
        ]
    )
    assert reasons(loaded) == [
        (5, "sku: empty"),
        (6, "sku: not in products"),
        (7, "customer_id: not in customers"),
        (8, "amount: not a number"),
        (9, "quantity: not a number; amount: not a number"),
        (10, "amount: not a number"),
        (11, "amount: not a number"),
        (12, "amount: beyond max_line_amount (1000000)"),
        (13, "quantity: beyond max_line_quantity (10000)"),
        (14, "receipt_id: empty; ts: empty; quantity: empty; amount: empty"),
        (15, "exact duplicate of an earlier line"),
    ]
    assert loaded.kept.select("customer_id", "quantity", "amount").rows() == [
        ("C1", 1.0, 1.2),
        ("C1", -1.0, -1.2),
        (None, 1.0, 1.2),
        (None, 1.0, 1.2),
    ]
    assert loaded.kept.schema == pl.Schema(TX_SCHEMA)


def test_limits_come_from_the_job():
    loaded = validate([{"quantity": "6", "amount": "60.5"}], max_quantity=5, max_amount=60.25)
    assert reasons(loaded) == [
        (1, "quantity: beyond max_line_quantity (5); amount: beyond max_line_amount (60.25)")
    ]


def test_duplicates_keep_the_first_line_and_compare_the_text_as_read():
    loaded = validate([{}, {"amount": "1.2"}, {}, {"amount": "1.2"}, {}, {"sku": "B"}])
    assert reasons(loaded) == [
        (3, "exact duplicate of an earlier line"),
        (4, "exact duplicate of an earlier line"),
        (5, "exact duplicate of an earlier line"),
    ]
    assert loaded.kept.height == 3


def test_lines_of_a_quarantined_product_or_customer_say_so():
    raw = text_frame(
        [
            {
                "receipt_id": "R1",
                "customer_id": "C1",
                "ts": "2026-03-14",
                "sku": "Q",
                "quantity": "1",
                "amount": "1",
            },
            {
                "receipt_id": "R2",
                "customer_id": "CQ",
                "ts": "2026-03-14",
                "sku": "A",
                "quantity": "1",
                "amount": "1",
            },
        ],
        "transactions",
    )
    loaded = validate_transactions(
        raw,
        skus=pl.Series(["A"]),
        customer_ids=pl.Series(["C1"]),
        quarantined_skus=pl.Series(["Q"]),
        quarantined_customer_ids=pl.Series([" CQ"]),
    )
    assert reasons(loaded) == [
        (1, "sku: its product row is quarantined"),
        (2, "customer_id: its customer row is quarantined"),
    ]


def test_a_bad_customer_row_takes_its_transactions_along_in_load(inputs_dir: Path):
    write(
        inputs_dir / "customers.csv",
        CUSTOMERS_CSV.replace("C2,222,b@example.com,+4922,yes", "C2,222,b@example.com,+4922,ja"),
    )
    inputs = load(inputs_dir)
    assert reasons(inputs.customers) == [(3, "email_opt_in: not true/false")]
    assert reasons(inputs.transactions) == [(4, "customer_id: its customer row is quarantined")]


def test_validation_of_a_frame_with_only_the_required_columns():
    raw = pl.DataFrame({"sku": ["A"], "name": ["Pasta"], "category": ["pasta"]})
    kept = validate_products(raw).kept
    assert kept.schema == pl.Schema(PRODUCT_SCHEMA)
    assert kept.row(0) == ("A", "Pasta", "pasta", None, None, True)
    with pytest.raises(InputError) as e:
        validate_products(pl.DataFrame({"sku": ["A"]}))
    assert str(e.value) == "products: missing required columns 'name', 'category'"


def test_an_empty_input_gives_empty_typed_frames(inputs_dir: Path):
    write(inputs_dir / "transactions.csv", TX_HEADER)
    tx = load(inputs_dir).transactions
    assert_frame_equal(tx.kept, KEPT_TX.clear())
    assert tx.counts == {"read": 0, "kept": 0, "quarantined": 0}


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


# --- properties -----------------------------------------------------------------------------------

GOOD = ("R{i}", "C1", "2026-03-14T10:{m:02d}:00", "S1", "A", "1", "1.20")
BAD_KINDS = {
    "bad_ts": ({2: "14.03.2026"}, "ts: not an ISO-8601 date-time"),
    "empty_sku": ({4: ""}, "sku: empty"),
    "unknown_sku": ({4: "ZZ"}, "sku: not in products"),
    "bad_amount": ({6: "1,20"}, "amount: not a number"),
    "unknown_customer": ({1: "C404"}, "customer_id: not in customers"),
    "huge_quantity": ({5: "1e9"}, "quantity: beyond max_line_quantity (10000)"),
}
KINDS = st.sampled_from(["good", "good", "good", "return", "duplicate", *BAD_KINDS])


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(KINDS, max_size=40), st.booleans())
def test_every_line_is_either_kept_or_quarantined_with_its_reason(kinds: list[str], parquet: bool):
    rows: list[tuple[str, ...]] = []
    expected_kept: list[tuple[str, ...]] = []
    expected_reasons: list[tuple[int, str]] = []
    for i, kind in enumerate(kinds):
        row = list(GOOD)
        row[0], row[2] = row[0].format(i=i), row[2].format(m=i % 60)
        if kind == "duplicate" and expected_kept:
            row = list(expected_kept[0])
            expected_reasons.append((i + 2, "exact duplicate of an earlier line"))
        elif kind in BAD_KINDS:
            changes, reason = BAD_KINDS[kind]
            for col, value in changes.items():
                row[col] = value
            expected_reasons.append((i + 2, reason))
        else:
            if kind == "return":
                row[5], row[6] = "-1", "-1.20"
            expected_kept.append(tuple(row))
        rows.append(tuple(row))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write(folder / "products.csv", PRODUCTS_CSV)
        write(folder / "customers.csv", CUSTOMERS_CSV)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([TX_HEADER.strip().split(","), *rows])
        if parquet:
            source = folder / "transactions.parquet"
            pl.read_csv(io.StringIO(buf.getvalue()), infer_schema=False).write_parquet(source)
        else:
            source = write(folder / "transactions.csv", buf.getvalue())
        tx = load(folder, source.name).transactions

    assert tx.counts["read"] == len(rows) == tx.counts["kept"] + tx.counts["quarantined"]
    # Parquet rows are numbered from 1, CSV lines from 2 (the header is line 1)
    shift = 1 if parquet else 0
    assert reasons(tx) == [(line - shift, reason) for line, reason in expected_reasons]
    expected = pl.DataFrame(
        [list(r) for r in expected_kept] or None,
        schema={c.name: pl.String for c in TRANSACTIONS.columns},
        orient="row",
    ).with_columns(
        pl.col("ts").str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us"),
        pl.col("quantity", "amount").cast(pl.Float64),
    )
    assert_frame_equal(tx.kept, expected)


ISO_PIECES = st.tuples(
    st.integers(1900, 2100),
    st.integers(0, 13),
    st.integers(0, 32),
    st.sampled_from(["", "T", " ", "X"]),
    st.integers(0, 25),
    st.integers(0, 61),
    st.sampled_from(["", ":{:02d}", ":{}"]),
    st.sampled_from(["", ".5", ".123456", ".123456789", ",25", "."]),
    st.sampled_from(["", "Z", "+03:00", "-0500", "+01", "+1"]),
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(ISO_PIECES, min_size=1, max_size=20))
def test_the_fast_timestamp_path_agrees_with_the_general_one(pieces):
    texts = []
    for y, mo, d, sep, h, mi, sec_fmt, frac, off in pieces:
        text = f"{y:04d}-{mo:02d}-{d:02d}"
        if sep:
            text += f"{sep}{h:02d}:{mi:02d}" + sec_fmt.format(mi) + (frac if sec_fmt else "") + off
        texts.append(text)
    frame = pl.DataFrame({"t": texts})
    fast = parse_timestamps(frame, "t")
    general = frame.select(parse_timestamp(pl.col("t"))).to_series()
    assert fast.to_list() == general.to_list()


def test_product_and_customer_specs_list_their_required_columns():
    assert PRODUCTS.required == ["sku", "name", "category"]
    assert CUSTOMERS.required == [
        "customer_id",
        "card_number",
        "email",
        "phone",
        "email_opt_in",
        "sms_opt_in",
    ]
    assert TRANSACTIONS.required == [c.name for c in TRANSACTIONS.columns]


# --- the documentation -----------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[1] / "docs" / "data.md"


def test_the_documented_example_inputs_load_without_a_rejected_row(tmp_path: Path):
    blocks = DOCS.read_text().split("## Examples", 1)[1].split("```csv\n")[1:]
    for name, block in zip(("products", "customers", "transactions"), blocks, strict=True):
        write(tmp_path / f"{name}.csv", block.split("```")[0])
    inputs = load(tmp_path)
    assert [x.counts["quarantined"] for x in inputs.all()] == [0, 0, 0]
    assert [x.counts["kept"] for x in inputs.all()] == [3, 2, 4]


def test_every_reason_the_validators_give_is_documented():
    products = validate_products(
        text_frame(
            [
                {"sku": "A", "name": "", "category": "c", "price": "-1", "promo_allowed": "?"},
                {"sku": "A", "name": "n", "category": "c", "price": "x"},
            ],
            "products",
        )
    )
    customers = validate_customers(
        text_frame(
            [
                {"customer_id": "C", "card_number": "1", "nps_score": "11", "birth_date": "x"},
                {"customer_id": "C", "card_number": "1", "nps_score": "1.5", "sms_opt_in": "?"},
                {"customer_id": None},
            ],
            "customers",
        )
    )
    transactions = validate([{}, {}, {"ts": "x", "quantity": "1e9", "amount": "1e9"}])
    transactions_more = validate_transactions(
        text_frame(
            [{"sku": "Q", "customer_id": "CQ"}, {"sku": "Z", "customer_id": "CZ"}], "transactions"
        ).with_columns(pl.lit("more fields than the header").alias(REASON_COL)),
        skus=pl.Series(["A"]),
        customer_ids=pl.Series(["C1"]),
        quarantined_skus=pl.Series(["Q"]),
        quarantined_customer_ids=pl.Series(["CQ"]),
    )
    found = set()
    for loaded in (products, customers, transactions, transactions_more):
        for reason in loaded.quarantined[REASON_COL].to_list():
            found.update(reason.split("; "))
    assert len(found) >= 20
    docs = DOCS.read_text()
    for reason in sorted(found):
        what = reason.partition(": ")[2]
        generic = f"`<column>: {what}`"
        assert f"`{reason}`" in docs or generic in docs, reason


def test_a_damaged_parquet_file_is_read_or_refused_in_one_line(tmp_path: Path, inputs_dir: Path):
    """Guards against reader errors (and reader panics) escaping as tracebacks."""
    import random

    good = tmp_path / "good.parquet"
    KEPT_TX.write_parquet(good)
    data = good.read_bytes()
    rnd = random.Random(20261122)
    outcomes = set()
    for _ in range(60):
        damaged = bytearray(data)
        for _ in range(rnd.randint(1, 4)):
            damaged[rnd.randrange(len(damaged))] = rnd.randrange(256)
        write(inputs_dir / "tx.parquet", bytes(damaged))
        try:
            load(inputs_dir, "tx.parquet")
            outcomes.add("read")
        except InputError as e:
            assert str(e).startswith(f"{inputs_dir}/tx.parquet: ")
            assert "\n" not in str(e)
            outcomes.add("refused")
    assert "refused" in outcomes
