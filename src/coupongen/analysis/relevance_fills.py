"""Explaining and completing a ranking: the rule behind a pick, and fills for short lists.

A recommendation the model made gets the lift and confidence of the association rule linking the
customer's purchase to it. Customers the model cannot give enough products get those their
purchases' rules point to, then the most-bought products they have not bought.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from coupongen.analysis.item_models import PurchaseMatrix

RECOMMENDATION_SCHEMA = pl.Schema(
    {
        "customer_id": pl.String(),
        "sku": pl.String(),
        "rank": pl.Int32(),
        "score": pl.Float64(),
        "source": pl.String(),
        "anchor": pl.String(),
        "lift": pl.Float64(),
        "confidence": pl.Float64(),
    }
)
"""Columns and dtypes of the frame `recommend` returns."""


def explain(ranked: pl.DataFrame, rules: pl.DataFrame | None) -> pl.DataFrame:
    """Attach the lift and confidence of the one-to-one rule anchor -> sku, where there is one."""
    pairs = _pair_rules(rules)
    return ranked.join(pairs, on=["anchor", "sku"], how="left")


def _pair_rules(rules: pl.DataFrame | None) -> pl.DataFrame:
    schema = pl.Schema(
        {
            "anchor": pl.String(),
            "sku": pl.String(),
            "lift": pl.Float64(),
            "confidence": pl.Float64(),
        }
    )
    if rules is None or rules.is_empty():
        return pl.DataFrame(schema=schema)
    return (
        rules.filter((pl.col("antecedent").list.len() == 1) & (pl.col("consequent").list.len() == 1))
        .select(
            pl.col("antecedent").list.first().alias("anchor"),
            pl.col("consequent").list.first().alias("sku"),
            "lift",
            "confidence",
        )
        .unique(["anchor", "sku"], keep="first")
        .cast(schema)
    )


def _missing(ranked: pl.DataFrame, wanted: pl.DataFrame, top_n: int) -> pl.DataFrame:
    """Customers of `wanted` with fewer than top_n recommendations, and how many they lack."""
    have = ranked.group_by("customer_id").agg(pl.len().alias("have"))
    return (
        wanted.select("customer_id")
        .join(have, on="customer_id", how="left")
        .with_columns((top_n - pl.col("have").fill_null(0)).cast(pl.Int64).alias("lack"))
        .filter(pl.col("lack") > 0)
        .select("customer_id", "lack")
    )


def fill_from_rules(
    ranked: pl.DataFrame,
    wanted: pl.DataFrame,
    recent: pl.DataFrame,
    rules: pl.DataFrame | None,
    promotable: pl.Series,
    top_n: int,
) -> pl.DataFrame:
    """Add the consequents of the rules each short customer's purchases fire."""
    lacking = _missing(ranked, wanted, top_n)
    if rules is None or rules.is_empty() or lacking.is_empty():
        return ranked
    single = (
        rules.filter(pl.col("consequent").list.len() == 1)
        .with_row_index("rule_id")
        .with_columns(
            pl.col("consequent").list.first().alias("sku"),
            pl.col("antecedent").list.len().alias("n_ante"),
        )
    )
    ante = single.select("rule_id", "n_ante", pl.col("antecedent").alias("item")).explode("item")
    mine = recent.join(lacking.select("customer_id"), on="customer_id")
    fired = (
        mine.rename({"sku": "item"})
        .join(ante, on="item")
        .group_by("customer_id", "rule_id")
        .agg(
            pl.len().alias("matched"),
            pl.col("n_ante").first(),
            pl.col("item").sort_by(["receipts", "item"], descending=[True, False]).first().alias("anchor"),
        )
        .filter(pl.col("matched") == pl.col("n_ante"))
        .join(single.select("rule_id", "sku", "confidence", "lift"), on="rule_id")
        .filter(pl.col("sku").is_in(promotable.implode()))
        .join(mine.select("customer_id", "sku"), on=["customer_id", "sku"], how="anti")
        .join(ranked.select("customer_id", "sku"), on=["customer_id", "sku"], how="anti")
        .sort(
            ["customer_id", "confidence", "lift", "sku", "rule_id"],
            descending=[False, True, True, False, False],
        )
        .unique(["customer_id", "sku"], keep="first", maintain_order=True)
        .with_columns((pl.int_range(pl.len()).over("customer_id") + 1).alias("rank"))
        .join(lacking, on="customer_id")
        .filter(pl.col("rank") <= pl.col("lack"))
    )
    return pl.concat(
        [
            ranked,
            fired.select(
                "customer_id",
                "sku",
                pl.col("rank").cast(pl.Int32),
                pl.col("confidence").alias("score"),
                "anchor",
                pl.lit("rule").alias("source"),
                "lift",
                "confidence",
            ),
        ],
        how="diagonal_relaxed",
    )


