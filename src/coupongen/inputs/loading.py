"""Loading a job's inputs: read, validate and quarantine the three files, in one call.

Products and customers are validated first, so that a transaction naming a product or customer
whose own row was rejected says so; the transactions are validated a slice of lines at a time
(`batches`), so that memory holds their typed kept rows, not all their text. Every command that
needs the inputs loads them here.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from coupongen.config import InputsConfig
from coupongen.errors import InputError
from coupongen.inputs.batches import load_transactions
from coupongen.inputs.contract import CUSTOMERS, PRODUCTS, Inputs, Loaded
from coupongen.inputs.locations import InputFile, Location, join
from coupongen.inputs.partitions import is_partitioned, partition_files
from coupongen.inputs.quarantine import check_quarantine_share, write_quarantine
from coupongen.inputs.reading import (
    is_empty_file,
    is_parquet,
    read_input,
    resolve_files,
    shown_delimiter,
    sniff_delimiter,
)
from coupongen.inputs.validation import validate_customers, validate_products


def load_inputs(
    transactions: Location,
    products: Location,
    customers: Location,
    *,
    delimiter: str = ",",
    max_amount: float = 1_000_000.0,
    max_quantity: float = 10_000.0,
    file_format: str | None = None,
    window: tuple[date, date] | None = None,
) -> Inputs:
    """Read and validate the three inputs: products and customers first, then transactions.

    With ``file_format`` "parquet", a transactions folder partitioned by day (``date=YYYY-MM-DD/``)
    is read for the days of ``window`` only (start included, end not; every day without one).
    Each location may be a local path or a URI (``s3://bucket/exports/transactions``).

    Raises InputError (one line naming the file and, where it applies, the column) for a missing,
    empty or unreadable file or a missing column. Row-level problems never raise: see ``Loaded``.
    """
    p_files, c_files = resolve_files(products), resolve_files(customers)
    t_files: list[InputFile]
    if file_format == "parquet" and is_partitioned(transactions):
        t_files = partition_files(transactions, window)
    else:
        t_files = resolve_files(transactions)
    prods = validate_products(read_input(p_files, PRODUCTS, delimiter))
    prods.files = p_files
    custs = validate_customers(read_input(c_files, CUSTOMERS, delimiter))
    custs.files = c_files
    tx = load_transactions(
        t_files,
        delimiter,
        skus=prods.kept["sku"],
        customer_ids=custs.kept["customer_id"],
        max_amount=max_amount,
        max_quantity=max_quantity,
        quarantined_skus=prods.quarantined["sku"],
        quarantined_customer_ids=custs.quarantined["customer_id"],
    )
    return Inputs(transactions=tx, products=prods, customers=custs)


def load_job_inputs(
    settings: InputsConfig,
    data_dir: Location,
    *,
    quarantine_dir: Path | None = None,
    transactions: Location | None = None,
    window: tuple[date, date] | None = None,
) -> Inputs:
    """The job's three inputs from ``data_dir``, validated; fails when too many rows were rejected.

    ``settings`` names the files (relative to ``data_dir``, a folder or a URI; a name that is a
    URI stands alone), the delimiter and the limits.
    ``transactions``, when given, is read in place of the job's transactions file. With
    ``quarantine_dir`` the rejected rows are written there (see ``write_quarantine``) before the
    share is checked, so that the error can point at them; without it they are only counted.
    ``window`` limits a day-partitioned Parquet transactions folder to its days (see `load_inputs`).
    """
    inputs = load_inputs(
        transactions if transactions is not None else join(data_dir, settings.transactions),
        join(data_dir, settings.products),
        join(data_dir, settings.customers),
        delimiter=settings.delimiter,
        max_amount=settings.max_line_amount,
        max_quantity=settings.max_line_quantity,
        file_format=settings.format,
        window=window,
    )
    if quarantine_dir is not None:
        write_quarantine(inputs, quarantine_dir)
    check_quarantine_share(inputs, settings.max_quarantine_share, quarantine_dir)
    return inputs


def load_customers_and_products(settings: InputsConfig, data_dir: Location) -> tuple[Loaded, Loaded]:
    """The job's customers and products from ``data_dir``, validated (no transactions): what a
    command that messages customers about coupons already issued needs (consent, contacts, names).
    """
    products = validate_products(
        read_input(resolve_files(join(data_dir, settings.products)), PRODUCTS, settings.delimiter)
    )
    customers = validate_customers(
        read_input(resolve_files(join(data_dir, settings.customers)), CUSTOMERS, settings.delimiter)
    )
    return customers, products


def detect_delimiter(settings: InputsConfig, data_dir: Location) -> str:
    """The delimiter the job's CSV inputs in ``data_dir`` are split by, from the header line of
    each input's first CSV file (see `sniff_delimiter`); ``settings.delimiter`` when none is CSV.

    Raises InputError naming two files whose headers are split differently: a job reads every
    input with one delimiter.
    """
    found: dict[str, InputFile] = {}
    for name in (settings.transactions, settings.products, settings.customers):
        files = [f for f in resolve_files(join(data_dir, name)) if not is_parquet(f) and not is_empty_file(f)]
        if files:
            found.setdefault(sniff_delimiter(files[0], settings.delimiter), files[0])
    if len(found) > 1:
        (first, first_file), (other, other_file) = list(found.items())[:2]
        raise InputError(
            f"{other_file}: the header looks {shown_delimiter(other)}-delimited, but the header of "
            f"{first_file} looks {shown_delimiter(first)}-delimited; export every input with one delimiter"
        )
    return next(iter(found), settings.delimiter)
