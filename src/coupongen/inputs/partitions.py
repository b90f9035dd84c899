"""Parquet datasets partitioned by day (``date=YYYY-MM-DD/`` folders), as data teams keep them.

Only the part files of the days a run needs are listed, so a night over years of history opens
the look-back window's files alone; nothing outside them is read.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from coupongen.errors import InputError

PARTITION = re.compile(r"date=(.+)")


def _hidden(name: str) -> bool:
    """Markers and bookkeeping next to the data (_SUCCESS, _delta_log, .crc files)."""
    return name.startswith((".", "_"))


def is_partitioned(location: Path | str) -> bool:
    """True for a folder holding at least one ``date=...`` sub-folder."""
    folder = Path(location)
    if not folder.is_dir():
        return False
    try:
        return any(p.is_dir() and PARTITION.fullmatch(p.name) for p in folder.iterdir())
    except OSError as e:
        raise InputError(f"{folder}: cannot read the folder: {e.strerror}") from e


def partition_day(folder: Path) -> date:
    """The day a ``date=YYYY-MM-DD`` folder holds; InputError for any other value."""
    match = PARTITION.fullmatch(folder.name)
    try:
        if match is None:
            raise ValueError
        return date.fromisoformat(match.group(1))
    except ValueError:
        raise InputError(f"{folder}: not a day partition (expected date=YYYY-MM-DD)") from None


def partition_files(location: Path | str, window: tuple[date, date] | None = None) -> list[Path]:
    """The ``.parquet`` files of the day partitions within ``window`` (start included, end not).

    Sub-folders other than ``date=...`` and hidden files are skipped; files within a partition may
    sit in further sub-folders. Sorted by day, then path. Without a window every day is listed.
    """
    folder = Path(location)
    files: list[Path] = []
    for child in sorted(folder.iterdir()):
        if not child.is_dir() or _hidden(child.name) or not PARTITION.fullmatch(child.name):
            continue
        day = partition_day(child)
        if window is not None and not window[0] <= day < window[1]:
            continue
        files.extend(
            sorted(
                p
                for p in child.rglob("*.parquet")
                if p.is_file() and not any(_hidden(part) for part in p.relative_to(child).parts)
            )
        )
    return files
