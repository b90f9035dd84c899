from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from polars.testing import assert_frame_equal

from coupongen.analysis import (
    item_models,
    item_scoring,
    ranking_caps,
    ranking_models,
    ranking_sources,
    reranker,
    reranker_features,
    reranker_order,
)
from coupongen.analysis.item_scoring import score_customers
from coupongen.analysis.ranking_sources import SourceSpec, candidates, history_before, product_types
from coupongen.analysis.relevance import RankSpec, recommend

AS_OF = date(2026, 6, 1)


def ranked(rows: list[tuple[str, str, float, bool]]) -> pl.DataFrame:
    """Candidates (customer, sku, score, substitute) sorted best first within each customer."""
    return pl.DataFrame(rows, schema=["customer_id", "sku", "score", "substitute"], orient="row").sort(
        ["customer_id", "score"], descending=[False, True]
    )


def test_no_product_takes_more_than_its_share_of_the_offers():
    frame = ranked(
        [
            ("a", "x", 0.9, False), ("a", "y", 0.5, False), ("a", "z", 0.1, False),
            ("b", "x", 0.8, False), ("b", "y", 0.4, False), ("b", "w", 0.3, False),
            ("c", "x", 0.7, False), ("c", "z", 0.6, False), ("c", "w", 0.2, False),
        ]
    )  # fmt: skip
    # one offer each: a cap of floor(0.34 * 3) = 1 keeps x for a (its best score); b and c move on
    one = ranking_caps.exposure_capped(frame, 1, substitute_share=None, product_share=0.34)
    assert one.select("customer_id", "sku", "rank").rows() == [("a", "x", 1), ("b", "y", 1), ("c", "z", 1)]
    # two each: 2 of 6 per product; x keeps a and b, c takes z and then w
    two = ranking_caps.exposure_capped(frame, 2, substitute_share=None, product_share=0.34)
    assert two.select("customer_id", "sku").rows() == [
        ("a", "x"), ("a", "y"), ("b", "x"), ("b", "y"), ("c", "z"), ("c", "w"),
    ]  # fmt: skip
    free = ranking_caps.exposure_capped(frame, 1, substitute_share=None, product_share=1.0)
    assert free["sku"].to_list() == ["x", "x", "x"]


def test_substitutes_are_held_back_by_one_factor_for_everybody():
    frame = ranked(
        [
            ("a", "x", 0.9, True), ("a", "y", 0.5, False), ("a", "z", 0.1, False),
            ("b", "x", 0.8, False), ("b", "y", 0.4, True), ("b", "w", 0.3, False),
            ("c", "x", 0.7, True), ("c", "z", 0.6, True), ("c", "w", 0.2, False),
        ]
    )  # fmt: skip
    # unheld, 4 of 6 offers are substitutes (at most 2 may be). A factor below 0.3 / 0.4 moves b's
    # y behind w; one below 0.2 / 0.6 also moves c's z behind w, while c's x stays (0.7 f > 0.2)
    # and a keeps x second: 2 substitutes. Between 0.2 / 0.6 and 0.75 c keeps both: 3.
    factor = ranking_caps.substitute_discount(frame, 2, 0.34)
    assert 0.2 / 0.7 < factor < 0.2 / 0.6
    assert factor == pytest.approx(0.2 / 0.6, abs=1e-4)
    held = ranking_caps.exposure_capped(frame, 2, substitute_share=0.34, product_share=1.0)
    assert held.select("customer_id", "sku", "rank").rows() == [
        ("a", "y", 1), ("a", "x", 2), ("b", "x", 1), ("b", "w", 2), ("c", "x", 1), ("c", "w", 2),
    ]  # fmt: skip
    assert ranking_caps.substitute_discount(frame, 2, 0.7) == 1.0
    assert ranking_caps.substitute_discount(frame.filter(pl.col("substitute")), 2, 0.2) == 0.0


def test_the_popularity_discount_is_the_weakest_that_spreads_offers_as_wide_as_the_reference():
    frame = pl.DataFrame(
        [
            ("a", "x", 0.5, 99, 2), ("a", "y", 0.2, 0, 1),
            ("b", "x", 0.5, 99, 2), ("b", "z", 0.1, 0, 1),
        ],
        schema=["customer_id", "sku", "score", "buyers", "reference_rank"],
        orient="row",
    )  # fmt: skip
    # The reference offers y and z (2 products); by chance alone both get x. Divided by
    # (buyers + 1) ** e, a takes y once 0.2 > 0.5 / 100 ** e: e > log(2.5) / log(100); then
    # two products are offered (y, x), so that is the weakest discount.
    exponent = ranking_caps.popularity_exponent(frame, 1)
    assert exponent == pytest.approx(np.log(2.5) / np.log(100), abs=1e-4)
    assert exponent > np.log(2.5) / np.log(100)
    # Already as wide as the reference: no discount; never as wide: the strongest.
    assert ranking_caps.popularity_exponent(frame.filter(pl.col("customer_id") == "a"), 2) == 0.0
    lone = frame.with_columns(pl.lit(0).alias("buyers"))
    assert ranking_caps.popularity_exponent(lone, 1) == ranking_caps.MAX_EXPONENT


