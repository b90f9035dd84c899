from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.analysis import ranking_sources, reranker
from coupongen.analysis.ranking_sources import SourceSpec, candidates, history_before, product_types
from coupongen.analysis.relevance import RankSpec, recommend

AS_OF = date(2026, 6, 1)


def order_for(subs: str, share: float) -> list[int]:
    """Positions (in score order) of the candidates after substitute_order; S = substitute."""
    frame = pl.DataFrame({"customer_id": "U1", "i": range(len(subs)), "substitute": [c == "S" for c in subs]})
    return (
        frame.with_columns(reranker.substitute_order(share).alias("o"))
        .sort("customer_id", "o", maintain_order=True)["i"]
        .to_list()
    )


def test_substitutes_move_down_so_every_prefix_keeps_the_share():
    # Score order S S N S N N N. With share 0.2 one substitute fits in 5 places: four new types
    # first, then the best substitute; the others fill up once new types run out.
    assert order_for("SSNSNNN", 0.2) == [2, 4, 5, 6, 0, 1, 3]
    # With 0.5 places 2, 4 and 6 may be substitutes: N S N S N S N.
    assert order_for("SSNSNNN", 0.5) == [2, 0, 4, 1, 5, 3, 6]
    assert order_for("SSNSNNN", 0.0) == [2, 4, 5, 6, 0, 1, 3]
    assert order_for("SSNSNNN", 1.0) == [0, 1, 2, 3, 4, 5, 6]


def facts(rows: list[tuple[str, str, int, int]]) -> pl.DataFrame:
    """customer_products-style rows: customer, sku, first and last purchase as days before AS_OF."""
    return pl.DataFrame(
        [(c, s, AS_OF - timedelta(days=f), AS_OF - timedelta(days=la)) for c, s, f, la in rows],
        schema={"customer_id": pl.String, "sku": pl.String, "first_day": pl.Date, "last_day": pl.Date},
        orient="row",
    ).with_columns(
        (pl.col("last_day") >= AS_OF - timedelta(days=365)).alias("in_lookback"),
        (pl.lit(AS_OF) - pl.col("last_day")).dt.total_days().alias("days_since_last"),
        pl.lit(1, dtype=pl.Int32).alias("receipts"),
    )


def test_history_before_keeps_what_was_first_bought_before_the_day():
    rows = facts([("U1", "A", 500, 450), ("U1", "B", 40, 5), ("U1", "C", 10, 2), ("U2", "A", 100, 20)])
    cut = history_before(rows, AS_OF - timedelta(days=28), lookback_days=365)
    assert cut.select("customer_id", "sku", "in_lookback").rows() == [
        ("U1", "A", False),  # last bought 450 days ago: out of the window at the split too
        ("U1", "B", True),  # bought before and after the split
        ("U2", "A", True),
    ]  # U1/C was first bought after the split


def test_product_types_use_the_subcategory_where_there_is_one():
    products = pl.DataFrame(
        {
            "sku": ["A", "B"],
            "category": ["dairy", "dairy"],
            "subcategory": ["milk", None],
            "price": [1.0, 2.0],
        }
    )
    assert product_types(products)["type"].to_list() == ["dairy/milk", "dairy"]
    assert product_types(products.drop("subcategory", "price"))["type"].to_list() == ["dairy", "dairy"]


def catalogue(n: int, restricted: tuple[str, ...] = ()) -> pl.DataFrame:
    skus = [f"P{i:02d}" for i in range(n)]
    return pl.DataFrame(
        {
            "sku": skus,
            "category": [f"c{i % 3}" for i in range(n)],
            "subcategory": [f"t{i % 15}" for i in range(n)],
            "price": [1.0 + i for i in range(n)],
            "promo_allowed": [s not in restricted for s in skus],
        }
    )


def shoppers(n_customers: int, n_products: int, seed: int) -> pl.DataFrame:
    """Random histories: customers favour products near their own index, some first bought lately."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_customers):
        for p in set(rng.integers(0, n_products, 6).tolist()) | {c % n_products, (c + 1) % n_products}:
            first = int(rng.integers(1, 120))
            rows.append((f"U{c:03d}", f"P{p:02d}", first, int(rng.integers(0, first + 1))))
    return facts(rows)


def test_candidates_are_unbought_promotable_and_capped():
    bought = shoppers(60, 30, seed=1)
    products = catalogue(30, restricted=("P03",))
    spec = SourceSpec(per_source=(8, 8, 5, 5, 3), max_candidates=10)
    pool = candidates(bought, products, bought["customer_id"].unique(), as_of=AS_OF, spec=spec)
    assert pool.group_by("customer_id").len()["len"].max() == 10
    assert not pool["sku"].is_in(["P03"]).any()
    assert pool.join(bought.filter(pl.col("in_lookback")), on=["customer_id", "sku"]).is_empty()
    for source, k in zip(ranking_sources.SOURCES, spec.per_source, strict=True):
        ranks = pool[f"{source}_rank"]
        assert ranks.min() >= 1 and ranks.max() <= k + 1
        assert ((ranks == k + 1) == (pool[f"{source}_score"] == 0)).all()
    proposed = pl.sum_horizontal(
        (pl.col(f"{s}_rank") <= k).cast(pl.Int32)
        for s, k in zip(ranking_sources.SOURCES, spec.per_source, strict=True)
    )
    assert (pool.select(proposed).to_series() == pool["n_sources"]).all()


def test_the_learned_ranking_is_repeatable_and_holds_substitutes_back():
    bought = shoppers(120, 30, seed=2)
    products = catalogue(30)
    customers = bought["customer_id"].unique()
    spec = RankSpec(rounds=20, max_substitute_share=0.2)
    first = reranker.rank(bought, products, customers, as_of=AS_OF, top_n=5, spec=spec)
    again = reranker.rank(
        bought.sample(fraction=1.0, shuffle=True, seed=7),
        products,
        customers,
        as_of=AS_OF,
        top_n=5,
        spec=spec,
    )
    assert_frame_equal(first, again)
    assert first.join(bought.filter(pl.col("in_lookback")), on=["customer_id", "sku"]).is_empty()
    # two products per type: everyone has new types left, so at most 1 of 5 offers is a substitute
    per_customer = first.group_by("customer_id").agg(pl.col("substitute").sum(), pl.len())
    assert (per_customer["len"] == 5).all()
    assert per_customer["substitute"].max() <= 1
    free = reranker.rank(
        bought, products, customers, as_of=AS_OF, top_n=5, spec=RankSpec(rounds=20, prefer_new_types=False)
    )
    assert free["substitute"].sum() > first["substitute"].sum()


def test_recommend_with_the_learned_ranking_names_its_source():
    bought = shoppers(80, 20, seed=3)
    ranked = recommend(bought, catalogue(20), spec=RankSpec(rounds=10), as_of=AS_OF, top_n=3)
    assert set(ranked["source"]) <= {"rerank", "rule", "popular"}
    assert "rerank" in set(ranked["source"])
    assert ranked.group_by("customer_id").len()["len"].max() == 3


def test_rank_spec_rejects_a_share_outside_0_and_1():
    with pytest.raises(ValueError, match=r"max_substitute_share must be within 0 and 1, got 1\.5"):
        RankSpec(max_substitute_share=1.5)
