from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from tests.adversarial.hostile import hostile_data, hostile_job
from tests.conftest import AS_OF, invoke


@dataclass
class HostileRun:
    """One run of the job on the hostile corpus, shared by the tests that only read it."""

    root: Path
    job: Path
    out: Path
    result: Result

    @property
    def night(self) -> Path:
        return self.out / AS_OF


def run_hostile(job: Path, out: Path, *extra: str) -> Result:
    return invoke("run", "--config", str(job), "--out", str(out), "--as-of", AS_OF, "-q", *extra)


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory) -> HostileRun:
    root = tmp_path_factory.mktemp("hostile")
    job = hostile_job(root, hostile_data(root / "data"))
    out = root / "deep" / "down" / "out"
    return HostileRun(root, job, out, run_hostile(job, out))
