"""Collaborative item models: learn from every customer's purchases which products go together.

The customer x product purchase matrix feeds EASE (Steck's closed-form linear model, the default)
or item-kNN; a fitted model scores each customer's unbought products and names the purchase that
contributes most, so a recommendation can say why it was chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from coupongen.inputs.contract import require_columns

TOP_N = 5
"""Recommendations kept per customer by default."""

WEIGHTINGS = ("binary", "recency")
"""How a purchase counts in the customer x product matrix: 1, or halving every half-life since."""

# Dense score cells per block of customers: bounds the memory of scoring whatever the row count.
BLOCK_CELLS = 4_000_000
_GRAM_ROWS = 100_000
ARGMAX_TOP = 24


@dataclass(frozen=True)
class ModelSpec:
    """The ranking model and its settings.

    method: "ease" (Steck's closed-form linear item model) or "knn" (item-kNN, cosine on
    co-purchase). weighting: "binary" (1 per product bought in the look-back window) or "recency"
    (0.5 ** (days since last bought / half_life_days)). ease_lambda: EASE's L2 penalty; larger
    values pull towards popular co-purchases. max_items: EASE models the most-bought products
    only (its item x item matrix is dense). neighbours: item-kNN keeps this many most similar
    products per product. popularity_discount: item-kNN divides a product's similarity by its
    buyer count to this power, so the most popular products do not crowd out the rest. The
    defaults ranked best in backtests on the bundled data (docs/relevance.md).
    max_substitute_share: the offers' order, not the model: at most this share of the offers are
    products of a type the customer already buys (``relevance_hold``); None holds none back.
    """

    method: str = "ease"
    weighting: str = "binary"
    half_life_days: float = 120.0
    ease_lambda: float = 200.0
    max_items: int = 3000
    neighbours: int = 50
    popularity_discount: float = 0.25
    max_substitute_share: float | None = None

    def __post_init__(self) -> None:
        if self.method not in FITTERS:
            raise ValueError(f"Unknown ranking method {self.method!r}; allowed: {', '.join(FITTERS)}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"Unknown weighting {self.weighting!r}; allowed: {', '.join(WEIGHTINGS)}")
        if not self.half_life_days > 0:
            raise ValueError(f"half_life_days must be > 0, got {self.half_life_days}")
        if not self.ease_lambda > 0:
            raise ValueError(f"ease_lambda must be > 0, got {self.ease_lambda}")
        if self.max_items < 1 or self.neighbours < 1:
            raise ValueError("max_items and neighbours must be at least 1")
        if self.popularity_discount < 0:
            raise ValueError(f"popularity_discount must be >= 0, got {self.popularity_discount}")
        if self.max_substitute_share is not None and not 0.0 <= self.max_substitute_share <= 1.0:
            raise ValueError(f"max_substitute_share must be within 0 and 1, got {self.max_substitute_share}")


@dataclass(frozen=True)
class PurchaseMatrix:
    """Customers x products: who bought what in the look-back window.

    matrix: CSR, float64, one row per customer of `customers`, one column per product of `items`
    (both sorted); a cell is the purchase's weight, absent when not bought in the window.
    """

    matrix: sp.csr_matrix
    customers: pl.Series
    items: pl.Series

    def buyers(self) -> np.ndarray:
        """Number of customers who bought each product (per column)."""
        return np.bincount(self.matrix.indices, minlength=self.matrix.shape[1])


@dataclass(frozen=True)
class ItemModel:
    """A fitted item x item model: scores = X[:, columns] @ weights.

    columns: the matrix columns (products) the model covers, ascending. weights: square over
    those columns, a dense array (EASE) or a CSR matrix (item-kNN); weights[i, j] is what buying i
    adds to the score of j, and the diagonal is zero.
    """

    method: str
    columns: np.ndarray
    weights: np.ndarray | sp.csr_matrix


# --- the matrix ------------------------------------------------------------------------------------


def purchase_matrix(
    bought: pl.DataFrame,
    *,
    weighting: str = "binary",
    half_life_days: float = 120.0,
    items: pl.Series | None = None,
) -> PurchaseMatrix:
    """Build the customer x product matrix from `features.customer_products`-style facts.

    Only the rows bought within the look-back window (`in_lookback`) count. With weighting
    "recency" a purchase weighs 0.5 ** (days_since_last / half_life_days). The columns are the
    products bought in the window, or `items` (sorted, distinct) when given: a matrix of some
    customers numbered like the matrix of all (products outside `items` are left out).

    Raises:
        InputError: `bought` lacks a required column.
        ValueError: unknown weighting.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"Unknown weighting {weighting!r}; allowed: {', '.join(WEIGHTINGS)}")
    needed = ["customer_id", "sku", "in_lookback"] + (["days_since_last"] if weighting == "recency" else [])
    require_columns(bought.columns, sorted(needed), source="bought frame")
    recent = bought.filter(pl.col("in_lookback")).select(needed)
    in_order = _coded_in_order(recent) if items is None else None
    if in_order is not None:
        coded, customers, items = in_order
    else:
        recent = recent.unique(["customer_id", "sku"])
        customers = recent["customer_id"].unique().sort()
        items = recent["sku"].unique().sort() if items is None else items.rename("sku")
        coded = recent.join(codes_of(customers, "customer_id", "row"), on="customer_id").join(
            codes_of(items, "sku", "col"), on="sku"
        )
    if weighting == "recency":
        values = np.power(0.5, coded["days_since_last"].cast(pl.Float64).to_numpy() / half_life_days)
    else:
        values = np.ones(coded.height)
    matrix = sp.csr_matrix(
        (values, (coded["row"].to_numpy(), coded["col"].to_numpy())),
        shape=(customers.len(), items.len()),
        dtype=np.float64,
    )
    matrix.sort_indices()
    return PurchaseMatrix(matrix=matrix, customers=customers, items=items)


