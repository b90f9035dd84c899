from __future__ import annotations

from datetime import date, datetime

import polars as pl
from polars.testing import assert_frame_equal

from coupongen.config import SegmentsConfig
from coupongen.features import category_spend, customer_features, customer_products
from coupongen.segments import (
    lifecycle_states,
    name_segments,
    nps_class,
    score_rfm,
    segment_customers,
    summarize_segments,
)

AS_OF = date(2026, 11, 22)

PRODUCTS = pl.DataFrame(
    {
        "sku": ["P1", "P2", "B1"],
        "name": ["Spaghetti", "Tomato sauce", "Lager"],
        "category": ["pasta", "sauce", "beer"],
        "brand": ["A", "B", "C"],
        "price": [2.0, 3.0, 1.5],
        "promo_allowed": [True, True, False],
    }
)


def tx(rows):
    return pl.DataFrame(
        rows,
        schema={
            "receipt_id": pl.String,
            "customer_id": pl.String,
            "ts": pl.Datetime("us"),
            "store_id": pl.String,
            "sku": pl.String,
            "quantity": pl.Float64,
            "amount": pl.Float64,
        },
        orient="row",
    )


TX = tx(
    [
        ("R1", "C1", datetime(2026, 11, 1, 10), "S1", "P1", 1.0, 2.0),
        ("R1", "C1", datetime(2026, 11, 1, 10), "S1", "P2", 1.0, 3.0),
        ("R2", "C1", datetime(2026, 11, 15, 18), "S1", "P1", 2.0, 4.0),
        ("R3", "C1", datetime(2026, 11, 16, 9), "S1", "P2", -1.0, -3.0),  # the sauce came back
        ("R4", "C2", datetime(2026, 6, 1, 12), "S2", "B1", 1.0, 1.5),
        ("R5", None, datetime(2026, 11, 20, 12), "S1", "P1", 1.0, 2.0),  # anonymous
        ("R6", "C1", datetime(2026, 11, 22, 10), "S1", "P2", 1.0, 3.0),  # on the run day: not yet seen
    ]
)


def test_customer_features_hand_computed():
    got = customer_features(TX, PRODUCTS, as_of=AS_OF, lookback_days=365)
    expected = pl.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "first_purchase": [date(2026, 11, 1), date(2026, 6, 1)],
            "last_purchase": [date(2026, 11, 15), date(2026, 6, 1)],
            "recency_days": pl.Series([7, 174], dtype=pl.Int32),
            "tenure_days": pl.Series([21, 174], dtype=pl.Int32),
            "frequency": pl.Series([2, 1], dtype=pl.Int32),
            "monetary": [6.0, 1.5],
            "avg_basket": [3.0, 1.5],
            "visits": pl.Series([2, 1], dtype=pl.Int32),
            "median_gap_days": pl.Series([None, None], dtype=pl.Float64),
            "favourite_category": ["pasta", "beer"],
            "favourite_share": [1.0, 1.0],
        }
    )
    assert_frame_equal(got, expected)


def test_lookback_window_limits_frequency_and_monetary_not_recency():
    got = customer_features(TX, PRODUCTS, as_of=AS_OF, lookback_days=30)
    c2 = got.filter(pl.col("customer_id") == "C2").row(0, named=True)
    assert (c2["frequency"], c2["monetary"], c2["recency_days"]) == (0, 0.0, 174)
    assert c2["avg_basket"] is None


def test_median_gap_needs_three_visits():
    rows = [(f"R{i}", "C9", datetime(2026, 10, d), "S1", "P1", 1.0, 2.0) for i, d in enumerate([1, 8, 22])]
    got = customer_features(tx(rows), PRODUCTS, as_of=AS_OF, lookback_days=365)
    assert got["median_gap_days"].to_list() == [10.5]


def test_customer_products_nets_returns():
    got = customer_products(TX, as_of=AS_OF, lookback_days=365)
    expected = pl.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "sku": ["P1", "B1"],
            "receipts": pl.Series([2, 1], dtype=pl.Int32),
            "quantity": [3.0, 1.0],
            "spend": [6.0, 1.5],
            "first_day": [date(2026, 11, 1), date(2026, 6, 1)],
            "last_day": [date(2026, 11, 15), date(2026, 6, 1)],
            "days_since_last": pl.Series([7, 174], dtype=pl.Int32),
            "cycle_days": pl.Series([None, None], dtype=pl.Float64),
            "in_lookback": [True, True],
        }
    )
    assert_frame_equal(got, expected)