def random_pool(seed: int, customers: int = 150, products: int = 400) -> pl.DataFrame:
    """Scored candidates: popular products proposed and chosen more often, a reference rank that
    leans on popularity less than the chances, substitutes.
    """
    rng = np.random.default_rng(seed)
    buyers = rng.zipf(1.6, products).clip(max=5_000)
    drawn = np.sqrt(buyers) / np.sqrt(buyers).sum()
    rows = []
    for c in range(customers):
        skus = rng.choice(products, 12, replace=False, p=drawn)
        chance = rng.uniform(0.01, 0.3, 12) * (1 + np.log1p(buyers[skus]))
        reference = (
            np.argsort(np.argsort(-chance / (1 + buyers[skus]) ** 0.1 * rng.lognormal(0, 0.5, 12))) + 1
        )
        substitute = rng.random(12) < 0.45
        for k, sku in enumerate(skus):
            rows.append(
                (
                    f"c{c:03d}",
                    f"p{sku:02d}",
                    float(chance[k]),
                    int(buyers[sku]),
                    int(reference[k]),
                    bool(substitute[k]),
                )
            )
    return pl.DataFrame(
        rows, schema=["customer_id", "sku", "score", "item_buyers", "ease_rank", "substitute"], orient="row"
    ).with_columns(pl.lit(None, dtype=pl.String).alias("anchor"))


def test_the_automatic_power_spreads_the_offers_as_they_are_held_not_as_a_first_guess_held_them(monkeypatch):
    spec = RankSpec()
    short = 0
    for seed in range(12):
        frame = random_pool(seed)
        wanted = frame.filter(pl.col("ease_rank") <= 3)["sku"].n_unique()
        offers = reranker_order.order_offers(frame, 3, spec)
        assert offers["sku"].n_unique() >= wanted, seed
        assert offers["substitute"].mean() <= spec.max_substitute_share + 1e-9
        # with the power found once, on substitutes held by the undiscounted chances' factor
        monkeypatch.setattr(reranker_order, "FIT_ROUNDS", 0)
        short += reranker_order.order_offers(frame, 3, spec)["sku"].n_unique() < wanted
        monkeypatch.setattr(reranker_order, "FIT_ROUNDS", 6)
    assert short > 0  # the first guess falls short on some of these nights


def test_offers_are_ordered_by_the_discounted_chance_and_keep_the_chance_as_score():
    frame = pl.DataFrame(
        [("a", "x", 0.5, 99, 1, False), ("a", "y", 0.2, 0, 2, False), ("b", "x", 0.5, 99, 1, False)],
        schema=["customer_id", "sku", "score", "item_buyers", "ease_rank", "substitute"],
        orient="row",
    ).with_columns(pl.lit(None, dtype=pl.String).alias("anchor"))
    # 0.5 / 100 < 0.2 / 1: a's first offer is y; b has x only
    top = reranker_order.order_offers(frame, 1, RankSpec(popularity_discount=1.0))
    assert top.select("customer_id", "sku", "score").rows() == [("a", "y", 0.2), ("b", "x", 0.5)]
    plain = reranker_order.order_offers(frame, 1, RankSpec(popularity_discount=0.0))
    assert plain["sku"].to_list() == ["x", "x"]


def test_platt_scaling_maps_scores_to_the_observed_rates():
    raw = np.array([0.0] * 100 + [1.0] * 100)
    label = np.array([1] * 10 + [0] * 90 + [1] * 50 + [0] * 50)
    slope, intercept = reranker.platt(raw, label)
    chance = 1 / (1 + np.exp(-(slope * np.array([0.0, 1.0]) + intercept)))
    assert chance == pytest.approx([0.1, 0.5], abs=0.01)


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


