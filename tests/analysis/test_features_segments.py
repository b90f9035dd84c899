from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.analysis import features
from coupongen.analysis.customer_blocks import customer_ranges
from coupongen.analysis.features import (
    category_spend,
    customer_features,
    customer_products,
    describe_customers,
)
from coupongen.analysis.segments import (
    SUMMARY_SCHEMA,
    lifecycle_states,
    name_segments,
    nps_class,
    score_rfm,
    segment_customers,
    summarize_segments,
)
from coupongen.config import SegmentsConfig, load_job
from coupongen.inputs.loading import load_inputs

AS_OF = date(2026, 11, 22)
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"

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


@pytest.fixture(scope="module")
def sample_inputs():
    """The bundled sample, typed by the data contract."""
    return load_inputs(SAMPLE / "transactions.csv", SAMPLE / "products.csv", SAMPLE / "customers.csv")


@pytest.fixture(scope="module")
def sample_tx(sample_inputs):
    return sample_inputs.transactions.kept, sample_inputs.products.kept


@pytest.fixture(scope="module")
def sample_facts(sample_tx):
    transactions, products = sample_tx
    return describe_customers(transactions, products, as_of=AS_OF)


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
            "favourite_categories": [["pasta"], ["beer"]],
            "favourite_products": [["P1"], ["B1"]],
            "regular_products": pl.Series([0, 0], dtype=pl.Int32),
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
            "regular": [False, False],
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


def day_rows(customer, sku, days, *, month=10, quantity=1.0, price=2.0, start=0):
    return [
        (
            f"R{customer}{sku}{start + i}",
            customer,
            datetime(2026, month, d, 12),
            "S1",
            sku,
            quantity,
            quantity * price,
        )
        for i, d in enumerate(days)
    ]


def test_a_regular_product_has_its_cycle_and_the_days_since_it_was_last_bought():
    # Bought on Oct 1, 8, 15 and 29: gaps 7, 7, 14, median 7; last bought 24 days before Nov 22.
    got = customer_products(tx(day_rows("C1", "P1", [1, 8, 15, 29])), as_of=AS_OF)
    row = got.row(0, named=True)
    assert (row["receipts"], row["cycle_days"], row["regular"], row["days_since_last"]) == (4, 7.0, True, 24)


def test_a_fully_returned_purchase_does_not_count_as_a_purchase_day():
    rows = day_rows("C1", "P1", [1, 8, 15, 29])
    # Oct 29's unit came back on Nov 2: the last purchase is Oct 15 and the cycle 7 days (7, 7).
    rows.append(("RB", "C1", datetime(2026, 11, 2, 9), "S1", "P1", -1.0, -2.0))
    got = customer_products(tx(rows), as_of=AS_OF).row(0, named=True)
    assert (got["receipts"], got["quantity"], got["spend"]) == (3, 3.0, 6.0)
    assert (got["last_day"], got["days_since_last"], got["cycle_days"]) == (date(2026, 10, 15), 38, 7.0)


def test_a_partly_returned_purchase_still_counts():
    rows = day_rows("C1", "P1", [1, 8, 15], quantity=2.0)
    rows.append(("RB", "C1", datetime(2026, 10, 20, 9), "S1", "P1", -1.0, -2.0))
    got = customer_products(tx(rows), as_of=AS_OF).row(0, named=True)
    assert (got["receipts"], got["quantity"], got["last_day"], got["regular"]) == (
        3,
        5.0,
        date(2026, 10, 15),
        True,
    )


def test_two_purchases_are_not_yet_a_rhythm():
    got = customer_products(tx(day_rows("C1", "P1", [1, 8])), as_of=AS_OF).row(0, named=True)
    assert (got["cycle_days"], got["regular"]) == (None, False)


def test_favourites_are_the_top_three_with_ties_to_the_first_name():
    products = pl.DataFrame(
        {"sku": ["A", "B", "C", "D"], "name": list("abcd"), "category": ["w", "x", "y", "z"]}
    )
    rows = (
        day_rows("C1", "D", [1, 2, 3], price=1.0)  # 3 receipts, spend 3
        + day_rows("C1", "C", [4, 5], price=5.0)  # 2 receipts, spend 10
        + day_rows("C1", "B", [6, 7], price=5.0)  # 2 receipts, spend 10: ties with C, B first
        + day_rows("C1", "A", [8], price=30.0)  # 1 receipt, spend 30
    )
    got = customer_features(tx(rows), products, as_of=AS_OF).row(0, named=True)
    assert got["favourite_products"] == ["D", "B", "C"]
    assert got["favourite_categories"] == ["w", "x", "y"]  # spend 30, 10, 10, 3
    assert (got["favourite_category"], got["favourite_share"]) == ("w", 30 / 53)
    assert got["regular_products"] == 1


def test_category_shares_of_each_customer_add_up_to_one(sample_facts):
    sums = sample_facts.categories.group_by("customer_id").agg(pl.col("share").sum())
    assert (sums["share"] - 1.0).abs().max() < 1e-12


