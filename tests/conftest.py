from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from coupongen import pipeline
from coupongen.cli import cli
from coupongen.config import load_job
from coupongen.progress import Recorder

# Flushing every published file to disk is what makes a night survive a power cut; the tests that
# check that (test_crash.py) turn it back on, the others do without and run several times faster.
os.environ.setdefault("COUPONGEN_FSYNC", "off")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"
NIGHTLY = REPO / "jobs" / "nightly.toml"
AS_OF = "2026-11-22"


@dataclass
class SampleRun:
    """One real run of the nightly job on the bundled data, shared by the tests that only read it."""

    out: Path
    result: Result

    @property
    def night(self) -> Path:
        return self.out / AS_OF

    @property
    def ledger(self) -> Path:
        return self.out / "ledger.sqlite"


def invoke(*args: str) -> Result:
    """Run the CLI in-process the way a user would type it."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run_nightly(out: Path, *extra: str) -> Result:
    return invoke("run", "--config", str(NIGHTLY), "--out", str(out), "--as-of", AS_OF, "-q", *extra)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the Spark tests first: the Spark night is the longest test by far, and started first on
    one worker it runs while the other worker takes the rest (xdist's worksteal hands each worker a
    contiguous share of this order, then lets the idle one take from the other's queue).
    """
    items.sort(key=lambda item: item.get_closest_marker("spark") is None)


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory) -> SampleRun:
    out = tmp_path_factory.mktemp("sample_run")
    result = run_nightly(out)
    assert result.exit_code == 0, result.output
    return SampleRun(out, result)


@dataclass
class DryRun:
    """The sample night planned as a dry run through the Python API, and the progress it reported."""

    result: pipeline.RunResult
    recorder: Recorder


@pytest.fixture(scope="session")
def sample_dry_run(tmp_path_factory) -> DryRun:
    """What `coupongen run --dry-run` and `campaign preview` plan, shared by the tests that only read it."""
    job = load_job(NIGHTLY)
    out = tmp_path_factory.mktemp("dry")
    settings = pipeline.resolve_settings(job, as_of=date.fromisoformat(AS_OF), out_dir=out)
    recorder = Recorder()
    return DryRun(pipeline.run_job(job, settings, dry_run=True, progress=recorder), recorder)


@pytest.fixture(scope="session")
def seeded_run(tmp_path_factory) -> Path:
    """The output folder of the sample night run through the Python API with the golden test's
    seeded entropy source, shared by the tests that only read it.
    """
    from tests.test_golden import run_sample_night

    out = tmp_path_factory.mktemp("seeded_run")
    run_sample_night(out)
    return out


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory) -> Path:
    """A generated sample of 300 customers (seed 1): for tests that need whole nights on realistic
    data but not the bundled sample's size. Read only.
    """
    folder = tmp_path_factory.mktemp("small_sample") / "data"
    result = invoke("sample-data", "--customers", "300", "--seed", "1", "--out", str(folder), "-q")
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def fresh_copy(sample_run, tmp_path) -> SampleRun:
    """A private copy of the shared run's outputs and ledger, for tests that change them."""
    out = tmp_path / "out"
    shutil.copytree(sample_run.out, out)
    return SampleRun(out, sample_run.result)
