"""Atomic writing: every output file or folder appears whole or not at all.

A POS or a delivery service polls a folder and must never read half a file. Files and folders are
written aside under a hidden name (owner-only while they are built), flushed to disk and renamed into
place (a folder's files flushed in one batch); an interrupted writer leaves the previous complete
version, or none, never a partial one. A published folder also lists its files with their SHA-256
in ``manifest.json`` and gets ``_SUCCESS`` last. ``COUPONGEN_FSYNC=off`` skips the flushes, for
tests and throwaway outputs only.

Who may read a published folder is the job's ``[exports]`` setting (`ExportModes`): owner-only by
default, or for instance readable by the group a POS or e-mail pickup user belongs to.
"""

from __future__ import annotations

import ctypes
import functools
import grp
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TypeVar

from coupongen.config.job import ExportsConfig
from coupongen.errors import ConfigError
from coupongen.system import pid_alive

SUCCESS_MARKER = "_SUCCESS"
MANIFEST = "manifest.json"
PRIVATE_MODE = 0o600
FSYNC_ENV = "COUPONGEN_FSYNC"
WRITE_THREADS = 4
"""Threads that create a folder's many small files (`write_files`) and read them back for the manifest."""

T = TypeVar("T")


@dataclass(frozen=True)
class ExportModes:
    """Permission bits of a published folder's files and folders, and the group id they get
    (None: the owner's primary group, as created).
    """

    file_mode: int = PRIVATE_MODE
    dir_mode: int = 0o700
    gid: int | None = None


PRIVATE = ExportModes()


def export_modes(cfg: ExportsConfig) -> ExportModes:
    """The job's ``[exports]`` settings, its group checked: ConfigError when no such group exists or
    this user may not give files to it (not a member). Checked before anything is issued.
    """
    file_mode, dir_mode = cfg.modes()
    if not cfg.group:
        return ExportModes(file_mode, dir_mode)
    try:
        gid = grp.getgrnam(cfg.group).gr_gid
    except KeyError:
        raise ConfigError(f"exports.group: no group named {cfg.group!r} on this machine") from None
    if os.geteuid() != 0 and gid not in (os.getegid(), *os.getgroups()):
        raise ConfigError(f"exports.group: this user is not a member of group {cfg.group!r}")
    return ExportModes(file_mode, dir_mode, gid)


def _apply_modes(folder: Path, modes: ExportModes) -> None:
    """Give every file and folder under ``folder`` (itself included) the ``modes``."""
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        if modes.gid is not None:
            os.chown(path, -1, modes.gid)
        path.chmod(modes.dir_mode if path.is_dir() else modes.file_mode)


def write_files(
    files: Iterable[tuple[Path, bytes]],
    *,
    threads: int = WRITE_THREADS,
    batch: int = 1000,
    digests: dict[Path, str] | None = None,
) -> None:
    """Write each ``(path, bytes)`` of ``files`` (new files), ``batch`` at a time over ``threads``.

    Creating a file costs from tens of microseconds to a few milliseconds on a busy disk, spent
    waiting in the kernel; on several threads those waits overlap. The next batch is taken from
    ``files`` (rendered, for a generator) while the previous one is written, so at most two batches
    are held. A write that fails raises its error once the next batch is taken and the failed
    batch's other writes are done. A path that exists already is an error (FileExistsError naming
    it): two items never write one file (on a case-blind file system, "Ab" and "ab" are one).
    ``digests``, when given, gets each written file's SHA-256 (hex) by path, for `publish_folder`.
    """
    it = iter(files)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="coupongen-write") as pool:
        pending: list[Future[None]] = []
        while chunk := list(islice(it, batch)):
            for future in pending:
                future.result()
            pending = [pool.submit(_write_all, chunk[k::threads], digests) for k in range(threads)]
        for future in pending:
            future.result()


def _write_all(files: list[tuple[Path, bytes]], digests: dict[Path, str] | None) -> None:
    for path, data in files:
        with path.open("xb") as fh:
            fh.write(data)
        if digests is not None:
            digests[path] = hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_enabled() -> bool:
    """False when ``COUPONGEN_FSYNC=off``: a crash may then lose what was written, which only a test
    or a throwaway output can afford.
    """
    return os.environ.get(FSYNC_ENV, "on").strip().lower() != "off"


def _fsync(path: Path) -> None:
    if not fsync_enabled():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_files(root: Path, files: list[Path]) -> None:
    """Flush ``files`` (all under ``root``) to disk: a folder of many files in one batch.

    A flush per file costs a journal commit each (about a millisecond on a disk); on Linux,
    ``syncfs`` flushes everything written to the file system in one call instead. Elsewhere, or if
    the call fails, each file is flushed on its own.
    """
    if not fsync_enabled():
        return
    if len(files) > 1 and _syncfs(root):
        return
    for file in files:
        _fsync(file)