def test_facts_in_any_order_give_the_candidates_and_offers_of_facts_by_customer(monkeypatch):
    # facts by customer and sku (`customer_products`' order) are numbered by runs and sliced per
    # block; in another order they are joined: both must give the same candidates and offers
    ordered = shoppers(60, 30, seed=6).sort("customer_id", "sku")
    shuffled = ordered.sample(fraction=1.0, shuffle=True, seed=2)
    products = catalogue(30, restricted=("P05",))
    spec = SourceSpec(per_source=(8, 8, 5, 5, 5, 3), max_candidates=10)
    customers = pl.concat([ordered["customer_id"].unique(), pl.Series(["NEW1"])])
    pools = [candidates(b, products, customers, as_of=AS_OF, spec=spec) for b in (ordered, shuffled)]
    assert pools[0].height > 400
    assert_frame_equal(pools[0], pools[1])
    model = reranker.train(ordered, products, as_of=AS_OF, spec=RankSpec(rounds=5, splits=1))
    monkeypatch.setattr(reranker, "train", lambda *args, **kwargs: model)
    night = RankSpec(block_customers=9, sources=spec)
    offers = [
        reranker.rank(b, products, customers, as_of=AS_OF, top_n=3, spec=night) for b in (ordered, shuffled)
    ]
    assert offers[0]["customer_id"].n_unique() == 61
    assert_frame_equal(offers[0], offers[1])


def test_candidates_are_unbought_promotable_and_capped():
    bought = shoppers(60, 30, seed=1)
    products = catalogue(30, restricted=("P03",))
    spec = SourceSpec(per_source=(8, 8, 5, 5, 5, 3), max_candidates=10)
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


def test_every_candidate_carries_the_broad_ease_models_score_and_its_rank_among_the_customers():
    bought = shoppers(60, 30, seed=3)
    products = catalogue(30)
    spec = SourceSpec(per_source=(4, 4, 3, 3, 3, 2), max_candidates=8)
    customers = bought["customer_id"].unique()
    sources = ranking_sources.fit_sources(bought, products, as_of=AS_OF, spec=spec)
    broad, purchases = sources.broad, sources.purchases
    assert broad is not None and purchases is not None
    # shrunk harder than the first EASE: by BROAD_SHRINK times the modelled products' mean buyers
    ease = sources.models[0][1]
    assert not np.allclose(broad.weights, ease.weights)
    pool = ranking_sources.propose(sources, customers)
    dense = purchases.matrix[:, broad.columns].toarray() @ broad.weights
    row = dict(zip(purchases.customers.to_list(), range(purchases.customers.len()), strict=True))
    column = {purchases.items[int(c)]: j for j, c in enumerate(broad.columns)}
    expected = [
        dense[row[c], column[s]] if c in row and s in column else 0.0
        for c, s in pool.select("customer_id", "sku").iter_rows()
    ]
    assert pool.height > 300 and (pool["broad_score"] != 0).sum() > 300
    np.testing.assert_allclose(pool["broad_score"].to_numpy(), expected, atol=1e-12)
    # and its standard score among the customer's scores of every promotable product the model
    # covers and the customer did not buy in the window
    promotable = purchases.items.gather(broad.columns).is_in(
        products.filter("promo_allowed")["sku"].implode()
    )
    scores = np.where(purchases.matrix[:, broad.columns].toarray() > 0, np.nan, dense)
    scores[:, ~promotable.to_numpy()] = np.nan
    mean, std = np.nanmean(scores, axis=1), np.nanstd(scores, axis=1)
    z = [
        ((dense[row[c], column[s]] if s in column else 0.0) - mean[row[c]]) / std[row[c]] if c in row else 0.0
        for c, s in pool.select("customer_id", "sku").iter_rows()
    ]
    assert np.std(z) > 0.5
    np.testing.assert_allclose(pool["broad_z"].to_numpy(), z, atol=1e-9)
    # a proposal of the other sources never lacks it: it proposes nothing, it scores every pair
    assert pool.filter(pl.col("ease_rank") > 4)["broad_score"].abs().sum() > 0
    frame = reranker_features.features(pool, bought, product_types(products), as_of=AS_OF)
    best = frame.filter(pl.col("broad_rank") == 1).join(
        frame.group_by("customer_id").agg(pl.col("broad_score").max().alias("top")), on="customer_id"
    )
    assert best.height == frame["customer_id"].n_unique()
    assert (best["broad_score"] == best["top"]).all()


