"""Writes aside: run in order on one thread, waited for before the night issues, failures told."""

from __future__ import annotations

import errno
import threading

import pytest

from coupongen.night.aside import Aside


def test_writes_run_in_order_on_one_other_thread_and_join_waits_for_them() -> None:
    release = threading.Event()
    seen: list[tuple[str, str]] = []

    def write(name: str) -> str:
        release.wait(timeout=10)
        seen.append((name, threading.current_thread().name))
        return name.upper()

    with Aside() as aside:
        first, second = aside.submit(write, "a"), aside.submit(write, "b")
        assert not first.done()  # the caller goes on while the write waits
        release.set()
        aside.join()
        assert first.done() and second.done()
    assert [name for name, _ in seen] == ["a", "b"]
    assert {thread for _, thread in seen} != {threading.current_thread().name}
    assert len({thread for _, thread in seen}) == 1
    assert (first.result(), second.result()) == ("A", "B")


def test_the_first_failed_write_is_raised_at_the_join_once_all_are_done_and_on_the_way_out() -> None:
    def fail(message: str) -> None:
        raise OSError(errno.ENOSPC, message)

    aside = Aside()
    aside.submit(fail, "first")
    last = aside.submit(threading.Event().wait, 0.2)
    aside.submit(fail, "second")
    with pytest.raises(OSError, match="first"):
        aside.join()
    assert last.done()
    aside.join()  # told once; the night has failed by then

    with pytest.raises(OSError, match="later"), Aside() as other:
        other.submit(fail, "later")


def test_the_nights_own_error_wins_the_write_under_way_finishes_and_the_queued_one_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    finished = threading.Event()
    started = threading.Event()
    queued: list[str] = []

    def slow_write() -> None:
        started.set()
        threading.Event().wait(0.2)
        finished.set()
        raise OSError(errno.ENOSPC, "write failed too")

    with pytest.raises(RuntimeError, match="the night failed"), Aside() as aside:
        aside.submit(slow_write)
        dropped = aside.submit(queued.append, "written")
        started.wait(timeout=10)
        raise RuntimeError("the night failed")
    assert finished.is_set()
    assert dropped.cancelled() and queued == []
    assert "write failed too" in caplog.text


def test_settle_accepts_no_write_afterwards() -> None:
    aside = Aside()
    aside.settle()
    with pytest.raises(RuntimeError):
        aside.submit(print, "late")
