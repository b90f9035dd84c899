"""The README's step-by-step commands, run exactly as written in a fresh copy of the project."""

from __future__ import annotations

import re
import shlex
import shutil

from tests.conftest import REPO, invoke


def readme_steps() -> list[list[str]]:
    """The `coupongen` lines of the README's first shell block under "Running it", comments dropped."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Running it") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    steps = [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line.strip()]
    assert all(step[0] == "coupongen" for step in steps), steps
    return [step[1:] for step in steps]


def test_the_readme_walkthrough_runs_as_written(tmp_path, monkeypatch):
    shutil.copytree(REPO / "jobs", tmp_path / "jobs")
    (tmp_path / "sample_data").symlink_to(REPO / "sample_data")
    monkeypatch.chdir(tmp_path)
    steps = readme_steps()
    assert [s[0] for s in steps] == [
        "run",
        "run",
        "ledger",
        "simulate-redemptions",
        "redemptions",
        "evaluate",
    ]
    for args in steps:
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output[-2000:])
    assert (tmp_path / "out" / "evaluation" / "2026-11-22" / "effects.csv").exists()
