"""Product affinity: which products (or categories) are bought together.

Receipts are baskets; association rules mined from them ("pasta -> pasta sauce") drive cross-sell
offers and give each offer a reason a category manager can read. Anonymous receipts count too.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from coupongen.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

BASKET_LEVELS: dict[str, str | None] = {"sku": None, "category": "category"}
"""Basket levels and the products column each maps a sku to (None: the sku itself)."""

METHODS = ("auto", "mlxtend", "pairs")
"""Rule mining methods accepted by `mine_rules`."""

RULES_SCHEMA = pl.Schema(
    {
        "antecedent": pl.List(pl.String()),
        "consequent": pl.List(pl.String()),
        "antecedent_support": pl.Float64(),
        "consequent_support": pl.Float64(),
        "support": pl.Float64(),
        "confidence": pl.Float64(),
        "lift": pl.Float64(),
        "leverage": pl.Float64(),
        "conviction": pl.Float64(),
        "antecedent_count": pl.Int64(),
        "consequent_count": pl.Int64(),
        "count": pl.Int64(),
        "n_baskets": pl.Int64(),
    }
)
"""Columns and dtypes of the frame `mine_rules` returns."""

_COUNTS_SCHEMA = pl.Schema(
    {
        "antecedent": pl.List(pl.String()),
        "consequent": pl.List(pl.String()),
        "antecedent_count": pl.Int64(),
        "consequent_count": pl.Int64(),
        "count": pl.Int64(),
    }
)
# Joins the items of an itemset into one sort key; below every printable character, so the keys
# order like the item lists themselves.
_SORT_SEPARATOR = "\x1f"


def build_baskets(
    transactions: pl.DataFrame | pl.LazyFrame,
    products: pl.DataFrame,
    *,
    level: str = "sku",
) -> pl.DataFrame:
    """Turn receipt lines into baskets: the distinct items each receipt bought.

    A sku is in a receipt's basket when its net quantity in that receipt is positive, so a line
    returned in the same receipt cancels the purchase and a receipt of returns only has no basket.
    At level "category" each bought sku is replaced by its category from `products`; skus missing
    from `products` or without a category are left out. A category is in the basket when at least
    one of its skus was bought, even if another sku of that category was returned on the receipt.
    Receipts of anonymous customers are kept: basket mining does not need to know the customer.

    Args:
        transactions: receipt lines with at least `receipt_id`, `sku` and `quantity`.
        products: the product master with at least `sku` and `category` (read at level
            "category" only).
        level: "sku" or "category".

    Returns:
        A frame sorted by `receipt_id, item` with the columns
        `receipt_id` (str): the receipt, one basket;
        `item` (str): a sku or category bought in that receipt, once per receipt.

    Raises:
        ValueError: `level` is not one of the allowed levels.
        InputError: a frame lacks a required column.
    """
    if level not in BASKET_LEVELS:
        allowed = ", ".join(sorted(BASKET_LEVELS))
        raise ValueError(f"Unknown basket level {level!r}; allowed: {allowed}")
    lines = transactions.lazy()
    _require_columns(lines, ["receipt_id", "sku", "quantity"], "transactions")
    bought = (
        lines.group_by("receipt_id", "sku")
        .agg(pl.col("quantity").sum())
        .filter(pl.col("quantity") > 0)
        .select("receipt_id", pl.col("sku").alias("item"))
    )
    column = BASKET_LEVELS[level]
    if column is not None:
        _require_columns(products.lazy(), ["sku", column], "products")
        item_of_sku = products.lazy().select(
            pl.col("sku").alias("item"), pl.col(column).cast(pl.String).alias("level_item")
        )
        bought = bought.join(item_of_sku, on="item").select("receipt_id", pl.col("level_item").alias("item"))
    return (
        bought.select(pl.col("receipt_id").cast(pl.String), pl.col("item").cast(pl.String))
        .drop_nulls()
        .unique()
        .sort("receipt_id", "item")
        .collect()
    )


def mine_rules(
    baskets: pl.DataFrame,
    *,
    min_support: float,
    min_confidence: float,
    min_lift: float = 1.0,
    max_len: int = 2,
    method: str = "auto",
) -> pl.DataFrame:
    """Find association rules "antecedent -> consequent" between items bought together.

    For itemsets A and B over the N baskets: support(A) is the share of baskets containing A;
    confidence(A -> B) = support(A u B) / support(A); lift = confidence / support(B) (1 means
    independent); leverage = support(A u B) - support(A) support(B); conviction =
    (1 - support(B)) / (1 - confidence). A rule is kept when support(A u B) >= min_support,
    confidence >= min_confidence and lift >= min_lift.

    Methods: "pairs" counts co-occurring pairs with polars (max_len 2 only, fast); "mlxtend" runs
    mlxtend's fpgrowth and association_rules on a sparse one-hot table of the frequent items only,
    so memory grows with baskets x frequent items, never with all items; "auto" picks "pairs" when
    max_len is 2 and "mlxtend" otherwise. Both give the same rules with the same metrics.

    Args:
        baskets: `receipt_id, item` rows as made by `build_baskets`; repeated rows are counted once.
        min_support: minimum support of the rule's whole itemset, in (0, 1].
        min_confidence: minimum confidence, in [0, 1].
        min_lift: minimum lift, >= 0.
        max_len: maximum number of items in a rule (antecedent plus consequent), >= 2.
        method: "auto", "pairs" or "mlxtend".

    Returns:
        One row per rule, sorted by lift and confidence (both descending), then antecedent and
        consequent, with the columns
        `antecedent` (list[str]): the items already in the basket, sorted;
        `consequent` (list[str]): the items the rule predicts, sorted;
        `antecedent_support`, `consequent_support`, `support` (f64): shares of baskets containing
        the antecedent, the consequent, and both;
        `confidence`, `lift`, `leverage` (f64): as defined above;
        `conviction` (f64): as defined above, +inf when confidence is 1;
        `antecedent_count`, `consequent_count`, `count` (i64): numbers of baskets containing the
        antecedent, the consequent, and both;
        `n_baskets` (i64): the number of baskets N, the denominator of every support.
        Empty baskets give an empty frame with these columns.

    Raises:
        ValueError: an option is out of range or unknown.
        InputError: `baskets` lacks a required column.
    """
    _check_thresholds(min_support, min_confidence, min_lift, max_len)
    method = _resolve_method(method, max_len)
    _require_columns(baskets.lazy(), ["receipt_id", "item"], "baskets")
    lines = baskets.lazy().select("receipt_id", "item").drop_nulls().unique().collect()
    n_baskets = lines["receipt_id"].n_unique()
    if n_baskets == 0:
        return pl.DataFrame(schema=RULES_SCHEMA)
    min_count = _min_count(min_support, n_baskets)
    item_counts = (
        lines.group_by("item")
        .agg(pl.len().cast(pl.Int64).alias("count"))
        .filter(pl.col("count") >= min_count)
        .sort("item")
    )
    # An itemset is no more frequent than its rarest item, so the rare items can go first.
    frequent_lines = lines.join(item_counts.select("item"), on="item", how="semi")
    if method == "pairs":
        counts = _count_pair_rules(frequent_lines, item_counts, min_count)
    else:
        counts = _count_mlxtend_rules(
            frequent_lines,
            item_counts,
            min_count,
            n_baskets,
            max_len=max_len,
            min_confidence=min_confidence,
        )
    return _score_rules(counts, n_baskets, min_support, min_confidence, min_lift)


def describe_rule(rule: Mapping[str, Any], names: Mapping[str, str] | None = None) -> str:
    """Say a rule in words for a report or an offer's reason.

    Args:
        rule: a row of `mine_rules` as a dict (`antecedent`, `consequent`, `lift`, `confidence`).
        names: display names by item (e.g. sku -> product name); items without one show as is.

    Returns:
        Text such as "pasta + cheese -> pasta sauce: lift 3.2, confidence 41%".

    Raises:
        ValueError: `rule` lacks a required key.
    """
    missing = sorted({"antecedent", "consequent", "lift", "confidence"} - set(rule))
    if missing:
        raise ValueError(f"Rule is missing required keys: {missing}")
    shown = names or {}

    def label(items: Iterable[str] | str) -> str:
        listed = [items] if isinstance(items, str) else list(items)
        return " + ".join(shown.get(item, item) for item in listed)

    return (
        f"{label(rule['antecedent'])} -> {label(rule['consequent'])}: "
        f"lift {rule['lift']:.1f}, confidence {rule['confidence']:.0%}"
    )


def _require_columns(frame: pl.LazyFrame, required: list[str], what: str) -> None:
    missing = sorted(set(required) - set(frame.collect_schema().names()))
    if missing:
        raise InputError(f"{what} frame is missing required columns: {missing}")


def _check_thresholds(min_support: float, min_confidence: float, min_lift: float, max_len: int) -> None:
    if not 0 < min_support <= 1:
        raise ValueError(f"min_support must be in (0, 1], got {min_support}")
    if not 0 <= min_confidence <= 1:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    if not min_lift >= 0:
        raise ValueError(f"min_lift must be >= 0, got {min_lift}")
    if max_len < 2:
        raise ValueError(f"max_len must be >= 2 (a rule has two items at least), got {max_len}")


def _resolve_method(method: str, max_len: int) -> str:
    if method not in METHODS:
        raise ValueError(f"Unknown rule mining method {method!r}; allowed: {', '.join(METHODS)}")
    if method == "auto":
        return "pairs" if max_len == 2 else "mlxtend"
    if method == "pairs" and max_len != 2:
        raise ValueError(f"Method 'pairs' mines two-item rules only (max_len=2), got {max_len}")
    return method


def _min_count(min_support: float, n_baskets: int) -> int:
    """Return the least basket count c with c / n_baskets >= min_support, as floats compare it.

    ceil(min_support * n) alone can be off by one: 0.28 * 25 is 7.000000000000001.
    """
    count = max(1, math.ceil(min_support * n_baskets))
    while count > 1 and (count - 1) / n_baskets >= min_support:
        count -= 1
    while count / n_baskets < min_support:
        count += 1
    return count


def _count_pair_rules(lines: pl.DataFrame, item_counts: pl.DataFrame, min_count: int) -> pl.DataFrame:
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


def _count_mlxtend_rules(
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
        return pl.DataFrame(schema=_COUNTS_SCHEMA)
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
        return pl.DataFrame(schema=_COUNTS_SCHEMA)
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
        schema=_COUNTS_SCHEMA,
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


def _score_rules(
    counts: pl.DataFrame,
    n_baskets: int,
    min_support: float,
    min_confidence: float,
    min_lift: float,
) -> pl.DataFrame:
    """Compute every metric from the basket counts, keep the rules passing the thresholds."""
    metrics = _metrics_from_counts(
        counts["antecedent_count"].to_numpy(),
        counts["consequent_count"].to_numpy(),
        counts["count"].to_numpy(),
        n_baskets,
    )
    return (
        counts.with_columns(
            *(pl.Series(name, values, dtype=pl.Float64) for name, values in metrics.items()),
            pl.lit(n_baskets, dtype=pl.Int64).alias("n_baskets"),
        )
        .filter(
            pl.col("support") >= min_support,
            pl.col("confidence") >= min_confidence,
            pl.col("lift") >= min_lift,
        )
        .sort(
            pl.col("lift"),
            pl.col("confidence"),
            pl.col("antecedent").list.join(_SORT_SEPARATOR),
            pl.col("consequent").list.join(_SORT_SEPARATOR),
            descending=[True, True, False, False],
        )
        .select(RULES_SCHEMA.names())
    )


def _metrics_from_counts(a: np.ndarray, c: np.ndarray, k: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Rule metrics from the counts of antecedent (a), consequent (c), both (k) among n baskets.

    Each metric is one division of exact integers, so it is the correctly rounded true ratio:
    hand-computed fractions compare equal and equal ratios tie exactly when sorting. numpy divides
    element by element; polars may multiply by the reciprocal of a scalar divisor instead, and
    3 * (1/5) is not 3/5 in floats.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        conviction = np.where(k == a, np.inf, ((n - c) * a) / (n * (a - k)))
    return {
        "antecedent_support": a / n,
        "consequent_support": c / n,
        "support": k / n,
        "confidence": k / a,
        "lift": (k * n) / (a * c),
        "leverage": (k * n - a * c) / (n * n),
        "conviction": conviction,
    }
