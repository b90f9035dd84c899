"""Atomic publication of an output folder.

A POS or a delivery service polls a folder and must never read half a file. Files are written into
a hidden staging folder beside the destination, flushed to disk, listed with their SHA-256 in
``manifest.json``, marked with ``_SUCCESS`` last, and the staging folder is then renamed into place.
An interrupted export leaves the previous complete publication, or none, never a partial one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from coupongen.system import pid_alive

SUCCESS_MARKER = "_SUCCESS"
MANIFEST = "manifest.json"
PRIVATE_MODE = 0o600


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_folder(
    dest: Path,
    write: Callable[[Path], dict[str, object]],
    *,
    private: bool = True,
) -> dict[str, object]:
    """Build a folder with ``write(staging_dir)`` and publish it at ``dest`` atomically.

    ``write`` fills the staging folder and returns extra manifest fields (layout version, run id,
    row counts...). The manifest adds every file's size and SHA-256. With ``private`` the files are
    readable by the owner only (they hold personal data). Returns the manifest.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(dest)
    staging = dest.parent / f".{dest.name}.staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(mode=0o700)
    try:
        extra = write(staging)
        files = {}
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            if private:
                path.chmod(PRIVATE_MODE)
            _fsync(path)
            rel = path.relative_to(staging).as_posix()
            files[rel] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
        manifest = {**extra, "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        (staging / SUCCESS_MARKER).write_text("")
        for name in (MANIFEST, SUCCESS_MARKER):
            _fsync(staging / name)
        _fsync(staging)
        if dest.exists():
            retired = dest.parent / f".{dest.name}.retired-{os.getpid()}"
            os.replace(dest, retired)
            os.replace(staging, dest)
            shutil.rmtree(retired)
        else:
            os.replace(staging, dest)
        _fsync(dest.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _remove_leftovers(dest: Path) -> None:
    """Delete staging and retired folders that a killed publisher of ``dest`` left behind."""
    for leftover in dest.parent.glob(f".{dest.name}.*-*"):
        kind, _, pid = leftover.name.rpartition("-")
        if not pid.isdigit() or not kind.endswith((".staging", ".retired")):
            continue
        if int(pid) != os.getpid() and pid_alive(int(pid)):
            continue  # another live process is publishing it right now
        if kind.endswith(".retired") and not dest.exists() and is_published(leftover):
            # killed between its two renames: the previous publication comes back
            os.replace(leftover, dest)
            continue
        shutil.rmtree(leftover, ignore_errors=True)


def is_published(folder: Path) -> bool:
    """True when ``folder`` holds a complete publication (its ``_SUCCESS`` marker)."""
    return (Path(folder) / SUCCESS_MARKER).is_file()
