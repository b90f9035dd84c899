"""The candidate sources' own item models: co-purchase rules, and sparse scoring of sparse models.

Item-kNN and the rules have sparse weights (a few neighbours per product): scored sparsely, the
work per customer grows with the products their purchases reach, not with the catalogue.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from coupongen.analysis.item_models import ItemModel, PurchaseMatrix, co_purchase_rows, codes_of, top_per_row
from coupongen.analysis.item_scoring import anchor_cells, best_anchors

RULE_MIN_TOGETHER = 3
"""A co-purchase rule needs at least this many customers who bought both products."""

RULES_PER_ITEM = 50
"""Rules kept per product (its most confident)."""

_BLOCK_CELLS = 4_000_000


def sparse_scored(
    purchases: PurchaseMatrix,
    model: ItemModel,
    top: int,
    allowed: np.ndarray,
    rows: np.ndarray,
    *,
    anchors: bool = True,
) -> pl.DataFrame:
    """`item_scoring.score_customers` for a model of sparse weights (item-kNN, rules), the same rows.

    Without `anchors` the anchor column is null (`anchor_of` finds it later for the few pairs
    that become offers).

    Only the products a customer's purchases reach get a score, so the scores stay sparse: the
    work grows with the customers' neighbours, not with the catalogue (a dense row per customer
    of every modelled product is what makes the collaborative scoring costly at a million).
    """
    x, r, c, v, place = sparse_rows(purchases, model, top, allowed, rows)
    if anchors:
        anchor = purchases.items.gather(model.columns[sparse_anchors(x, model.weights, r, c)])
    else:
        anchor = pl.Series("anchor", [None] * r.size, dtype=pl.String)
    return pl.DataFrame(
        {
            "customer_id": purchases.customers.gather(rows[r]),
            "sku": purchases.items.gather(model.columns[c]),
            "rank": pl.Series(place + 1, dtype=pl.Int32),
            "score": v,
            "anchor": anchor,
        }
    )


def sparse_rows(
    purchases: PurchaseMatrix, model: ItemModel, top: int, allowed: np.ndarray, rows: np.ndarray
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`sparse_scored` as arrays: the rows' purchases over the model's columns, then each kept
    pair's position in `rows`, model column, score and place (0 = best), by row and place.
    """
    x = purchases.matrix[rows][:, model.columns].tocsr()
    x.sort_indices()
    # a CSR product: its cells come by row, so the rows need no sort below
    scores = (x @ model.weights).tocoo()
    r, c, v = scores.row.astype(np.int64), scores.col.astype(np.int64), scores.data
    width = np.int64(model.columns.size)
    # the purchases' keys are ascending (sorted CSR cells, by row): a binary search finds the
    # customers' own products, far cheaper than `np.isin`'s sort of both sides
    owned_keys = np.repeat(np.arange(x.shape[0], dtype=np.int64), np.diff(x.indptr)) * width + x.indices
    keys = r * width + c
    at = np.minimum(np.searchsorted(owned_keys, keys), max(owned_keys.size - 1, 0))
    owned = owned_keys[at] == keys if owned_keys.size else np.zeros(keys.size, bool)
    keep = (v > 0) & np.asarray(allowed)[model.columns][c] & ~owned
    # best score first within each row, ties to the first column, the row's `top` first cells
    # only: the rows come in order, so each row's few hundred cells are sorted apart (polars, on
    # all cores), a third faster than one sort of the millions of cells and several times faster
    # than `np.lexsort`
    ranked = (
        pl.DataFrame({"r": r[keep], "c": c[keep], "v": v[keep]})
        .group_by("r", maintain_order=True)
        .agg(pl.col("c", "v").sort_by(["v", "c"], descending=[True, False]).head(top))
        .explode("c", "v")
    )
    r, c, v = (ranked[name].to_numpy() for name in ("r", "c", "v"))
    starts = np.flatnonzero(np.r_[True, np.diff(r) != 0]) if r.size else np.empty(0, np.int64)
    place = np.arange(r.size) - np.repeat(starts, np.diff(np.r_[starts, r.size]))
    return x, r, c, v, place


