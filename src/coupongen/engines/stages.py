"""Stage outputs on disk: ``<out>/<as-of>/stages/<stage>/`` with Parquet parts, key.json, _SUCCESS.

A stage folder is complete only when its ``_SUCCESS`` marker is there: it is removed before a
stage is (re)written and written last, after ``key.json`` (which inputs, settings and version made
the parts). A rerun of the same night overwrites the same folders.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import polars as pl

from coupongen import __version__
from coupongen.config import Job
from coupongen.errors import CoupongenError
from coupongen.inputs.contract import Inputs
from coupongen.inputs.locations import file_stamp

STAGES_DIR = "stages"
SUCCESS = "_SUCCESS"
KEY_FILE = "key.json"


class StageError(CoupongenError):
    """A stage's output folder is missing, incomplete or unreadable."""

    exit_code = 1


def stage_dir(run_dir: Path, stage: str) -> Path:
    """The folder of one stage of a night: ``<run_dir>/stages/<stage>``."""
    return run_dir / STAGES_DIR / stage


def inputs_fingerprint(inputs: Inputs) -> str:
    """A digest of the input files a night read: their paths, sizes and modification times."""
    digest = hashlib.sha256()
    for loaded in inputs.all():
        for path in sorted(loaded.files, key=str):
            size, mtime_ns = file_stamp(path)
            digest.update(f"{loaded.name}\0{path}\0{size}\0{mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def stage_key(job: Job, inputs: Inputs, as_of: date) -> dict[str, str]:
    """What made a night's stage outputs: inputs fingerprint, settings hash and coupongen's version."""
    return {
        "inputs": inputs_fingerprint(inputs),
        "settings": job.config_hash(),
        "as_of": as_of.isoformat(),
        "engine": job.config.engine,
        "version": __version__,
    }


def begin_stage(folder: Path) -> None:
    """Clear a stage's folder before it is written: first its marker, then its parts.

    The stages' parent folder is made private first (owner only): stages hold customers' rows
    (the validated customers, their features and offers), written by Spark with its own modes.
    """
    parent = folder.parent
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if parent.stat().st_mode & 0o077:
        parent.chmod(0o700)
    (folder / SUCCESS).unlink(missing_ok=True)
    if folder.exists():
        shutil.rmtree(folder)


def finish_stage(folder: Path, key: Mapping[str, object]) -> None:
    """Mark a written stage complete: ``key.json``, then ``_SUCCESS`` last; the folder and its
    parts private (owner only), whatever modes their writer gave them.
    """
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    (folder / KEY_FILE).write_text(json.dumps(dict(key), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for part in folder.iterdir():
        if part.is_file():
            part.chmod(0o600)
    (folder / SUCCESS).write_text("", encoding="utf-8")


def write_frame(frame: pl.DataFrame, folder: Path, key: Mapping[str, object]) -> None:
    """Write a frame computed on the driver as a stage: one Parquet part, the key, the marker."""
    begin_stage(folder)
    folder.mkdir(parents=True)
    frame.write_parquet(folder / "part-00000.parquet")
    finish_stage(folder, key)


def read_frame(folder: Path, schema: pl.Schema | None = None) -> pl.DataFrame:
    """A complete stage's parts as one frame (in part order), cast to ``schema`` when given.

    Raises StageError when the stage has no ``_SUCCESS`` marker.
    """
    if not (folder / SUCCESS).is_file():
        raise StageError(f"{folder}: stage output is incomplete (no {SUCCESS}); rerun the night")
    parts = sorted(p for p in folder.glob("part-*.parquet") if p.is_file())
    if not parts:
        frame = pl.DataFrame(schema=schema)
    else:
        frame = pl.concat([pl.read_parquet(p) for p in parts], how="vertical_relaxed")
    if schema is None:
        return frame
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def is_complete(folder: Path, key: Mapping[str, object]) -> bool:
    """True when the stage in ``folder`` is complete (``_SUCCESS``) and was made under ``key``."""
    if not (folder / SUCCESS).is_file():
        return False
    try:
        found = json.loads((folder / KEY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(found == dict(key))
