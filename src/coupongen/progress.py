"""What a long run tells its caller while it works: stages starting and ending, items done, details.

The library never prints. The pipeline and its long loops call a `Progress` they are given; the CLI
passes one that draws a progress display on a terminal or writes timestamped log lines under cron,
and tests pass `Recorder` to see what was reported. `SILENT` says nothing.
"""

from __future__ import annotations

import time
from typing import Protocol


class Progress(Protocol):
    """Receives a run's progress. ``total`` is the number of items a stage will report with
    ``advance`` (None: the stage reports no items); ``note`` carries a detail line (per campaign).
    """

    def start(self, stage: str, total: int | None = None) -> None:
        """A stage begins."""

    def advance(self, stage: str, items: int) -> None:
        """``items`` more of the stage's items are done."""

    def done(self, stage: str, detail: str, seconds: float) -> None:
        """A stage ended after ``seconds``; ``detail`` says what it produced."""

    def note(self, message: str) -> None:
        """A detail of the current stage."""


class _Silent:
    """Says nothing."""

    def start(self, stage: str, total: int | None = None) -> None:
        """Nothing."""

    def advance(self, stage: str, items: int) -> None:
        """Nothing."""

    def done(self, stage: str, detail: str, seconds: float) -> None:
        """Nothing."""

    def note(self, message: str) -> None:
        """Nothing."""


SILENT: Progress = _Silent()


class Recorder:
    """Keeps every report as a tuple, in order: ("start", stage, total), ("advance", stage, items),
    ("done", stage, detail), ("note", message).
    """

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def start(self, stage: str, total: int | None = None) -> None:
        """Record a stage's start."""
        self.events.append(("start", stage, total))

    def advance(self, stage: str, items: int) -> None:
        """Record items done."""
        self.events.append(("advance", stage, items))

    def done(self, stage: str, detail: str, seconds: float) -> None:
        """Record a stage's end (without its duration, which varies)."""
        self.events.append(("done", stage, detail))

    def note(self, message: str) -> None:
        """Record a detail."""
        self.events.append(("note", message))


class Clock:
    """Times a run's stages and reports each one's start and end to a `Progress`."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}
        self._started: dict[str, float] = {}
        self._last = time.perf_counter()

    def start(self, stage: str, total: int | None = None) -> None:
        """Stage ``stage`` begins; ``total`` items will be reported with `advance`."""
        self._started[stage] = time.perf_counter()
        self.progress.start(stage, total)

    def advance(self, stage: str, items: int) -> None:
        """``items`` more of ``stage``'s items are done."""
        self.progress.advance(stage, items)

    def done(self, stage: str, detail: str) -> None:
        """Stage ``stage`` ended: its duration goes to ``timings`` and the report."""
        now = time.perf_counter()
        seconds = round(now - self._started.pop(stage, self._last), 3)
        self.timings[stage] = seconds
        self._last = now
        self.progress.done(stage, detail, seconds)
