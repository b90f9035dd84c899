"""Upper bounds of each customer's cross-sell priority, before any customer is scored.

A cross-sell offer's priority is the score of the customer's best recommendation
(`relevance.recommend`): the item model's score of a product, else the confidence of a rule the
customer's purchases fire, else a product's share of buyers. With purchase weights x >= 0, the
model's score of a product j, sum over the customer's products i of x_i w[i, j], is at most
sum_i x_i max w[i, k] over any group of products k holding j: the best group's sum bounds every
score of the products that may be offered. A rule's confidence is at most the best of the rules
the customer's purchases fire; a popular product's share is at most the largest. A budget that
stops at some priority then never needs the customers whose bound lies below it.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from coupongen.analysis.relevance import Ranker

BOUND_SCHEMA = pl.Schema({"customer_id": pl.String(), "bound": pl.Float64(), "listed": pl.Boolean()})
"""customer_id; bound: at least the score of any recommendation the customer can get; listed:
true when the customer certainly gets at least one recommendation (a product they have not bought
is left to offer)."""

# Sums in another order differ in the last bits: a bound is raised by this much of itself.
_SLACK = 1e-9
# Products are bounded in this many groups: a customer's bound is the best group's, far below one
# bound over all products, at a cost of one small product per customer.
GROUPS = 64
_ROWS = 50_000


def priority_bounds(ranker: Ranker, customers: pl.Series) -> pl.DataFrame | None:
    """`BOUND_SCHEMA` for each of ``customers`` (distinct, sorted by customer_id), or None when the
    ranking has no such bound (the learned ranking, or scores computed elsewhere).
    """
    model = ranker.model
    if model is None:
        return None
    purchases = ranker.purchases
    wanted = ranker.wanted(customers)
    rows = wanted["row"].fill_null(-1).to_numpy()
    has_row = rows >= 0
    offered = ranker.allowed[model.columns]
    model_bound = np.zeros(rows.size)
    if offered.any() and has_row.any():
        best = _group_max(model.weights[:, np.flatnonzero(offered)])
        x = purchases.matrix[rows[has_row]][:, model.columns]
        if (x.data < 0).any():  # a bound needs weights of purchases >= 0
            return None
        found = np.empty(x.shape[0])
        for start in range(0, x.shape[0], _ROWS):
            found[start : start + _ROWS] = np.asarray(x[start : start + _ROWS] @ best).max(axis=1)
        model_bound[has_row] = found
    buyers = purchases.buyers()
    available = ranker.allowed & (buyers > 0)
    popular = float(buyers[available].max() / max(1, purchases.customers.len())) if available.any() else 0.0
    # A customer has something to be offered while some bought, promotable product is not theirs.
    own_allowed = np.zeros(rows.size, np.int64)
    if has_row.any():
        mine = purchases.matrix[rows[has_row]]
        own_allowed[has_row] = np.asarray(mine[:, np.flatnonzero(available)].getnnz(axis=1)).ravel()
    bounds = pl.DataFrame(
        {
            "customer_id": wanted["customer_id"],
            "model": model_bound,
            "listed": own_allowed < int(available.sum()),
        }
    ).join(_rule_bounds(ranker, wanted["customer_id"]), on="customer_id", how="left")
    best_score = pl.max_horizontal(pl.col("model"), pl.col("rule").fill_null(0.0), pl.lit(popular))
    return bounds.select(
        "customer_id", (best_score + best_score.abs() * _SLACK + _SLACK).alias("bound"), "listed"
    ).cast(BOUND_SCHEMA)  # type: ignore[arg-type]


def _group_max(weights: np.ndarray | sp.csr_matrix) -> np.ndarray:
    """Per row of ``weights`` (item x offered products), the largest weight in each group of
    neighbouring products: (items, groups). A sparse model is bounded as one group.
    """
    if sp.issparse(weights):
        return np.asarray(weights.max(axis=1).todense()).reshape(-1, 1)
    starts = np.linspace(0, weights.shape[1], min(GROUPS, weights.shape[1]) + 1).astype(np.int64)[:-1]
    return np.maximum.reduceat(weights, np.unique(starts), axis=1)


def _rule_bounds(ranker: Ranker, customers: pl.Series) -> pl.DataFrame:
    """customer_id, rule: the best confidence of the one-consequent rules on a promotable product
    whose antecedents the customer all bought in the window (customers without one left out).
    """
    schema = {"customer_id": pl.String(), "rule": pl.Float64()}
    rules = ranker.rules
    if rules is None or rules.is_empty():
        return pl.DataFrame(schema=schema)
    single = (
        rules.filter(
            (pl.col("consequent").list.len() == 1)
            & pl.col("consequent").list.first().is_in(ranker.promotable.implode())
        )
        .with_row_index("rule_id")
        .select("rule_id", pl.col("antecedent").list.len().alias("n_ante"), "confidence", "antecedent")
        .explode("antecedent")
        .rename({"antecedent": "sku"})
    )
    recent = ranker.bought.lazy().filter(pl.col("in_lookback") & pl.col("sku").is_in(single["sku"].implode()))
    return (
        recent.select("customer_id", "sku")
        .join(pl.LazyFrame({"customer_id": customers}), on="customer_id", how="semi")
        .join(single.lazy(), on="sku")
        .group_by("customer_id", "rule_id")
        .agg(pl.len().alias("matched"), pl.col("n_ante").first(), pl.col("confidence").first())
        .filter(pl.col("matched") >= pl.col("n_ante"))
        .group_by("customer_id")
        .agg(pl.col("confidence").max().alias("rule"))
        .collect()
        .cast(schema)  # type: ignore[arg-type]
    )
