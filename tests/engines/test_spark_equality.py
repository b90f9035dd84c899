"""The Spark engine's stages give the polars stages' frames exactly, cell for cell and row for row.

One night is analysed on both engines over the same inputs: a slice of the bundled sample with
hand-made lines added for the cases exact equality is hard on (returns set against earlier days,
a return-only first day, a fully returned purchase, a receipt whose first line is anonymous, ties
in favourites, half-cent amounts, an average basket of x.xx5, fractional quantities).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coupongen.analysis.night import Analysis, analyse
from coupongen.config import Job, load_job
from coupongen.engines import stages
from coupongen.engines.spark import reading, validation
from coupongen.engines.spark.candidates import STAGE, on_driver, propose_on_spark
from coupongen.engines.spark.holdout import with_holdout
from coupongen.engines.spark.loading import as_kept, as_quarantined, load_inputs_on_spark
from coupongen.engines.spark.night import analyse_on_spark
from coupongen.errors import InputError
from coupongen.inputs.batches import load_transactions, read_batches
from coupongen.inputs.contract import TRANSACTIONS, Inputs
from coupongen.inputs.loading import load_job_inputs
from coupongen.inputs.partitions import partition_files
from coupongen.inputs.reading import ReadLimits, read_input, resolve_files
from coupongen.offers.campaign_free import proposals
from coupongen.offers.candidates import CANDIDATE_SCHEMA, OFFER_TYPES
from coupongen.offers.eligibility import eligible_customers
from coupongen.offers.guards import DRAWN, in_holdout
from coupongen.offers.planning import plan_night
from coupongen.offers.substitutes import ALTERNATIVE, SUBSTITUTE
from coupongen.settings import resolve_settings
from tests.engines.test_spark_reference import check_spark_reference_equals_polars
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
    # A pasta bought every ten days, last eleven days ago: due again (a replenishment offer), and a
    # birthday within the coupon's validity (a birthday offer).
    ("E18", "C9000006", "2026-10-22T12:00:00", "S001", "P000001", "1", "109.90"),
    ("E19", "C9000006", "2026-11-01T12:00:00", "S001", "P000001", "1", "109.90"),
    ("E20", "C9000006", "2026-11-11T12:00:00", "S001", "P000001", "1", "109.90"),
]
# Lines each engine must quarantine, with the reasons the polars validation gives (in its words).
DIRTY_LINES = [
    ("Q01", "C9000001", "2026-10-30T10:00:61", "S001", "X1", "1.5d", "0x1p3"),
    ("Q02", "C9000001", " 2026-10-30 10:00:00.1234567+02:00 ", "S001", "QX", "1e5", "1e400"),
    ("Q03", "C9000099", "2026-02-30", "S001", "NOSKU", "1", "2"),
    ("Q04", "C9000098", "2026-10-30T10:00", "S001", "\u00a0", ".5", "-1."),
    ("E01", "C9000001", "2026-10-01T10:00:00", "S001", "X1", "2", "3.00"),
]
DIRTY_REASONS = {
    "Q01": "ts: not an ISO-8601 date-time; quantity: not a number; amount: not a number",
    "Q02": "amount: not a number; quantity: beyond max_line_quantity (10000); "
    "sku: its product row is quarantined",
    "Q03": "ts: not an ISO-8601 date-time; sku: not in products; customer_id: not in customers",
    "Q04": "sku: empty; customer_id: its customer row is quarantined",
    "E01": "exact duplicate of an earlier line",
    "Q05": "more fields than the header",
    "   ": "receipt_id: empty; ts: empty; sku: empty; quantity: empty; amount: empty",
}
# Written as text after the others: a line with a field too many, a blank line, a line of blanks.
RAW_TAIL = "Q05,C9000001,2026-10-30T10:00:00,S001,X1,1,2.00,extra\n\n   ,  ,,,,,\n"
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
    inputs: tuple[Inputs, Inputs]  # polars, spark
    quarantine: tuple[Path, Path]
    lines: int  # data lines written to transactions.csv (the blank one included)


@pytest.fixture
def night(spark, tmp_path_factory) -> Night:
    data = tmp_path_factory.mktemp("spark_data")
    customers = pl.read_csv(SAMPLE / "customers.csv", infer_schema=False)
    kept = customers.head(SLICE)
    edge_ids = sorted({line[1] for line in EDGE_LINES if line[1]})
    extra = pl.DataFrame({"customer_id": [*edge_ids, "C9000098"]}).with_columns(
        pl.lit("false").alias(c) for c in ("email_opt_in", "sms_opt_in", "push_opt_in")
    )
    extra = extra.with_columns(
        pl.Series("nps_score", ["9", "", "3", "7", "10", "8", "11"]),
        pl.Series("birth_date", ["", "", "", "", "", "1990-11-25", ""]),
    )
    pl.concat([kept, extra], how="diagonal").write_csv(data / "customers.csv")
    products = pl.read_csv(SAMPLE / "products.csv", infer_schema=False)
    edge_products = pl.DataFrame(
        [*EDGE_PRODUCTS, ("QX", "", "edge_a")], schema=["sku", "name", "category"], orient="row"
    )
    pl.concat([products, edge_products], how="diagonal").write_csv(data / "products.csv")
    tx = pl.read_csv(SAMPLE / "transactions.csv", infer_schema=False)
    wanted = kept["customer_id"].implode()
    sample_lines = tx.filter(pl.col("customer_id").is_in(wanted) | pl.col("customer_id").is_null())
    edge = pl.DataFrame(EDGE_LINES + DIRTY_LINES, schema=tx.columns, orient="row")
    lines = pl.concat([sample_lines.head(4000), edge])
    lines.write_csv(data / "transactions.csv")
    with (data / "transactions.csv").open("a", encoding="utf-8") as fh:
        fh.write(RAW_TAIL)
    job = load_job(REPO / "jobs" / "nightly.toml")
    settings = resolve_settings(job, as_of=AS_OF, data_dir=data, out_dir=tmp_path_factory.mktemp("spark_out"))
    held = (tmp_path_factory.mktemp("q_polars"), tmp_path_factory.mktemp("q_spark"))
    by_polars = load_job_inputs(job.config.inputs, data, quarantine_dir=held[0])
    by_spark = load_inputs_on_spark(job, settings, quarantine_dir=held[1])
    assert by_spark.transactions.quarantined.filter(pl.col("receipt_id").str.starts_with("E0")).height == 1
    return Night(
        analyse(job, by_polars, AS_OF),
        analyse_on_spark(job, by_spark, settings),
        settings.run_dir,
        job,
        by_polars.products.kept,
        settings.seed,
        (by_polars, by_spark),
        held,
        lines.height + RAW_TAIL.count("\n"),
    )


# The checks are helpers of one test: the night is analysed on Spark once, by one worker, however
# the suite's workers share the tests out (a second worker would start a second JVM).
def test_spark_night_equals_polars_night(night, spark, tmp_path):
    check_spark_relevance_equals_polars(spark)
    check_inputs_validated_alike(night)
    check_parts_validated_alike(spark, tmp_path)
    check_spark_reference_equals_polars(spark, tmp_path)
    check_unreadable_lines_refused(spark, tmp_path)
    check_holdout_drawn_alike(night, spark)
    check_customer_stages_equal(night)
    check_rules_equal(night)
    check_edge_customers_as_hand_computed(night)
    check_each_stage_written_with_its_key_and_marker(night)
    check_same_offers_planned(night)
    check_candidates_staged_alike(night, spark)


def check_inputs_validated_alike(night):
    """Spark's validation keeps and quarantines the polars validation's rows, with its reasons."""
    by_polars, by_spark = (inputs.transactions for inputs in night.inputs)
    assert_frame_equal(by_spark.kept, by_polars.kept, check_exact=True)
    assert_frame_equal(by_spark.quarantined, by_polars.quarantined, check_exact=True)
    assert by_spark.counts == by_polars.counts
    # Read = kept + quarantined: every line written but the blank one.
    assert by_spark.counts["read"] == night.lines - 1
    reasons = dict(
        by_spark.quarantined.filter(pl.col("line") > 4001).select("receipt_id", "reason").iter_rows()
    )
    assert reasons == DIRTY_REASONS
    for name in ("transactions", "products", "customers"):
        files = [(folder / f"{name}.csv").read_bytes() for folder in night.quarantine]
        assert files[0] == files[1], name
    for name in ("products", "customers"):
        expected, got = (getattr(inputs, name) for inputs in night.inputs)
        assert_frame_equal(got.kept, expected.kept, check_exact=True)
        assert_frame_equal(got.quarantined, expected.quarantined, check_exact=True)
        assert got.counts == expected.counts and expected.counts["quarantined"] == 1, name
        if expected.extra is None:
            assert got.extra is None
        else:
            assert_frame_equal(got.extra, expected.extra, check_exact=True)


HEADER = "receipt_id,customer_id,ts,store_id,sku,quantity,amount\n"
PART_ONE = "P1,C1,2026-10-01T10:00:00,S1,A,1,2.50\nP2,C1,2026-10-02T10:00:00,S1,B,2,x\n"
PART_TWO = "P1,C1,2026-10-01T10:00:00,S1,A,1,2.50\nP3,C2,2026-10-03T10:00:00,S1,A,1,1e-5\n"
# The same columns in another order, and one the contract does not know.
PART_FOUR = (
    "sku,note,amount,quantity,receipt_id,customer_id,ts,store_id\nA,hi,2.50,1,P1,C1,2026-10-01T10:00:00,S1\n"
)


def check_parts_validated_alike(spark, tmp_path):
    """Several parts, CSV (two headers) and typed Parquet, in a folder whose name needs quoting in
    a URI: the lines, their order and reasons as on polars; a line repeating a line of an earlier
    part is a duplicate. The folder named by a ``file://`` URI (listed through pyarrow, handed to
    Spark as URIs) and a day partition of a folder by URI (the window's one day of two) are read
    as polars reads them: the same text, files, lines and order (validation is the same code).
    """
    folder = tmp_path / "parts, one day"
    folder.mkdir()
    (folder / "part-1.csv").write_text(HEADER + PART_ONE)
    (folder / "part-2.csv").write_text(HEADER + PART_TWO)
    (folder / "part-4.csv").write_text(PART_FOUR)
    typed = pl.DataFrame(
        {
            "receipt_id": ["P4", "P4", "P5"],
            "customer_id": ["C2", "C2", None],
            "ts": [datetime(2026, 10, 4, 9, 30, 0, 250000)] * 2 + [None],
            "store_id": ["S2"] * 3,
            "sku": ["B", "B", "Z"],
            "quantity": [1.5, 1.5, 123456789.125],
            "amount": [3.0, 3.0, 1.25],
        }
    )
    typed.write_parquet(folder / "part-3.parquet")
    files = [folder / f for f in ("part-1.csv", "part-2.csv", "part-3.parquet", "part-4.csv")]
    known = {"skus": pl.Series(["A", "B"]), "customer_ids": pl.Series(["C1", "C2"])}
    expected = load_transactions(files, ",", max_amount=1e6, max_quantity=1e4, **known)
    rows = reading.read_text(spark, files, TRANSACTIONS, ",")
    checked = validation.validate_transactions(
        spark,
        rows,
        skus=["A", "B"],
        customer_ids=["C1", "C2"],
        quarantined_skus=[],
        quarantined_customer_ids=[],
        max_amount=1e6,
        max_quantity=1e4,
    )
    kept = pl.from_arrow(validation.kept_lines(checked).toArrow())
    held = pl.from_arrow(validation.quarantined_lines(checked).toArrow())
    assert isinstance(kept, pl.DataFrame) and isinstance(held, pl.DataFrame)
    assert_frame_equal(as_kept(kept), expected.kept, check_exact=True)
    assert_frame_equal(as_quarantined(held, files), expected.quarantined, check_exact=True)
    assert expected.quarantined.select("source_file", "line", "reason").rows() == [
        ("part-1.csv", 3, "amount: not a number"),
        ("part-2.csv", 2, "exact duplicate of an earlier line"),
        ("part-3.parquet", 2, "exact duplicate of an earlier line"),
        ("part-3.parquet", 3, "ts: empty; quantity: beyond max_line_quantity (10000); sku: not in products"),
        ("part-4.csv", 2, "exact duplicate of an earlier line"),
    ]
    uris = resolve_files(folder.as_uri())
    assert [str(f) for f in uris] == [f"file://{p.as_posix()}" for p in files]
    for day, text in (("2026-10-04", PART_TWO), ("2026-10-05", PART_ONE)):
        (tmp_path / "days" / f"date={day}").mkdir(parents=True)
        pl.read_csv((HEADER + text).encode(), infer_schema=False).write_parquet(
            tmp_path / "days" / f"date={day}" / "part-0.parquet"
        )
    days = partition_files((tmp_path / "days").as_uri(), (date(2026, 10, 4), date(2026, 10, 5)))
    assert [str(f) for f in days] == [f"{(tmp_path / 'days').as_uri()}/date=2026-10-04/part-0.parquet"]
    by_uri = [*uris, *days]
    rows = reading.read_text(spark, by_uri, TRANSACTIONS, ",")
    read = pl.from_arrow(
        rows.select(*TRANSACTIONS.names, "source_file", "line", "reason", reading.FILE_INDEX).toArrow()
    )
    assert isinstance(read, pl.DataFrame)
    expected_text = read_input(by_uri, TRANSACTIONS, ",")
    assert expected_text["source_file"].unique(maintain_order=True).to_list()[-2:] == [
        "part-4.csv",
        "part-0.parquet",
    ]
    assert_frame_equal(as_quarantined(read, by_uri), expected_text, check_exact=True)


def check_unreadable_lines_refused(spark, tmp_path):
    """A value past the size limit is refused as on polars; a quoted value over a line's end too."""
    long = tmp_path / "long.csv"
    long.write_text(HEADER + PART_ONE + "P9,C1,2026-10-01T10:00:00,S1,ABCDEFGHIJKLMNOPQRSTUVWXY,1,1\n")
    limits = ReadLimits(value_bytes=20)
    with pytest.raises(InputError) as on_polars:
        list(read_batches([long], TRANSACTIONS, ",", limits=limits))
    with pytest.raises(InputError) as on_spark:
        reading.check_lines(
            reading.read_text(spark, [long], TRANSACTIONS, ",", limits), [long], TRANSACTIONS, limits
        )
    assert str(on_spark.value) == str(on_polars.value)
    assert "line 4, column 'sku'" in str(on_spark.value)
    quoted = tmp_path / "quoted.csv"
    quoted.write_text(HEADER + 'P1,C1,2026-10-01T10:00:00,S1,"A\nB",1,1\n')
    with pytest.raises(InputError) as opened:
        reading.check_lines(reading.read_text(spark, [quoted], TRANSACTIONS, ","), [quoted], TRANSACTIONS)
    assert str(opened.value) == (
        f"{quoted}: line 2 opens a quoted value it does not close; the Spark engine reads a CSV "
        "line per row: export values without line breaks, or as Parquet"
    )


def check_holdout_drawn_alike(night, spark):
    """The Arrow UDF over seven partitions draws the driver's holdout groups, customer for customer."""
    ids = night.polars.segmented["customer_id"]
    draws = {"winback": ("winback:7", 0.1), "vip": ("vip:7", 0.5)}
    expected = pl.concat(
        [
            pl.DataFrame({"campaign": name, "customer_id": ids}).with_columns(
                in_holdout(ids, salt=salt, share=share).alias("held")
            )
            for name, (salt, share) in draws.items()
        ]
    )
    frame = spark.createDataFrame(expected.drop("held").to_arrow()).repartition(7)
    got = pl.from_arrow(with_holdout(frame, draws).toArrow())
    assert isinstance(got, pl.DataFrame)
    keys = ["campaign", "customer_id"]
    assert_frame_equal(got.sort(keys), expected.sort(keys), check_exact=True)
    shares = expected.group_by("campaign").agg(pl.col("held").mean()).sort("campaign")
    assert 0.35 < shares["held"][0] < 0.65 and 0.03 < shares["held"][1] < 0.2


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
    stages_written = (
        "valid_products",
        "quarantine_products",
        "valid_customers",
        "quarantine_customers",
        "valid_transactions",
        "quarantine_transactions",
        "customer_features",
        "segments",
        "sku_rules",
        "category_rules",
        "relevance",
    )
    # The analysis started from the lines Spark validated: the driver handed over no lines.
    for handed in ("input_transactions", "input_products", "input_customers"):
        assert not stages.stage_dir(night.run_dir, handed).exists(), handed
    for stage in stages_written:
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


# Campaigns with a target besides the sample job's: two the Spark stage proposes (a category set
# with its first-listed fallback, due products of a set), two the driver proposes (the set's most
# widely bought product, and the model's pick: both read every customer's purchases).
TARGETED = {
    "win_back": ("coffee_or_pasta", {"categories": ("coffee", "pasta")}),
    "vip_reward": (
        "due_staples",
        {"categories": ("milk", "bread", "eggs", "cheese"), "rule": "replenishment"},
    ),
    "second_purchase": ("brand_pick", {"brands": ("Barilla", "Carte Noire")}),
    "referral": ("model_pick", {"categories": ("coffee", "pasta"), "rule": "model"}),
}


def _with_targeted(job: Job) -> Job:
    from coupongen.config.audience import Target

    extra = [
        c.model_copy(update={"name": name, "target": Target(**target)})
        for c in job.campaigns
        for kind, (name, target) in TARGETED.items()
        if c.type == kind
    ]
    campaigns = (*job.campaigns, *extra)
    return Job(
        job.path, job.config, campaigns, customer_lists=job.customer_lists, campaign_files=job.campaign_files
    )


def check_candidates_staged_alike(night, spark):
    """The candidates stage over three groups of customers: each campaign's eligible customers,
    candidates (every offer type of the sample job, and targets) and holdout flags are the polars
    planning's, frame for frame; then the whole plan over the stage equals the polars plan.
    """
    job = _with_targeted(night.job)
    seen: dict[str, object] = {}

    def stage(ctx, seed):
        seen["ctx"] = ctx
        seen["staged"] = propose_on_spark(spark, night.run_dir, job, ctx, seed=seed, groups=3)
        return seen["staged"]

    got = plan_night(job, night.spark, night.products, as_of=AS_OF, seed=night.seed, stage=stage)
    ctx, staged = seen["ctx"], seen["staged"]
    assert sorted(staged) == sorted(c.name for c in job.campaigns if not on_driver(c))
    assert {"brand_pick", "model_pick"}.isdisjoint(staged)
    offered = set()
    for campaign in job.campaigns:
        if campaign.name not in staged:
            continue
        eligible = eligible_customers(ctx.customers, campaign, listed=job.customer_lists.get(campaign.name))
        # a held cross-sell campaign's customers whose first offer is a substitute have two rows
        order = ["customer_id", "target"]
        proposed = proposals(eligible, ctx, campaign).sort(order)
        expected = proposed.with_columns(
            in_holdout(
                proposed["customer_id"],
                salt=f"{campaign.name}:{night.seed}",
                share=campaign.holdout_share,
            ).alias(DRAWN)
        ).select(*CANDIDATE_SCHEMA, DRAWN, *(c for c in (SUBSTITUTE, ALTERNATIVE) if c in proposed.columns))
        on_spark, candidates = staged[campaign.name]
        assert_frame_equal(on_spark, eligible.select("customer_id"), check_exact=True)
        assert_frame_equal(candidates.sort(order), expected, check_exact=True)
        if expected.height:
            offered.add(campaign.type)
    assert offered == set(OFFER_TYPES)
    assert staged["coffee_or_pasta"][1]["target"].unique().sort().to_list() == ["coffee", "pasta"]
    written = stages.stage_dir(night.run_dir, STAGE)
    assert (written / stages.SUCCESS).is_file() and (written / stages.KEY_FILE).is_file()
    expected_plan = plan_night(job, night.polars, night.products, as_of=AS_OF, seed=night.seed)
    assert set(expected_plan.funnel["campaign"]) >= {name for name, _ in TARGETED.values()}
    assert "coffee_or_pasta" in set(expected_plan.offers["campaign"])
    for frame in ("offers", "controls", "funnel", "eligible"):
        assert_frame_equal(getattr(got, frame), getattr(expected_plan, frame), check_exact=True)
