"""Writes that run beside the night's next stage, on one thread, and are waited for before it goes on.

The analysis checkpoint and the analysis files are written from frames that are final once the
analysis is done; writing them is mostly Parquet and CSV encoding and disk time, which leave the
interpreter free. On a thread they are written while the offers are planned (which keeps one core
busy with Python for much of its time), instead of before.

A night waits for every write aside before it issues anything (`Aside.join`): a failed write stops
the night with its own error. A night that fails meanwhile settles its writes before it records the
failure and frees the ledger (`Aside.settle`): a write not started yet is dropped, the one under way
finishes (the checkpoint, submitted first, is then whole), so nothing is written after the night
said it failed; its own error is the one told, a write's error is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from types import TracebackType
from typing import ParamSpec, TypeVar

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


class Aside:
    """One writer thread for the night; a context manager that waits for its writes on the way out."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="coupongen-aside")
        self._pending: list[Future[object]] = []

    def submit(self, write: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Start ``write(*args, **kwargs)`` after the writes submitted before it; its future."""
        future = self._pool.submit(write, *args, **kwargs)
        self._pending.append(future)  # type: ignore[arg-type]
        return future

    def join(self) -> None:
        """Wait for every write submitted so far; then the first of them (in submission order)
        that failed raises its error.
        """
        pending, self._pending = self._pending, []
        wait(pending)
        for future in pending:
            future.result()

    def settle(self) -> None:
        """For a night that failed: drop the writes not started, wait for the one under way, and
        log (not raise) what failed. No write is accepted afterwards.
        """
        self._pool.shutdown(wait=True, cancel_futures=True)
        pending, self._pending = self._pending, []
        for future in pending:
            if not future.cancelled() and future.exception() is not None:
                log.warning("a write beside the failed night failed too: %s", future.exception())

    def __enter__(self) -> Aside:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self.settle()
            return
        try:
            self.join()
        finally:
            self._pool.shutdown(wait=True)
