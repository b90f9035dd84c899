"""Counting the baskets behind association rules: item pairs by a join, longer itemsets by mlxtend.

Each rule comes back with three basket counts (antecedent, consequent, both), from which
``affinity`` derives support, confidence and lift. Only frequent items reach the counting.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from coupongen.analysis.basket_codes import CodedBaskets

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


def count_pair_rules(coded: CodedBaskets, min_count: int) -> pl.DataFrame:
    """Count frequent item pairs with a self-join per basket; return both rules of each pair.

    Baskets and items are numbers (see `basket_codes`): the join and the counting run on integer
    columns, each pair packed into one 64-bit key, and names come back only for the pairs kept.
    """
    n_items = len(coded.items)
    lines = coded.lines.lazy()
    pairs = (
        lines.join(lines, on="basket", suffix="_b")
        .filter(pl.col("item") < pl.col("item_b"))
        .select((pl.col("item").cast(pl.UInt64) * n_items + pl.col("item_b")).alias("pair"))
        .group_by("pair")
        .agg(pl.len().cast(pl.Int64).alias("count"))
        .filter(pl.col("count") >= min_count)
        # The streaming engine joins and aggregates in batches, so the baskets' item pairs are
        # never all in memory at once.
        .collect(engine="streaming")
    )
    key = pairs["pair"].to_numpy()
    a, b = (key // n_items).astype(np.int64), (key % n_items).astype(np.int64)
    names = coded.items.to_numpy()
    named = {
        "item_a": names[a],
        "item_b": names[b],
        "count_a": coded.item_counts[a],
        "count_b": coded.item_counts[b],
        "count": pairs["count"].to_numpy(),
    }
    return pl.concat(
        [
            _pair_rule_counts(named, antecedent="a", consequent="b"),
            _pair_rule_counts(named, antecedent="b", consequent="a"),
        ]
    )


def _pair_rule_counts(named: dict[str, np.ndarray], *, antecedent: str, consequent: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "antecedent": pl.Series(named[f"item_{antecedent}"], dtype=pl.String),
            "consequent": pl.Series(named[f"item_{consequent}"], dtype=pl.String),
            "antecedent_count": named[f"count_{antecedent}"],
            "consequent_count": named[f"count_{consequent}"],
            "count": named["count"],
        }
    ).select(
        pl.concat_list("antecedent"),
        pl.concat_list("consequent"),
        pl.col("antecedent_count", "consequent_count", "count").cast(pl.Int64),
    )


def count_mlxtend_rules(
    coded: CodedBaskets,
    min_count: int,
    *,
    max_len: int,
    min_confidence: float,
) -> pl.DataFrame:
    """Enumerate rules with mlxtend over the frequent items; return their basket counts.

    `coded` holds frequent items only, so baskets of rare items alone are absent from the one-hot
    table: mlxtend sees fewer rows than there are baskets, and supports are rescaled to them all.
    """
    n_baskets = coded.n_baskets
    if len(coded.items) == 0:
        return pl.DataFrame(schema=COUNTS_SCHEMA)
    # mlxtend (and pandas under it) take most of a second to import: only this path needs them.
    with warnings.catch_warnings():
        # Importing mlxtend's fpcommon installs a process-wide "always" filter for
        # DeprecationWarning; catch_warnings restores the caller's filters afterwards.
        from mlxtend.frequent_patterns import association_rules, fpgrowth
    onehot = _sparse_onehot(coded)
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


def _sparse_onehot(coded: CodedBaskets) -> pd.DataFrame:
    """Build a sparse boolean baskets x items pandas frame, one row per basket with a frequent item."""
    import pandas as pd
    import scipy.sparse as sp

    baskets = coded.lines["basket"].to_numpy()
    _, rows = np.unique(baskets, return_inverse=True)
    n_rows = int(rows.max()) + 1 if len(rows) else 0
    matrix = sp.csc_matrix(
        (np.ones(len(rows), dtype=bool), (rows, coded.lines["item"].to_numpy())),
        shape=(n_rows, len(coded.items)),
    )
    with warnings.catch_warnings():
        # pandas 2 builds a boolean sparse column with the fill value 0 and warns about it itself
        warnings.filterwarnings("ignore", "Allowing arbitrary scalar fill_value", FutureWarning)
        return pd.DataFrame.sparse.from_spmatrix(matrix, columns=coded.items.to_list())
