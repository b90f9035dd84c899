"""Row validation: which rows of an input are kept (typed) and why the others are quarantined.

Each rule is a row condition with the reason it gives; a row failing several rules carries all
their reasons. Keys must be unique, transactions must name known products and customers, and an
exact duplicate line is quarantined, so that a resent export does not count twice.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from coupongen.inputs.contract import (
    CUSTOMERS,
    LINE_COL,
    POLARS_TYPES,
    PRODUCTS,
    REASON_COL,
    SOURCE_COL,
    TRANSACTIONS,
    InputSpec,
    Loaded,
    require_columns,
)
from coupongen.inputs.parsing import (
    TYPE_WORDS,
    clean_texts,
    parse_text,
    parse_timestamps,
    text_name,
    value_name,
)

Check = tuple[pl.Expr, str]  # a row condition that quarantines, and the reason it gives


def _conform(raw: pl.DataFrame, spec: InputSpec) -> pl.DataFrame:
    """The raw frame with every spec column (absent optional ones as null text) and the extras.

    A column already of its contract type (a Parquet number or time stamp, see
    `reading.exact_typed_columns`) keeps it; any other column is text.
    """
    require_columns(raw.columns, spec.required, source=spec.name)
    extra = {
        SOURCE_COL: pl.lit(None, dtype=pl.String),
        LINE_COL: pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        REASON_COL: pl.lit(None, dtype=pl.String),
    }
    return raw.select(
        *[
            (pl.col(c.name) if _is_typed(raw, c.name, c.dtype) else pl.col(c.name).cast(pl.String))
            if c.name in raw.columns
            else pl.lit(None, dtype=pl.String).alias(c.name)
            for c in spec.columns
        ],
        *[pl.col(k) if k in raw.columns else e.alias(k) for k, e in extra.items()],
    )


def _is_typed(frame: pl.DataFrame, name: str, dtype: str) -> bool:
    return dtype in _TYPED_VALUES and frame.schema[name] == POLARS_TYPES[dtype]


# A typed column's value is what its text would parse to: a number only when finite; a time stamp
# only in the years an ISO text can hold (printed otherwise as "-0001-..." or "+10000-...").
_TYPED_VALUES = {
    "float": lambda v: pl.when(v.is_finite()).then(v).otherwise(None),
    "datetime": lambda v: pl.when(v.dt.year().is_between(0, 9999)).then(v).otherwise(None),
}


def _prepare(raw: pl.DataFrame, spec: InputSpec) -> pl.DataFrame:
    """Add the cleaned text and the typed value of every column, each computed once.

    For a column that arrives typed, the "text" copy is the value as read (null where missing), so
    that the empty and type checks read the same way for both.
    """
    frame = _conform(raw, spec)
    typed = [c for c in spec.columns if _is_typed(frame, c.name, c.dtype)]
    texts = [n for n in spec.names if n not in {c.name for c in typed}]
    frame = pl.concat([frame, clean_texts(frame, texts)], how="horizontal").with_columns(
        pl.col(c.name).alias(text_name(c.name)) for c in typed
    )
    values: list[pl.Expr] = []
    for c in spec.columns:
        if c in typed:
            values.append(_TYPED_VALUES[c.dtype](pl.col(c.name)))
        elif c.dtype in ("datetime", "date"):
            stamp = pl.lit(parse_timestamps(frame, text_name(c.name)))
            values.append(stamp.dt.date() if c.dtype == "date" else stamp)
        else:
            values.append(parse_text(pl.col(text_name(c.name)), c.dtype))
    return frame.with_columns(v.alias(value_name(c.name)) for v, c in zip(values, spec.columns, strict=True))


def _type_checks(spec: InputSpec, required_values: tuple[str, ...]) -> list[Check]:
    """(condition, reason) pairs for empty required values and values of the wrong type."""
    checks = []
    for c in spec.columns:
        if c.name in required_values:
            checks.append((pl.col(text_name(c.name)).is_null(), f"{c.name}: empty"))
        if c.dtype == "int":
            # Judged on the number: 1e30 is out of range for a range check, not "not whole".
            number = parse_text(pl.col(text_name(c.name)), "float")
            bad = pl.col(text_name(c.name)).is_not_null() & ~(number == number.round(0)).fill_null(False)
            checks.append((bad, f"{c.name}: {TYPE_WORDS[c.dtype]}"))
        elif c.dtype != "str":
            bad = pl.col(text_name(c.name)).is_not_null() & pl.col(value_name(c.name)).is_null()
            checks.append((bad, f"{c.name}: {TYPE_WORDS[c.dtype]}"))
    return checks


def _split(name: str, frame: pl.DataFrame, spec: InputSpec, checks: list[Check]) -> Loaded:
    """Rows that fail no check are kept (typed); the others are quarantined (as read) with reasons.

    Checks are evaluated as booleans over all rows; reason texts are only built for the failing
    rows, which keeps validation fast when nearly every line is good.
    """
    flags = frame.select(cond.fill_null(False).alias(f"c{i}") for i, (cond, _) in enumerate(checks))
    bad = frame[REASON_COL].is_not_null() | flags.select(pl.any_horizontal(pl.all())).to_series()
    values = frame.select(
        pl.col(value_name(c.name)).cast(POLARS_TYPES[c.dtype]).alias(c.name) for c in spec.columns
    )
    as_read = frame.select(*spec.names, SOURCE_COL, LINE_COL, REASON_COL)
    if not bad.any():
        return Loaded(name, values, as_read.clear().with_columns(pl.col(spec.names).cast(pl.String)))
    reasons = [pl.col(REASON_COL)] + [
        pl.when(pl.col(f"c{i}")).then(pl.lit(text)) for i, (_, text) in enumerate(checks)
    ]
    quarantined = (
        pl.concat([as_read, flags], how="horizontal")
        .filter(bad)
        .select(
            pl.col(spec.names).cast(pl.String),
            SOURCE_COL,
            LINE_COL,
            pl.concat_str(reasons, separator="; ", ignore_nulls=True).alias(REASON_COL),
        )
    )
    return Loaded(name, values.filter(~bad), quarantined)


def later_duplicates(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """True for each row equal in ``columns`` to an earlier row (nulls equal each other).

    A 64-bit row hash, sorted, finds repeated hashes fast; rows sharing a hash are then compared
    exactly, so a hash collision never quarantines a line.
    """
    result = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True).alias("duplicate")
    hashes = frame.select(pl.struct(pl.col(columns).cast(pl.String)).hash()).to_series()
    ordered = hashes.sort()
    repeated = ordered.filter(ordered == ordered.shift(1)).unique()
    if repeated.is_empty():
        return result
    rows = hashes.is_in(repeated.implode()).arg_true()
    # Compared as text: 0.0 and -0.0 are equal numbers but different lines.
    candidates = frame.select(pl.col(columns).cast(pl.String)).gather(rows)
    later = ~candidates.select(pl.struct(columns).is_first_distinct()).to_series()
    return result.scatter(rows.filter(later), True)


def validate_products(raw: pl.DataFrame) -> Loaded:
    """Products: sku, name and category present, unique sku; promo_allowed defaults to true.

    ``raw`` holds the columns as text (see ``scan_input``). Kept columns: sku, name, category,
    brand (str), price and cost (f64, not negative), promo_allowed (bool; blank or absent = true).
    """
    frame = _prepare(raw, PRODUCTS)
    sku = pl.col(text_name("sku"))
    checks = _type_checks(PRODUCTS, ("sku", "name", "category"))
    checks += [
        (pl.col(value_name("price")) < 0, "price: negative"),
        (pl.col(value_name("cost")) < 0, "cost: negative"),
        (sku.is_not_null() & ~sku.is_first_distinct(), "sku: duplicate of an earlier product"),
    ]
    loaded = _split("products", frame, PRODUCTS, checks)
    loaded.kept = loaded.kept.with_columns(pl.col("promo_allowed").fill_null(True))
    return loaded


def validate_customers(raw: pl.DataFrame) -> Loaded:
    """Customers: unique customer_id and card_number; consent is false unless stated.

    ``raw`` holds the columns as text (see ``scan_input``). Kept columns: customer_id,
    card_number (null = no card), email, phone (str), email_opt_in, sms_opt_in, push_opt_in (bool;
    blank or absent = false), birth_date (date), nps_score (i64, 0-10), first_name, locale (str).
    """
    frame = _prepare(raw, CUSTOMERS)
    cid, card = pl.col(text_name("customer_id")), pl.col(text_name("card_number"))
    nps = parse_text(pl.col(text_name("nps_score")), "float")
    checks = _type_checks(CUSTOMERS, ("customer_id",))
    checks += [
        ((nps < 0) | (nps > 10), "nps_score: outside 0-10"),
        (
            cid.is_not_null() & ~cid.is_first_distinct(),
            "customer_id: duplicate of an earlier customer",
        ),
        (
            card.is_not_null() & ~card.is_first_distinct(),
            "card_number: already used by an earlier customer",
        ),
    ]
    loaded = _split("customers", frame, CUSTOMERS, checks)
    # Consent must be explicit: a blank opt-in is no opt-in.
    loaded.kept = loaded.kept.with_columns(
        pl.col("email_opt_in", "sms_opt_in", "push_opt_in").fill_null(False)
    )
    extras = [
        c for c in raw.columns if c not in CUSTOMERS.names and c not in (SOURCE_COL, LINE_COL, REASON_COL)
    ]
    if extras:
        # The kept row of a customer is the first line with its id (later ones are quarantined).
        first = (
            raw.select(pl.col("customer_id").cast(pl.String).str.strip_chars(), *extras)
            .unique("customer_id", keep="first", maintain_order=True)
            .join(loaded.kept.select("customer_id"), on="customer_id", how="semi")
        )
        loaded.extra = type_extra_columns(first, extras)
    return loaded


def _typed(text: pl.Series) -> pl.Series:
    """A column of text as whole numbers, numbers, ISO dates or true/false when every value it holds
    reads as one (blanks are null), else as text (also when a value has a leading zero).
    """
    values = text.drop_nulls()
    if values.is_empty():
        return text
    # "007" is a code (a store, a postcode), not the number 7: leading zeros keep a column text.
    if values.str.contains(r"^[+-]?0\d").any():
        return text
    as_int = values.str.to_integer(strict=False)
    if as_int.null_count() == 0:
        return text.str.to_integer(strict=False)
    as_float = values.cast(pl.Float64, strict=False)
    if as_float.null_count() == 0 and as_float.is_finite().all():
        return text.cast(pl.Float64, strict=False)
    if values.str.to_date("%Y-%m-%d", strict=False).null_count() == 0:
        return text.str.to_date("%Y-%m-%d", strict=False)
    lowered = values.str.to_lowercase()
    if lowered.is_in(["true", "false"]).all():
        return text.str.to_lowercase() == "true"
    return text


def type_extra_columns(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """``frame`` with each of ``columns`` (text) stripped, blanks as null, and typed by what all its
    values read as: Int64, Float64, Date (YYYY-MM-DD), Boolean (true/false) or else String.
    """
    stripped = frame.with_columns(pl.col(columns).str.strip_chars().replace("", None))
    return stripped.with_columns(_typed(stripped[c]).alias(c) for c in columns)


def validate_transactions(
    raw: pl.DataFrame,
    *,
    skus: pl.Series,
    customer_ids: pl.Series,
    max_amount: float = 1_000_000.0,
    max_quantity: float = 10_000.0,
    quarantined_skus: pl.Series | None = None,
    quarantined_customer_ids: pl.Series | None = None,
    duplicates: pl.Series | None = None,
) -> Loaded:
    """Transactions: typed values, known sku and customer, no exact duplicate line.

    ``skus`` and ``customer_ids`` are the kept products' and customers' keys (each once); a line
    pointing at a product or customer whose own row was quarantined (``quarantined_skus``,
    ``quarantined_customer_ids``) says so. Kept columns: receipt_id, customer_id (null =
    anonymous), ts (datetime, wall time), store_id, sku (str), quantity (f64, negative = return),
    amount (f64, negative = refund). ``duplicates``, when given, says for each row of ``raw`` whether
    it repeats an earlier line (rows read before ``raw`` included: see ``batches``); else ``raw``
    is searched for repeated lines itself.
    """
    frame = _prepare(raw, TRANSACTIONS)
    if duplicates is None:
        duplicates = later_duplicates(frame, TRANSACTIONS.names)
    sku, cid = pl.col(text_name("sku")), pl.col(text_name("customer_id"))
    # Each lookup once, then read by two checks. The customers are looked up by a join: its hash
    # table of a million ids is built on every core, where is_in builds its set on one.
    known = (
        customer_ids.cast(pl.String)
        .to_frame(text_name("customer_id"))
        .with_columns(pl.lit(True).alias(_KNOWN_CID))
    )
    frame = frame.join(
        known, on=text_name("customer_id"), how="left", maintain_order="left", validate="m:1"
    ).with_columns(sku.is_in(skus.implode()).alias(_KNOWN_SKU), pl.col(_KNOWN_CID).fill_null(False))
    known_sku, known_cid = pl.col(_KNOWN_SKU), pl.col(_KNOWN_CID)
    held_sku = (
        sku.is_in(quarantined_skus.cast(pl.String).str.strip_chars().implode())
        if quarantined_skus is not None
        else pl.lit(False)
    )
    held_cid = (
        cid.is_in(quarantined_customer_ids.cast(pl.String).str.strip_chars().implode())
        if quarantined_customer_ids is not None
        else pl.lit(False)
    )
    checks = _type_checks(TRANSACTIONS, ("receipt_id", "ts", "sku", "quantity", "amount"))
    checks += [
        (
            pl.col(value_name("quantity")).abs() > max_quantity,
            f"quantity: beyond max_line_quantity ({_show(max_quantity)})",
        ),
        (
            pl.col(value_name("amount")).abs() > max_amount,
            f"amount: beyond max_line_amount ({_show(max_amount)})",
        ),
        (sku.is_not_null() & ~known_sku & ~held_sku, "sku: not in products"),
        (sku.is_not_null() & ~known_sku & held_sku, "sku: its product row is quarantined"),
        (cid.is_not_null() & ~known_cid & ~held_cid, "customer_id: not in customers"),
        (cid.is_not_null() & ~known_cid & held_cid, "customer_id: its customer row is quarantined"),
        (
            pl.lit(duplicates),
            "exact duplicate of an earlier line",
        ),
    ]
    return _split("transactions", frame, TRANSACTIONS, checks)


_KNOWN_SKU, _KNOWN_CID = "__known_sku", "__known_customer"


def _show(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:g}"


def validate_rows(
    raw: pl.DataFrame, spec: InputSpec, *, required_values: Iterable[str], checks: Iterable[Check] = ()
) -> Loaded:
    """Rows of ``raw`` (text, see ``reading.scan_input``) checked against ``spec``'s types.

    A row is quarantined when a column of ``required_values`` is empty, a value does not parse as
    its column's type, or one of ``checks`` holds for it; ``checks`` may refer to a column's typed
    value as ``pl.col(value_name(column))``. Kept columns: the spec's columns, typed.
    """
    frame = _prepare(raw, spec)
    return _split(spec.name, frame, spec, _type_checks(spec, tuple(required_values)) + list(checks))
