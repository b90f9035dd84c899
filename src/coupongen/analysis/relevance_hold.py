"""New to the customer, not a substitute: a collaborative model's lists with substitutes held back.

A product of a type the customer bought in the look-back window (another brand of the eggs they
buy) is a discount on what they buy anyway. With `ModelSpec.max_substitute_share` set, the model
scores `HELD_DEPTH` times as many products per customer as the offers, the substitutes among
them have their scores multiplied by one factor for the whole night (found on a seeded sample of
the customers, `ranking_caps.substitute_discount`), and each customer keeps their best offers
under that order: at most the share of the night's offers are substitutes. A customer whose best
products are all substitutes may keep several, one with good new types none. The learned ranking
holds its own candidates the same way (``reranker_order``).

Both lists scored elsewhere (the Spark engine's, `ScoredHold`) and a model fitted here
(`FittedHold`, scored a block of customers at a time) are held in the purchase matrix's integer
codes by one function (`held_places`), with the same result.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import polars as pl

from coupongen.analysis.item_models import ItemModel, ModelSpec, PurchaseMatrix, codes_of
from coupongen.analysis.item_scoring import row_anchors, score_rows
from coupongen.analysis.ranking_caps import substitute_discount
from coupongen.analysis.ranking_sources import product_types

HELD_DEPTH = 4
"""Products scored per customer per offer when substitutes are held back: room for new types
behind the substitutes a model puts first (on a real grocery history, 15 and 20 per customer for
5 offers found as many first purchases as 30; 20 leaves room where more of the best are
substitutes)."""

LISTS = pl.Schema(
    {"customer_id": pl.String, "sku": pl.String, "rank": pl.Int32, "score": pl.Float64, "anchor": pl.String}
)
"""A model's ranked products: `item_scoring.score_customers`' columns."""

BLOCK_CUSTOMERS = 200_000
"""Customers scored and held at a time: bounds the memory of the deeper lists."""


def scoring_depth(spec: ModelSpec, top_n: int) -> int:
    """Products to score per customer for `top_n` offers under the spec's hold."""
    return HELD_DEPTH * top_n if spec.max_substitute_share is not None else top_n


def hold_factor(sample: pl.DataFrame, top_n: int, share: float) -> float:
    """The night's factor on substitutes' scores, found on a sample's flagged lists
    (customer_id, score, substitute; best first per customer).
    """
    if sample.is_empty():
        return 1.0
    return substitute_discount(sample, top_n, share)


