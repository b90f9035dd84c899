"""The input data contract: schemas, loading, row validation and quarantine.

A retailer exports three inputs (transactions, products, customers) as CSV or Parquet, each a file, a
folder of parts or a glob. Whole-file problems (missing file or column, unreadable file) raise
InputError with one line naming the file and column; row-level problems send the row to a quarantine
frame with a ``reason``, so that for every input read = kept + quarantined.
"""

from __future__ import annotations

import glob as globlib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from coupongen.errors import InputError

TIMESTAMP_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)
TRUE_WORDS = ("true", "1", "yes", "y", "t")
FALSE_WORDS = ("false", "0", "no", "n", "f")
SOURCE_COL = "source_file"
LINE_COL = "line"
REASON_COL = "reason"


@dataclass(frozen=True)
class Column:
    """One column of an input: its name, type, and whether the file must have it."""

    name: str
    dtype: str  # one of: str, datetime, date, float, int, bool
    required: bool = True


@dataclass(frozen=True)
class InputSpec:
    """The columns an input must or may carry."""

    name: str
    columns: tuple[Column, ...]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


TRANSACTIONS = InputSpec(
    "transactions",
    (
        Column("receipt_id", "str"),
        Column("customer_id", "str"),
        Column("ts", "datetime"),
        Column("store_id", "str"),
        Column("sku", "str"),
        Column("quantity", "float"),
        Column("amount", "float"),
    ),
)
PRODUCTS = InputSpec(
    "products",
    (
        Column("sku", "str"),
        Column("name", "str"),
        Column("category", "str"),
        Column("brand", "str", required=False),
        Column("price", "float", required=False),
        Column("promo_allowed", "bool", required=False),
    ),
)
CUSTOMERS = InputSpec(
    "customers",
    (
        Column("customer_id", "str"),
        Column("card_number", "str"),
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
)
SPECS = {s.name: s for s in (TRANSACTIONS, PRODUCTS, CUSTOMERS)}

_POLARS_TYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "datetime": pl.Datetime("us"),
    "date": pl.Date(),
    "float": pl.Float64(),
    "int": pl.Int64(),
    "bool": pl.Boolean(),
}


@dataclass
class Loaded:
    """An input after validation: the kept rows (typed), the quarantined rows (raw) and counts."""

    name: str
    kept: pl.DataFrame
    quarantined: pl.DataFrame
    files: list[Path] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
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
        return [self.products, self.customers, self.transactions]


# --- locating and scanning files -------------------------------------------------------------------


def resolve_files(location: Path | str) -> list[Path]:
    """The files an input location names: a file, a folder of .csv/.parquet parts, or a glob."""
    loc = str(location)
    if any(ch in loc for ch in "*?["):
        files = sorted(Path(p) for p in globlib.glob(loc, recursive=True) if Path(p).is_file())
        if not files:
            raise InputError(f"{loc}: no file matches this pattern")
        return files
    path = Path(loc)
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".parquet")
        )
        if not files:
            raise InputError(f"{path}: folder holds no .csv or .parquet file")
        return files
    if not path.exists():
        raise InputError(f"{path}: file not found")
    return [path]


def _csv_header(path: Path, delimiter: str) -> list[str]:
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (byte {e.start} of the header)") from e
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from e
    if not first.strip():
        raise InputError(f"{path}: file is empty (expected a header line)")
    return [h.strip().strip('"').strip() for h in first.rstrip("\r\n").split(delimiter)]


def _check_header(path: Path, header: list[str], spec: InputSpec, delimiter: str) -> None:
    missing = sorted(set(spec.required) - set(header))
    if not missing:
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise InputError(f"{path}: column {dupes[0]!r} appears more than once in the header")
        return
    hint = ""
    if len(header) == 1:
        for other in (";", "\t", "|"):
            if other != delimiter and other in header[0]:
                shown = "tab" if other == "\t" else repr(other)
                hint = f"; the header looks {shown}-delimited, expected {delimiter!r}"
                break
    raise InputError(f"{path}: missing required columns {missing}{hint}")


def _scan_one(path: Path, spec: InputSpec, delimiter: str) -> pl.LazyFrame:
    """A lazy scan of one file with the contract's columns (absent optional ones as nulls)."""
    known = {c.name for c in spec.columns}
    if path.suffix.lower() == ".parquet":
        try:
            schema = pl.read_parquet_schema(path)
        except Exception as e:  # polars raises several types for a corrupt file
            raise InputError(f"{path}: not a readable Parquet file ({type(e).__name__})") from e
        header = list(schema)
        _check_header(path, header, spec, delimiter)
        lf = pl.scan_parquet(path)
    else:
        header = _csv_header(path, delimiter)
        _check_header(path, header, spec, delimiter)
        lf = pl.scan_csv(
            path,
            separator=delimiter,
            has_header=True,
            schema={h or f"_unnamed_{i}": pl.String for i, h in enumerate(header)},
        )
    present = [h for h in header if h in known]
    missing_optional = [c for c in spec.columns if c.name not in present]
    return (
        lf.select(present)
        .with_columns(pl.lit(None, dtype=pl.String).alias(c.name) for c in missing_optional)
        .with_row_index(LINE_COL, offset=2 if path.suffix.lower() != ".parquet" else 1)
        .with_columns(pl.lit(path.name).alias(SOURCE_COL))
    )


