"""Validating the transactions on Spark: the rules and reasons of `inputs.validation`, as Spark
expressions, so that the driver never validates every line.

Each line read (`reading.read_text`) is kept, typed, or quarantined with the reasons it breaks, in
the same order and words as `inputs.validation.validate_transactions`: empty required values,
values of the wrong type, quantity or amount beyond the job's limits, a sku or customer not in
(or quarantined from) the products and customers, an exact duplicate of an earlier line (in file
and line order). Text is cleaned as `inputs.parsing` cleans it (Unicode blanks stripped, empty is
missing); numbers and date-times parse by the same grammar (`parsing.parse_timestamp`), checked
by a pattern first, since Spark's own casts accept more (``1.5d``, ``0x1p3``).

Output: ``kept`` (line_no, receipt_id, customer_id, ts_us, store_id, sku, quantity, amount; line_no
orders the lines as the input does, ts_us is wall time in microseconds) and ``quarantined`` (the
columns as read, source_file, line, reason, file_index).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coupongen.engines.spark.reading import FILE_INDEX
from coupongen.inputs.contract import LINE_COL, REASON_COL, SOURCE_COL, TRANSACTIONS
from coupongen.inputs.parsing import _ISO_TIMESTAMP, TYPE_WORDS
from coupongen.inputs.validation import _show

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

# The decimal numbers polars reads as Float64 (its other words, inf and NaN, are not finite).
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_BLANKS = r"(?U)^\s+|\s+$"
_US_PER_DAY = 86_400_000_000
# A kept line's position: its file's index times this, plus its line (files of < 2**40 lines).
FILE_STRIDE = 2**40
REQUIRED = ("receipt_id", "ts", "sku", "quantity", "amount")
KEPT_COLUMNS = ("line_no", "receipt_id", "customer_id", "ts_us", "store_id", "sku", "quantity", "amount")


def _f():  # type: ignore[no-untyped-def]
    from pyspark.sql import functions

    return functions


def clean(text: Column) -> Column:
    """Text without surrounding blanks (Unicode white space, as polars strips), null when empty."""
    F = _f()
    stripped = F.regexp_replace(text, _BLANKS, "")
    return F.when(stripped != "", stripped)


def number(text: Column) -> Column:
    """Cleaned text as a finite double, null where polars would not read a finite number."""
    F = _f()
    value = F.when(text.rlike(_NUMBER), text.try_cast("double"))
    return F.when(~F.isnan(value) & (F.abs(value) < float("inf")), value)


def timestamp_us(text: Column) -> Column:
    """Cleaned ISO-8601 text as wall time in microseconds since 1970, as `parse_timestamp` reads
    it (an offset dropped, digits past microseconds dropped); null where it does not parse.
    """
    F = _f()

    def part(start: int, length: int) -> Column:
        return F.coalesce(F.substring(text, start + 1, length).try_cast("long"), F.lit(0))

    day = F.call_function("try_to_date", F.substring(text, 1, 10), F.lit("yyyy-MM-dd"))
    hour, minute = part(11, 2), part(14, 2)
    second = F.when(F.substring(text, 17, 1) == ":", part(17, 2)).otherwise(F.lit(0))
    digits = F.regexp_extract(F.substring(text, 21, 6), r"^(\d+)", 1)
    micro = F.when(
        F.substring(text, 20, 1).isin(".", ",") & (digits != ""),
        F.rpad(digits, 6, "0").try_cast("long"),
    ).otherwise(F.lit(0))
    valid = text.rlike(_ISO_TIMESTAMP[:-1] + r"\z") & (hour < 24) & (minute < 60) & (second < 60)
    stamp = (
        F.unix_date(day).cast("long") * _US_PER_DAY
        + hour * 3_600_000_000
        + minute * 60_000_000
        + second * 1_000_000
        + micro
    )
    return F.when(valid & day.isNotNull(), stamp)


def _keys(spark: SparkSession, values: list[str] | DataFrame, name: str) -> DataFrame:
    """A one-column frame of distinct keys (products' skus, customers' ids) to join lines to:
    from a list the driver holds, or from the one column of a Spark frame (a stage's keys).
    """
    F = _f()
    if not isinstance(values, list):
        column = F.col(values.columns[0])
        return (
            values.where(column.isNotNull())
            .select(column.alias(name))
            .distinct()
            .withColumn(f"{name}_on", F.lit(True))
        )
    import pyarrow as pa

    # Handed over as Arrow: a million customer ids as Python rows would take minutes.
    keys = pa.table({"key": pa.array(list(dict.fromkeys(v for v in values if v is not None)), pa.string())})
    return spark.createDataFrame(keys).select(F.col("key").alias(name), F.lit(True).alias(f"{name}_on"))


def _flagged(frame: DataFrame, keys: DataFrame, column: str, name: str, small: bool) -> DataFrame:
    """``frame`` with ``<name>_on`` true where its ``column`` is one of ``keys``."""
    F = _f()
    keyed = F.broadcast(keys) if small else keys
    joined = frame.join(keyed, frame[column] == keyed[name], "left").drop(name)
    return joined.withColumn(f"{name}_on", F.coalesce(F.col(f"{name}_on"), F.lit(False)))


def validate_transactions(
    spark: SparkSession,
    rows: DataFrame,
    *,
    skus: list[str] | DataFrame,
    customer_ids: list[str] | DataFrame,
    quarantined_skus: list[str] | DataFrame,
    quarantined_customer_ids: list[str] | DataFrame,
    max_amount: float,
    max_quantity: float,
) -> DataFrame:
    """Every line of ``rows`` (`reading.read_text`) with ``kept`` (true or false) and its reason.

    Columns: those of ``rows``, the typed kept columns (`KEPT_COLUMNS`), ``kept``. The reason of a
    quarantined line lists every rule it breaks, in `inputs.validation`'s order and words. The
    keys are lists or one-column Spark frames (the products' and customers' stages); quarantined
    keys as cleaned text.
    """
    F = _f()
    names = TRANSACTIONS.names
    t = {c: f"__t_{c}" for c in names}
    frame = rows.select("*", *[clean(F.col(c)).alias(t[c]) for c in names])
    frame = frame.withColumns(
        {
            "__ts": timestamp_us(F.col(t["ts"])),
            "__quantity": number(F.col(t["quantity"])),
            "__amount": number(F.col(t["amount"])),
        }
    )
    frame = _flagged(frame, _keys(spark, skus, "known_sku"), t["sku"], "known_sku", True)
    frame = _flagged(frame, _keys(spark, quarantined_skus, "held_sku"), t["sku"], "held_sku", True)
    frame = _flagged(frame, _keys(spark, customer_ids, "known_cid"), t["customer_id"], "known_cid", False)
    frame = _flagged(
        frame, _keys(spark, quarantined_customer_ids, "held_cid"), t["customer_id"], "held_cid", False
    )
    frame = _with_duplicates(frame, names)
    checks: list[tuple[Column, str]] = []
    typed = {"ts": "__ts", "quantity": "__quantity", "amount": "__amount"}
    for c in TRANSACTIONS.columns:
        text = F.col(t[c.name])
        if c.name in REQUIRED:
            checks.append((text.isNull(), f"{c.name}: empty"))
        if c.name in typed:
            checks.append(
                (text.isNotNull() & F.col(typed[c.name]).isNull(), f"{c.name}: {TYPE_WORDS[c.dtype]}")
            )
    sku, cid = F.col(t["sku"]), F.col(t["customer_id"])
    known_sku, held_sku = F.col("known_sku_on"), F.col("held_sku_on")
    known_cid, held_cid = F.col("known_cid_on"), F.col("held_cid_on")
    checks += [
        (F.abs("__quantity") > max_quantity, f"quantity: beyond max_line_quantity ({_show(max_quantity)})"),
        (F.abs("__amount") > max_amount, f"amount: beyond max_line_amount ({_show(max_amount)})"),
        (sku.isNotNull() & ~known_sku & ~held_sku, "sku: not in products"),
        (sku.isNotNull() & ~known_sku & held_sku, "sku: its product row is quarantined"),
        (cid.isNotNull() & ~known_cid & ~held_cid, "customer_id: not in customers"),
        (cid.isNotNull() & ~known_cid & held_cid, "customer_id: its customer row is quarantined"),
        (F.col("__duplicate"), "exact duplicate of an earlier line"),
    ]
    kept, reason = judged(checks)
    return frame.select(
        *names,
        SOURCE_COL,
        LINE_COL,
        reason.alias(REASON_COL),
        FILE_INDEX,
        (F.col(FILE_INDEX).cast("long") * FILE_STRIDE + F.col(LINE_COL)).alias("line_no"),
        F.col("__ts").alias("ts_us"),
        *[F.col(t[c]).alias(f"__kept_{c}") for c in ("receipt_id", "customer_id", "store_id", "sku")],
        F.col("__quantity").alias("__kept_quantity"),
        F.col("__amount").alias("__kept_amount"),
        kept.alias("kept"),
    )


def judged(checks: list[tuple[Column, str]]) -> tuple[Column, Column]:
    """Whether a row is kept and its reason, from (condition, reason) pairs in the polars
    validation's order: the reading's own reason first (``reason``), then each condition that holds
    (a null condition does not), joined by "; ".
    """
    F = _f()
    flags = [F.coalesce(cond, F.lit(False)) for cond, _ in checks]
    bad = F.col(REASON_COL).isNotNull()
    for flag in flags:
        bad = bad | flag
    reasons = [F.col(REASON_COL)] + [
        F.when(flag, F.lit(text)) for flag, (_, text) in zip(flags, checks, strict=True)
    ]
    return ~bad, F.concat_ws("; ", *reasons)


def _with_duplicates(frame: DataFrame, names: list[str]) -> DataFrame:
    """``frame`` with ``__duplicate``: true for a line equal in ``names`` (as read, nulls equal)
    to a line before it in file and line order.

    As on the driver (`inputs.validation.later_duplicates`), only lines whose 64-bit hash is
    shared can be duplicates: the hashes are counted (a shuffle of numbers, not of lines), and
    only the lines of repeated hashes are compared exactly and ordered, so a hash collision never
    marks a line and the lines themselves are not sorted.
    """
    F = _f()
    W = _window()
    hashed = frame.withColumn("__hash", F.xxhash64(*[F.coalesce(F.col(n), F.lit("\0null")) for n in names]))
    repeated = hashed.groupBy("__hash").count().where(F.col("count") > 1).select("__hash")
    earlier = W.partitionBy(*names).orderBy(FILE_INDEX, LINE_COL)
    later = (
        hashed.join(repeated, "__hash", "left_semi")
        .select(FILE_INDEX, LINE_COL, (F.row_number().over(earlier) > 1).alias("__duplicate"))
        .where("__duplicate")
    )
    return (
        hashed.join(later, [FILE_INDEX, LINE_COL], "left")
        .withColumn("__duplicate", F.coalesce(F.col("__duplicate"), F.lit(False)))
        .drop("__hash")
    )


def kept_lines(checked: DataFrame) -> DataFrame:
    """The kept lines of `validate_transactions`, typed: `KEPT_COLUMNS`."""
    F = _f()
    return checked.where("kept").select(
        *[F.col(f"__kept_{c}").alias(c) if c not in ("line_no", "ts_us") else F.col(c) for c in KEPT_COLUMNS]
    )


def quarantined_lines(checked: DataFrame) -> DataFrame:
    """The quarantined lines of `validate_transactions`, as read, with their reason and file index."""
    F = _f()
    return checked.where(~F.col("kept")).select(
        *TRANSACTIONS.names, SOURCE_COL, LINE_COL, REASON_COL, FILE_INDEX
    )


def _window():  # type: ignore[no-untyped-def]
    from pyspark.sql import Window

    return Window
