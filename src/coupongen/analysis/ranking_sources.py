"""Cross-sell candidates: several sources each propose a few unbought products per customer.

A learned re-ranker (``reranker``) orders the union; this module only gathers it. Every source
gives its top-k products per customer among the promotable ones the customer did not buy in the
look-back window: the collaborative models (EASE and item-kNN), co-purchase rules (the confidence
of "bought i, so bought j" summed over the customer's products, rules of a lift above 1),
popularity among customers of the same main category (similar customers), popularity overall,
and products on the rise (most new buyers in the recent weeks). Each pair carries every source's
score and rank (rank k+1 and score 0 where a source did not propose it), and the list of each
customer is capped, so the work grows with customers x cap, never customers x catalogue.

The history may be cut at an earlier day (`history_before`): the re-ranker trains on candidates
built as of a day inside the history and labelled with what customers took up afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
import polars as pl

from coupongen.analysis import ranking_codes as coded
from coupongen.analysis.item_models import (
    ItemModel,
    ModelSpec,
    PurchaseMatrix,
    co_purchase_counts,
    fit,
    purchase_matrix,
)
from coupongen.analysis.item_scoring import Spread, pair_scores, score_rows, score_spread, spread_of
from coupongen.analysis.ranking_codes import Block, Codes, Part
from coupongen.analysis.ranking_models import anchor_of, fit_rules, sparse_anchors, sparse_rows

SOURCES = ("ease", "knn", "rules", "segment", "popular", "rising")
"""The candidate sources, in the order their columns appear."""

BROAD_SHRINK = 20.0
"""The penalty of a broad EASE model, in mean buyers of the products it models. Shrunk that hard,
EASE leans towards what the customers who share purchases with the customer buy most (a large
penalty's limit is the co-purchase counts), where the first (`ModelSpec.ease_lambda`) keeps
sharper, rarer associations. It proposes nothing: it scores every candidate the sources propose
(`broad_score`), and the learned ranking weighs the two. A penalty relative to the buyers shrinks a
small and a large retailer's model alike. The score is also given as a standard score among every
promotable product the model covers and the customer did not buy (`broad_z`): a customer of many
purchases scores every product higher, and the standard score says how far the candidate stands
out of the customer's own scores, as its rank among every product would."""

RECENT_DAYS = 28
"""The recent weeks that count a product's new buyers (its trend) and a customer's new products."""

LIST_DEPTH = 4
"""A shared list (popular, rising, a segment's) is read this many times k deep per customer: the
customer's k best unbought come from it, fewer for one who bought most of it (other sources fill)."""


@dataclass(frozen=True)
class SourceSpec:
    """How many candidates each source proposes and how many a customer keeps.

    per_source: top-k per customer of each source, in `SOURCES` order. max_candidates: the
    customer's list after the union (best rank over the sources first). model_items: the
    collaborative sources see the most-bought products only (item-kNN's cost grows with the
    square of the products it covers; rarely bought products make poor coupon targets anyway).
    """

    per_source: tuple[int, ...] = (40, 40, 20, 20, 15, 10)
    max_candidates: int = 30
    model_items: int = 6000

    def __post_init__(self) -> None:
        if len(self.per_source) != len(SOURCES) or min(self.per_source) < 1:
            raise ValueError(f"per_source needs {len(SOURCES)} counts of at least 1, got {self.per_source}")
        if self.max_candidates < 1 or self.model_items < 1:
            raise ValueError("max_candidates and model_items must be at least 1")


def history_before(bought: pl.DataFrame, day: date, *, lookback_days: int) -> pl.DataFrame:
    """The customer x product facts as they stood before `day`, from facts taken at a later day.

    A pair counts when the customer first bought the product before `day`; it is in the look-back
    window when its last purchase is not older than `lookback_days` before `day` (a pair bought on
    both sides of `day` was bought within the window). Only first_day, last_day and in_lookback
    are cut: later columns of the facts (receipts, spend) still hold the whole history, so the
    re-ranker's features never read them.
    """
    start = day - timedelta(days=lookback_days)
    return bought.filter(pl.col("first_day") < day).with_columns(
        (pl.col("last_day") >= start).alias("in_lookback")
    )


def product_types(products: pl.DataFrame) -> pl.DataFrame:
    """sku, category, type, price: the type is the product's subcategory where the file has one.

    Without a subcategory (no column, or blank for the product) the category stands for the type,
    so "a type the customer buys" falls back to "a category the customer buys".
    """
    sub = pl.col("subcategory") if "subcategory" in products.columns else pl.lit(None, dtype=pl.String)
    price = pl.col("price") if "price" in products.columns else pl.lit(None)
    return products.select(
        "sku",
        pl.col("category").cast(pl.String),
        pl.format("{}/{}", pl.col("category"), sub).fill_null(pl.col("category")).alias("type"),
        price.cast(pl.Float64).alias("price"),
    )


@dataclass(frozen=True)
class Sources:
    """The sources fitted on the whole history, ready to propose for any block of customers.

    Everything here is shared by all customers (the fitted models, the ranked lists); `propose`
    reads it for the customers of one block, so a night is proposed block by block with the same
    result as all at once.
    """

    purchases: PurchaseMatrix | None
    allowed: np.ndarray
    models: tuple[tuple[str, ItemModel, int], ...]
    codes: Codes
    lists: tuple[tuple[str, np.ndarray, np.ndarray, int], ...]
    k: dict[str, int]
    cap: int
    broad: ItemModel | None = None
    broad_column: np.ndarray | None = None
    """Per product code, its column in ``broad`` (-1: not modelled)."""
    broad_spread: Spread | None = None
    """What the mean and spread of a customer's broad scores need (`item_scoring.spread_of`)."""


def fit_sources(
    bought: pl.DataFrame,
    products: pl.DataFrame,
    *,
    as_of: date,
    spec: SourceSpec | None = None,
    models: tuple[ModelSpec, ModelSpec] | None = None,
) -> Sources:
    """Fit every source on the history in `bought` (see `candidates` for the arguments)."""
    spec = spec or SourceSpec()
    ease_spec, knn_spec = models or (ModelSpec(method="ease"), ModelSpec(method="knn"))
    k = dict(zip(SOURCES, spec.per_source, strict=True))
    # in the facts' order (by customer and sku): the purchase matrix and the codes number them
    # without sorting again
    recent = bought.filter(pl.col("in_lookback")).select("customer_id", "sku").unique(maintain_order=True)
    promotable = products.filter(pl.col("promo_allowed"))["sku"]
    facts = _most_bought(recent, spec.model_items).with_columns(pl.lit(True).alias("in_lookback"))
    purchases = purchase_matrix(facts)
    fitted: list[tuple[str, ItemModel, int]] = []
    broad: ItemModel | None = None
    if purchases.items.len():
        # the customers who bought each pair of products, counted once for the three models
        counts = co_purchase_counts(purchases)
        fitted = [
            ("ease", fit(purchases, ease_spec, counts=counts), k["ease"]),
            ("knn", fit(purchases, knn_spec, counts=counts), k["knn"]),
            ("rules", fit_rules(purchases, counts=counts), k["rules"]),
        ]
        penalty = BROAD_SHRINK * float(np.mean(np.diag(counts)[fitted[0][1].columns]))
        broad = fit(purchases, replace(ease_spec, ease_lambda=penalty), counts=counts)
        del counts
    segments, segment_lists = _segment_lists(recent, products, promotable, k["segment"])
    codes = coded.encode(recent, promotable, purchases, segments, segment_lists)
    lists = []
    for name, scored in (
        ("popular", _popularity(recent, promotable)),
        ("rising", _rising(bought, promotable, as_of)),
    ):
        head = scored.sort(["score", "sku"], descending=[True, False]).head(LIST_DEPTH * k[name])
        skus = coded.positions(codes.skus, head["sku"])
        lists.append((name, skus, head["score"].to_numpy(), k[name]))
    broad_column, broad_spread = None, None
    if broad is not None:
        broad_column = np.full(codes.skus.len(), -1, np.int64)
        sku = codes.item_sku[broad.columns]
        broad_column[sku[sku >= 0]] = np.flatnonzero(sku >= 0)
        broad_spread = spread_of(broad, sku >= 0)
    return Sources(
        purchases=purchases if fitted else None,
        allowed=purchases.items.is_in(promotable.implode()).to_numpy(),
        models=tuple(fitted),
        codes=codes,
        lists=tuple(lists),
        k=k,
        cap=spec.max_candidates,
        broad=broad,
        broad_column=broad_column,
        broad_spread=broad_spread,
    )


def propose(sources: Sources, customers: pl.Series, *, anchors: bool = True) -> pl.DataFrame:
    """Every source's candidates for `customers` (see `candidates` for the columns).

    Without `anchors` only EASE's are named (`offer_anchors` names the others of the pairs that
    become offers: most candidates never do, and finding anchors is the costliest part).
    """
    wanted = customers.cast(pl.String).drop_nulls().unique().sort().rename("customer_id")
    block = coded.block_of(sources.codes, wanted)
    parts = {
        **_model_sources(sources, block, anchors),
        "segment": coded.segmented(sources.codes, block, sources.k["segment"]),
        **{
            name: coded.listed(sources.codes, block, skus, scores, top)
            for name, skus, scores, top in sources.lists
        },
    }
    if not any(p.size for p in parts.values()):
        return _empty()
    return _wide(sources, block, parts)


def candidates(
    bought: pl.DataFrame,
    products: pl.DataFrame,
    customers: pl.Series,
    *,
    as_of: date,
    spec: SourceSpec | None = None,
    models: tuple[ModelSpec, ModelSpec] | None = None,
    anchors: bool = True,
) -> pl.DataFrame:
    """Every source's candidates for `customers`, one row per customer and product.

    Args:
        bought: `features.customer_products`-style facts as of `as_of` (`history_before` for an
            earlier day).
        products: the products file (sku, category, promo_allowed; subcategory optional).
        customers: the customers to propose for; those without purchases in the window get the
            non-personal sources only.
        as_of: the day the candidates are built on.
        spec: candidates per source and per customer.
        models: the EASE and item-kNN settings (default: `ModelSpec` of each method).
        anchors: name every pair's anchor (else EASE's only; see `propose`).

    Returns:
        customer_id, sku, then `<source>_score` (f64) and `<source>_rank` (i32) for every source,
        `n_sources` (i32, how many sources proposed the pair), `broad_score` and `broad_z` (the
        broad EASE model's score of the pair and its standard score, `BROAD_SHRINK`) and
        `anchor` (the customer's product behind the best collaborative score, null otherwise);
        sorted by customer_id and sku, at most `spec.max_candidates` rows per customer.
    """
    sources = fit_sources(bought, products, as_of=as_of, spec=spec, models=models)
    return propose(sources, customers, anchors=anchors)


def offer_anchors(sources: Sources, offers: pl.DataFrame) -> pl.DataFrame:
    """The offers with the anchor `propose` would have named without `anchors=False`.

    An offer without one (EASE did not propose it) takes item-kNN's when item-kNN proposed it,
    else the rules'. `offers` needs customer_id, sku, anchor and every source's rank.
    """
    if sources.purchases is None or offers.is_empty():
        return offers
    out = offers.with_row_index("_row")
    for name, model, top in sources.models:
        if isinstance(model.weights, np.ndarray):
            continue
        missing = out.filter(pl.col("anchor").is_null() & (pl.col(f"{name}_rank") <= top))
        if missing.height:
            found = missing.select("_row", anchor_of(sources.purchases, model, missing).alias("_found"))
            out = (
                out.join(found, on="_row", how="left")
                .with_columns(pl.coalesce("anchor", "_found").alias("anchor"))
                .drop("_found")
            )
    return out.sort("_row").drop("_row")


# --- the sources ------------------------------------------------------------------------------------


def _model_sources(sources: Sources, block: Block, anchors: bool) -> dict[str, Part]:
    """EASE, item-kNN and rules: each model's best unbought products for the block's customers."""
    if sources.purchases is None:
        return {}
    known = np.flatnonzero(block.known >= 0)
    mine = known[sources.codes.matrix_row[block.known[known]] >= 0]
    rows = sources.codes.matrix_row[block.known[mine]]
    if not rows.size:
        return {}
    out = {}
    for name, model, top in sources.models:
        anchor: np.ndarray | None
        if not isinstance(model.weights, np.ndarray):
            x, r, c, score, place = sparse_rows(sources.purchases, model, top, sources.allowed, rows)
            rank = place + 1
            anchor = model.columns[sparse_anchors(x, model.weights, r, c)] if anchors else None
        else:
            r, c, score, a = score_rows(
                sources.purchases, model, top_n=top, allowed=sources.allowed, rows=rows
            )
            rank, anchor = coded.ranked(r), model.columns[a]
        sku = sources.codes.item_sku[model.columns[c]]
        out[name] = Part(mine[r], sku, score, rank.astype(np.int32), anchor)
    return out


def _most_bought(recent: pl.DataFrame, n: int) -> pl.DataFrame:
    """The purchases of the `n` products with the most buyers in the window (ties: sku order)."""
    top = recent.group_by("sku").len().sort(["len", "sku"], descending=[True, False]).head(n).select("sku")
    return recent.join(top, on="sku", how="semi")


def _popularity(recent: pl.DataFrame, promotable: pl.Series) -> pl.DataFrame:
    """sku, score: buyers in the look-back window, promotable products only."""
    return (
        recent.filter(pl.col("sku").is_in(promotable.implode()))
        .group_by("sku")
        .agg(pl.len().cast(pl.Float64).alias("score"))
    )


def _rising(bought: pl.DataFrame, promotable: pl.Series, as_of: date) -> pl.DataFrame:
    """sku, score: customers who bought the product for the first time in the recent weeks."""
    start = as_of - timedelta(days=RECENT_DAYS)
    return (
        bought.filter((pl.col("first_day") >= start) & pl.col("sku").is_in(promotable.implode()))
        .group_by("sku")
        .agg(pl.len().cast(pl.Float64).alias("score"))
    )


def _segment_lists(
    recent: pl.DataFrame, products: pl.DataFrame, promotable: pl.Series, top: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each customer's segment (their main category: most products) and each segment's popular list."""
    main = (
        recent.join(products.select("sku", "category"), on="sku")
        .group_by("customer_id", "category")
        .len()
        # the category of most products, ties to the first category (nulls first, as a sort puts
        # them): no sort of every pair
        .filter(pl.col("len") == pl.col("len").max().over("customer_id"))
        .group_by("customer_id")
        .agg(pl.col("category").sort().first().alias("segment"))
    )
    popular = (
        recent.filter(pl.col("sku").is_in(promotable.implode()))
        .join(main, on="customer_id")
        .group_by("segment", "sku")
        .agg(pl.len().cast(pl.Float64).alias("score"))
        .sort(["segment", "score", "sku"], descending=[False, True, False])
        .group_by("segment", maintain_order=True)
        .head(LIST_DEPTH * top)
    )
    return main, popular


# --- the union --------------------------------------------------------------------------------------


def _wide(sources: Sources, block: Block, parts: dict[str, Part]) -> pl.DataFrame:
    """One row per pair with every source's score and rank; each customer's best `cap` pairs
    (`ranking_codes.union`), with the ids and the anchors' skus put back.
    """
    codes = sources.codes
    depth = {source: sources.k[source] for source in SOURCES}
    wide = coded.union(parts, depth, sources.cap, codes.skus.len())
    anchor = pl.Series("anchor", wide["anchor"])
    if sources.purchases is None:
        anchors = pl.Series("anchor", [None] * anchor.len(), dtype=pl.String)
    else:
        anchors = sources.purchases.items.gather(anchor.set(anchor < 0, None)).rename("anchor")
    columns = {f"{s}_{part}": wide[f"{s}_{part}"] for s in SOURCES for part in ("score", "rank")}
    broad, broad_z = _broad_scores(sources, block, np.asarray(wide["customer"]), np.asarray(wide["sku"]))
    return pl.DataFrame(
        {
            "customer_id": block.customers.gather(wide["customer"]),
            "sku": codes.skus.gather(wide["sku"]),
            **columns,
            "n_sources": wide["n_sources"],
            "broad_score": broad,
            "broad_z": broad_z,
            "anchor": anchors,
        }
    ).cast(_empty().schema)


def _broad_scores(
    sources: Sources, block: Block, customer: np.ndarray, sku: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The broad EASE model's score of each pair (block code of the customer, product code) and
    its standard score among the customer's scores of every unbought product the model covers
    (a product it does not cover scores 0 and stands below the customer's mean score where that is
    positive); 0 and 0 for a customer without purchases in the window, and a standard score of 0
    where the customer's scores do not spread.
    """
    out, z = np.zeros(customer.size), np.zeros(customer.size)
    if (
        sources.broad is None
        or sources.purchases is None
        or sources.broad_column is None
        or sources.broad_spread is None
    ):
        return out, z
    known = block.known[customer]
    row = np.where(known >= 0, sources.codes.matrix_row[np.maximum(known, 0)], -1)
    column = sources.broad_column[sku]
    scored = np.flatnonzero((row >= 0) & (column >= 0))
    out[scored] = pair_scores(sources.purchases, sources.broad, row[scored], column[scored])
    # a product the model does not cover scores 0, which stands where it stands among the rest
    known = np.flatnonzero(row >= 0)
    people, each = np.unique(row[known], return_inverse=True)
    mean, std = score_spread(sources.purchases, sources.broad, sources.broad_spread, people)
    spread = std[each]
    z[known] = np.divide(out[known] - mean[each], spread, out=np.zeros(known.size), where=spread > 0)
    return out, z


def _empty() -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {"customer_id": pl.String(), "sku": pl.String()}
    for source in SOURCES:
        schema[f"{source}_score"] = pl.Float64()
        schema[f"{source}_rank"] = pl.Int32()
    schema["n_sources"] = pl.Int32()
    schema["broad_score"] = pl.Float64()
    schema["broad_z"] = pl.Float64()
    schema["anchor"] = pl.String()
    return pl.DataFrame(schema=schema)