def scan_input(files: list[Path], spec: InputSpec, *, delimiter: str = ",") -> pl.LazyFrame:
    """All files of one input as a single lazy frame with ``source_file`` and ``line`` columns."""
    frames = [_scan_one(f, spec, delimiter) for f in files]
    # Parquet parts keep their own types; unify on text so that validation is one code path.
    cols = [c.name for c in spec.columns]
    unified = [
        f.select(
            [pl.col(c).cast(pl.String) for c in cols]
            + [pl.col(LINE_COL).cast(pl.Int64), pl.col(SOURCE_COL)]
        )
        for f in frames
    ]
    return pl.concat(unified, how="vertical")


# --- parsing expressions ---------------------------------------------------------------------------


def _blank(name: str) -> pl.Expr:
    return pl.col(name).is_null() | (pl.col(name).str.strip_chars() == "")


def _parse(name: str, dtype: str) -> pl.Expr:
    """Text -> typed value; null where the text is blank or does not parse."""
    raw = pl.col(name).str.strip_chars()
    if dtype == "str":
        return pl.when(raw == "").then(None).otherwise(raw)
    if dtype == "float":
        return raw.cast(pl.Float64, strict=False)
    if dtype == "int":
        as_float = raw.cast(pl.Float64, strict=False)
        return pl.when(as_float == as_float.round(0)).then(as_float).otherwise(None).cast(pl.Int64)
    if dtype == "bool":
        low = raw.str.to_lowercase()
        return (
            pl.when(low.is_in(TRUE_WORDS))
            .then(True)
            .when(low.is_in(FALSE_WORDS))
            .then(False)
            .otherwise(None)
        )
    if dtype == "date":
        return raw.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    if dtype == "datetime":
        # Offsets are dropped: store time stamps are read as the store's local wall time.
        bare = raw.str.replace(r"(Z|[+-]\d\d:?\d\d)$", "")
        return pl.coalesce(
            [bare.str.to_datetime(f, strict=False, time_unit="us") for f in TIMESTAMP_FORMATS]
        )
    raise ValueError(f"unknown contract type {dtype!r}")


def _bad(name: str, dtype: str) -> pl.Expr:
    """True where the text is present but does not parse as the column's type."""
    return ~_blank(name) & _parse(name, dtype).is_null()


_TYPE_WORDS = {
    "datetime": "not an ISO-8601 date-time",
    "date": "not an ISO-8601 date (YYYY-MM-DD)",
    "float": "not a number",
    "int": "not a whole number",
    "bool": "not true/false",
}


def _reason(cond: pl.Expr, text: str) -> pl.Expr:
    return pl.when(cond).then(pl.lit(text)).otherwise(None)


def _type_reasons(spec: InputSpec, required_values: tuple[str, ...]) -> list[pl.Expr]:
    reasons = []
    for c in spec.columns:
        if c.name in required_values:
            reasons.append(_reason(_blank(c.name), f"{c.name}: empty"))
        if c.dtype != "str":
            reasons.append(_reason(_bad(c.name, c.dtype), f"{c.name}: {_TYPE_WORDS[c.dtype]}"))
    return reasons


def _split(name: str, raw: pl.DataFrame, reasons: list[pl.Expr], spec: InputSpec) -> Loaded:
    """Apply row reasons: rows with none are parsed and kept, the others quarantined."""
    tagged = raw.with_columns(
        pl.concat_str(reasons, separator="; ", ignore_nulls=True).alias(REASON_COL)
    ).with_columns(
        pl.when(pl.col(REASON_COL) == "").then(None).otherwise(pl.col(REASON_COL)).alias(REASON_COL)
    )
    quarantined = tagged.filter(pl.col(REASON_COL).is_not_null())
    kept = tagged.filter(pl.col(REASON_COL).is_null()).select(
        _parse(c.name, c.dtype).alias(c.name) for c in spec.columns
    )
    return Loaded(name, kept, quarantined)


def _first_occurrence(cols: list[str]) -> pl.Expr:
    return pl.struct(cols).is_first_distinct()


# --- the three inputs ------------------------------------------------------------------------------


def validate_products(raw: pl.DataFrame) -> Loaded:
    """Products: sku, name and category present, unique sku; promo_allowed defaults to true.

    Kept columns: sku, name, category, brand, price (f64), promo_allowed (bool).
    """
    reasons = _type_reasons(PRODUCTS, ("sku", "name", "category"))
    reasons.append(_reason(_parse("price", "float") < 0, "price: negative"))
    reasons.append(
        _reason(
            ~_blank("sku") & ~pl.col("sku").str.strip_chars().is_first_distinct(),
            "sku: duplicate of an earlier product",
        )
    )
    loaded = _split("products", raw, reasons, PRODUCTS)
    loaded.kept = loaded.kept.with_columns(pl.col("promo_allowed").fill_null(True))
    return loaded