def test_category_spend_shares():
    got = category_spend(TX, PRODUCTS, as_of=AS_OF)
    assert got.to_dicts() == [
        {"customer_id": "C1", "category": "pasta", "spend": 6.0, "share": 1.0},
        {"customer_id": "C2", "category": "beer", "spend": 1.5, "share": 1.0},
    ]


def feats(recency, frequency, monetary):
    return pl.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(len(recency))],
            "recency_days": recency,
            "frequency": frequency,
            "monetary": monetary,
        }
    )


def test_rfm_scores_quintiles_best_is_five():
    got = score_rfm(feats([1, 10, 20, 30, 40], [9, 7, 5, 3, 1], [50.0, 40.0, 30.0, 20.0, 10.0]))
    assert got["r_score"].to_list() == [5, 4, 3, 2, 1]
    assert got["f_score"].to_list() == [5, 4, 3, 2, 1]
    assert got["m_score"].to_list() == [5, 4, 3, 2, 1]
    assert got["r_score"].dtype == pl.Int8


def test_rfm_ties_share_a_score():
    got = score_rfm(feats([5, 5, 5, 5, 100, 200], [1, 1, 1, 1, 1, 2], [1.0] * 6))
    assert got["r_score"].n_unique() == 3
    assert len(set(got["r_score"].to_list()[:4])) == 1
    assert len(set(got["f_score"].to_list()[:5])) == 1
    assert got["m_score"].n_unique() == 1


def test_rfm_small_populations():
    one = score_rfm(feats([3], [1], [10.0]))
    assert one.select("r_score", "f_score", "m_score").row(0) == (5, 5, 5)
    two = score_rfm(feats([3, 30], [2, 1], [10.0, 5.0]))
    assert two["r_score"].to_list() == [5, 3]


def test_every_rfm_cell_has_a_named_segment():
    cells = pl.DataFrame(
        [(r, f, 3) for r in range(1, 6) for f in range(1, 6)],
        schema={"r_score": pl.Int8, "f_score": pl.Int8, "m_score": pl.Int8},
        orient="row",
    )
    named = name_segments(cells, SegmentsConfig().rules)
    assert "other" not in named["rfm_segment"].to_list()
    lookup = {(r, f): s for r, f, _, s in named.rows()}
    assert lookup[(5, 5)] == "champions"
    assert lookup[(1, 5)] == "cannot_lose"
    assert lookup[(2, 4)] == "at_risk"
    assert lookup[(3, 5)] == "loyal"
    assert lookup[(5, 1)] == "new"
    assert lookup[(1, 1)] == "lost"
    assert lookup[(2, 1)] == "hibernating"


def test_lifecycle_uses_the_customers_own_rhythm():
    frame = pl.DataFrame(
        {
            "customer_id": ["new", "weekly_late", "monthly_fine", "no_rhythm", "gone"],
            "tenure_days": [10, 400, 400, 400, 400],
            "recency_days": [5, 30, 70, 100, 200],
            "median_gap_days": [None, 7.0, 40.0, None, 30.0],
        }
    )
    got = lifecycle_states(frame, SegmentsConfig())
    assert got["lifecycle"].to_list() == ["new", "active", "active", "lapsing", "lapsed"]
    strict = lifecycle_states(frame, SegmentsConfig(lapsing_days=20))
    # a weekly shopper unseen for 30 days is lapsing once the floor allows it (2 x 7 = 14 < 30)
    assert strict["lifecycle"].to_list()[1] == "lapsing"


def test_nps_classes():
    got = pl.DataFrame({"s": [0, 6, 7, 8, 9, 10, None]}).select(nps_class(pl.col("s")))
    assert got.to_series().to_list() == [
        "detractor",
        "detractor",
        "passive",
        "passive",
        "promoter",
        "promoter",
        None,
    ]


def test_segment_summary_adds_up_and_computes_nps():
    features = customer_features(TX, PRODUCTS, as_of=AS_OF, lookback_days=365)
    customers = pl.DataFrame({"customer_id": ["C1", "C2"], "nps_score": pl.Series([10, 3], dtype=pl.Int64)})
    seg = segment_customers(features, customers, SegmentsConfig())
    summary = summarize_segments(seg)
    assert summary["customers"].sum() == seg.height
    assert abs(summary["spend_share"].sum() - 1.0) < 1e-9
    # two customers: C1 (R5, F5) is a champion and a promoter, C2 (R3, F3) needs attention and is a detractor
    assert seg.select("customer_id", "rfm_segment", "nps_class").rows() == [
        ("C1", "champions", "promoter"),
        ("C2", "need_attention", "detractor"),
    ]
    assert {r["rfm_segment"]: r["nps"] for r in summary.to_dicts()} == {"champions": 100.0, "need_attention": -100.0}
