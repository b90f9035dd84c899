"""The night's barcode and QR image files: one per coupon, kept across reruns of the night.

A rerun finds the images it already drew: a manifest records what each file encodes and a hash of
its bytes, so only new or changed coupons are drawn again, spread over the machine's cores.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version as _package_version
from pathlib import Path

import polars as pl

from coupongen.delivery.images import ImageStyle, check_payload, render_png, render_svg
from coupongen.delivery.publish import write_atomic
from coupongen.delivery.safe_names import safe_stem
from coupongen.errors import CodeFormatError
from coupongen.system import die_with_parent

FORMATS = ("png", "svg")
MANIFEST_NAME = "_render_manifest.json"
DEFAULT_STYLE = ImageStyle()

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
    """Write one image file per coupon and return where each one is.

    `items` has one row per coupon: `code` (unique coupon code, used as the file name), `payload`
    (what the symbol encodes) and `symbology` (one of `images.SYMBOLOGIES`). Files go to
    `out_dir/<symbology>/<code>.<format>` (`image_path`), PNGs drawn in `style`. The returned
    frame is `items` plus `png_path` and/or `svg_path` (paths relative to `out_dir`), per format.

    Reruns are cheap: `out_dir/_render_manifest.json` records a fingerprint of what each file
    encodes (payload, symbology, style, renderer and library versions) and a hash of its bytes; a file
    whose fingerprint and hash still match is kept untouched. A file without a matching record is
    rendered and rewritten only when its bytes differ. Work is spread over `workers` processes (all
    cores by default); `workers=1` renders in this process. Every bad row is reported at once,
    before anything is written. ``on_progress`` hears the number of coupons each finished chunk held.
    """
    _check_items(items, formats)
    if workers is None:
        workers = _cpu_count()
    if workers < 1:
        raise CodeFormatError(f"workers must be at least 1, got {workers}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = list(zip(items["code"], items["payload"], items["symbology"], strict=True))
    for symbology in items["symbology"].unique().to_list():
        (out_dir / symbology).mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(out_dir)
    chunks = _chunks(rows, workers)
    jobs = [
        (str(out_dir), formats, chunk, _manifest_subset(manifest, chunk, formats), style) for chunk in chunks
    ]
    tell = on_progress or (lambda n: None)
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            manifest.update(_render_chunk(*job))
            tell(len(job[2]))
    else:
        # Workers die with this process, even when it is killed (kill -9) while they draw.
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), initializer=die_with_parent) as pool:
            for job, result in zip(jobs, pool.map(_render_chunk, *zip(*jobs, strict=True)), strict=True):
                manifest.update(result)
                tell(len(job[2]))
    _write_manifest(out_dir, manifest)
    return items.with_columns(
        pl.Series(f"{fmt}_path", [image_path(code, sym, fmt) for code, _, sym in rows], dtype=pl.String)
        for fmt in formats
    )


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


def _chunks(rows: list[tuple[str, str, str]], workers: int) -> list[list[tuple[str, str, str]]]:
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


def _manifest_subset(
    manifest: dict[str, list[str]], rows: list[tuple[str, str, str]], formats: Sequence[str]
) -> dict[str, list[str]]:
    subset = {}
    for code, _payload, symbology in rows:
        for fmt in formats:
            path = image_path(code, symbology, fmt)
            if path in manifest:
                subset[path] = manifest[path]
    return subset


def _render_chunk(
    out_dir: str,
    formats: Sequence[str],
    rows: list[tuple[str, str, str]],
    previous: dict[str, list[str]],
    style: ImageStyle,
) -> dict[str, list[str]]:
    """Write the files of one chunk; return their manifest records {path: [fingerprint, hash]}."""
    records = {}
    for code, payload, symbology in rows:
        for fmt in formats:
            path = image_path(code, symbology, fmt)
            # Plain string paths: pathlib costs as much as writing a small file.
            target = os.path.join(out_dir, path)
            records[path] = _write_image(target, payload, symbology, fmt, previous.get(path), style)
    return records


def _write_image(
    target: str, payload: str, symbology: str, fmt: str, record: list[str] | None, style: ImageStyle
) -> list[str]:
    fingerprint = _fingerprint(payload, symbology, fmt, style)
    try:
        with open(target, "rb") as existing_file:
            existing: bytes | None = existing_file.read()
    except FileNotFoundError:
        existing = None
    if existing is not None and record == [fingerprint, _content_hash(existing)]:
        return record
    data = style.png(payload, symbology) if fmt == "png" else render_svg(payload, symbology)
    if data != existing:
        try:
            with open(target, "wb") as new_file:
                new_file.write(data)
        except OSError as e:
            # A write that fails (a full disk) names no file; the message must, and no half image stays.
            with contextlib.suppress(OSError):
                os.unlink(target)
            raise OSError(e.errno, e.strerror, target) from e
    return [fingerprint, _content_hash(data)]


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
    write_atomic(out_dir / MANIFEST_NAME, lambda path: path.write_text(text, encoding="utf-8"))
