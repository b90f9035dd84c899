"""The night's barcode and QR images: one image per coupon, packed into one archive, kept across reruns.

A hundred thousand coupons must not be a hundred thousand new files (each costs a millisecond or
more on a real disk, and another to flush): the images go into one uncompressed ZIP archive
(``images.zip``, members ``<symbology>/<code>.<format>``), written and flushed once. A rerun finds
the images it already drew: a manifest records what each member encodes and a hash of its bytes, so
only new or changed coupons are drawn again, spread over the machine's cores, and an unchanged
archive is not written again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version as _package_version
from pathlib import Path
from typing import TypeVar

import polars as pl

from coupongen.delivery.images import ImageStyle, check_payload, render_png, render_svg
from coupongen.delivery.publish import write_atomic
from coupongen.delivery.safe_names import safe_stem
from coupongen.errors import CodeFormatError
from coupongen.system import die_with_parent

FORMATS = ("png", "svg")
MANIFEST_NAME = "_render_manifest.json"
PACK_NAME = "images.zip"
# Members get a fixed time stamp (the earliest ZIP allows), so the same images make the same archive.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
DEFAULT_STYLE = ImageStyle()

T = TypeVar("T")

_SAFE_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Drawn to fingerprint the renderer: every symbology, GS1 with a variable-length element first.
_REFERENCE_PAYLOADS = {
    "ean13": "4006144577350",
    "code128": "CPN-7KQ2-MX9P-4",
    "gs1_128": "(255)4012345000016123456(17)261231",
    "qr": "CPN-7KQ2-MX9P-4A",
}


def render_images(
    items: pl.DataFrame,
    out_dir: Path,
    *,
    formats: tuple[str, ...] = ("png",),
    workers: int | None = None,
    style: ImageStyle = DEFAULT_STYLE,
    on_progress: Callable[[int], None] | None = None,
) -> pl.DataFrame:
    """Draw one image per coupon into the archive ``out_dir/images.zip`` and return where each one is.

    `items` has one row per coupon: `code` (unique coupon code, used as the member name), `payload`
    (what the symbol encodes) and `symbology` (one of `images.SYMBOLOGIES`). Members are
    `<symbology>/<code>.<format>` (`image_path`), stored uncompressed in the order of `items`, PNGs
    drawn in `style`. The returned frame is `items` plus `png_path` and/or `svg_path` (member
    names), per format; `read_pack` gives the bytes back.

    Reruns are cheap: `out_dir/_render_manifest.json` records a fingerprint of what each member
    encodes (payload, symbology, style, renderer and library versions) and a hash of its bytes; a
    member whose fingerprint and hash still match is kept as it is, and the archive is rewritten
    only when some member's bytes differ. Both files are readable by the owner only: they name every
    coupon's code, which redeems the coupon. Work is spread over `workers` processes (all cores by
    default); `workers=1` renders in this process. Every bad row is reported at once, before
    anything is written. ``on_progress`` hears the number of coupons each finished chunk held.
    """
    _check_items(items, formats)
    if workers is None:
        workers = _cpu_count()
    if workers < 1:
        raise CodeFormatError(f"workers must be at least 1, got {workers}")
    out_dir = Path(out_dir)
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # owner-only even where an earlier version left the folder and its files readable
    out_dir.chmod(0o700)
    for kept in (out_dir / PACK_NAME, out_dir / MANIFEST_NAME):
        if kept.is_file():
            kept.chmod(0o600)
    rows = list(zip(items["code"], items["payload"], items["symbology"], strict=True))
    manifest = _read_manifest(out_dir)
    previous = read_pack(out_dir)
    members: dict[str, bytes] = {}
    records: dict[str, list[str]] = {}
    todo: list[tuple[str, str, str, tuple[str, ...]]] = []
    for code, payload, symbology in rows:
        missing = []
        for fmt in formats:
            path = image_path(code, symbology, fmt)
            fingerprint = _fingerprint(payload, symbology, fmt, style)
            old = previous.get(path)
            if old is not None and manifest.get(path) == [fingerprint, _content_hash(old)]:
                members[path], records[path] = old, [fingerprint, _content_hash(old)]
            else:
                missing.append(fmt)
        if missing:
            todo.append((code, payload, symbology, tuple(missing)))
    tell = on_progress or (lambda n: None)
    tell(len(rows) - len(todo))
    for chunk, drawn in _draw(todo, workers, style):
        for (path, data), fingerprint in zip(drawn, _fingerprints(chunk, style), strict=True):
            members[path], records[path] = data, [fingerprint, _content_hash(data)]
        tell(len(chunk))
    ordered = {
        path: members[path] for code, _, symbology in rows for path in _paths(code, symbology, formats)
    }
    # Compared in order too: the archive lists its members in the order of the coupons.
    if ordered and list(ordered.items()) != list(previous.items()):
        write_atomic(out_dir / PACK_NAME, lambda target: _write_pack(target, ordered), private=True)
    if records != manifest or not (out_dir / MANIFEST_NAME).is_file():
        _write_manifest(out_dir, records)
    return items.with_columns(
        pl.Series(f"{fmt}_path", [image_path(code, sym, fmt) for code, _, sym in rows], dtype=pl.String)
        for fmt in formats
    )


def read_pack(out_dir: Path) -> dict[str, bytes]:
    """The images of ``out_dir/images.zip`` by member name; empty when there is none or it is damaged
    (a damaged archive only costs drawing its images again).
    """
    try:
        with zipfile.ZipFile(Path(out_dir) / PACK_NAME) as pack:
            return {info.filename: pack.read(info) for info in pack.infolist()}
    except FileNotFoundError:
        return {}
    except (OSError, zipfile.BadZipFile, ValueError):
        return {}


def _write_pack(target: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as pack:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            pack.writestr(info, data)


def _paths(code: str, symbology: str, formats: Sequence[str]) -> list[str]:
    return [image_path(code, symbology, fmt) for fmt in formats]


# --- validation -------------------------------------------------------------------------------


def _check_items(items: pl.DataFrame, formats: Sequence[str]) -> None:
    required = ("code", "payload", "symbology")
    missing = sorted(set(required) - set(items.columns))
    if missing:
        raise CodeFormatError(f"Input data is missing required columns: {missing}")
    bad_formats = [fmt for fmt in formats if fmt not in FORMATS]
    if bad_formats or not formats:
        raise CodeFormatError(f"Unknown image formats {bad_formats}; allowed values: {', '.join(FORMATS)}")
    for column in required:
        if items.schema[column] != pl.String:
            raise CodeFormatError(f"Column {column!r} must be String, got {items.schema[column]}")
        nulls = items[column].null_count()
        if nulls:
            raise CodeFormatError(f"Column {column!r} has {nulls} null values")
    duplicated = items.filter(pl.col("code").is_duplicated())["code"].unique().sort()
    if len(duplicated):
        raise CodeFormatError(f"Duplicate codes: {_preview(duplicated)}")
    problems = []
    for code, payload, symbology in zip(items["code"], items["payload"], items["symbology"], strict=True):
        if not _SAFE_CODE_RE.fullmatch(code):
            problems.append(f"code {code!r} is not a safe file name (A-Z, a-z, 0-9, '_.-')")
            continue
        try:
            check_payload(payload, symbology)
        except CodeFormatError as e:
            problems.append(f"code {code!r}: {e}")
    if problems:
        raise CodeFormatError(f"{len(problems)} rows cannot be rendered: {_preview(problems)}")


def _preview(values: Iterable[str], limit: int = 10) -> str:
    values = list(values)
    shown = "; ".join(map(str, values[:limit]))
    return shown + (f"; ... and {len(values) - limit} more" if len(values) > limit else "")


# --- files ------------------------------------------------------------------------------------


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _chunks(rows: list[T], workers: int) -> list[list[T]]:
    """Split rows into chunks: several per worker for balance, at most 500 rows each."""
    if not rows:
        return []
    size = max(1, min(500, math.ceil(len(rows) / (4 * workers))))
    return [rows[i : i + size] for i in range(0, len(rows), size)]


@functools.lru_cache(maxsize=1)
def _renderer_id() -> str:
    """Fingerprint of the renderer: what it draws for a reference payload of each symbology and
    format, and the library versions.

    A change in how images are drawn changes it, and the night's cached images are redrawn; a change
    of code that draws the same images does not.
    """
    digest = hashlib.blake2b(digest_size=16)
    for symbology, payload in _REFERENCE_PAYLOADS.items():
        for data in (render_png(payload, symbology), render_svg(payload, symbology)):
            digest.update(hashlib.blake2b(data, digest_size=16).digest())
    for package in ("python-barcode", "qrcode", "pillow", "numpy"):
        digest.update(f"\0{package}={_package_version(package)}".encode())
    return digest.hexdigest()


def _fingerprint(payload: str, symbology: str, fmt: str, style: ImageStyle) -> str:
    text = "\0".join((_renderer_id(), repr(style) if fmt == "png" else "", symbology, fmt, payload))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def image_path(code: str, symbology: str, fmt: str = "png") -> str:
    """Where a coupon's image goes, relative to the images folder: ``<symbology>/<code>.<format>``
    (a code that is not a safe file name is named by its hash, see ``safe_names``).
    """
    return f"{symbology}/{safe_stem(code)}.{fmt}"


def _fingerprints(chunk: list[tuple[str, str, str, tuple[str, ...]]], style: ImageStyle) -> list[str]:
    return [_fingerprint(payload, sym, fmt, style) for _, payload, sym, fmts in chunk for fmt in fmts]


def _draw(
    todo: list[tuple[str, str, str, tuple[str, ...]]], workers: int, style: ImageStyle
) -> Iterator[tuple[list[tuple[str, str, str, tuple[str, ...]]], list[tuple[str, bytes]]]]:
    """Draw the images of `todo` coupons in chunks; yield each chunk with its (member, bytes)."""
    chunks = _chunks(todo, workers)
    if workers == 1 or len(chunks) <= 1:
        for chunk in chunks:
            yield chunk, _render_chunk(chunk, style)
        return
    # Workers die with this process, even when it is killed (kill -9) while they draw.
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), initializer=die_with_parent) as pool:
        yield from zip(chunks, pool.map(_render_chunk, chunks, [style] * len(chunks)), strict=True)


def _render_chunk(
    chunk: list[tuple[str, str, str, tuple[str, ...]]], style: ImageStyle
) -> list[tuple[str, bytes]]:
    """Draw one chunk's images in memory: (member name, bytes) per coupon and format."""
    return [
        (
            image_path(code, symbology, fmt),
            style.png(payload, symbology) if fmt == "png" else render_svg(payload, symbology),
        )
        for code, payload, symbology, formats in chunk
        for fmt in formats
    ]


def _read_manifest(out_dir: Path) -> dict[str, list[str]]:
    path = out_dir / MANIFEST_NAME
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        # An unreadable manifest only costs a full re-render; every file is then compared.
        return {}
    files = content.get("files") if isinstance(content, dict) else None
    return files if isinstance(files, dict) else {}


def _write_manifest(out_dir: Path, files: dict[str, list[str]]) -> None:
    text = json.dumps({"version": 1, "files": dict(sorted(files.items()))}, separators=(",", ":"))
    write_atomic(out_dir / MANIFEST_NAME, lambda path: path.write_text(text, encoding="utf-8"), private=True)