def fill_from_popular(
    ranked: pl.DataFrame,
    wanted: pl.DataFrame,
    recent: pl.DataFrame,
    purchases: PurchaseMatrix,
    allowed: np.ndarray,
    top_n: int,
) -> pl.DataFrame:
    """Add the most-bought products each still short customer did not buy."""
    lacking = _missing(ranked, wanted, top_n)
    if lacking.is_empty():
        return ranked
    popular = popular_for(
        lacking, recent.select("customer_id", "sku"), purchases, allowed, top_n, have=ranked
    )
    filled = popular.join(lacking, on="customer_id").filter(pl.col("rank") <= pl.col("lack"))
    return pl.concat(
        [
            ranked,
            filled.select("customer_id", "sku", "rank", "score", pl.lit("popular").alias("source")),
        ],
        how="diagonal_relaxed",
    )


def popular_for(
    wanted: pl.DataFrame,
    exclude: pl.DataFrame,
    purchases: PurchaseMatrix,
    allowed: np.ndarray,
    top_n: int,
    *,
    have: pl.DataFrame | None,
) -> pl.DataFrame:
    """Per customer, the top_n most-bought allowed products not in `exclude` nor in `have`.

    The list is cut to the first few places and deepened only for the customers who bought (or
    already have) most of them, so no customer x product frame is ever built.
    """
    n = max(1, purchases.customers.len())
    buyers = purchases.buyers()
    ranking = (
        pl.DataFrame({"sku": purchases.items, "buyers": buyers, "allowed": allowed})
        .filter(pl.col("allowed") & (pl.col("buyers") > 0))
        .sort(["buyers", "sku"], descending=[True, False])
        .with_columns((pl.col("buyers") / n).alias("score"), pl.int_range(pl.len()).alias("place"))
    )
    skip = exclude.select("customer_id", "sku")
    if have is not None:
        skip = pl.concat([skip, have.select("customer_id", "sku")])
    found: list[pl.DataFrame] = []
    pending = wanted.select("customer_id").unique()
    depth = 2 * top_n
    while not pending.is_empty():
        head = ranking.head(depth)
        # Only what was bought of these products can take a place from them.
        skipped = skip.filter(pl.col("sku").is_in(head["sku"].implode()))
        got = (
            pending.join(head.select("sku", "score", "place"), how="cross")
            .join(skipped, on=["customer_id", "sku"], how="anti")
            .sort("customer_id", "place")
            .with_columns((pl.int_range(pl.len()).over("customer_id") + 1).cast(pl.Int32).alias("rank"))
            .filter(pl.col("rank") <= top_n)
        )
        complete = got.group_by("customer_id").agg(pl.len().alias("n")).filter(pl.col("n") == top_n)
        done = got if depth >= ranking.height else got.join(complete, on="customer_id", how="semi")
        found.append(done.select("customer_id", "sku", "rank", "score"))
        if depth >= ranking.height:
            break
        pending = pending.join(complete, on="customer_id", how="anti")
        depth *= 4
    schema = pl.Schema(
        {"customer_id": pl.String(), "sku": pl.String(), "rank": pl.Int32(), "score": pl.Float64()}
    )
    if not found:
        return pl.DataFrame(schema=schema)
    return pl.concat(found).cast(schema).sort("customer_id", "rank")
