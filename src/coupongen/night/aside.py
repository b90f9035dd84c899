"""Writes that run beside the night's next stage, on one thread, and are waited for before it goes on.

The analysis checkpoint and the analysis files are written from frames that are final once the
analysis is done; writing them is mostly Parquet and CSV encoding and disk time, which leave the
interpreter free. On a thread they are written while the offers are planned (which keeps one core
busy with Python for much of its time), instead of before.

A night waits for every write aside before it issues anything (`Aside.join`): a failed write stops
the night with its own error, as it would have before planning. A night that fails meanwhile still
waits for the writes to finish (a checkpoint is then whole, and nothing is written after the night
said it failed); its own error is the one told.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import ParamSpec, TypeVar

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
        """Wait for every write submitted so far; the first one that failed raises its error."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def __enter__(self) -> Aside:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                self.join()
        finally:
            self._pool.shutdown(wait=True)


def run(aside: Aside | None, write: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
    """``write`` on ``aside``'s thread, or here and now without one; its future either way."""
    if aside is not None:
        return aside.submit(write, *args, **kwargs)
    done: Future[T] = Future()
    done.set_result(write(*args, **kwargs))
    return done