def anchor_of(purchases: PurchaseMatrix, model: ItemModel, pairs: pl.DataFrame) -> pl.Series:
    """The anchor (see `sparse_anchors`) of each customer_id, sku pair of `pairs`, in their order.

    Every pair's customer must have a row of `purchases` and its sku a column of the model.
    """
    rows = pairs.select("customer_id").join(
        codes_of(purchases.customers, "customer_id", "row"),
        on="customer_id",
        how="left",
        maintain_order="left",
    )["row"]
    cols = pairs.select("sku").join(
        codes_of(purchases.items.gather(model.columns), "sku", "col"),
        on="sku",
        how="left",
        maintain_order="left",
    )["col"]
    r, c = rows.to_numpy(), cols.to_numpy()
    x = purchases.matrix[r][:, model.columns].tocsr()
    x.sort_indices()
    found = sparse_anchors(x, model.weights, np.arange(r.size), c)
    return purchases.items.gather(model.columns[found]).rename("anchor")


def sparse_anchors(
    x: sp.csr_matrix, weights: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """For each (row, col) pair, the row's column i with the largest x[row, i] * weights[i, col].

    As `item_scoring.row_anchors`, with the weights looked up by a binary search of their sorted
    (row, column) keys instead of scipy's element indexing (slow for millions of pairs).
    """
    if rows.size == 0:
        return np.empty(0, np.int64)
    pair, cells, items, targets = anchor_cells(x, rows, cols)
    w = weights.tocsr()
    w.sort_indices()
    n = np.int64(w.shape[1])
    keys = np.repeat(np.arange(w.shape[0], dtype=np.int64), np.diff(w.indptr)) * n + w.indices
    wanted = items * n + targets
    at = np.minimum(np.searchsorted(keys, wanted), max(keys.size - 1, 0))
    found = keys[at] == wanted if keys.size else np.zeros(wanted.size, bool)
    return best_anchors(pair, items, x.data[cells] * np.where(found, w.data[at] if keys.size else 0.0, 0.0))


def fit_rules(
    purchases: PurchaseMatrix,
    *,
    min_together: int = RULE_MIN_TOGETHER,
    per_item: int = RULES_PER_ITEM,
    counts: np.ndarray | None = None,
) -> ItemModel:
    """Co-purchase rules i -> j as an item model: weight confidence(i -> j) = c(i, j) / n_i.

    c counts customers who bought both and n the buyers of each; a rule is kept when at least
    `min_together` customers bought both and its lift (confidence over j's share of buyers) is
    above 1; each product keeps its `per_item` most confident rules. Built by blocks of products;
    `counts`: c as `item_models.co_purchase_counts` gives it, when computed already.
    """
    rows_of = co_purchase_rows(purchases, counts)
    buyers = purchases.buyers().astype(np.float64)
    customers = max(1, purchases.matrix.shape[0])
    n = buyers.size
    size = max(1, _BLOCK_CELLS // max(1, n))
    rows, cols, vals = [np.empty(0, np.int64)], [np.empty(0, np.int64)], [np.empty(0)]
    for start in range(0, n, size):
        stop = min(start + size, n)
        together = rows_of(start, stop)
        together[np.arange(stop - start), np.arange(start, stop)] = 0.0
        confidence = together / np.maximum(buyers[start:stop, np.newaxis], 1.0)
        lift = confidence * customers / np.maximum(buyers[np.newaxis, :], 1.0)
        confidence[(together < min_together) | ~(lift > 1.0)] = -np.inf
        r, c, v = top_per_row(confidence, per_item)
        rows.append(r + start)
        cols.append(c)
        vals.append(v)
    weights = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    return ItemModel(method="rules", columns=np.arange(n), weights=weights)
