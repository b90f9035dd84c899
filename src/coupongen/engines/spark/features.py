"""Customer features on Spark: `analysis.features.describe_customers`, frame for frame.

The same definitions as the polars stage (read its docstrings for what each column means); what
differs is how exact equality is kept on a cluster: money is summed in whole cents and turned
back into money as polars does (see `money`); rounding is half to even on the decimal value, as
polars rounds; every "first" or "top three" has an explicit
order with a tie-break (never the order rows arrive in); lists are built from numbered rows, not
from collect_list's order; a receipt's customer is the one on its first line by input line number.

Input ``lines``: line_no (long, the line's position in the input), receipt_id, customer_id,
ts_us (long, wall time in microseconds since 1970-01-01), sku, quantity and amount (double).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from coupongen.analysis.features import MIN_CYCLE_PURCHASES, TOP_FAVOURITES

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

_KEYS = ["customer_id", "sku"]
_US_PER_DAY = 86_400_000_000


def _f():  # type: ignore[no-untyped-def]
    from pyspark.sql import functions

    return functions


def micros(moment: date) -> int:
    """Midnight of ``moment`` in microseconds since 1970-01-01 (wall time, as ``ts_us`` holds it)."""
    return int((datetime.combine(moment, time()) - datetime(1970, 1, 1)) / timedelta(microseconds=1))


def history_lines(lines: DataFrame, as_of: date) -> DataFrame:
    """Lines before ``as_of`` with their day and their amount in whole cents (half to even)."""
    F = _f()
    return lines.where(F.col("ts_us") < F.lit(micros(as_of))).select(
        "line_no",
        "receipt_id",
        "customer_id",
        F.date_from_unix_date(F.floor(F.col("ts_us") / _US_PER_DAY).cast("int")).alias("day"),
        "sku",
        "quantity",
        F.bround(F.col("amount") * 100, 0).cast("long").alias("cents"),
    )


def money(cents: Column) -> Column:
    """Cents as money, bit for bit as polars computes ``cents / 100``: it multiplies by the
    reciprocal of a constant divisor (16645 / 100 gives 166.45000000000002, not 166.45).
    """
    F = _f()
    return cents.cast("double") * F.lit(1 / 100)


def round_cents(value: Column) -> Column:
    """``value`` to two places as polars rounds: the value times 100, to the nearest whole number
    (ties to even, judged on the exact binary value), divided by 100. Spark's bround(value, 2)
    judges ties on the decimal text instead (519.705 -> 519.70, where polars gives 519.71).
    """
    F = _f()
    return F.bround(value * 100, 0) / 100


def _cycle(n_days: Column, gap: Column) -> Column:
    F = _f()
    return F.when(n_days >= MIN_CYCLE_PURCHASES, F.median(gap).cast("double"))


def customer_pairs(lines: DataFrame) -> DataFrame:
    """Per customer and sku, returns set against the latest purchase day on or before them.

    Columns as the polars ``_pairs``: customer_id, sku, receipts, quantity, cents, first_day,
    last_day, cycle_days.
    """
    from pyspark.sql import Window

    F = _f()
    q = F.col("quantity")
    per_day = (
        lines.where(F.col("customer_id").isNotNull())
        .groupBy(*_KEYS, "day")
        .agg(
            F.sum(q).alias("net"),
            F.max((q > 0).cast("int")).alias("purchase"),
            F.sum("cents").alias("cents"),
            F.count_distinct(F.when(q > 0, F.col("receipt_id"))).alias("receipts"),
        )
    )
    along = Window.partitionBy(*_KEYS).orderBy("day")
    so_far = along.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    before = along.rowsBetween(Window.unboundedPreceding, -1)
    runs = per_day.withColumn("run", F.sum("purchase").over(so_far)).withColumn(
        "run_net", F.sum("net").over(Window.partitionBy(*_KEYS, "run"))
    )
    counted = runs.withColumn("counted", (F.col("purchase") == 1) & (F.col("run_net") > 0))
    counted_day = F.when(F.col("counted"), F.col("day"))
    with_gap = counted.withColumn("previous", F.last(counted_day, ignorenulls=True).over(before)).withColumn(
        "gap", F.when(F.col("counted"), F.datediff(F.col("day"), F.col("previous")))
    )
    return with_gap.groupBy(*_KEYS).agg(
        F.coalesce(F.sum(F.when(F.col("counted"), F.col("receipts"))), F.lit(0))
        .cast("int")
        .alias("receipts"),
        F.sum("net").alias("quantity"),
        F.sum("cents").alias("cents"),
        F.min(counted_day).alias("first_day"),
        F.max(counted_day).alias("last_day"),
        _cycle(F.sum(F.col("counted").cast("int")), F.col("gap")).alias("cycle_days"),
    )


def customer_products(pairs: DataFrame, as_of: date, lookback_days: int) -> DataFrame:
    """`analysis.features.customer_products` from `customer_pairs`."""
    F = _f()
    start = as_of - timedelta(days=lookback_days)
    return pairs.where((F.col("quantity") > 0) & F.col("last_day").isNotNull()).select(
        *_KEYS,
        "receipts",
        "quantity",
        money(F.col("cents")).alias("spend"),
        "first_day",
        "last_day",
        F.datediff(F.lit(as_of), F.col("last_day")).alias("days_since_last"),
        "cycle_days",
        F.col("cycle_days").isNotNull().alias("regular"),
        (F.col("last_day") >= F.lit(start)).alias("in_lookback"),
    )


def category_spend(pairs: DataFrame, products: DataFrame) -> DataFrame:
    """`analysis.features.category_spend` from `customer_pairs` and the products (sku, category)."""
    from pyspark.sql import Window

    F = _f()
    return (
        pairs.join(products.select("sku", "category"), on="sku", how="left")
        .groupBy("customer_id", "category")
        .agg(F.sum("cents").alias("cents"))
        .where(F.col("cents") > 0)
        .select(
            "customer_id",
            "category",
            money(F.col("cents")).alias("spend"),
            (F.col("cents") / F.sum("cents").over(Window.partitionBy("customer_id"))).alias("share"),
        )
    )


def _in_rank_order(value: str, keep: Column) -> Column:
    """The values of ``value`` on the rows ``keep`` holds, as a list in the order of their rank.

    collect_list gathers in whatever order rows arrive; sorting (rank, value) pairs puts them back.
    A null value stays in its place (the pair is not null), as in polars.
    """
    F = _f()
    pairs = F.collect_list(F.when(keep, F.struct(F.col("rank"), F.col(value))))
    return F.transform(F.array_sort(pairs), lambda x: x[value])


def _ranked(frame: DataFrame, order: list[Column]) -> DataFrame:
    from pyspark.sql import Window

    F = _f()
    return frame.withColumn("rank", F.row_number().over(Window.partitionBy("customer_id").orderBy(*order)))


def customer_features(
    lines: DataFrame, bought: DataFrame, categories: DataFrame, as_of: date, lookback_days: int
) -> DataFrame:
    """`analysis.features.customer_features` from the lines and the two frames above."""
    from pyspark.sql import Window

    F = _f()
    start = F.lit(as_of - timedelta(days=lookback_days))
    receipts = (
        lines.groupBy("receipt_id")
        .agg(
            F.min_by("customer_id", "line_no").alias("customer_id"),
            F.min("day").alias("day"),
            F.sum("cents").alias("cents"),
        )
        .where(F.col("customer_id").isNotNull())
    )
    visit = F.col("cents") > 0
    in_window = F.col("day") >= start
    per_customer = (
        receipts.groupBy("customer_id")
        .agg(
            F.sum(visit.cast("int")).alias("visits"),
            F.sum((visit & in_window).cast("int")).alias("frequency"),
            money(F.coalesce(F.sum(F.when(in_window, F.col("cents"))), F.lit(0))).alias("monetary"),
        )
        .where(F.col("visits") > 0)
    )
    visit_days = receipts.where(visit).select("customer_id", "day").distinct()
    previous = F.lag("day").over(Window.partitionBy("customer_id").orderBy("day"))
    rhythm = (
        visit_days.withColumn("gap", F.datediff(F.col("day"), previous))
        .groupBy("customer_id")
        .agg(
            F.min("day").alias("first_purchase"),
            F.max("day").alias("last_purchase"),
            _cycle(F.count("*"), F.col("gap")).alias("median_gap_days"),
        )
    )
    top_categories = (
        _ranked(categories, [F.col("share").desc(), F.col("category").asc_nulls_first()])
        .where(F.col("rank") <= TOP_FAVOURITES)
        .groupBy("customer_id")
        .agg(
            _in_rank_order("category", F.lit(True)).alias("favourite_categories"),
            F.max(F.when(F.col("rank") == 1, F.col("share"))).alias("favourite_share"),
        )
    )
    ranked_products = _ranked(bought, [F.col("receipts").desc(), F.col("spend").desc(), F.col("sku").asc()])
    top_products = ranked_products.groupBy("customer_id").agg(
        _in_rank_order("sku", F.col("rank") <= TOP_FAVOURITES).alias("favourite_products"),
        F.sum(F.col("regular").cast("int")).alias("regular_products"),
    )
    empty = F.array().cast("array<string>")
    return (
        per_customer.join(rhythm, on="customer_id", how="inner")
        .join(top_categories, on="customer_id", how="left")
        .join(top_products, on="customer_id", how="left")
        .select(
            "customer_id",
            "first_purchase",
            "last_purchase",
            F.datediff(F.lit(as_of), F.col("last_purchase")).alias("recency_days"),
            F.datediff(F.lit(as_of), F.col("first_purchase")).alias("tenure_days"),
            "frequency",
            "monetary",
            F.when(F.col("frequency") > 0, round_cents(F.col("monetary") / F.col("frequency"))).alias(
                "avg_basket"
            ),
            "visits",
            "median_gap_days",
            F.get(F.col("favourite_categories"), 0).alias("favourite_category"),
            "favourite_share",
            F.coalesce(F.col("favourite_categories"), empty).alias("favourite_categories"),
            F.coalesce(F.col("favourite_products"), empty).alias("favourite_products"),
            F.coalesce(F.col("regular_products"), F.lit(0)).alias("regular_products"),
        )
    )