def _coded_in_order(recent: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series, pl.Series] | None:
    """``recent`` with its matrix row and column numbers, its customers and its items, when it is
    sorted by customer and sku with each pair once (`features.customer_products`' order); else None.

    Rows are then numbered by runs of customers, without hashing or sorting their ids again.
    """
    ids = recent["customer_id"]
    if recent.is_empty() or ids.null_count() or recent["sku"].null_count() or not ids.is_sorted():
        return None
    items = recent["sku"].unique().sort()
    coded = recent.with_columns(ids.rle_id().cast(pl.Int64).alias("row")).join(
        codes_of(items, "sku", "col"), on="sku", how="left", maintain_order="left"
    )
    rows, cols = coded["row"].to_numpy(), coded["col"].to_numpy()
    key = (rows.astype(np.uint64) << np.uint64(32)) | cols.astype(np.uint64)
    if not bool(np.all(key[1:] > key[:-1])):
        return None
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    return coded, ids.gather(starts), items


# --- models ----------------------------------------------------------------------------------------


def fit_ease(
    purchases: PurchaseMatrix, *, lam: float = 200.0, max_items: int = 3000, counts: np.ndarray | None = None
) -> ItemModel:
    """EASE (Steck 2019) on the `max_items` most-bought products.

    G = X'X + lam I, P = G^-1, B[i, j] = -P[i, j] / P[j, j] and B[j, j] = 0; the score of j for
    a customer is sum over their products i of x_i B[i, j]. One dense matrix of max_items^2,
    fitted in seconds for a few thousand products, whatever the number of customers. `counts`:
    the matrix's `co_purchase_counts`, when computed already; X'X is read from them when every
    purchase weighs 1 (they are then the same numbers).
    """
    columns = ease_columns(purchases.buyers(), max_items)
    if counts is not None and bool(np.all(purchases.matrix.data == 1.0)):
        gram = counts[np.ix_(columns, columns)]
    else:
        gram = _gram(purchases.matrix[:, columns])
    return ease_from_gram(gram, columns, lam=lam)