def test_the_spread_of_a_customers_scores_is_that_of_their_dense_row_in_chunks_of_any_size(monkeypatch):
    bought = shoppers(50, 25, seed=5)
    binary = item_models.purchase_matrix(bought)
    rng = np.random.default_rng(1)
    weighted = binary.matrix.copy()
    weighted.data = rng.uniform(0.2, 1.0, weighted.data.size)  # as recency weights would
    purchases = replace(binary, matrix=weighted)
    model = item_models.fit(purchases, item_models.ModelSpec(method="ease", ease_lambda=4.0, max_items=20))
    allowed = rng.random(model.columns.size) < 0.7
    rows = rng.permutation(purchases.matrix.shape[0])[:40]
    x = purchases.matrix[rows][:, model.columns].toarray()
    dense = np.where(x > 0, np.nan, x @ model.weights)  # weighted purchases, own products left out
    dense[:, ~allowed] = np.nan
    spread = item_scoring.spread_of(model, allowed)
    for cells in (3, 50, 10**6):  # a chunk smaller than one customer's pairs still takes the customer
        monkeypatch.setattr(item_scoring, "PAIR_CELLS", cells)
        mean, std = item_scoring.score_spread(purchases, model, spread, rows)
        np.testing.assert_allclose(mean, np.nanmean(dense, axis=1), atol=1e-12)
        np.testing.assert_allclose(std, np.nanstd(dense, axis=1), atol=1e-9)
    assert std.min() > 0
    # a customer who bought every allowed product has no score left to spread, and one who left a
    # single allowed product unbought has one score: no spread either, not rounding noise
    everything = np.ones((1, purchases.matrix.shape[1]))
    all_but_one = everything.copy()
    all_but_one[0, model.columns[np.flatnonzero(allowed)[3]]] = 0.0
    full = replace(purchases, matrix=sp.vstack([purchases.matrix, everything, all_but_one]).tocsr())
    last = np.array([full.matrix.shape[0] - 2, full.matrix.shape[0] - 1])
    mean, std = item_scoring.score_spread(full, model, spread, last)
    assert mean[0] == 0.0 and mean[1] != 0.0
    assert std.tolist() == [0.0, 0.0]


def test_pair_scores_are_the_dense_scores_of_the_pairs_in_chunks_of_any_size(monkeypatch):
    bought = shoppers(40, 25, seed=4)
    purchases = item_models.purchase_matrix(bought)
    model = item_models.fit(purchases, item_models.ModelSpec(method="ease", ease_lambda=5.0, max_items=12))
    rng = np.random.default_rng(0)
    rows = rng.integers(0, purchases.matrix.shape[0], 500)
    cols = rng.integers(0, model.columns.size, 500)
    dense = purchases.matrix[:, model.columns].toarray() @ model.weights
    for cells in (7, 1, 10**6):  # a chunk smaller than one customer's purchases still takes one pair
        monkeypatch.setattr(item_scoring, "BLOCK_CELLS", cells)
        np.testing.assert_allclose(item_scoring.pair_scores(purchases, model, rows, cols), dense[rows, cols])
    assert item_scoring.pair_scores(purchases, model, rows[:0], cols[:0]).size == 0


def test_the_learned_ranking_is_repeatable_and_holds_substitutes_back():
    bought = shoppers(120, 30, seed=2)
    products = catalogue(30)
    customers = bought["customer_id"].unique()
    spec = RankSpec(rounds=20, max_substitute_share=0.2, max_product_share=0.04)
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
    assert first.group_by("sku").len()["len"].max() <= 0.04 * first.height
    assert first["score"].is_between(0.0, 1.0).all()
    # the product cap's replacements may be substitutes: the share holds without the cap
    held = reranker.rank(
        bought, products, customers, as_of=AS_OF, top_n=5, spec=replace(spec, max_product_share=1.0)
    )
    assert held["substitute"].mean() <= 0.2
    free = reranker.rank(
        bought,
        products,
        customers,
        as_of=AS_OF,
        top_n=5,
        spec=RankSpec(rounds=20, prefer_new_types=False, max_product_share=1.0),
    )
    assert free["substitute"].sum() > held["substitute"].sum()
    assert free.group_by("sku").len()["len"].max() > 0.04 * free.height


def test_ranking_block_by_block_gives_the_offers_of_one_block(monkeypatch):
    bought = shoppers(90, 30, seed=4)
    products = catalogue(30)
    customers = pl.concat([bought["customer_id"].unique(), pl.Series(["NEW1", "NEW2"])])
    model = reranker.train(bought, products, as_of=AS_OF, spec=RankSpec(rounds=5, splits=1))
    assert model is not None
    monkeypatch.setattr(reranker, "train", lambda *args, **kwargs: model)  # one fit for the four nights
    few = SourceSpec(per_source=(2, 6, 4, 5, 5, 3), max_candidates=12)  # EASE does not propose all
    for share in (1.0, 0.05):
        whole = RankSpec(max_product_share=share, block_customers=1_000, sources=few)
        one = reranker.rank(bought, products, customers, as_of=AS_OF, top_n=4, spec=whole)
        blocked = replace(whole, block_customers=7)
        many = reranker.rank(bought, products, customers, as_of=AS_OF, top_n=4, spec=blocked)
        assert_frame_equal(one, many)
        assert one["customer_id"].n_unique() == 92  # the two without purchases get offers too
    # anchors named for the offers only are those every candidate gets when all are named
    pool = candidates(bought, products, customers, as_of=AS_OF, spec=few)
    named = one.join(
        pool.select("customer_id", "sku", "ease_rank", pl.col("anchor").alias("all")),
        on=["customer_id", "sku"],
    )
    assert named.height == one.height and named["anchor"].null_count() < one.height
    assert named.filter(pl.col("anchor").ne_missing(pl.col("all"))).is_empty()
    assert named.filter((pl.col("ease_rank") > 2) & pl.col("anchor").is_not_null()).height > 10


