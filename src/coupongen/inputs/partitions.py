"""Parquet datasets partitioned by day (``date=YYYY-MM-DD/`` folders), as data teams keep them.

Only the part files of the days a run needs are listed, so a night over years of history opens
the look-back window's files alone; nothing outside them is read. The folder may be a URI
(`locations`): the same rules apply.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from coupongen.errors import InputError
from coupongen.inputs.locations import InputFile, Location, is_uri, shown, uri_is_partitioned, uri_partitions

PARTITION = re.compile(r"date=(.+)")


def _hidden(name: str) -> bool:
    """Markers and bookkeeping next to the data (_SUCCESS, _delta_log, .crc files)."""
    return name.startswith((".", "_"))


def is_partitioned(location: Location) -> bool:
    """True for a folder holding at least one ``date=...`` sub-folder."""
    if is_uri(location):
        return uri_is_partitioned(str(location), lambda name: PARTITION.fullmatch(name) is not None)
    folder = Path(location)
    if not folder.is_dir():
        return False
    try:
        return any(p.is_dir() and PARTITION.fullmatch(p.name) for p in folder.iterdir())
    except OSError as e:
        raise InputError(f"{folder}: cannot read the folder: {e.strerror}") from e


def partition_day(folder: Path) -> date:
    """The day a ``date=YYYY-MM-DD`` folder holds; InputError for any other value."""
    return _day(folder.name, str(folder))


def _day(name: str, where: str) -> date:
    match = PARTITION.fullmatch(name)
    try:
        if match is None:
            raise ValueError
        return date.fromisoformat(match.group(1))
    except ValueError:
        raise InputError(f"{where}: not a day partition (expected date=YYYY-MM-DD)") from None


def partition_files(location: Location, window: tuple[date, date] | None = None) -> list[InputFile]:
    """The ``.parquet`` files of the day partitions within ``window`` (start included, end not).

    Sub-folders other than ``date=...`` and hidden files are skipped; files within a partition may
    sit in further sub-folders. Sorted by day, then path. Without a window every day is listed.
    """
    if is_uri(location):
        return _uri_partition_files(str(location), window)
    folder = Path(location)
    files: list[InputFile] = []
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


def _uri_partition_files(location: str, window: tuple[date, date] | None) -> list[InputFile]:
    """`partition_files` for a URI: only the window's partitions are listed below their folder."""
    files: list[InputFile] = []
    for name, listing in uri_partitions(location):
        if _hidden(name) or not PARTITION.fullmatch(name):
            continue
        day = _day(name, f"{shown(location).rstrip('/')}/{name}")
        if window is not None and not window[0] <= day < window[1]:
            continue
        files.extend(listing())
    return files
