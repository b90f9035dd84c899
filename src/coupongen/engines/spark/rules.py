"""Association rules between two items on Spark: `analysis.affinity.build_baskets` + `mine_rules`.

Baskets, item counts and pair counts (the work that grows with the receipts) run on Spark; the
metrics are single divisions of exact integer counts, as the polars stage computes them, so they
are the same doubles on both engines. Rules of more than two items (``max_len`` above 2) need
mlxtend: their baskets are mined on the driver by `affinity.mine_rules` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coupongen.analysis.affinity import BASKET_LEVELS, basket_count_needed

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def _f():  # type: ignore[no-untyped-def]
    from pyspark.sql import functions

    return functions


def build_baskets(lines: DataFrame, products: DataFrame, *, level: str) -> DataFrame:
    """Distinct (receipt_id, item) of bought items: net quantity per receipt and sku above zero.

    At level "category" each sku becomes its category; skus without one are left out.
    """
    F = _f()
    bought = (
        lines.groupBy("receipt_id", "sku")
        .agg(F.sum("quantity").alias("quantity"))
        .where(F.col("quantity") > 0)
        .select("receipt_id", F.col("sku").alias("item"))
    )
    column = BASKET_LEVELS[level]
    if column is not None:
        item_of_sku = products.select(F.col("sku").alias("item"), F.col(column).alias("level_item"))
        bought = bought.join(item_of_sku, on="item").select("receipt_id", F.col("level_item").alias("item"))
    return bought.where(F.col("receipt_id").isNotNull() & F.col("item").isNotNull()).distinct()


def pair_rules(
    baskets: DataFrame, n_baskets: int, *, min_support: float, min_confidence: float, min_lift: float
) -> DataFrame:
    """Both rules of every frequent pair with their counts and metrics (`affinity.RULES_SCHEMA`).

    Unsorted: the driver orders them as `mine_rules` does.
    """
    F = _f()
    min_count = basket_count_needed(min_support, n_baskets)
    items = baskets.groupBy("item").agg(F.count("*").alias("count")).where(F.col("count") >= min_count)
    frequent = baskets.join(items.select("item"), on="item", how="left_semi")
    left, right = frequent.alias("a"), frequent.alias("b")
    pairs = (
        left.join(right, on="receipt_id")
        .where(F.col("a.item") < F.col("b.item"))
        .groupBy(F.col("a.item").alias("item_a"), F.col("b.item").alias("item_b"))
        .agg(F.count("*").alias("count"))
        .where(F.col("count") >= min_count)
    )
    named = pairs.join(
        items.select(F.col("item").alias("item_a"), F.col("count").alias("count_a")), on="item_a"
    ).join(items.select(F.col("item").alias("item_b"), F.col("count").alias("count_b")), on="item_b")
    both = named.select(
        F.array("item_a").alias("antecedent"),
        F.array("item_b").alias("consequent"),
        F.col("count_a").alias("antecedent_count"),
        F.col("count_b").alias("consequent_count"),
        "count",
    ).unionByName(
        named.select(
            F.array("item_b").alias("antecedent"),
            F.array("item_a").alias("consequent"),
            F.col("count_b").alias("antecedent_count"),
            F.col("count_a").alias("consequent_count"),
            "count",
        )
    )
    n = F.lit(n_baskets).cast("long")
    a, c, k = F.col("antecedent_count"), F.col("consequent_count"), F.col("count")
    scored = both.select(
        "antecedent",
        "consequent",
        (a / n).alias("antecedent_support"),
        (c / n).alias("consequent_support"),
        (k / n).alias("support"),
        (k / a).alias("confidence"),
        ((k * n) / (a * c)).alias("lift"),
        ((k * n - a * c) / (n * n)).alias("leverage"),
        F.when(k == a, F.lit(float("inf"))).otherwise(((n - c) * a) / (n * (a - k))).alias("conviction"),
        "antecedent_count",
        "consequent_count",
        "count",
        n.alias("n_baskets"),
    )
    return scored.where(
        (F.col("support") >= min_support)
        & (F.col("confidence") >= min_confidence)
        & (F.col("lift") >= min_lift)
    )
