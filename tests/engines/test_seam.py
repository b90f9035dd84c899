"""The engine seam without a JVM: job keys, the --engine override, the master, stage folders."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
from click.testing import CliRunner

from coupongen.cli import cli
from coupongen.config import load_job
from coupongen.engines import stages
from coupongen.engines.spark.night import spark_stage
from coupongen.engines.spark.session import (
    EngineError,
    local_conf,
    local_threads,
    spark_master,
    spark_session,
)
from coupongen.errors import ConfigError
from coupongen.inputs.contract import CUSTOMERS

REPO = Path(__file__).resolve().parents[2]
NIGHTLY = REPO / "jobs" / "nightly.toml"


def _job_file(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "job.toml"
    path.write_text(f'data = "{REPO / "sample_data"}"\n{extra}\n')
    return path


def test_the_job_names_its_engine_and_master(tmp_path):
    job = load_job(_job_file(tmp_path, 'engine = "spark"\n[spark]\nmaster = "spark://head:7077"'))
    assert job.config.engine == "spark"
    assert spark_master(job.config.spark.master) == "spark://head:7077"
    assert load_job(_job_file(tmp_path, "")).config.engine == "polars"


def test_an_unknown_engine_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_job(_job_file(tmp_path, 'engine = "dask"'))
    assert "engine" in str(e.value) and "\n" not in str(e.value)
    result = CliRunner().invoke(cli, ["run", "--config", str(NIGHTLY), "--engine", "dask"])
    assert result.exit_code == 2
    assert "Invalid value for '--engine'" in result.output


def test_the_engine_override_keeps_the_config_hash():
    job = load_job(NIGHTLY)
    on_spark = job.with_engine("spark")
    assert (job.config.engine, on_spark.config.engine) == ("polars", "spark")
    assert job.with_engine(None) is job
    assert on_spark.config_hash() == job.config_hash()


def test_the_master_comes_from_the_job_then_the_environment(monkeypatch):
    monkeypatch.delenv("SPARK_MASTER", raising=False)
    assert spark_master(None) == "local[*]"
    monkeypatch.setenv("SPARK_MASTER", "yarn")
    assert spark_master(None) == "yarn"
    assert spark_master("local[2]") == "local[2]"


def test_a_local_master_gets_one_shuffle_partition_per_thread(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert [local_threads(m) for m in ("local", "local[2]", "local[*]", "local[3,2]", "yarn")] == [
        1,
        2,
        6,
        3,
        None,
    ]
    assert local_conf("local[2]") == {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"}
    assert local_conf("spark://head:7077") == {}


def test_without_pyspark_the_spark_engine_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(ConfigError) as e:
        spark_session("local[1]")
    assert str(e.value) == (
        "engine 'spark' needs pyspark: install coupongen with the spark extra "
        "(pip install 'coupongen[spark]')"
    )


def test_a_stage_without_its_marker_is_never_read(tmp_path):
    folder = stages.stage_dir(tmp_path, "segments")
    stages.write_frame(pl.DataFrame({"a": [1]}), folder, {"version": "x"})
    assert stages.read_frame(folder)["a"].to_list() == [1]
    assert (folder / stages.KEY_FILE).is_file()
    (folder / stages.SUCCESS).unlink()
    with pytest.raises(stages.StageError) as e:
        stages.read_frame(folder)
    assert str(e.value) == f"{folder}: stage output is incomplete (no _SUCCESS); rerun the night"


class _JavaError:
    """Stands in for a Java exception as py4j hands it over: a cause chain and a class name."""

    _target_id = "o1"

    def __init__(self, name: str, cause: _JavaError | None = None):
        self.name, self.cause = name, cause

    def getCause(self):
        return self.cause

    def getClass(self):
        return SimpleNamespace(getName=lambda: self.name)


def test_a_failed_spark_stage_is_one_line_naming_the_stage_not_the_data():
    from py4j.protocol import Py4JJavaError, Py4JNetworkError
    from pyspark.errors import PySparkException

    def failed(error: Exception) -> str:
        with pytest.raises(EngineError) as e, spark_stage("segments"):
            raise error
        return str(e.value)

    quoted = PySparkException("The value 'Ivanov' of the type STRING cannot be cast to INT")
    assert failed(quoted) == "Spark stage segments failed: PySparkException"
    oom = _JavaError("org.apache.spark.SparkException", _JavaError("java.lang.OutOfMemoryError"))
    assert failed(Py4JJavaError("An error occurred", oom)) == (
        "Spark stage segments failed: java.lang.OutOfMemoryError"
    )
    assert failed(Py4JNetworkError("Answer from Java side is empty")) == (
        "Spark stage segments failed: the Spark driver stopped answering"
    )
    assert EngineError.exit_code == 1


class _Builder:
    """Records what a session would be built with."""

    def __init__(self):
        self.url, self.settings = None, {}

    def appName(self, name):
        return self

    def master(self, url):
        self.url = url
        return self

    def config(self, key, value):
        self.settings[key] = value
        return self

    def getOrCreate(self):
        return SimpleNamespace(sparkContext=SimpleNamespace(setLogLevel=lambda level: None))


def _built_with(monkeypatch, master: str) -> _Builder:
    import pyspark.sql

    builder = _Builder()
    fake = SimpleNamespace(getActiveSession=lambda: None, builder=builder)
    monkeypatch.setattr(pyspark.sql, "SparkSession", fake)
    spark_session(master)
    return builder


def test_under_spark_submit_its_master_applies_unless_one_is_named(monkeypatch):
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    alone = _built_with(monkeypatch, "local[*]")
    assert alone.url == "local[*]" and "spark.sql.shuffle.partitions" in alone.settings
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "40123")
    submitted = _built_with(monkeypatch, "local[*]")
    assert submitted.url is None and "spark.sql.shuffle.partitions" not in submitted.settings
    assert submitted.settings["spark.sql.session.timeZone"] == "UTC"
    assert _built_with(monkeypatch, "yarn").url == "yarn"


def test_a_holdout_drawn_beforehand_is_the_holdout():
    """The budget cut takes the holdout flag an engine drew with the candidates (`guards.DRAWN`)."""
    from coupongen.offers.guards import DRAWN, in_holdout, within_budget

    ids = pl.Series("customer_id", [f"C{i}" for i in range(6)])
    frame = pl.DataFrame(
        {"customer_id": ids, "priority": [6.0, 5.0, 4.0, 3.0, 2.0, 1.0], "expected_cost": [1.0] * 6}
    )
    drawn = in_holdout(ids, salt="c:1", share=0.5)
    assert (
        within_budget(frame.with_columns(drawn.alias(DRAWN)), 3.0, salt="c:1", share=0.5)
        .drop(DRAWN)
        .equals(within_budget(frame, 3.0, salt="c:1", share=0.5))
    )
    flags = [True, False, False, True, False, False]
    cut = within_budget(frame.with_columns(pl.Series(DRAWN, flags)), 3.0, salt="c:1", share=0.5)
    # C0 and C3 held out cost nothing: three coupons fit, C4 is the last, C5 past the budget.
    assert cut.select("customer_id", "held").rows() == [
        ("C0", True),
        ("C1", False),
        ("C2", False),
        ("C3", True),
        ("C4", False),
    ]


def test_which_campaigns_the_spark_candidates_stage_proposes():
    """A target that picks from every customer's purchases stays on the driver, as does a public
    code; the polars engine proposes everything in its planning.
    """
    from coupongen.config.audience import Target
    from coupongen.engines import candidates_stage
    from coupongen.engines.spark.candidates import on_driver

    job = load_job(NIGHTLY)
    by_type = {c.type: c for c in job.campaigns}
    win_back, cross_sell = by_type["win_back"], by_type["cross_sell"]
    assert not any(on_driver(c) for c in job.campaigns)

    def aimed(campaign, **target):
        return campaign.model_copy(update={"target": Target(**target)})

    assert not on_driver(aimed(win_back, categories=("coffee",)))
    assert not on_driver(aimed(win_back, skus=("P000001",), rule="favourite"))
    assert not on_driver(aimed(win_back, rule="favourite"))
    assert not on_driver(aimed(win_back, brands=("Barilla",), rule="replenishment"))
    assert on_driver(aimed(win_back, brands=("Barilla",)))
    assert on_driver(aimed(win_back, categories=("coffee",), rule="model"))
    assert on_driver(aimed(cross_sell, categories=("coffee",)))
    public = win_back.model_copy(update={"code": win_back.code.model_copy(update={"public": True})})
    assert on_driver(public)
    assert candidates_stage(job, SimpleNamespace()) is None  # type: ignore[arg-type]


def test_an_eligibility_filter_spark_could_not_answer_fails_on_the_driver(tmp_path):
    """A filter whose values the customer column cannot be compared with is the planning's
    ConfigError, raised before any Spark work (no session is needed to see it).
    """
    from datetime import date

    from coupongen.config.audience import Filter
    from coupongen.engines.spark.candidates import propose_on_spark
    from coupongen.offers.candidates import OfferContext

    job = load_job(NIGHTLY)
    vip = next(c for c in job.campaigns if c.type == "vip_reward")
    bad = vip.eligibility.model_copy(update={"visits": Filter(op="at_least", values=("many",))})
    job.campaigns = (vip.model_copy(update={"eligibility": bad}),)
    customers = pl.DataFrame(
        schema={
            "customer_id": pl.String,
            "monetary": pl.Float64,
            "visits": pl.Int32,
            "rfm_segment": pl.String,
        }
    )
    ctx = OfferContext(
        customers, pl.DataFrame(), pl.DataFrame(), pl.DataFrame(), pl.DataFrame(), date(2026, 11, 22), 365
    )
    with pytest.raises(ConfigError) as e:
        propose_on_spark(None, tmp_path, job, ctx, seed=1)  # type: ignore[arg-type]
    assert str(e.value) == (
        "campaign 'vip_reward': eligibility.visits: column 'visits' holds Int32, which the filter's "
        "values cannot be compared with"
    )
    assert not (stages.stage_dir(tmp_path, "candidates") / stages.SUCCESS).exists()


def test_quarantined_parquet_floats_print_as_on_polars(tmp_path):
    """Spark prints a Parquet float's text as Java does; the driver prints it as polars does, and
    only for rows of a Parquet file whose column is a float: a CSV row keeps its text as written.
    """
    from coupongen.engines.spark.loading import polars_floats

    pl.DataFrame({"quantity": [1.0], "amount": [1.0], "sku": ["A"]}).write_parquet(tmp_path / "p.parquet")
    pl.DataFrame({"amount": pl.Series([1.0], dtype=pl.Float32)}).write_parquet(tmp_path / "q.parquet")
    files = [tmp_path / "a.csv", tmp_path / "p.parquet", tmp_path / "q.parquet"]
    spark_text = ["1.0E300", "Infinity", "1.23456789125E8", "NaN", "1.0E-5", "0.5", None]
    rows = pl.DataFrame(
        {
            "quantity": spark_text,
            "amount": ["1.0E300", "-Infinity", "1.5E10", "2.5", "1.0E300", "1.0E300", "3.0E38"],
            "sku": ["1.0E300"] * 7,
            "file_index": pl.Series([0, 1, 1, 1, 1, 1, 2], dtype=pl.Int32),
        }
    )
    printed = polars_floats(rows, files)
    assert printed["quantity"].to_list() == ["1.0E300", "inf", "123456789.125", "NaN", "0.00001", "0.5", None]
    assert printed["amount"].to_list() == [
        "1.0E300",
        "-inf",
        "15000000000.0",
        "2.5",
        "1e+300",
        "1e+300",
        "3e+38",
    ]
    assert printed["sku"].to_list() == ["1.0E300"] * 7
    assert polars_floats(rows.clear(), files).is_empty()


def test_quarantined_float_identifiers_keep_their_digits(tmp_path):
    """An identifier a Parquet file stores as floating point is read as its digits on both engines:
    the driver does not print it again as a float (``6.036000000000003e15``).
    """
    from coupongen.engines.spark.loading import polars_floats

    pl.DataFrame({"card_number": [1.0], "amount": [1.0]}).write_parquet(tmp_path / "p.parquet")
    rows = pl.DataFrame(
        {
            "card_number": ["6036000000000003"],
            "amount": ["1.5E10"],
            "file_index": pl.Series([0], dtype=pl.Int32),
        }
    )
    printed = polars_floats(rows, [tmp_path / "p.parquet"], identifiers=CUSTOMERS.identifiers)
    assert printed.rows() == [("6036000000000003", "15000000000.0", 0)]


def test_stage_folders_are_private(tmp_path):
    """Stages hold customers' rows: the stages' folder, each stage's folder and its parts are the
    owner's alone, even where an earlier version or another writer left them readable.
    """
    run_dir = tmp_path / "2026-11-22"
    (run_dir / stages.STAGES_DIR).mkdir(parents=True, mode=0o755)
    (run_dir / stages.STAGES_DIR).chmod(0o755)
    folder = stages.stage_dir(run_dir, "valid_customers")
    stages.begin_stage(folder)
    folder.mkdir()
    (folder / "part-00000.parquet").write_bytes(b"written by another process")
    (folder / "part-00000.parquet").chmod(0o644)
    stages.finish_stage(folder, {"version": "x"})
    assert (run_dir / stages.STAGES_DIR).stat().st_mode & 0o777 == 0o700
    assert folder.stat().st_mode & 0o777 == 0o700
    modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir() if p.name != stages.SUCCESS}
    assert modes == {"part-00000.parquet": 0o600, stages.KEY_FILE: 0o600}
