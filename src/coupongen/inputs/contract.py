"""The input data contract: the columns and types of the three inputs, and what a check yields.

A retailer exports transactions, products and customers. Each input has required and optional
columns of a few types; every row read is either kept (typed) or quarantined with a ``reason``, so
that for every input read = kept + quarantined. ``docs/data.md`` is the contract as the retailer's IT
team reads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from coupongen.errors import InputError
from coupongen.inputs.locations import InputFile

TRUE_WORDS = ("true", "1", "yes", "y", "t")
FALSE_WORDS = ("false", "0", "no", "n", "f")
SOURCE_COL = "source_file"
LINE_COL = "line"
REASON_COL = "reason"


@dataclass(frozen=True)
class Column:
    """One column of an input: its name, type, whether the file must have it, and whether it
    names something (a customer, card, product, receipt or store) rather than holding a quantity.
    """

    name: str
    dtype: str  # one of: str, datetime, date, float, int, bool
    required: bool = True
    identifier: bool = False


@dataclass(frozen=True)
class InputSpec:
    """The columns an input must or may carry; with ``extra_columns`` any other column of the files
    is read too (customers: columns a retailer adds, for campaign audiences).
    """

    name: str
    columns: tuple[Column, ...]
    extra_columns: bool = False

    @property
    def required(self) -> list[str]:
        """Names of the columns every file of this input must have."""
        return [c.name for c in self.columns if c.required]

    @property
    def names(self) -> list[str]:
        """Names of all the input's columns, in contract order."""
        return [c.name for c in self.columns]

    @property
    def identifiers(self) -> list[str]:
        """Names of the input's identifier columns (ids, card numbers, skus), in contract order."""
        return [c.name for c in self.columns if c.identifier]


TRANSACTIONS = InputSpec(
    "transactions",
    (
        Column("receipt_id", "str", identifier=True),
        Column("customer_id", "str", identifier=True),
        Column("ts", "datetime"),
        Column("store_id", "str", identifier=True),
        Column("sku", "str", identifier=True),
        Column("quantity", "float"),
        Column("amount", "float"),
    ),
)
PRODUCTS = InputSpec(
    "products",
    (
        Column("sku", "str", identifier=True),
        Column("name", "str"),
        Column("category", "str", identifier=True),
        Column("category_name", "str", required=False),
        Column("subcategory", "str", required=False, identifier=True),
        Column("brand", "str", required=False),
        Column("price", "float", required=False),
        Column("cost", "float", required=False),
        Column("promo_allowed", "bool", required=False),
    ),
)
CUSTOMERS = InputSpec(
    "customers",
    (
        Column("customer_id", "str", identifier=True),
        Column("card_number", "str", identifier=True),
        Column("email", "str"),
        Column("phone", "str"),
        Column("email_opt_in", "bool"),
        Column("sms_opt_in", "bool"),
        Column("push_opt_in", "bool", required=False),
        Column("birth_date", "date", required=False),
        Column("nps_score", "int", required=False),
        Column("first_name", "str", required=False),
        Column("locale", "str", required=False),
    ),
    extra_columns=True,
)
SPECS = {s.name: s for s in (TRANSACTIONS, PRODUCTS, CUSTOMERS)}

POLARS_TYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "datetime": pl.Datetime("us"),
    "date": pl.Date(),
    "float": pl.Float64(),
    "int": pl.Int64(),
    "bool": pl.Boolean(),
}


@dataclass
class Loaded:
    """An input after validation: the kept rows (typed), the quarantined rows (raw) and counts.

    ``kept`` has the input's contract columns with their types. ``quarantined`` has the same columns
    as the text that was read, then ``source_file`` (file name), ``line`` (line in a CSV file, the
    header being line 1; row number in a Parquet file, from 1) and ``reason`` (``"; "``-separated).
    ``extra`` (customers) holds the kept rows' key and the files' columns beyond the contract, typed
    (see ``validation.type_extra_columns``); it stays apart from ``kept`` so that no analysis file or
    log ever carries them.
    """

    name: str
    kept: pl.DataFrame
    quarantined: pl.DataFrame
    files: list[InputFile] = field(default_factory=list)
    extra: pl.DataFrame | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Rows read, kept and quarantined; read is always kept + quarantined."""
        return {
            "read": self.kept.height + self.quarantined.height,
            "kept": self.kept.height,
            "quarantined": self.quarantined.height,
        }


@dataclass
class Inputs:
    """The three validated inputs of a run."""

    transactions: Loaded
    products: Loaded
    customers: Loaded

    def all(self) -> list[Loaded]:
        """The inputs in the order they are validated: products, customers, transactions."""
        return [self.products, self.customers, self.transactions]


def require_columns(columns: Iterable[str], required: Iterable[str], *, source: str, hint: str = "") -> None:
    """Raise InputError when ``columns`` lacks any of ``required``, naming ``source`` and them.

    The message lists the missing columns in the order of ``required``:
    ``<source>: missing required column(s) 'a', 'b'<hint>``.
    """
    present = set(columns)
    missing = [c for c in required if c not in present]
    if missing:
        what = "column" if len(missing) == 1 else "columns"
        names = ", ".join(repr(m) for m in missing)
        raise InputError(f"{source}: missing required {what} {names}{hint}")
