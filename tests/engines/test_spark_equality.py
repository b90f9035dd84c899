"""The Spark engine's stages give the polars stages' frames exactly, cell for cell and row for row.

One night is analysed on both engines over the same inputs: a slice of the bundled sample with
hand-made lines added for the cases exact equality is hard on (returns set against earlier days,
a return-only first day, a fully returned purchase, a receipt whose first line is anonymous, ties
in favourites, half-cent amounts, an average basket of x.xx5, fractional quantities).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.analysis.night import Analysis, analyse
from coupongen.config import Job, load_job
from coupongen.engines import stages
from coupongen.engines.spark.night import analyse_on_spark
from coupongen.inputs.loading import load_inputs
from coupongen.offers.planning import plan_night
from coupongen.settings import resolve_settings
from tests.engines.test_spark_relevance import check_spark_relevance_equals_polars

pytestmark = [pytest.mark.spark]

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data"
AS_OF = date(2026, 11, 22)
SLICE = 150  # customers of the sample kept

# receipt_id, customer_id, ts, store_id, sku, quantity, amount
EDGE_LINES = [
    # X1 bought on three days, returned part of the second purchase the day after, all of X2.
    ("E01", "C9000001", "2026-10-01T10:00:00", "S001", "X1", "2", "3.00"),
    ("E02", "C9000001", "2026-10-08T10:00:00", "S001", "X1", "2", "3.00"),
    ("E03", "C9000001", "2026-10-09T10:00:00", "S001", "X1", "-1", "-1.50"),
    ("E04", "C9000001", "2026-10-20T10:00:00", "S001", "X1", "1", "1.50"),
    ("E04", "C9000001", "2026-10-20T10:00:00", "S001", "X2", "1", "0.125"),
    ("E05", "C9000001", "2026-10-21T10:00:00", "S001", "X2", "-1", "-0.125"),
    # A return before any purchase of the sku, then four purchase days (an even number of gaps).
    ("E06", "C9000002", "2026-09-01T09:00:00", "S002", "X3", "-1", "-2.00"),
    ("E07", "C9000002", "2026-09-05T09:00:00", "S002", "X3", "1", "2.00"),
    ("E08", "C9000002", "2026-09-09T09:00:00", "S002", "X3", "1", "2.00"),
    ("E09", "C9000002", "2026-09-15T09:00:00", "S002", "X3", "0.5", "1.00"),
    ("E10", "C9000002", "2026-09-22T09:00:00", "S002", "X3", "1.5", "3.00"),
    # Equal spend in two categories and equal receipts and spend on two skus: names break ties.
    ("E11", "C9000003", "2026-11-01T12:00:00", "S003", "X4", "1", "5.00"),
    ("E11", "C9000003", "2026-11-01T12:00:00", "S003", "X5", "1", "5.00"),
    # A receipt whose first line has no customer: the receipt is anonymous, as on polars.
    ("E12", "", "2026-11-02T12:00:00", "S003", "X1", "1", "1.50"),
    ("E12", "C9000003", "2026-11-02T12:00:00", "S003", "X2", "1", "0.50"),
    # Two visits of 519.705 on average: the average basket rounds to 519.71 on both engines.
    ("E13", "C9000004", "2026-11-03T12:00:00", "S001", "X4", "1", "519.70"),
    ("E14", "C9000004", "2026-11-04T12:00:00", "S001", "X5", "1", "519.71"),
    # Bought and fully refunded the same day: no purchase.
    ("E15", "C9000005", "2026-11-05T12:00:00", "S001", "X4", "1", "5.00"),
    ("E16", "C9000005", "2026-11-05T13:00:00", "S001", "X4", "-1", "-5.00"),
    ("E17", "C9000005", "2026-11-06T12:00:00", "S001", "X5", "2", "10.005"),
]
EDGE_PRODUCTS = [
    ("X1", "Edge one", "edge_a"),
    ("X2", "Edge two", "edge_b"),
    ("X3", "Edge three", "edge_a"),
    ("X4", "Edge four", "edge_c"),
    ("X5", "Edge five", "edge_d"),
]


@dataclass(frozen=True)
class Night:
    polars: Analysis
    spark: Analysis
    run_dir: Path
    job: Job
    products: pl.DataFrame
    seed: int


@pytest.fixture
def night(spark, tmp_path_factory) -> Night:
    data = tmp_path_factory.mktemp("spark_data")
    customers = pl.read_csv(SAMPLE / "customers.csv", infer_schema=False)
    kept = customers.head(SLICE)
    edge_ids = sorted({line[1] for line in EDGE_LINES if line[1]})
    extra = pl.DataFrame({"customer_id": edge_ids}).with_columns(
        pl.lit("false").alias(c) for c in ("email_opt_in", "sms_opt_in", "push_opt_in")
    )
    extra = extra.with_columns(pl.Series("nps_score", ["9", "", "3", "7", "10"][: len(edge_ids)]))
    pl.concat([kept, extra], how="diagonal").write_csv(data / "customers.csv")
    products = pl.read_csv(SAMPLE / "products.csv", infer_schema=False)
    edge_products = pl.DataFrame(EDGE_PRODUCTS, schema=["sku", "name", "category"], orient="row")
    pl.concat([products, edge_products], how="diagonal").write_csv(data / "products.csv")
    tx = pl.read_csv(SAMPLE / "transactions.csv", infer_schema=False)
    wanted = kept["customer_id"].implode()
    sample_lines = tx.filter(pl.col("customer_id").is_in(wanted) | pl.col("customer_id").is_null())
    edge = pl.DataFrame(EDGE_LINES, schema=tx.columns, orient="row")
    pl.concat([sample_lines.head(4000), edge]).write_csv(data / "transactions.csv")
    inputs = load_inputs(data / "transactions.csv", data / "products.csv", data / "customers.csv")
    assert inputs.transactions.quarantined.filter(pl.col("receipt_id").str.starts_with("E")).is_empty()
    job = load_job(REPO / "jobs" / "nightly.toml")
    settings = resolve_settings(job, as_of=AS_OF, data_dir=data, out_dir=tmp_path_factory.mktemp("spark_out"))
    return Night(
        analyse(job, inputs, AS_OF),
        analyse_on_spark(job, inputs, settings),
        settings.run_dir,
        job,
        inputs.products.kept,
        settings.seed,
    )


# The checks are helpers of one test: the night is analysed on Spark once, by one worker, however
# the suite's workers share the tests out (a second worker would start a second JVM).
def test_spark_night_equals_polars_night(night, spark):
    check_spark_relevance_equals_polars(spark)
    check_customer_stages_equal(night)
    check_rules_equal(night)
    check_edge_customers_as_hand_computed(night)
    check_each_stage_written_with_its_key_and_marker(night)
    check_same_offers_planned(night)


def check_customer_stages_equal(night):
    for frame in ("segmented", "bought", "categories"):
        expected, got = getattr(night.polars, frame), getattr(night.spark, frame)
        assert expected.height > 100, frame
        assert_frame_equal(got, expected, check_exact=True)


def check_rules_equal(night):
    for frame in ("rules", "category_rules"):
        expected, got = getattr(night.polars, frame), getattr(night.spark, frame)
        assert expected.height > 0, frame
        assert_frame_equal(got, expected, check_exact=True)
    assert night.spark.n_baskets == night.polars.n_baskets


def check_edge_customers_as_hand_computed(night):
    rows = {r["customer_id"]: r for r in night.spark.segmented.to_dicts()}
    first = rows["C9000001"]
    # 3.00 + 3.00 - 1.50 + 1.50 + 0.125 - 0.125: half-cents round to even (12.5 -> 12 cents).
    assert (first["visits"], first["monetary"], first["median_gap_days"]) == (3, 6.0, 9.5)
    # The anonymous receipt's line of X2 is still theirs: 5.00, 5.00 and 0.50 by category.
    assert rows["C9000003"]["favourite_categories"] == ["edge_c", "edge_d", "edge_b"]
    assert rows["C9000003"]["favourite_products"] == ["X4", "X5", "X2"]
    assert rows["C9000003"]["visits"] == 1  # the receipt with an anonymous first line is not theirs
    assert rows["C9000004"]["avg_basket"] == 519.71
    assert rows["C9000002"]["nps_class"] is None
    bought = night.spark.bought.filter(pl.col("customer_id") == "C9000002").row(0, named=True)
    assert (bought["quantity"], bought["receipts"], bought["cycle_days"]) == (3.0, 4, 6.0)
    five = night.spark.bought.filter(pl.col("customer_id") == "C9000005")["sku"].to_list()
    assert five == ["X5"]


def check_each_stage_written_with_its_key_and_marker(night):
    stages_written = ("input_transactions", "customer_features", "segments", "sku_rules", "category_rules")
    for stage in (*stages_written, "relevance"):
        folder = stages.stage_dir(night.run_dir, stage)
        assert (folder / stages.SUCCESS).is_file(), stage
        assert (folder / stages.KEY_FILE).is_file(), stage
        assert sorted(folder.glob("part-*.parquet")), stage


def check_same_offers_planned(night):
    """The driver's planning over either engine's analysis: the same offers and holdout, row for row
    (on Spark, the cross-sell model's lists come from the Spark relevance stage).
    """
    assert night.polars.relevance is None
    assert night.spark.relevance is not None and night.spark.relevance["customer_id"].n_unique() > 100
    plans = [
        plan_night(night.job, analysis, night.products, as_of=AS_OF, seed=night.seed)
        for analysis in (night.polars, night.spark)
    ]
    expected, got = plans
    assert expected.offers.height > 50 and expected.controls.height > 0
    assert expected.offers["campaign"].n_unique() >= 4
    for frame in ("offers", "controls", "funnel", "eligible"):
        assert_frame_equal(getattr(got, frame), getattr(expected, frame), check_exact=True)