def co_purchase_counts(purchases: PurchaseMatrix) -> np.ndarray:
    """Per pair of products (matrix columns), the customers who bought both (dense float64; the
    diagonal holds each product's buyers): what item-kNN, the co-purchase rules and EASE over
    binary purchases each count, counted once for a caller that fits several of them.
    """
    by_item, binary = _by_item(purchases)
    n = binary.shape[1]
    counts = np.zeros((n, n))  # toarray adds into its `out`
    size = max(1, BLOCK_CELLS // max(1, n))
    for start in range(0, n, size):
        (by_item[start : start + size] @ binary).toarray(out=counts[start : start + size])
    return counts


def co_purchase_rows(
    purchases: PurchaseMatrix, counts: np.ndarray | None = None
) -> Callable[[int, int], np.ndarray]:
    """Rows start:stop of `co_purchase_counts` (a new dense array each time), each block counted
    when asked for, or copied from ``counts`` when they were computed already.
    """
    if counts is not None:
        given = counts
        return lambda start, stop: given[start:stop].copy()
    by_item, binary = _by_item(purchases)
    return lambda start, stop: (by_item[start:stop] @ binary).toarray()


def _by_item(purchases: PurchaseMatrix) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The purchases with every weight 1, by product (rows) and by customer."""
    binary = purchases.matrix.copy()
    binary.data[:] = 1.0
    return binary.T.tocsr(), binary


def ease_columns(buyers: np.ndarray, max_items: int) -> np.ndarray:
    """The matrix columns EASE models: the `max_items` most-bought products (`buyers` per
    column), ties to the first in sku order, kept in sku order.
    """
    return np.sort(np.lexsort((np.arange(buyers.size), -buyers))[:max_items])


def ease_from_gram(gram: np.ndarray, columns: np.ndarray, *, lam: float) -> ItemModel:
    """EASE's weights from the Gram matrix X'X over `columns` (dense, overwritten): the solve of
    `fit_ease`, for a Gram matrix summed elsewhere (by partitions on Spark).
    """
    gram[np.diag_indices_from(gram)] += lam
    precision = np.linalg.inv(gram)
    weights = -precision / np.diag(precision)[np.newaxis, :]
    np.fill_diagonal(weights, 0.0)
    return ItemModel(method="ease", columns=columns, weights=weights)


def fit_item_knn(
    purchases: PurchaseMatrix,
    *,
    neighbours: int = 50,
    popularity_discount: float = 0.25,
    counts: np.ndarray | None = None,
) -> ItemModel:
    """Item-kNN: cosine similarity of products over their buyers, the top neighbours of each.

    sim(i, j) = c(i, j) / sqrt(n_i n_j), where c counts customers who bought both and n the
    buyers of each; each product keeps its `neighbours` most similar products, and the weight of
    j is divided by n_j ** popularity_discount. The score of j for a customer is the sum of the
    weights from their products. Built by blocks of products, so memory stays at one block of
    co-purchase counts plus the kept neighbours; `counts`: the matrix's `co_purchase_counts`,
    when computed already (read instead of counted again).
    """
    return knn_from_counts(
        co_purchase_rows(purchases, counts),
        purchases.buyers(),
        neighbours=neighbours,
        popularity_discount=popularity_discount,
    )


def knn_from_counts(
    count_rows: Callable[[int, int], np.ndarray],
    buyers: np.ndarray,
    *,
    neighbours: int = 50,
    popularity_discount: float = 0.25,
) -> ItemModel:
    """Item-kNN's weights from co-purchase counts: `count_rows(start, stop)` gives those rows of
    the product x product matrix of customers who bought both (dense float64), `buyers` the
    buyers of each product. The neighbour selection of `fit_item_knn`, for counts summed
    elsewhere (by partitions on Spark).
    """
    buyers = np.asarray(buyers).astype(np.float64)
    discount = np.power(np.maximum(buyers, 1.0), popularity_discount)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    n = buyers.size
    size = max(1, BLOCK_CELLS // max(1, n))
    for start in range(0, n, size):
        stop = min(start + size, n)
        counts = count_rows(start, stop)
        with np.errstate(divide="ignore", invalid="ignore"):
            sim = counts / np.sqrt(np.outer(buyers[start:stop], buyers))
        sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
        sim[~(sim > 0)] = -np.inf
        r, c, v = top_per_row(sim, neighbours)
        rows.append(r + start)
        cols.append(c)
        vals.append(v / discount[c])
    weights = sp.csr_matrix(
        (
            np.concatenate([np.empty(0), *vals]),
            (
                np.concatenate([np.empty(0, np.int64), *rows]),
                np.concatenate([np.empty(0, np.int64), *cols]),
            ),
        ),
        shape=(n, n),
    )
    return ItemModel(method="knn", columns=np.arange(n), weights=weights)


FITTERS: dict[str, Callable[[PurchaseMatrix, ModelSpec, np.ndarray | None], ItemModel]] = {
    "ease": lambda p, spec, counts: fit_ease(
        p, lam=spec.ease_lambda, max_items=spec.max_items, counts=counts
    ),
    "knn": lambda p, spec, counts: fit_item_knn(
        p, neighbours=spec.neighbours, popularity_discount=spec.popularity_discount, counts=counts
    ),
}
"""Ranking methods by name (the values `ModelSpec.method` allows)."""


def fit(purchases: PurchaseMatrix, spec: ModelSpec, *, counts: np.ndarray | None = None) -> ItemModel:
    """Fit the model `spec` names on the purchase matrix (`counts`: its `co_purchase_counts`, when
    computed already).
    """
    return FITTERS[spec.method](purchases, spec, counts)


# --- helpers ---------------------------------------------------------------------------------------


def top_per_row(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k largest finite values of each row: (rows, cols, values), by row, value desc, col.

    Overwrites `values`. Ties go to the first column. For small k, k passes of argmax (which
    returns the first maximum) are far faster than a partition of the whole row.
    """
    n_rows, n_cols = values.shape
    k = min(k, n_cols)
    if n_rows == 0 or k < 1:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    if k > ARGMAX_TOP:
        return top_by_partition(values, k)
    rows = np.arange(n_rows)
    cols = np.empty((n_rows, k), np.int64)
    vals = np.empty((n_rows, k))
    for place in range(k):
        cols[:, place] = np.argmax(values, axis=1)
        vals[:, place] = values[rows, cols[:, place]]
        values[rows, cols[:, place]] = -np.inf
    keep = np.isfinite(vals)
    return np.broadcast_to(rows[:, np.newaxis], cols.shape)[keep], cols[keep], vals[keep]


def top_by_partition(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`top_per_row` for a large k: select by the k-th largest value, then sort the survivors."""
    n_cols = values.shape[1]
    finite = np.isfinite(values)
    low = values[finite].min() if finite.any() else 0.0
    # distinct stand-ins for the missing values: a row of equal values slows the partition down
    filled = np.where(finite, values, low - 1.0 - np.arange(n_cols) / n_cols)
    kth = np.partition(filled, n_cols - k, axis=1)[:, n_cols - k]
    rows, cols = np.nonzero((filled >= kth[:, np.newaxis]) & finite)
    return first_per_row(rows, cols, values[rows, cols], k)


def first_per_row(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells (rows, cols, vals) sorted by row, best value first (ties: column), at most `k`
    per row.
    """
    order = np.lexsort((cols, -vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    starts = np.flatnonzero(np.r_[True, np.diff(rows) != 0]) if rows.size else np.empty(0, np.int64)
    position = np.arange(rows.size) - np.repeat(starts, np.diff(np.r_[starts, rows.size]))
    keep = position < k
    return rows[keep], cols[keep], vals[keep]


def _gram(x: sp.csr_matrix) -> np.ndarray:
    """X'X as a dense float64 array, accumulated over row blocks of X."""
    gram = np.zeros((x.shape[1], x.shape[1]))
    for start in range(0, x.shape[0], _GRAM_ROWS):
        part = x[start : start + _GRAM_ROWS]
        gram += (part.T @ part).toarray()
    return gram


def codes_of(values: pl.Series, name: str, index: str) -> pl.DataFrame:
    """The distinct ``values`` (column ``name``) numbered from 0 in column ``index`` (i64)."""
    return pl.DataFrame({name: values}).with_row_index(index).select(name, pl.col(index).cast(pl.Int64))
