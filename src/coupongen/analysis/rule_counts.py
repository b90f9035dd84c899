"""Counting the baskets behind association rules: item pairs by a join, longer itemsets by mlxtend.

Each rule comes back with three basket counts (antecedent, consequent, both), from which
``affinity`` derives support, confidence and lift. Only frequent items reach the counting.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    import pandas as pd

COUNTS_SCHEMA = pl.Schema(
    {
        "antecedent": pl.List(pl.String()),
        "consequent": pl.List(pl.String()),
        "antecedent_count": pl.Int64(),
        "consequent_count": pl.Int64(),
        "count": pl.Int64(),
    }
)
"""Columns of the counts: antecedent, consequent (item lists) and the three basket counts."""


def count_pair_rules(lines: pl.DataFrame, item_counts: pl.DataFrame, min_count: int) -> pl.DataFrame:
    """Count frequent item pairs with a self-join per receipt; return both rules of each pair."""
    codes = item_counts.with_row_index("code")
    coded = lines.lazy().join(codes.lazy().select("item", "code"), on="item")
    pairs = (
        coded.select("receipt_id", "code")
        .join(coded.select("receipt_id", "code"), on="receipt_id", suffix="_b")
        .filter(pl.col("code") < pl.col("code_b"))
        .group_by("code", "code_b")
        .agg(pl.len().cast(pl.Int64).alias("count"))
        .filter(pl.col("count") >= min_count)
        # The streaming engine joins and aggregates in batches, so the receipts' item pairs are
        # never all in memory at once.
        .collect(engine="streaming")
    )
    named = pairs.join(codes.rename({"item": "item_a", "count": "count_a"}), on="code").join(
        codes.rename({"code": "code_b", "item": "item_b", "count": "count_b"}), on="code_b"
    )
    return pl.concat(
        [
            _pair_rule_counts(named, antecedent="a", consequent="b"),
            _pair_rule_counts(named, antecedent="b", consequent="a"),
        ]
    )


def _pair_rule_counts(named_pairs: pl.DataFrame, *, antecedent: str, consequent: str) -> pl.DataFrame:
    return named_pairs.select(
        pl.concat_list(pl.col(f"item_{antecedent}")).alias("antecedent"),
        pl.concat_list(pl.col(f"item_{consequent}")).alias("consequent"),
        pl.col(f"count_{antecedent}").alias("antecedent_count"),
        pl.col(f"count_{consequent}").alias("consequent_count"),
        pl.col("count"),
    )


def count_mlxtend_rules(
    lines: pl.DataFrame,
    item_counts: pl.DataFrame,
    min_count: int,
    n_baskets: int,
    *,
    max_len: int,
    min_confidence: float,
) -> pl.DataFrame:
    """Enumerate rules with mlxtend over the frequent items; return their basket counts.

    `lines` holds frequent items only, so baskets of rare items alone are absent from the one-hot
    table: mlxtend sees fewer rows than `n_baskets`, and supports are rescaled to `n_baskets`.
    """
    if item_counts.height == 0:
        return pl.DataFrame(schema=COUNTS_SCHEMA)
    # mlxtend (and pandas under it) take most of a second to import: only this path needs them.
    with warnings.catch_warnings():
        # Importing mlxtend's fpcommon installs a process-wide "always" filter for
        # DeprecationWarning; catch_warnings restores the caller's filters afterwards.
        from mlxtend.frequent_patterns import association_rules, fpgrowth
    onehot = _sparse_onehot(lines, item_counts["item"])
    n_rows = len(onehot.index)
    # Halfway below min_count, so mlxtend's own ceil() and float comparisons land on min_count.
    frequent = fpgrowth(onehot, min_support=(min_count - 0.5) / n_rows, use_colnames=True, max_len=max_len)
    counts = np.rint(frequent["support"].to_numpy() * n_rows).astype(np.int64)
    if not (frequent["itemsets"].map(len) > 1).any():
        return pl.DataFrame(schema=COUNTS_SCHEMA)
    count_of = dict(zip(frequent["itemsets"], counts.tolist(), strict=True))
    frequent = frequent.assign(support=counts / n_baskets)
    rules = association_rules(
        frequent,
        num_itemsets=n_baskets,
        metric="confidence",
        # A loose pre-filter: the exact thresholds are applied to the counts in _score_rules.
        min_threshold=min_confidence * (1 - 1e-9),
        return_metrics=["confidence"],
    )
    antecedents, consequents = list(rules["antecedents"]), list(rules["consequents"])
    return pl.DataFrame(
        {
            "antecedent": [sorted(itemset) for itemset in antecedents],
            "consequent": [sorted(itemset) for itemset in consequents],
            "antecedent_count": [count_of[itemset] for itemset in antecedents],
            "consequent_count": [count_of[itemset] for itemset in consequents],
            "count": [count_of[a | c] for a, c in zip(antecedents, consequents, strict=True)],
        },
        schema=COUNTS_SCHEMA,
    )


def _sparse_onehot(lines: pl.DataFrame, items: pl.Series) -> pd.DataFrame:
    """Build a sparse boolean baskets x items pandas frame, one row per basket in `lines`."""
    import pandas as pd
    import scipy.sparse as sp

    columns = pl.DataFrame({"item": items}).with_row_index("column")
    cells = (
        lines.join(columns, on="item")
        .sort("receipt_id")
        .select(pl.col("receipt_id").rle_id().alias("row"), "column")
    )
    n_rows = cells["row"].n_unique()
    matrix = sp.csc_matrix(
        (np.ones(cells.height, dtype=bool), (cells["row"].to_numpy(), cells["column"].to_numpy())),
        shape=(n_rows, len(items)),
    )
    return pd.DataFrame.sparse.from_spmatrix(matrix, columns=items.to_list())
