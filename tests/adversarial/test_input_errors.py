"""Input errors name the file, line and column, never the values of personal columns, and machine
faults are one line, not a traceback.
"""

from __future__ import annotations

import pytest

from coupongen.config.job import InputsConfig
from coupongen.errors import InputError
from coupongen.inputs.loading import load_job_inputs
from tests.adversarial.hostile import hostile_data


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return hostile_data(tmp_path_factory.mktemp("inputs"))


def _load_error(folder) -> str:
    with pytest.raises(InputError) as e:
        load_job_inputs(InputsConfig(), folder)
    return str(e.value)


def test_a_customers_file_without_its_header_shows_no_personal_value(data):
    lines = (data / "customers.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (data / "customers.csv").write_text("".join(lines[1:]), encoding="utf-8")
    first = lines[1].rstrip("\n").split(",")
    message = _load_error(data)
    (data / "customers.csv").write_text("".join(lines), encoding="utf-8")
    assert message == (
        f"{data / 'customers.csv'}: missing required columns 'customer_id', 'card_number', 'email', "
        "'phone', 'email_opt_in', 'sms_opt_in' (line 1 names none of the contract's columns: is the header line missing?)"
    )
    for value in first[1:6]:
        if value:
            assert value not in message


def test_a_header_with_a_typo_still_shows_the_names_but_no_values(data):
    lines = (data / "customers.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].replace("customer_id", "cust_id").replace("nps_score", "ann@example.com")
    (data / "customers.csv").write_text(header + "".join(lines[1:]), encoding="utf-8")
    message = _load_error(data)
    (data / "customers.csv").write_text("".join(lines), encoding="utf-8")
    assert message == (
        f"{data / 'customers.csv'}: missing required column 'customer_id' (the header has: cust_id, "
        "card_number, first_name, locale, email, phone, email_opt_in, sms_opt_in, push_opt_in, "
        "birth_date and 1 value not shown)"
    )


def test_a_fifo_as_input_is_refused_without_blocking(data, tmp_path):
    import os
    import shutil

    folder = tmp_path / "fifo"
    shutil.copytree(data, folder)
    (folder / "customers.csv").unlink()
    os.mkfifo(folder / "customers.csv")
    assert _load_error(folder) == (
        f"{folder / 'customers.csv'}: not a regular file (a pipe, socket or device); export to a file"
    )


# --- sizes past which a file is refused ----------------------------------------------------------


def _replace(data, tmp_path, name: str, text: str):
    import shutil

    folder = tmp_path / "sized"
    shutil.copytree(data, folder)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_header_line_over_128_kb_is_refused_before_it_is_read_whole(data, tmp_path):
    header = "customer_id," + ",".join(f"c{i:06d}" for i in range(20_000)) + "\n"  # 160 KB
    folder = _replace(data, tmp_path, "customers.csv", header + "C1,x\n")
    assert _load_error(folder) == (
        f"{folder / 'customers.csv'}: line 1 (the header) is longer than 128 KB; expected a line of "
        "column names: is this the right file?"
    )


def test_thousands_of_columns_are_refused(data, tmp_path):
    lines = (data / "transactions.csv").read_text(encoding="utf-8").splitlines()
    extra = 3_000 - len(lines[0].split(","))
    wide = lines[0] + "".join(f",x{i}" for i in range(extra)) + "\n" + lines[1] + "," * extra + "\n"
    folder = _replace(data, tmp_path, "transactions.csv", wide)
    assert _load_error(folder) == (
        f"{folder / 'transactions.csv'}: the header has 3,000 columns, more than 1,000; export only "
        "the columns the job reads (see docs/data.md)"
    )


def test_a_huge_value_is_refused_naming_line_and_column_not_the_value(data, tmp_path):
    from coupongen.inputs.contract import PRODUCTS
    from coupongen.inputs.reading import ReadLimits, read_input

    lines = (data / "products.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    row = lines[2].rstrip("\n").split(",")
    row[header.index("name")] = "Secret" * 12  # 72 bytes, over the lowered limit of 64
    folder = _replace(data, tmp_path, "products.csv", lines[0] + lines[1] + ",".join(row) + "\n")
    path = folder / "products.csv"
    with pytest.raises(InputError) as e:
        read_input([path], PRODUCTS, ",", ReadLimits(value_bytes=64))
    assert str(e.value) == (
        f"{path}: line 3, column 'name': a value longer than 64 bytes; is a double quote left open "
        "on or before this line?"
    )
    assert read_input([path], PRODUCTS, ",", ReadLimits(value_bytes=72)).height == 2


def test_a_megabyte_product_name_is_refused(data, tmp_path):
    # A 50 MB name is refused the same way (docs/data.md has its memory); 1 MB keeps the test fast.
    lines = (data / "products.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    row = lines[1].rstrip("\n").split(",")
    row[header.index("name")] = "N" * (1 << 20)
    folder = _replace(data, tmp_path, "products.csv", lines[0] + ",".join(row) + "\n" + "".join(lines[2:]))
    assert _load_error(folder) == (
        f"{folder / 'products.csv'}: line 2, column 'name': a value longer than 64 KB; is a double "
        "quote left open on or before this line?"
    )
