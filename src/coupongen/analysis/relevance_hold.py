"""New to the customer, not a substitute: a collaborative model's lists with substitutes held back.

A product of a type the customer bought in the look-back window (another brand of the eggs they
buy) is a discount on what they buy anyway. With `ModelSpec.max_substitute_share` set, the model
scores `HELD_DEPTH` times as many products per customer as the offers, the substitutes among
them have their scores multiplied by one factor for the whole night (found on a seeded sample of
the customers, `ranking_caps.substitute_discount`), and each customer keeps their best offers
under that order: at most the share of the night's offers are substitutes. A customer whose best
products are all substitutes may keep several, one with good new types none. The learned ranking
holds its own candidates the same way (``reranker_order``).

Lists scored elsewhere (the Spark engine's) are held as frames (`flagged`, `held`); a model
fitted here is scored and held in matrix codes, a block of customers at a time (`FittedHold`),
with the same result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from coupongen.analysis.item_models import ItemModel, ModelSpec, PurchaseMatrix, codes_of
from coupongen.analysis.item_scoring import row_anchors, score_rows
from coupongen.analysis.ranking_caps import exposure_capped, substitute_discount
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


# --- lists scored elsewhere, as frames --------------------------------------------------------------


def bought_types(bought: pl.DataFrame, products: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(sku -> type, the customer's types bought in the look-back window: customer_id, type)."""
    types = product_types(products).select("sku", "type")
    mine = (
        bought.filter(pl.col("in_lookback"))
        .select("customer_id", "sku")
        .join(types, on="sku", how="inner")
        .select("customer_id", "type")
        .unique()
    )
    return types, mine


def flagged(ranked: pl.DataFrame, types: pl.DataFrame, mine: pl.DataFrame) -> pl.DataFrame:
    """`ranked` (customer_id, sku, ...) with `substitute`: the sku's type is one the customer buys."""
    return (
        ranked.join(types, on="sku", how="left", maintain_order="left")
        .join(
            mine.with_columns(pl.lit(True).alias("substitute")),
            on=["customer_id", "type"],
            how="left",
            maintain_order="left",
        )
        .with_columns(pl.col("substitute").fill_null(False))
        .drop("type")
    )


def held(ranked: pl.DataFrame, top_n: int, factor: float) -> pl.DataFrame:
    """Each customer's first `top_n` of `ranked` (customer_id, sku, rank, positive scores,
    `substitute` flagged) with substitutes' scores times `factor`; `rank` renumbered from 1.
    """
    placed = exposure_capped(
        ranked.sort("customer_id", "rank").drop("rank"),
        top_n,
        substitute_share=None,
        product_share=1.0,
        substitute_factor=factor,
    )
    return placed.drop("substitute")


# --- a model fitted here, in matrix codes ------------------------------------------------------------


@dataclass(frozen=True)
class FittedHold:
    """A fitted model's lists held back, in the purchase matrix's codes.

    item_type: each matrix column's type code (-1 without a type); bought: the sorted codes
    row * types + type of every type each customer (matrix row) bought in the window.
    """

    purchases: PurchaseMatrix
    model: ItemModel
    allowed: np.ndarray
    item_type: np.ndarray
    types: int
    bought: np.ndarray

    @classmethod
    def of(
        cls, purchases: PurchaseMatrix, model: ItemModel, allowed: np.ndarray, products: pl.DataFrame
    ) -> FittedHold:
        """The hold of `model` on `purchases` (the window's matrix), types from `products`."""
        types = product_types(products).select("sku", "type")
        codes = codes_of(types["type"].unique(), "type", "t")
        item_type = (
            pl.DataFrame({"sku": purchases.items})
            .join(types, on="sku", how="left", maintain_order="left")
            .join(codes, on="type", how="left", maintain_order="left")["t"]
            .fill_null(-1)
            .to_numpy()
            .astype(np.int64)
        )
        n = max(1, codes.height)
        matrix = purchases.matrix
        rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
        kinds = item_type[matrix.indices]
        known = kinds >= 0
        bought = pl.Series(rows[known] * n + kinds[known]).unique().sort().to_numpy()
        return cls(purchases, model, allowed, item_type, n, bought)

    def scored(self, rows: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The model's best `depth` of each matrix row of `rows` (no anchors): (matrix rows, model
        columns, scores, substitute), by row and best first.
        """
        r, c, s, _ = score_rows(
            self.purchases, self.model, top_n=depth, allowed=self.allowed, rows=rows, anchors=False
        )
        mrow = rows[r]
        kind = self.item_type[self.model.columns[c]]
        wanted = mrow * self.types + kind
        at = np.minimum(np.searchsorted(self.bought, wanted), max(self.bought.size - 1, 0))
        substitute = (kind >= 0) & (self.bought[at] == wanted) if self.bought.size else np.zeros(r.size, bool)
        return mrow, c, s, substitute

    def sample(self, rows: np.ndarray, depth: int) -> pl.DataFrame:
        """customer_id, score, substitute of the rows' lists: what `hold_factor` reads."""
        mrow, _, s, substitute = self.scored(rows, depth)
        return pl.DataFrame(
            {"customer_id": self.purchases.customers.gather(mrow), "score": s, "substitute": substitute}
        )

    def lists(self, rows: np.ndarray, depth: int, top_n: int, factor: float) -> pl.DataFrame:
        """Each row's first `top_n` with substitutes' scores times `factor` (`score_customers`'
        columns, the anchor named for the kept offers only), `BLOCK_CUSTOMERS` rows at a time.
        """
        parts = []
        for start in range(0, rows.size, BLOCK_CUSTOMERS):
            block = rows[start : start + BLOCK_CUSTOMERS]
            mrow, c, s, substitute = self.scored(block, depth)
            # equal held scores keep the model's order (its score, then sku)
            order = (
                pl.DataFrame({"r": mrow, "o": np.where(substitute, s * factor, s)})
                .with_row_index("i")
                .sort(["r", "o", "i"], descending=[False, True, False])["i"]
                .to_numpy()
            )
            mrow, c, s = mrow[order], c[order], s[order]
            starts = (
                np.flatnonzero(np.r_[True, mrow[1:] != mrow[:-1]]) if mrow.size else np.empty(0, np.int64)
            )
            place = np.arange(mrow.size) - np.repeat(starts, np.diff(np.r_[starts, mrow.size]))
            keep = place < top_n
            mrow, c, s, place = mrow[keep], c[keep], s[keep], place[keep]
            x = self.purchases.matrix[mrow][:, self.model.columns]
            anchor = row_anchors(x, self.model.weights, np.arange(mrow.size), c)
            names = self.model.columns
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