def test_describe_customers_gives_what_the_three_functions_give(sample_tx):
    transactions, products = sample_tx
    facts = describe_customers(transactions, products, as_of=AS_OF)
    assert_frame_equal(facts.features, customer_features(transactions, products, as_of=AS_OF))
    assert_frame_equal(facts.products, customer_products(transactions, as_of=AS_OF))
    assert_frame_equal(facts.categories, category_spend(transactions, products, as_of=AS_OF))


@pytest.mark.parametrize("blocks", [1, 7])
def test_the_regular_products_as_of_earlier_days_are_those_of_the_lines_before_them(
    sample_tx, sample_facts, blocks, monkeypatch
):
    transactions, products = sample_tx
    monkeypatch.setattr(features, "BLOCK_LINES", transactions.height // blocks + 1)
    days = [date(2026, 11, 12), date(2026, 10, 1)]
    facts = describe_customers(transactions, products, as_of=AS_OF, earlier=days)
    assert_frame_equal(facts.products, sample_facts.products)
    assert list(facts.earlier) == days
    for day in days:
        expected = customer_products(transactions, as_of=day).filter(pl.col("regular"))
        assert expected.height > 100
        assert_frame_equal(facts.earlier[day], expected)
    # As of an earlier day, the cycles and days since the last purchase are that day's.
    assert not facts.earlier[days[1]].equals(sample_facts.products.filter(pl.col("regular")))


def test_features_do_not_depend_on_the_order_of_the_lines(sample_tx, sample_facts):
    transactions, products = sample_tx
    shuffled = transactions.sample(fraction=1.0, shuffle=True, seed=7)
    again = describe_customers(shuffled, products, as_of=AS_OF)
    assert_frame_equal(again.features, sample_facts.features)
    assert_frame_equal(again.products, sample_facts.products)
    assert_frame_equal(again.categories, sample_facts.categories)


def test_features_on_the_sample_hold_together(sample_facts):
    f = sample_facts.features
    assert f["customer_id"].is_unique().all()
    assert (f["recency_days"] <= f["tenure_days"]).all()
    assert (f["frequency"] <= f["visits"]).all()
    assert (f["favourite_categories"].list.len() <= 3).all()
    assert (f["favourite_categories"].list.first() == f["favourite_category"]).all()
    regular = sample_facts.products.group_by("customer_id").agg(pl.col("regular").sum().cast(pl.Int32))
    joined = f.join(regular, on="customer_id", how="left").with_columns(pl.col("regular").fill_null(0))
    assert (joined["regular"] == joined["regular_products"]).all()
    assert f["regular_products"].sum() > 0


def feats(recency, frequency, monetary):
    return pl.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(len(recency))],
            "recency_days": recency,
            "frequency": frequency,
            "monetary": monetary,
        },
        schema={
            "customer_id": pl.String,
            "recency_days": pl.Int32,
            "frequency": pl.Int32,
            "monetary": pl.Float64,
        },
    )


def scores(frame):
    return [tuple(r) for r in frame.select("r_score", "f_score", "m_score").rows()]


def test_rfm_scores_quintiles_best_is_five():
    got = score_rfm(feats([1, 10, 20, 30, 40], [9, 7, 5, 3, 1], [50.0, 40.0, 30.0, 20.0, 10.0]))
    assert got["r_score"].to_list() == [5, 4, 3, 2, 1]
    assert got["f_score"].to_list() == [5, 4, 3, 2, 1]
    assert got["m_score"].to_list() == [5, 4, 3, 2, 1]
    assert got["r_score"].dtype == pl.Int8


def test_rfm_ten_distinct_customers_fill_each_quintile_twice():
    got = score_rfm(feats(list(range(10, 0, -1)), list(range(10)), [float(m) for m in range(10)]))
    assert got["f_score"].to_list() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert got["r_score"].to_list() == got["f_score"].to_list() == got["m_score"].to_list()


def test_rfm_ties_share_a_score():
    got = score_rfm(feats([5, 5, 5, 5, 100, 200], [1, 1, 1, 1, 1, 2], [1.0] * 6))
    # recency: the four at 5 days beat two others (2 of 5 -> 1 + floor(2.0) = 3)
    assert got["r_score"].to_list() == [3, 3, 3, 3, 2, 1]
    assert got["f_score"].to_list() == [1, 1, 1, 1, 1, 5]
    assert got["m_score"].to_list() == [3] * 6


def test_rfm_a_large_tie_at_the_bottom_scores_one():
    # Most customers came once, as on real data: they are F 1, not a middling F 2 or 3.
    got = score_rfm(feats([1] * 10, [1] * 6 + [2, 3, 4, 5], [1.0] * 10))
    # the next four beat 6, 7, 8 and 9 of the other 9: 1 + floor(5 * worse / 9)
    assert got["f_score"].to_list() == [1] * 6 + [4, 4, 5, 5]