@dataclass(frozen=True)
class BoughtTypes:
    """The product types each customer bought in the look-back window, in the purchase matrix's
    codes: `item_type` is each matrix column's type code (-1 without a type), `keys` the sorted
    codes row * `types` + type of every type each customer (matrix row) bought; `sku_type` (sku,
    t) the type code of every product.
    """

    item_type: np.ndarray
    types: int
    keys: np.ndarray
    sku_type: pl.DataFrame

    @classmethod
    def of(cls, purchases: PurchaseMatrix, products: pl.DataFrame) -> BoughtTypes:
        """The types of `purchases` (the window's matrix), the type of a product from `products`."""
        types = product_types(products).select("sku", "type")
        codes = codes_of(types["type"].unique(), "type", "t")
        sku_type = types.join(codes, on="type").select("sku", "t")
        item_type = (
            pl.DataFrame({"sku": purchases.items})
            .join(sku_type, on="sku", how="left", maintain_order="left")["t"]
            .fill_null(-1)
            .to_numpy()
            .astype(np.int64)
        )
        n = max(1, codes.height)
        matrix = purchases.matrix
        rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
        kinds = item_type[matrix.indices]
        known = kinds >= 0
        keys = pl.Series(rows[known] * n + kinds[known]).unique().sort().to_numpy()
        return cls(item_type, n, keys, sku_type)

    def substitute(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Per pair (matrix row, matrix column): the column's type is one the row's customer bought."""
        return self.of_type(rows, self.item_type[items])

    def of_type(self, rows: np.ndarray, kind: np.ndarray) -> np.ndarray:
        """Per pair (matrix row, type code, -1 for none): the row's customer bought that type."""
        wanted = rows * self.types + kind
        if not self.keys.size:
            return np.zeros(rows.size, bool)
        at = np.minimum(np.searchsorted(self.keys, wanted), self.keys.size - 1)
        return (kind >= 0) & (self.keys[at] == wanted)


def held_places(
    rows: np.ndarray, scores: np.ndarray, substitute: np.ndarray, factor: float, top_n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs each row keeps with substitutes' scores times `factor`: (their indices in held
    order, their places from 0). The pairs come by row and best first; equal held scores keep
    that order (the model's score, then sku).
    """
    order = (
        pl.DataFrame({"r": rows, "o": np.where(substitute, scores * factor, scores)})
        .with_row_index("i")
        .sort(["r", "o", "i"], descending=[False, True, False])["i"]
        .to_numpy()
    )
    held = rows[order]
    starts = np.flatnonzero(np.r_[True, held[1:] != held[:-1]]) if held.size else np.empty(0, np.int64)
    place = np.arange(held.size) - np.repeat(starts, np.diff(np.r_[starts, held.size]))
    keep = place < top_n
    return order[keep], place[keep]


# --- lists scored elsewhere (the Spark engine's relevance stage) -----------------------------------


@dataclass(frozen=True)
class ScoredHold:
    """Lists scored elsewhere (`LISTS`' columns, every customer with a matrix row) held back."""

    purchases: PurchaseMatrix
    bought: BoughtTypes

    def coded(self, lists: pl.DataFrame | pl.LazyFrame) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
        """`lists` by customer and rank, their matrix rows and substitute flags (each customer has
        a row: they bought in the window).
        """
        return self._coded(lists.lazy().sort("customer_id", "rank").collect())

    def _coded(self, ordered: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
        """`coded` of lists already in order."""
        codes = (
            ordered.select("customer_id", "sku")
            .join(
                codes_of(self.purchases.customers, "customer_id", "row"),
                on="customer_id",
                how="left",
                maintain_order="left",
            )
            .join(self.bought.sku_type, on="sku", how="left", maintain_order="left")
        )
        rows = codes["row"].to_numpy().astype(np.int64)
        kind = codes["t"].fill_null(-1).to_numpy().astype(np.int64)
        return ordered, rows, self.bought.of_type(rows, kind)

    def sample(self, lists: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """customer_id, score, substitute of the lists: what `hold_factor` reads."""
        ordered, _, substitute = self.coded(lists)
        return ordered.select("customer_id", "score").with_columns(pl.Series("substitute", substitute))

    def lists(self, lists: pl.DataFrame | pl.LazyFrame, top_n: int, factor: float) -> pl.DataFrame:
        """Each customer's first `top_n` of `lists` with substitutes' scores times `factor`.

        The lists are put in order once (lazy lists are computed in that one copy) and held
        `BLOCK_CUSTOMERS` customers at a time, which bounds the memory of the deeper lists.
        """
        ordered = lists.lazy().sort("customer_id", "rank").collect()
        ids = ordered["customer_id"]
        firsts = ids.unique(maintain_order=True).gather_every(BLOCK_CUSTOMERS)
        bounds = [*ids.search_sorted(firsts, side="left").to_list(), ordered.height]
        parts = [self._held(ordered.slice(lo, hi - lo), top_n, factor) for lo, hi in pairwise(bounds)]
        return pl.concat(parts) if parts else LISTS.to_frame()

    def _held(self, ordered: pl.DataFrame, top_n: int, factor: float) -> pl.DataFrame:
        """`lists` of customers in order, held (see `lists`)."""
        ordered, rows, substitute = self._coded(ordered)
        kept, place = held_places(rows, ordered["score"].to_numpy(), substitute, factor, top_n)
        return (
            ordered.select(LISTS.names())[kept]
            .with_columns(pl.Series("rank", place + 1, dtype=pl.Int32))
            .cast(LISTS)
        )


# --- a model fitted here ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FittedHold:
    """A fitted model's lists held back, scored and held in the purchase matrix's codes."""

    purchases: PurchaseMatrix
    model: ItemModel
    allowed: np.ndarray
    bought: BoughtTypes

    def scored(self, rows: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The model's best `depth` of each matrix row of `rows` (no anchors): (matrix rows, model
        columns, scores, substitute), by row and best first.
        """
        r, c, s, _ = score_rows(
            self.purchases, self.model, top_n=depth, allowed=self.allowed, rows=rows, anchors=False
        )
        mrow = rows[r]
        return mrow, c, s, self.bought.substitute(mrow, self.model.columns[c])

    def sample(self, rows: np.ndarray, depth: int) -> pl.DataFrame:
        """customer_id, score, substitute of the rows' lists: what `hold_factor` reads."""
        mrow, _, s, substitute = self.scored(rows, depth)
        return pl.DataFrame(
            {"customer_id": self.purchases.customers.gather(mrow), "score": s, "substitute": substitute}
        )

    def lists(self, rows: np.ndarray, depth: int, top_n: int, factor: float) -> pl.DataFrame:
        """Each row's first `top_n` with substitutes' scores times `factor` (`LISTS`' columns, the
        anchor named for the kept offers only), `BLOCK_CUSTOMERS` rows at a time.
        """
        names = self.model.columns
        parts = []
        for start in range(0, rows.size, BLOCK_CUSTOMERS):
            mrow, c, s, substitute = self.scored(rows[start : start + BLOCK_CUSTOMERS], depth)
            kept, place = held_places(mrow, s, substitute, factor, top_n)
            mrow, c, s = mrow[kept], c[kept], s[kept]
            x = self.purchases.matrix[mrow][:, names]
            anchor = row_anchors(x, self.model.weights, np.arange(mrow.size), c)
            parts.append(
                pl.DataFrame(
                    {
                        "customer_id": self.purchases.customers.gather(mrow),
                        "sku": self.purchases.items.gather(names[c]),
                        "rank": (place + 1).astype(np.int32),
                        "score": s,
                        "anchor": self.purchases.items.gather(names[anchor]),
                    }
                )
            )
        return pl.concat(parts) if parts else pl.DataFrame(schema=LISTS)
