"""Tests of reading the inputs: locating files, reading CSV and Parquet, whole-file problems.

The command-line view of the same rules is in ``test_bad_inputs.py``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.config import InputsConfig
from coupongen.errors import InputError
from coupongen.inputs.contract import (
    LINE_COL,
    REASON_COL,
    SOURCE_COL,
    TRANSACTIONS,
)
from coupongen.inputs.loading import detect_delimiter, load_inputs
from coupongen.inputs.quarantine import check_quarantine_share
from coupongen.inputs.reading import resolve_files, scan_input
from tests.inputs.inputs_data import (
    CUSTOMER_SCHEMA,
    KEPT_TX,
    PRODUCT_SCHEMA,
    TX_CSV,
    TX_HEADER,
    load,
    reasons,
    write,
    write_inputs,
)


@pytest.fixture
def inputs_dir(tmp_path: Path) -> Path:
    return write_inputs(tmp_path)


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
                "category_name": [None, None, None],
                "subcategory": [None, None, None],  # optional, absent from the file
                "brand": ["Nonna", "Rosso", "Vino"],
                "price": [1.2, 2.5, 7.9],
                "cost": [None, None, None],  # optional, absent from the file
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


def test_the_delimiter_is_read_from_the_header_lines_of_the_csv_inputs(inputs_dir: Path):
    settings = InputsConfig(transactions="tx")
    for name in ("products.csv", "customers.csv"):
        frame = pl.read_csv(inputs_dir / name, infer_schema=False)
        write(inputs_dir / name, frame.write_csv(separator="\t"))
    write(inputs_dir / "tx" / "part-0.csv", b"")  # an empty part says nothing
    write(inputs_dir / "tx" / "part-1.csv", TX_CSV.replace(",", "\t"))
    assert detect_delimiter(settings, inputs_dir) == "\t"
    assert_frame_equal(load(inputs_dir, "tx", delimiter="\t").transactions.kept, KEPT_TX)
    pl.read_csv(inputs_dir / "tx" / "part-1.csv", separator="\t", infer_schema=False).write_parquet(
        inputs_dir / "tx" / "part-1.parquet"
    )
    (inputs_dir / "tx" / "part-1.csv").unlink()
    assert detect_delimiter(settings, inputs_dir) == "\t"  # a Parquet part says nothing either
    write(inputs_dir / "customers.csv", (inputs_dir / "customers.csv").read_bytes().replace(b"\t", b","))
    with pytest.raises(InputError) as e:
        detect_delimiter(settings, inputs_dir)
    assert str(e.value) == (
        f"{inputs_dir}/customers.csv: the header looks ','-delimited, but the header of "
        f"{inputs_dir}/products.csv looks tab-delimited; export every input with one delimiter"
    )


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
