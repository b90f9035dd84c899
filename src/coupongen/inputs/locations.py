"""Inputs named by URI (``s3://``, ``gs://``, ``abfs://``, ``hdfs://``, ``file://``): listing,
sizes, opening and Parquet schemas through pyarrow's file systems.

A data team keeps its exports in an object store as often as on a disk. Local paths keep their own
code (pathlib and polars' file readers); a location with a scheme is listed and opened here, with
the same rules (folder of parts, glob, day partitions, markers skipped, files sorted). Credentials
come from the environment, as each store's own tools read them; no message shows a URI's password
or query string.
"""

from __future__ import annotations

import fnmatch
import io
import posixpath
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs

from coupongen.errors import InputError

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_URI_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]*")
# What pyarrow raises for a URI it cannot parse, a store it cannot reach or a file it cannot read.
FS_ERRORS = (OSError, ValueError, pa.ArrowException)
_PARQUET_MAGIC = b"PAR1"
# Hadoop's schemes that pyarrow knows by another name.
_PYARROW_SCHEMES = {"s3a": "s3", "s3n": "s3"}
_GCS_SCHEMES = ("gs", "gcs")
GCS_RETRY_SECONDS = 60
"""How long a Google Cloud Storage request is retried before the night stops (pyarrow's
``retry_limit_seconds``, unless the URI sets it)."""


def is_uri(location: object) -> bool:
    """True for a location written with a scheme (``s3://bucket/x``), False for a local path."""
    return isinstance(location, str) and _SCHEME.match(location) is not None


_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*):[^@]*@")


def shown(uri: str) -> str:
    """A URI as messages show it: without a password in its authority, a query or a fragment, and
    its path decoded (as Spark and Hadoop write paths).

    The password goes first, on the text as written: a secret key may hold ``/``, ``#`` or ``?``,
    which would otherwise end the authority early and leave the secret in the path.
    """
    parts = urlsplit(_PASSWORD.sub(r"\1@", uri))
    return f"{parts.scheme}://{parts.netloc}{unquote(parts.path)}" if parts.scheme else uri


def _redacted(text: str) -> str:
    """``text`` (a pyarrow message) with every URI in it `shown`."""
    return _URI_IN_TEXT.sub(lambda m: shown(m.group(0)), text)


def reason(e: BaseException) -> str:
    """One line saying why a store refused: the OS's words, or the first line of pyarrow's."""
    strerror = getattr(e, "strerror", None)
    if strerror:
        return str(strerror)
    text = " ".join(_redacted(str(e)).split("\n\n")[0].split())
    return text if len(text) <= 200 else text[:197] + "..."


@dataclass(frozen=True, order=True)
class RemoteFile:
    """One input file named by URI. ``uri`` is how Spark reads it and messages name it (`shown`:
    no password, no query); ``path`` is the file's path on ``fs``, the pyarrow file system that
    lists and opens it.
    """

    uri: str
    path: str = field(compare=False)
    fs: pafs.FileSystem = field(compare=False, repr=False)

    @property
    def name(self) -> str:
        """The file's name, the last part of its path."""
        return posixpath.basename(self.path)

    @property
    def suffix(self) -> str:
        """The file's extension with its dot (``.parquet``), as `pathlib.Path.suffix`."""
        return PurePosixPath(self.name).suffix

    def as_posix(self) -> str:
        """The URI, as a local file's `pathlib.Path.as_posix` is its path."""
        return self.uri

    def __str__(self) -> str:
        return self.uri


InputFile = Path | RemoteFile
Location = Path | str


def join(base: Location, name: str) -> Location:
    """``name`` (from the job file) within ``base`` (the data folder): a URI stays a URI, its
    options (a query such as ``?region=eu-west-1``) kept after the joined path.

    Joined to a URI, a name is a path within the data folder: ``#`` and ``?`` in it are part of
    the file's name (encoded, not a fragment or options), and a name that climbs above the data
    folder (``..``) is refused; a full URI names any other place on purpose.
    """
    if is_uri(name):
        return name
    if is_uri(base):
        parts = urlsplit(str(base))
        if ".." in PurePosixPath(name).parts:
            raise InputError(
                f"{shown(str(base))}: input name {name!r} climbs out of the data folder (..); "
                "write the other place as a full URI"
            )
        encoded = name.lstrip("/").replace("#", "%23").replace("?", "%3F")
        return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + encoded))
    return Path(base) / name


