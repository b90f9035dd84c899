"""Product affinity: which products (or categories) are bought together.

Receipts are baskets; association rules mined from them ("pasta -> pasta sauce") drive cross-sell
offers and give each offer a reason a category manager can read. Anonymous receipts count too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import polars as pl

from coupongen.analysis.basket_codes import encode_baskets
from coupongen.analysis.customer_blocks import customer_ranges, in_range
from coupongen.analysis.rule_counts import count_mlxtend_rules, count_pair_rules
from coupongen.inputs.contract import require_columns

BASKET_LEVELS: dict[str, str | None] = {"sku": None, "category": "category"}
"""Basket levels and the products column each maps a sku to (None: the sku itself)."""

BLOCK_LINES = 2_000_000
"""Lines (or basket rows) whose baskets are built at a time, a block of receipts each."""

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
    require_columns(
        lines.collect_schema().names(), ["quantity", "receipt_id", "sku"], source="transactions frame"
    )
    column = BASKET_LEVELS[level]
    if column is not None:
        _require_level_column(products, column)
    # A block of receipts at a time (in receipt order), so that grouping and sorting hold one
    # block's lines. One row per receipt and sku already: no deduplication at the sku level. The
    # lines sorted before grouping, groups in that order: lines come mostly in receipt order, and
    # sorting them costs less than sorting the groups.
    blocks = [
        lines.filter(in_range(block, "receipt_id"))
        .select(pl.col("receipt_id").cast(pl.String), pl.col("sku").cast(pl.String), "quantity")
        .sort("receipt_id", "sku")
        .group_by("receipt_id", "sku", maintain_order=True)
        .agg(pl.col("quantity").sum())
        .filter(pl.col("quantity") > 0)
        .select("receipt_id", pl.col("sku").alias("item"))
        .drop_nulls()
        .collect(engine="streaming")
        for block in customer_ranges(lines, BLOCK_LINES, "receipt_id")
    ]
    skus = pl.concat(blocks)
    del blocks
    return skus if column is None else level_baskets(skus, products, level=level)


def level_baskets(sku_baskets: pl.DataFrame, products: pl.DataFrame, *, level: str) -> pl.DataFrame:
    """The baskets of `build_baskets` at ``level``, from its sku baskets: each sku replaced by its
    item at that level (skus without one left out), once per receipt, sorted by receipt and item.

    The same frame as `build_baskets` at that level gives, without reading the lines again.
    """
    items = _level_items(products, level)
    if items is None:
        return sku_baskets
    # Slices of whole receipts (the baskets are sorted by receipt), one at a time.
    return pl.concat(
        [
            _at_level(part.lazy(), items).unique().sort("receipt_id", "item").collect(engine="streaming")
            for part in _receipt_slices(sku_baskets, BLOCK_LINES)
        ]
    )


def level_lines(sku_baskets: pl.DataFrame, products: pl.DataFrame, *, level: str) -> pl.DataFrame:
    """The lines of `build_baskets`' sku baskets with each sku replaced by its item at ``level``
    (skus without one left out), in the baskets' order: an item may repeat within a receipt.

    What `mine_rules` needs (it counts a repeated line once): the rules of these lines are those
    of `level_baskets`, without its deduplication and sort of the text columns.
    """
    items = _level_items(products, level)
    return sku_baskets if items is None else _at_level(sku_baskets.lazy(), items).collect()


def _level_items(products: pl.DataFrame, level: str) -> pl.LazyFrame | None:
    """Each sku's item at ``level`` (item, level_item); None at the sku level itself."""
    if level not in BASKET_LEVELS:
        allowed = ", ".join(sorted(BASKET_LEVELS))
        raise ValueError(f"Unknown basket level {level!r}; allowed: {allowed}")
    column = BASKET_LEVELS[level]
    if column is None:
        return None
    _require_level_column(products, column)
    return products.lazy().select(
        pl.col("sku").cast(pl.String).alias("item"), pl.col(column).cast(pl.String).alias("level_item")
    )