def validate_customers(raw: pl.DataFrame) -> Loaded:
    """Customers: unique customer_id and card_number; consent is false unless stated.

    Kept columns: customer_id, card_number, email, phone, email_opt_in, sms_opt_in, push_opt_in
    (bool), birth_date (date), nps_score (i64, 0-10), first_name, locale.
    """
    reasons = _type_reasons(CUSTOMERS, ("customer_id",))
    nps = _parse("nps_score", "int")
    reasons.append(_reason((nps < 0) | (nps > 10), "nps_score: outside 0-10"))
    reasons.append(
        _reason(
            ~_blank("customer_id") & ~pl.col("customer_id").str.strip_chars().is_first_distinct(),
            "customer_id: duplicate of an earlier customer",
        )
    )
    card = pl.col("card_number").str.strip_chars()
    reasons.append(
        _reason(
            ~_blank("card_number") & ~card.is_first_distinct().over(_blank("card_number")),
            "card_number: already used by an earlier customer",
        )
    )
    loaded = _split("customers", raw, reasons, CUSTOMERS)
    # Consent must be explicit: a blank opt-in is no opt-in.
    loaded.kept = loaded.kept.with_columns(
        pl.col("email_opt_in", "sms_opt_in", "push_opt_in").fill_null(False)
    )
    return loaded


def validate_transactions(
    raw: pl.DataFrame,
    *,
    skus: pl.Series,
    customer_ids: pl.Series,
    max_amount: float = 1_000_000.0,
    max_quantity: float = 10_000.0,
) -> Loaded:
    """Transactions: typed values, known sku and customer, no exact duplicate line.

    Kept columns: receipt_id, customer_id (null = anonymous), ts (datetime), store_id, sku,
    quantity (f64, negative = return), amount (f64, negative = refund).
    """
    reasons = _type_reasons(TRANSACTIONS, ("receipt_id", "ts", "sku", "quantity", "amount"))
    qty = _parse("quantity", "float")
    amount = _parse("amount", "float")
    reasons += [
        _reason(qty.abs() > max_quantity, f"quantity: beyond +/-{max_quantity:g}"),
        _reason(amount.abs() > max_amount, f"amount: beyond +/-{max_amount:g}"),
        _reason(~qty.is_finite() | ~amount.is_finite(), "quantity or amount: not finite"),
        _reason(
            ~_blank("sku") & ~pl.col("sku").str.strip_chars().is_in(skus.implode()),
            "sku: not in products",
        ),
        _reason(
            ~_blank("customer_id")
            & ~pl.col("customer_id").str.strip_chars().is_in(customer_ids.implode()),
            "customer_id: not in customers",
        ),
        _reason(
            ~_first_occurrence([c.name for c in TRANSACTIONS.columns]),
            "exact duplicate of an earlier line",
        ),
    ]
    return _split("transactions", raw, reasons, TRANSACTIONS)


def load_inputs(
    transactions: Path | str,
    products: Path | str,
    customers: Path | str,
    *,
    delimiter: str = ",",
    max_amount: float = 1_000_000.0,
    max_quantity: float = 10_000.0,
) -> Inputs:
    """Read and validate the three inputs; products and customers first, as transactions refer to them."""
    p_files, c_files, t_files = (resolve_files(x) for x in (products, customers, transactions))

    def collect(files: list[Path], spec: InputSpec) -> pl.DataFrame:
        lf = scan_input(files, spec, delimiter=delimiter)
        try:
            return lf.collect()
        except pl.exceptions.ComputeError as e:
            first = str(e).strip().splitlines()[0]
            raise InputError(f"{files[0]}: cannot parse {spec.name}: {first}") from e

    prods = validate_products(collect(p_files, PRODUCTS))
    prods.files = p_files
    custs = validate_customers(collect(c_files, CUSTOMERS))
    custs.files = c_files
    tx = validate_transactions(
        collect(t_files, TRANSACTIONS),
        skus=prods.kept["sku"],
        customer_ids=custs.kept["customer_id"],
        max_amount=max_amount,
        max_quantity=max_quantity,
    )
    tx.files = t_files
    return Inputs(transactions=tx, products=prods, customers=custs)


def check_quarantine_share(inputs: Inputs, max_share: float, quarantine_dir: Path | None) -> None:
    """Fail the run when an input lost more rows than the job tolerates, or kept none."""
    for loaded in inputs.all():
        counts = loaded.counts
        where = f" (see {quarantine_dir / (loaded.name + '.csv')})" if quarantine_dir else ""
        source = loaded.files[0] if len(loaded.files) == 1 else f"{loaded.name} input"
        if counts["read"] == 0:
            raise InputError(f"{source}: has a header but no rows")
        share = counts["quarantined"] / counts["read"]
        if counts["kept"] == 0 or share > max_share:
            top = (
                loaded.quarantined.group_by(REASON_COL)
                .len()
                .sort(["len", REASON_COL], descending=[True, False])
                .row(0)[0]
            )
            raise InputError(
                f"{source}: {counts['quarantined']} of {counts['read']} rows rejected "
                f"({share:.0%} > max_quarantine_share {max_share:.0%}); most common: {top}{where}"
            )
