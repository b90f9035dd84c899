"""How a run's progress reaches the operator: a live display on a terminal, log lines under cron.

On a terminal (stderr is a TTY) rich draws one bar per running stage with its items, elapsed time
and a spinner, and leaves a line with each finished stage's duration. Otherwise (cron, a pipe) each
stage start and end is a timestamped log line with its duration, and long stages log every tenth of
their items. ``-v`` adds a line per campaign; ``-q`` shows nothing but errors.
"""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgress

from coupongen.progress import SILENT, Progress

log = logging.getLogger("coupongen")


class LiveDisplay:
    """A rich progress display on stderr; a context manager that starts and stops it."""

    def __init__(self, verbose: int, console: Console | None = None) -> None:
        self.verbose = verbose
        self.console = console or Console(stderr=True)
        self.bars = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> LiveDisplay:
        self.bars.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.bars.stop()

    def start(self, stage: str, total: int | None = None) -> None:
        """Show a bar (items known) or a pulsing bar (not) for the stage."""
        self.tasks[stage] = self.bars.add_task(stage, total=total)

    def advance(self, stage: str, items: int) -> None:
        """Move the stage's bar on."""
        if stage in self.tasks:
            self.bars.advance(self.tasks[stage], items)

    def done(self, stage: str, detail: str, seconds: float) -> None:
        """Replace the stage's bar by a line with its duration."""
        task = self.tasks.pop(stage, None)
        if task is not None:
            self.bars.remove_task(task)
        self.console.print(f"  [green]done[/] {stage:<9} {seconds:7.1f} s  {detail}", highlight=False)

    def note(self, message: str) -> None:
        """A per-campaign line, with ``-v``."""
        if self.verbose:
            self.console.print(f"                         [dim]{message}[/]", highlight=False)


class LogLines:
    """Timestamped log lines (the logger's handler adds the time): one per stage start and end, and
    one per tenth of a long stage's items.
    """

    def __init__(self, verbose: int) -> None:
        self.verbose = verbose
        self.totals: dict[str, tuple[int, int, int]] = {}  # stage: (total, done, next tenth)

    def __enter__(self) -> LogLines:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def start(self, stage: str, total: int | None = None) -> None:
        """Log the stage's start (and how many items it has)."""
        if total:
            self.totals[stage] = (total, 0, 1)
            log.info("stage=%s started items=%d", stage, total)
        else:
            log.info("stage=%s started", stage)

    def advance(self, stage: str, items: int) -> None:
        """Log each tenth of the stage's items once reached."""
        if stage not in self.totals:
            return
        total, done, tenth = self.totals[stage]
        done += items
        if done * 10 >= tenth * total and done < total:
            log.info("stage=%s progress %d/%d (%d%%)", stage, done, total, 100 * done // total)
            tenth = done * 10 // total + 1
        self.totals[stage] = (total, done, tenth)

    def done(self, stage: str, detail: str, seconds: float) -> None:
        """Log the stage's end with its duration."""
        self.totals.pop(stage, None)
        log.info("stage=%s done seconds=%.1f %s", stage, seconds, detail)

    def note(self, message: str) -> None:
        """A per-campaign line: shown with ``-v``, else at debug level."""
        log.log(logging.INFO if self.verbose else logging.DEBUG, "%s", message)


class _Nothing:
    """``-q``: no progress at all."""

    def __enter__(self) -> Progress:
        return SILENT

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


def progress_display(quiet: bool, verbose: int) -> LiveDisplay | LogLines | _Nothing:
    """The progress a command shows: nothing with ``quiet``, a live display on a terminal, log lines
    otherwise. Use it as a context manager around the run.
    """
    if quiet:
        return _Nothing()
    if sys.stderr.isatty():
        return LiveDisplay(verbose)
    return LogLines(verbose)
