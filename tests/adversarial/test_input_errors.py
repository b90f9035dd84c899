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