def _file_system(location: str) -> tuple[pafs.FileSystem, str]:
    """The file system and path a URI names. A path may be written as Hadoop writes it (``a b``)
    or encoded (``a%20b``); ``s3a://`` (Hadoop's name for S3, as Spark jobs write it) is S3.
    """
    parts = urlsplit(location)
    scheme = _PYARROW_SCHEMES.get(parts.scheme.lower(), parts.scheme)
    query = parts.query
    if scheme.lower() in _GCS_SCHEMES and "retry_limit_seconds" not in query:
        # Without a limit, an unreachable store or missing credentials retry for good: fail instead.
        query = "&".join(q for q in (query, f"retry_limit_seconds={GCS_RETRY_SECONDS}") if q)
    encoded = urlunsplit(parts._replace(scheme=scheme, path=quote(parts.path, safe="/%"), query=query))
    try:
        return pafs.FileSystem.from_uri(encoded)
    except FS_ERRORS as e:
        raise InputError(f"{shown(location)}: cannot open the location: {reason(e)}") from e


def _info(fs: pafs.FileSystem, what: str | pafs.FileSelector, where: str) -> list[pafs.FileInfo]:
    try:
        found = fs.get_file_info(what)
    except FS_ERRORS as e:
        raise InputError(f"{where}: cannot read the location: {reason(e)}") from e
    return found if isinstance(found, list) else [found]


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def _remote(fs: pafs.FileSystem, base_path: str, base_uri: str, path: str) -> RemoteFile:
    """The file at ``path`` on ``fs``, its URI built from the listed folder's (``base_uri``)."""
    rest = path[len(base_path) :].lstrip("/") if path.startswith(base_path) else path
    uri = base_uri.rstrip("/") + "/" + rest if rest else base_uri
    return RemoteFile(uri, path, fs)


def resolve_uri_files(location: str, suffixes: tuple[str, ...]) -> list[RemoteFile]:
    """`reading.resolve_files` for a URI: a file, a folder of ``suffixes`` parts (sub-folders not
    searched) or a glob (``**`` any depth); markers and hidden files skipped; sorted by URI.
    """
    where = shown(location)
    if any(ch in urlsplit(location).path for ch in "*?["):
        return _glob(location)
    fs, path = _file_system(location)
    info = _info(fs, path, where)[0]
    if info.type == pafs.FileType.NotFound:
        raise InputError(f"{where}: file not found")
    if info.type == pafs.FileType.File:
        return [RemoteFile(where, path, fs)]
    if info.type != pafs.FileType.Directory:
        raise InputError(f"{where}: not a regular file")
    entries = _info(fs, pafs.FileSelector(path, recursive=False), where)
    files = sorted(
        _remote(fs, path, where, e.path)
        for e in entries
        if e.type == pafs.FileType.File and e.extension and f".{e.extension.lower()}" in suffixes
        if not _hidden(e.base_name)
    )
    if not files:
        raise InputError(f"{where}: folder holds no .csv or .parquet file")
    return files


def _glob(location: str) -> list[RemoteFile]:
    parts = urlsplit(location)
    pattern = unquote(parts.path)
    fixed, _, _ = pattern.partition(next(ch for ch in pattern if ch in "*?["))
    base = fixed.rsplit("/", 1)[0] if "/" in fixed else ""
    base_uri = urlunsplit((parts.scheme, parts.netloc, base, parts.query, ""))
    where = shown(location)
    fs, base_path = _file_system(base_uri)
    wanted = [p for p in pattern[len(base) :].split("/") if p]
    files = sorted(
        _remote(fs, base_path, shown(base_uri), e.path)
        for e in _glob_entries(fs, base_path, wanted, where)
        if e.type == pafs.FileType.File and not _hidden(e.base_name)
        if _matches(e.path[len(base_path) :].strip("/").split("/"), wanted)
    )
    if not files:
        raise InputError(f"{where}: no file matches this pattern")
    return files


def _glob_entries(fs: pafs.FileSystem, base: str, wanted: list[str], where: str) -> list[pafs.FileInfo]:
    """The entries below ``base`` a glob's parts may match: all of them for ``**``; else a folder
    level at a time, listing only the folders that match, as a store lists prefixes.
    """
    if "**" in wanted:
        return _info(fs, pafs.FileSelector(base, recursive=True, allow_not_found=True), where)
    folders, found = [base], []
    for depth, part in enumerate(wanted):
        found = [
            e
            for folder in folders
            for e in _info(fs, pafs.FileSelector(folder, allow_not_found=True), where)
            if _matches([e.base_name], [part])
        ]
        if depth < len(wanted) - 1:
            folders = [e.path for e in found if e.type == pafs.FileType.Directory]
    return found


def _matches(names: list[str], pattern: list[str]) -> bool:
    """Whether a path's parts match a glob's, as `glob.glob` with ``recursive=True``: ``**`` is any
    number of folders, ``*`` stays within one name, and wildcards skip names starting with ``.``.
    """
    if not pattern:
        return not names
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(
            _matches(names[i:], rest)
            for i in range(len(names) + 1)
            if not any(_hidden_dot(n) for n in names[:i])
        )
    if not names or (_hidden_dot(names[0]) and not head.startswith(".")):
        return False
    return fnmatch.fnmatchcase(names[0], head) and _matches(names[1:], rest)


