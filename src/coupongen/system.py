"""Small facts about the machine a run is on, shared by the ledger lock and publication."""

from __future__ import annotations

import ctypes
import os
import signal
import sys


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists on this machine (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Make this process (a worker) be killed when the process that started it dies, even by
    ``kill -9``: a killed run must not leave workers running for good. Linux only (prctl
    PR_SET_PDEATHSIG); elsewhere a no-op. Meant as a process pool's ``initializer``.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)