def _syncfs(path: Path) -> bool:
    """Flush the whole file system holding ``path`` (Linux ``syncfs``); False when unavailable."""
    libc = _libc()
    if libc is None:
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        return bool(libc.syncfs(fd) == 0)
    finally:
        os.close(fd)


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syncfs.argtypes = [ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


def _read_umask() -> int:
    # os.umask can only be read by setting it, which would race with files created on other
    # threads meanwhile: it is read once, as this module is imported.
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _default_mode(*, folder: bool) -> int:
    return (0o777 if folder else 0o666) & ~_UMASK


def write_atomic(
    path: Path,
    write: Callable[[Path], T],
    *,
    private: bool = False,
    folder: bool = False,
    modes: ExportModes | None = None,
) -> T:
    """Write ``path`` aside with ``write(staging)``, flush it and rename it into place; returns what
    ``write`` returned.

    The staging file (or, with ``folder``, the staging folder, created empty for ``write`` to fill) is
    owner-only while it is built and removed when anything fails. With ``private`` the result stays
    readable by the owner only, else it gets the usual permissions; ``modes`` (folders only) sets
    them explicitly instead. A folder replaces an earlier one whole; what a killed writer of
    ``path`` left behind is cleaned up first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path)
    staging = path.parent / f".{path.name}.staging-{os.getpid()}"
    _remove(staging)
    try:
        if folder:
            staging.mkdir(mode=0o700)
        else:
            os.close(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
        result = write(staging)
        files = sorted(p for p in staging.rglob("*") if p.is_file()) if folder else [staging]
        if modes is None or not folder:  # else every file gets the modes below
            mode = PRIVATE_MODE if private else _default_mode(folder=False)
            for file in files:
                file.chmod(mode)
        _fsync_files(staging, files)
        if folder:
            if modes is not None:
                _apply_modes(staging, modes)
            elif not private:
                staging.chmod(_default_mode(folder=True))
            _fsync(staging)
        _replace(staging, path)
        _fsync(path.parent)
    except OSError as e:
        _remove(staging)
        if e.filename is None and e.errno is not None:
            # A write that fails (a full disk) names no file: say which output it was.
            raise OSError(e.errno, e.strerror, str(path)) from e
        raise
    except BaseException:
        _remove(staging)
        raise
    return result


def publish_folder(
    dest: Path,
    write: Callable[[Path], dict[str, object]],
    *,
    modes: ExportModes = PRIVATE,
    digests: Mapping[Path, str] | None = None,
) -> dict[str, object]:
    """Build a folder with ``write(staging_dir)`` and publish it at ``dest`` atomically.

    ``write`` fills the staging folder and returns extra manifest fields (layout version, run id,
    row counts...). The manifest adds every file's size and SHA-256; ``digests`` holds the SHA-256
    of files ``write`` hashed as it wrote them (`write_files`), by path, which are not read back.
    Every file and folder gets the export ``modes``: owner-only by default (they hold personal
    data). Returns the manifest.
    """
    known = digests if digests is not None else {}

    def digest(path: Path) -> str:
        return known.get(path) or sha256_file(path)

    def build(staging: Path) -> dict[str, object]:
        extra = write(staging)
        paths = sorted(p for p in staging.rglob("*") if p.is_file())
        with ThreadPoolExecutor(max_workers=WRITE_THREADS, thread_name_prefix="coupongen-read") as pool:
            hashes = list(pool.map(digest, paths))
        files = {
            path.relative_to(staging).as_posix(): {"bytes": path.stat().st_size, "sha256": sha}
            for path, sha in zip(paths, hashes, strict=True)
        }
        manifest = {**extra, "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        (staging / SUCCESS_MARKER).write_text("")
        return manifest

    return write_atomic(Path(dest), build, folder=True, modes=modes)


def _replace(staging: Path, dest: Path) -> None:
    """Rename ``staging`` to ``dest``; an existing folder is moved aside first and then deleted."""
    if not (dest.is_dir() and not dest.is_symlink()):
        os.replace(staging, dest)
        return
    retired = dest.parent / f".{dest.name}.retired-{os.getpid()}"
    os.replace(dest, retired)
    os.replace(staging, dest)
    shutil.rmtree(retired)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _remove_leftovers(dest: Path) -> None:
    """Delete staging and retired copies that a killed writer of ``dest`` left behind."""
    for leftover in dest.parent.glob(f".{dest.name}.*-*"):
        kind, _, pid = leftover.name.rpartition("-")
        if not pid.isdigit() or kind not in (f".{dest.name}.staging", f".{dest.name}.retired"):
            continue
        if int(pid) != os.getpid() and pid_alive(int(pid)):
            continue  # another live process is writing it right now
        if kind.endswith(".retired") and not dest.exists() and is_published(leftover):
            # killed between its two renames: the previous publication comes back
            os.replace(leftover, dest)
            continue
        _remove(leftover)


def is_published(folder: Path) -> bool:
    """True when ``folder`` holds a complete publication (its ``_SUCCESS`` marker)."""
    return (Path(folder) / SUCCESS_MARKER).is_file()
