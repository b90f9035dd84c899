"""Validating the products and customers on Spark: the rules and reasons of
`inputs.validation.validate_products` and `validate_customers`, as Spark expressions.

Each row read (`reading.read_text`) is kept, typed, or quarantined with every rule it breaks, in
the polars validation's order and words: empty required values, values of the wrong type (by the
same grammar: true/false words, ISO dates, whole numbers, finite numbers), a negative price or
cost, an NPS outside 0-10, and a sku, customer id or card number already used by an earlier row,
judged in file and line order. Text is cleaned as `validation.clean` does.

Output of `validate_reference`: the rows as read (the contract's columns, source_file, line, reason,
file_index), ``line_no`` (the row's place in the input, as the transactions'), the typed values
(named by `kept_name`), the files' extra columns as read (customers; `reading.extra_name`) and
``kept``. `kept_rows` and `quarantined_rows` split it; the defaults (promo_allowed true, opt-ins
false) are filled in the kept rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from coupongen.engines.spark.reading import EXTRA_PREFIX, FILE_INDEX
from coupongen.engines.spark.validation import FILE_STRIDE, clean, judged, number, timestamp_us
from coupongen.inputs.contract import (
    CUSTOMERS,
    FALSE_WORDS,
    LINE_COL,
    PRODUCTS,
    REASON_COL,
    SOURCE_COL,
    TRUE_WORDS,
    InputSpec,
)
from coupongen.inputs.parsing import TYPE_WORDS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

Check = tuple["Column", str]  # a row condition that quarantines, and the reason it gives
# Kept values left blank that mean something: a product may be promoted, consent is not given.
DEFAULTS = {
    "products": {"promo_allowed": True},
    "customers": {"email_opt_in": False, "sms_opt_in": False, "push_opt_in": False},
}


def _f():  # type: ignore[no-untyped-def]
    from pyspark.sql import functions

    return functions


def text_name(column: str) -> str:
    """The cleaned text of a column (surrounding blanks stripped, null when empty)."""
    return f"__t_{column}"


def kept_name(column: str) -> str:
    """The typed value of a column (null where its text is missing or does not parse)."""
    return f"__v_{column}"


def iso_date(text: Column) -> Column:
    """Cleaned ISO-8601 text as a date, as `parsing.parse_text` reads a date (a date-time's day
    too); null where it does not parse.
    """
    F = _f()
    day = F.call_function("try_to_date", F.substring(text, 1, 10), F.lit("yyyy-MM-dd"))
    return F.when(timestamp_us(text).isNotNull(), day)


def boolean(text: Column) -> Column:
    """Cleaned text as true or false by the contract's words (any case); null for other words."""
    F = _f()
    low = F.lower(text)
    return F.when(low.isin(*TRUE_WORDS), F.lit(True)).when(low.isin(*FALSE_WORDS), F.lit(False))


def typed(text: Column, dtype: str) -> Column:
    """Cleaned text as the contract's ``dtype``, as `parsing.parse_text` types it."""
    F = _f()
    if dtype == "str":
        return text
    if dtype == "float":
        return number(text)
    if dtype == "int":
        value = number(text)
        return F.when(F.rint(value) == value, value.try_cast("long"))
    if dtype == "bool":
        return boolean(text)
    if dtype == "date":
        return iso_date(text)
    raise ValueError(f"no Spark typing for contract type {dtype!r}")


def _type_checks(spec: InputSpec, required_values: tuple[str, ...]) -> list[Check]:
    """(condition, reason) pairs for empty required values and values of the wrong type, in the
    order of `inputs.validation._type_checks`.
    """
    F = _f()
    checks: list[Check] = []
    for c in spec.columns:
        text = F.col(text_name(c.name))
        if c.name in required_values:
            checks.append((text.isNull(), f"{c.name}: empty"))
        if c.dtype == "int":
            # Judged on the number, as on polars: 1e30 is whole (and out of range), 1.5 is not.
            value = number(text)
            whole = F.coalesce(F.rint(value) == value, F.lit(False))
            checks.append((text.isNotNull() & ~whole, f"{c.name}: {TYPE_WORDS[c.dtype]}"))
        elif c.dtype != "str":
            bad = text.isNotNull() & F.col(kept_name(c.name)).isNull()
            checks.append((bad, f"{c.name}: {TYPE_WORDS[c.dtype]}"))
    return checks