def test_recommend_with_the_learned_ranking_names_its_source():
    bought = shoppers(80, 20, seed=3)
    ranked = recommend(bought, catalogue(20), spec=RankSpec(rounds=10), as_of=AS_OF, top_n=3)
    assert set(ranked["source"]) <= {"rerank", "rule", "popular"}
    assert "rerank" in set(ranked["source"])
    assert ranked.group_by("customer_id").len()["len"].max() == 3


def test_rank_spec_rejects_a_share_outside_0_and_1():
    with pytest.raises(ValueError, match=r"max_substitute_share must be within 0 and 1, got 1\.5"):
        RankSpec(max_substitute_share=1.5)


def test_rank_spec_rejects_an_unknown_objective_and_a_zero_product_share():
    with pytest.raises(ValueError, match=r"Unknown objective 'xendcg'; allowed: binary, lambdarank"):
        RankSpec(objective="xendcg")
    with pytest.raises(ValueError, match=r"max_product_share must be above 0 and at most 1, got 0\.0"):
        RankSpec(max_product_share=0.0)
    with pytest.raises(ValueError, match=r"popularity_discount must be within 0 and 2\.0, got 2\.5"):
        RankSpec(popularity_discount=2.5)


def test_sparse_models_score_as_the_dense_scoring_does():
    bought = shoppers(70, 30, seed=5)
    products = catalogue(30, restricted=("P04",))
    sources = ranking_sources.fit_sources(bought, products, as_of=AS_OF)
    rows = np.array([0, 3, 5, 9, 40, 69])
    for name, model, top in sources.models[1:]:
        assert name in ("knn", "rules")
        assert sources.purchases is not None
        sparse = ranking_models.sparse_scored(sources.purchases, model, top, sources.allowed, rows)
        dense = score_customers(sources.purchases, model, top_n=top, allowed=sources.allowed, rows=rows)
        assert sparse.height > 20
        assert_frame_equal(sparse, dense.cast({"rank": pl.Int32}), check_exact=True)


@pytest.mark.parametrize(("objective", "metric"), [("binary", "binary_logloss"), ("lambdarank", "ndcg@5")])
def test_the_rounds_stop_on_the_objective_s_own_metric(objective, metric):
    bought = shoppers(120, 30, seed=2)
    products = catalogue(30)
    spec = RankSpec(objective=objective)
    types = product_types(products)
    frames = [
        reranker._labelled(bought, products, types, AS_OF - timedelta(days=k * 28), spec) for k in (1, 2)
    ]
    booster = reranker._fit(frames[1], spec, 20, validation=frames[0])
    assert list(booster.best_score["valid_0"]) == [metric]


@pytest.mark.parametrize("weighting", ["binary", "recency"])
def test_the_models_fitted_on_shared_co_purchase_counts_are_the_ones_fitted_alone(weighting):
    purchases = item_models.purchase_matrix(shoppers(150, 40, seed=5), weighting=weighting)
    counts = item_models.co_purchase_counts(purchases)
    binary = (purchases.matrix > 0).astype(np.float64)
    assert np.array_equal(counts, (binary.T @ binary).toarray())
    for spec in (item_models.ModelSpec(method="ease", max_items=25), item_models.ModelSpec(method="knn")):
        alone, shared = item_models.fit(purchases, spec), item_models.fit(purchases, spec, counts=counts)
        assert np.array_equal(alone.columns, shared.columns)
        if isinstance(alone.weights, np.ndarray):
            # recency-weighted purchases are not the counts: EASE sums their weights itself
            assert np.array_equal(alone.weights, shared.weights)
        else:
            assert (alone.weights != shared.weights).nnz == 0
    alone, shared = ranking_models.fit_rules(purchases), ranking_models.fit_rules(purchases, counts=counts)
    assert alone.weights.nnz > 10 and (alone.weights != shared.weights).nnz == 0