def _hidden_dot(name: str) -> bool:
    return name.startswith(".")


# --- day partitions -------------------------------------------------------------------------------


def uri_is_partitioned(location: str, is_partition: Callable[[str], bool]) -> bool:
    """`partitions.is_partitioned` for a URI: a folder holding at least one partition folder."""
    fs, path = _file_system(location)
    where = shown(location)
    if _info(fs, path, where)[0].type != pafs.FileType.Directory:
        return False
    entries = _info(fs, pafs.FileSelector(path, recursive=False), where)
    return any(e.type == pafs.FileType.Directory and is_partition(e.base_name) for e in entries)


def uri_partitions(location: str) -> Iterator[tuple[str, Callable[[], list[RemoteFile]]]]:
    """Each sub-folder's name, sorted, with a function listing its ``.parquet`` files at any depth
    (hidden files and folders skipped), sorted: `partitions.partition_files` for a URI.
    """
    fs, path = _file_system(location)
    where = shown(location)
    entries = _info(fs, pafs.FileSelector(path, recursive=False), where)
    for entry in sorted(entries, key=lambda e: e.path):
        if entry.type != pafs.FileType.Directory:
            continue

        def files(entry: pafs.FileInfo = entry) -> list[RemoteFile]:
            found = _info(fs, pafs.FileSelector(entry.path, recursive=True), where)
            return sorted(
                _remote(fs, path, where, e.path)
                for e in found
                if e.type == pafs.FileType.File and e.path.endswith(".parquet")
                if not any(_hidden(p) for p in e.path[len(entry.path) :].strip("/").split("/"))
            )

        yield entry.base_name, files


# --- reading one file -----------------------------------------------------------------------------


@contextmanager
def open_file(file: InputFile) -> Iterator[IO[bytes]]:
    """A file opened for reading bytes (lines, seeking), local or remote; OSError if it cannot be."""
    if isinstance(file, Path):
        with file.open("rb") as fh:
            yield fh
        return
    try:
        native = file.fs.open_input_file(file.path)
    except FS_ERRORS as e:
        raise OSError(reason(e)) from e
    with io.BufferedReader(native) as fh:  # type: ignore[arg-type]
        yield fh


def read_bytes(file: RemoteFile) -> bytes:
    """The whole content of a remote file (OSError if it cannot be read)."""
    try:
        with file.fs.open_input_file(file.path) as fh:
            return bytes(fh.read())
    except FS_ERRORS as e:
        raise OSError(reason(e)) from e


def file_stamp(file: InputFile) -> tuple[int, int]:
    """A file's size in bytes and modification time in nanoseconds (0 when the store keeps none)."""
    if isinstance(file, Path):
        stat = file.stat()
        return stat.st_size, stat.st_mtime_ns
    try:
        info = file.fs.get_file_info(file.path)
    except FS_ERRORS as e:
        raise OSError(reason(e)) from e
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(f"{file}: file not found")
    return int(info.size or 0), int(info.mtime_ns or 0)


def parquet_schema(file: InputFile) -> dict[str, pl.DataType]:
    """A Parquet file's schema as polars reads it. For a remote file only its footer is fetched
    (the file's last bytes), and polars reads the schema from it.
    """
    if isinstance(file, Path):
        return pl.read_parquet_schema(file)
    with open_file(file) as fh:
        size = fh.seek(0, io.SEEK_END)
        if size >= 12:
            fh.seek(size - 8)
            tail = fh.read(8)
            footer = int.from_bytes(tail[:4], "little")
            if tail[4:] == _PARQUET_MAGIC and footer + 12 <= size:
                fh.seek(size - 8 - footer)
                return pl.read_parquet_schema(io.BytesIO(_PARQUET_MAGIC + fh.read(footer) + tail))
        fh.seek(0)
        return pl.read_parquet_schema(io.BytesIO(fh.read()))


def scan_csv(file: InputFile, schema: dict[str, pl.DataType], **options: object) -> pl.LazyFrame:
    """`polars.scan_csv` of a local file, or of a remote one (fetched whole when collected)."""
    if isinstance(file, Path):
        return pl.scan_csv(file, schema=schema, **options)  # type: ignore[arg-type]
    return pl.defer(
        lambda: pl.scan_csv(io.BytesIO(read_bytes(file)), schema=schema, **options).collect(),  # type: ignore[arg-type]
        schema=schema,
    )


def scan_parquet(file: InputFile, columns: list[str], schema: dict[str, pl.DataType]) -> pl.LazyFrame:
    """`polars.scan_parquet` of a file's ``columns`` (``schema``: `parquet_schema`); a remote file
    is fetched whole when collected.
    """
    if isinstance(file, Path):
        return pl.scan_parquet(file).select(columns)
    return pl.defer(
        lambda: pl.read_parquet(io.BytesIO(read_bytes(file)), columns=columns),
        schema={c: schema[c] for c in columns},
    )