def _with_repeats(frame: DataFrame, columns: tuple[str, ...]) -> DataFrame:
    """``frame`` with ``__repeat_<column>`` for each of ``columns``: true where the row's cleaned
    value is held by a row before it (in file and line order). Found by each value's first line
    (an aggregate over the rows that have one), not by ordering every row.
    """
    F = _f()
    for column in columns:
        text, first = text_name(column), f"__first_{column}"
        firsts = frame.where(F.col(text).isNotNull()).groupBy(text).agg(F.min("line_no").alias(first))
        frame = (
            frame.join(firsts, text, "left")
            .withColumn(f"__repeat_{column}", F.coalesce(F.col("line_no") > F.col(first), F.lit(False)))
            .drop(first)
        )
    return frame


def validate_reference(
    rows: DataFrame,
    spec: InputSpec,
    *,
    required_values: tuple[str, ...],
    unique: tuple[str, ...],
    checks: Callable[[], list[Check]],
) -> DataFrame:
    """Every row of ``rows`` with its typed values, ``kept`` and its reason (see the module).

    ``unique`` names the columns whose repeats are checked (the reasons are among ``checks``,
    which read ``__repeat_<column>``, `text_name` and `kept_name` columns).
    """
    F = _f()
    frame = rows.select(
        "*",
        *[clean(F.col(c)).alias(text_name(c)) for c in spec.names],
        (F.col(FILE_INDEX).cast("long") * FILE_STRIDE + F.col(LINE_COL)).alias("line_no"),
    )
    frame = frame.withColumns(
        {kept_name(c.name): typed(F.col(text_name(c.name)), c.dtype) for c in spec.columns}
    )
    frame = _with_repeats(frame, unique)
    rules = _type_checks(spec, required_values) + checks()
    kept, reason = judged(rules)
    extras = [c for c in rows.columns if c.startswith(EXTRA_PREFIX)]
    return frame.select(
        *spec.names,
        SOURCE_COL,
        LINE_COL,
        reason.alias(REASON_COL),
        FILE_INDEX,
        "line_no",
        *[kept_name(c) for c in spec.names],
        *extras,
        kept.alias("kept"),
    )


def validate_products(rows: DataFrame) -> DataFrame:
    """Products as `inputs.validation.validate_products` judges them (see `validate_reference`)."""
    F = _f()

    def checks() -> list[Check]:
        return [
            (F.col(kept_name("price")) < 0, "price: negative"),
            (F.col(kept_name("cost")) < 0, "cost: negative"),
            (F.col("__repeat_sku"), "sku: duplicate of an earlier product"),
        ]

    return validate_reference(
        rows, PRODUCTS, required_values=("sku", "name", "category"), unique=("sku",), checks=checks
    )


def validate_customers(rows: DataFrame) -> DataFrame:
    """Customers as `inputs.validation.validate_customers` judges them (see `validate_reference`)."""
    F = _f()

    def checks() -> list[Check]:
        nps = number(F.col(text_name("nps_score")))
        return [
            ((nps < 0) | (nps > 10), "nps_score: outside 0-10"),
            (F.col("__repeat_customer_id"), "customer_id: duplicate of an earlier customer"),
            (F.col("__repeat_card_number"), "card_number: already used by an earlier customer"),
        ]

    return validate_reference(
        rows,
        CUSTOMERS,
        required_values=("customer_id",),
        unique=("customer_id", "card_number"),
        checks=checks,
    )


def kept_rows(checked: DataFrame, spec: InputSpec) -> DataFrame:
    """The kept rows, typed: ``line_no``, the contract's columns (blank defaults filled), then the
    files' extra columns as read.
    """
    F = _f()
    defaults = DEFAULTS.get(spec.name, {})

    def value(column: str) -> Column:
        kept = F.col(kept_name(column))
        return (F.coalesce(kept, F.lit(defaults[column])) if column in defaults else kept).alias(column)

    extras = [c for c in checked.columns if c.startswith(EXTRA_PREFIX)]
    return checked.where("kept").select("line_no", *[value(c) for c in spec.names], *extras)


def quarantined_rows(checked: DataFrame, spec: InputSpec) -> DataFrame:
    """The quarantined rows as read, with their reason and file index."""
    F = _f()
    return checked.where(~F.col("kept")).select(*spec.names, SOURCE_COL, LINE_COL, REASON_COL, FILE_INDEX)