def test_rfm_small_populations():
    assert scores(score_rfm(feats([3], [1], [10.0]))) == [(3, 3, 3)]
    assert scores(score_rfm(feats([3, 30], [2, 1], [10.0, 5.0]))) == [(5, 5, 5), (1, 1, 1)]
    assert scores(score_rfm(feats([3, 3], [1, 1], [5.0, 5.0]))) == [(3, 3, 3), (3, 3, 3)]
    assert score_rfm(feats([], [], [])).height == 0


def test_rfm_scores_do_not_depend_on_row_order():
    base = feats([4, 9, 9, 30, 2, 60, 9], [3, 1, 1, 2, 8, 1, 4], [5.0, 1.0, 2.0, 2.0, 9.0, 0.5, 4.0])
    got = score_rfm(base)
    again = score_rfm(base.reverse()).reverse()
    assert_frame_equal(got, again)


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
    # two customers: C1 is the more recent and frequent (R5, F5), C2 the less (R1, F1)
    assert seg.select("customer_id", "rfm_segment", "nps_class").rows() == [
        ("C1", "champions", "promoter"),
        ("C2", "lost", "detractor"),
    ]
    expected = pl.DataFrame(
        {
            "rfm_segment": ["champions", "lost"],
            "customers": [1, 1],
            "customer_share": [0.5, 0.5],
            "spend": [6.0, 1.5],
            "spend_share": [0.8, 0.2],
            "nps_answers": [1, 1],
            "promoters": [1, 0],
            "passives": [0, 0],
            "detractors": [0, 1],
            "nps": [100.0, -100.0],
        },
        schema=SUMMARY_SCHEMA,
    )
    assert_frame_equal(summarize_segments(seg), expected)


def test_nps_is_promoters_minus_detractors_over_answers():
    seg = pl.DataFrame(
        {
            "rfm_segment": ["a"] * 6 + ["b"],
            "monetary": [10.0, 10.0, 10.0, 10.0, 10.0, -5.0, 0.0],
            "nps_class": ["promoter", "promoter", "passive", "detractor", None, None, None],
        }
    )
    got = summarize_segments(seg).to_dicts()
    assert got[0] == {
        "rfm_segment": "a",
        "customers": 6,
        "customer_share": 0.8571,
        "spend": 50.0,  # the refund-only customer counts as 0, not -5
        "spend_share": 1.0,
        "nps_answers": 4,
        "promoters": 2,
        "passives": 1,
        "detractors": 1,
        "nps": 25.0,
    }
    assert got[1]["nps"] is None and got[1]["spend_share"] == 0.0


def test_sample_segments_add_up_to_the_customers_with_purchases(sample_inputs, sample_facts):
    transactions = sample_inputs.transactions.kept
    seg = segment_customers(sample_facts.features, sample_inputs.customers.kept, SegmentsConfig())
    buyers = (
        transactions.filter(pl.col("ts") < datetime(2026, 11, 22), pl.col("customer_id").is_not_null())
        .group_by("receipt_id")
        .agg(pl.col("customer_id").first(), pl.col("amount").sum())
        .filter(pl.col("amount") > 0)["customer_id"]
        .n_unique()
    )
    answered = seg["nps_score"].is_not_null().sum()
    for by in ("rfm_segment", "lifecycle"):
        summary = summarize_segments(seg, by=by)
        assert summary["customers"].sum() == seg.height == buyers
        assert summary["nps_answers"].sum() == answered > 0
        assert (
            summary["promoters"] + summary["passives"] + summary["detractors"] == summary["nps_answers"]
        ).all()
        assert abs(summary["spend_share"].sum() - 1.0) < 1e-3
    named = set(seg["rfm_segment"])
    assert {"champions", "new", "lost", "hibernating", "at_risk"} <= named
    assert set(seg["lifecycle"]) == {"new", "active", "lapsing", "lapsed"}


def test_the_segment_map_is_data_in_the_job_file(tmp_path):
    job = tmp_path / "job.toml"
    job.write_text(
        "[segments]\n"
        "bins = 3\n"
        '[[segments.rules]]\nname = "best"\nr = [3, 3]\nf = [3, 3]\n'
        '[[segments.rules]]\nname = "rest"\n'
    )
    config = load_job(job).config.segments
    seg = segment_customers(
        customer_features(TX, PRODUCTS, as_of=AS_OF),
        pl.DataFrame({"customer_id": ["C1"], "nps_score": pl.Series([None], dtype=pl.Int64)}),
        config,
    )
    assert seg.select("customer_id", "r_score", "f_score", "rfm_segment").rows() == [
        ("C1", 3, 3, "best"),
        ("C2", 1, 1, "rest"),
    ]


def test_features_computed_by_blocks_of_customers_are_the_same(sample_tx, sample_facts, monkeypatch):
    transactions, products = sample_tx
    monkeypatch.setattr(features, "BLOCK_LINES", transactions.height // 7)
    assert len(customer_ranges(transactions.lazy(), features.BLOCK_LINES)) >= 7
    blocked = describe_customers(transactions, products, as_of=AS_OF)
    assert_frame_equal(blocked.features, sample_facts.features)
    assert_frame_equal(blocked.products, sample_facts.products)
    assert_frame_equal(blocked.categories, sample_facts.categories)