def _at_level(baskets: pl.LazyFrame, items: pl.LazyFrame) -> pl.LazyFrame:
    """The sku ``baskets``' lines with each sku replaced by its item (`_level_items`), in order."""
    return (
        baskets.join(items, on="item", maintain_order="left")
        .select("receipt_id", pl.col("level_item").alias("item"))
        .drop_nulls()
    )


def _receipt_slices(baskets: pl.DataFrame, size: int) -> list[pl.DataFrame]:
    """``baskets`` (sorted by receipt_id) cut into slices of about ``size`` rows, each receipt whole."""
    ids = baskets["receipt_id"]
    if baskets.height <= size or not ids.is_sorted():
        return [baskets]
    cuts = [0]
    for at in range(size, baskets.height, size):
        # The slice ends where the receipt at ``at`` starts: the first row of its run.
        start = int(ids.search_sorted(ids[at], side="left"))  # type: ignore[arg-type]
        if start > cuts[-1]:
            cuts.append(start)
    cuts.append(baskets.height)
    return [baskets.slice(a, b - a) for a, b in itertools.pairwise(cuts)]


def _require_level_column(products: pl.DataFrame, column: str) -> None:
    names = products.lazy().collect_schema().names()
    require_columns(names, sorted(["sku", column]), source="products frame")


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
    require_columns(baskets.lazy().collect_schema().names(), ["item", "receipt_id"], source="baskets frame")
    # An itemset is no more frequent than its rarest item, so the rare items go at once.
    coded = encode_baskets(
        baskets.lazy().select("receipt_id", "item").collect(), lambda n: _min_count(min_support, n)
    )
    n_baskets = coded.n_baskets
    if n_baskets == 0:
        return pl.DataFrame(schema=RULES_SCHEMA)
    min_count = _min_count(min_support, n_baskets)
    if method == "pairs":
        counts = count_pair_rules(coded, min_count)
    else:
        counts = count_mlxtend_rules(coded, min_count, max_len=max_len, min_confidence=min_confidence)
    return _score_rules(counts, n_baskets, min_support, min_confidence, min_lift)


def _listed(items: Iterable[str] | str) -> list[str]:
    return [items] if isinstance(items, str) else list(items)


def _shown(item: str, names: Mapping[str, str], shared: set[str]) -> str:
    name = names.get(item, item)
    return f"{name} [{item}]" if name in shared else name


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
    # Two items under one name (two skus sold as the same product) would read as a rule from a
    # product to itself: such items carry their key.
    items_by_name: dict[str, set[str]] = {}
    for item in (i for side in ("antecedent", "consequent") for i in _listed(rule[side])):
        items_by_name.setdefault(shown.get(item, item), set()).add(item)
    shared = {name for name, items in items_by_name.items() if len(items) > 1}

    def label(side: Iterable[str] | str) -> str:
        return " + ".join(_shown(item, shown, shared) for item in _listed(side))

    return (
        f"{label(rule['antecedent'])} -> {label(rule['consequent'])}: "
        f"lift {rule['lift']:.1f}, confidence {rule['confidence']:.0%}"
    )


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
        .pipe(order_rules)
        .select(RULES_SCHEMA.names())
    )


def order_rules(rules: pl.DataFrame) -> pl.DataFrame:
    """Rules in `mine_rules`' order: lift and confidence (descending), then antecedent, consequent."""
    return rules.sort(
        pl.col("lift"),
        pl.col("confidence"),
        pl.col("antecedent").list.join(_SORT_SEPARATOR),
        pl.col("consequent").list.join(_SORT_SEPARATOR),
        descending=[True, True, False, False],
    )


def basket_count_needed(min_support: float, n_baskets: int) -> int:
    """The least number of the ``n_baskets`` baskets an itemset must be in to reach ``min_support``."""
    return _min_count(min_support, n_baskets)


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
