"""The night's key: what its inputs and settings are, in a few hashes.

Two runs of a night with equal keys compute the same stage outputs. The inputs fingerprint covers
every file the night reads (the three data inputs, templates, suppression list, category names):
each file's name, size and modification time, and a SHA-256 of its bytes (of its first and last
MiB only when it is larger than `FULL_HASH_BYTES`, where hashing it whole would cost seconds; for
a file named by URI, which would otherwise be fetched twice, when it is larger than 2 MiB). The
settings hash covers the job and campaign settings, the run date, the seed and the version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from coupongen import __version__
from coupongen.config import Job
from coupongen.inputs.locations import InputFile, file_stamp, join, open_file
from coupongen.inputs.partitions import is_partitioned, partition_files
from coupongen.inputs.reading import resolve_files
from coupongen.settings import Settings

FULL_HASH_BYTES = 64 << 20
"""Files up to this size are hashed whole; larger ones by their head and tail (and size, mtime)."""
EDGE_BYTES = 1 << 20


@dataclass(frozen=True)
class NightKey:
    """What a night's stage outputs are keyed by: its inputs, its settings and the version."""

    inputs: str
    settings: str
    version: str

    def to_json(self) -> dict[str, str]:
        """The key as key.json and the night record hold it."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> NightKey | None:
        """The key read back from JSON; None when it is not a key of this layout."""
        if not isinstance(data, dict) or set(data) != {"inputs", "settings", "version"}:
            return None
        if not all(isinstance(v, str) for v in data.values()):
            return None
        return cls(**data)


def file_fingerprint(path: InputFile) -> dict[str, object]:
    """Name, size, modification time and content hash of one file (see the module's docstring)."""
    size, mtime_ns = file_stamp(path)
    digest = hashlib.sha256()
    with open_file(path) as fh:
        if size <= (FULL_HASH_BYTES if isinstance(path, Path) else 2 * EDGE_BYTES):
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        else:
            digest.update(fh.read(EDGE_BYTES))
            fh.seek(max(size - EDGE_BYTES, 0))
            digest.update(fh.read(EDGE_BYTES))
    return {
        "path": str(path),
        "bytes": size,
        "mtime_ns": mtime_ns,
        "sha256": digest.hexdigest(),
    }


def night_files(job: Job, settings: Settings) -> list[InputFile]:
    """Every file the night reads besides the job and campaign files: the data inputs, the
    templates folder, the suppression list and the category names (those that exist).
    """
    inputs = job.config.inputs
    files: list[InputFile] = []
    for name in (inputs.transactions, inputs.products, inputs.customers):
        location = join(settings.data_dir, name)
        # Day-partitioned history counts by the days the night reads (its look-back window).
        window = (settings.as_of - timedelta(days=job.config.segments.lookback_days), settings.as_of)
        files += partition_files(location, window) if is_partitioned(location) else resolve_files(location)
    templates = job.resolve(job.config.channels.templates)
    if templates.is_dir():
        files += sorted(p for p in templates.rglob("*") if p.is_file())
    for extra in (job.config.channels.suppression, job.config.products.names):
        if extra:
            path = job.resolve(extra)
            if path.is_file():
                files.append(path)
    return files


def _hash(doc: object) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:32]


def inputs_fingerprint(files: Iterable[InputFile]) -> str:
    """One hash over the fingerprints of ``files``."""
    return _hash([file_fingerprint(p) for p in files])


def night_key(job: Job, settings: Settings) -> NightKey:
    """The key of tonight's run of ``job`` (InputError when an input is missing, as loading says)."""
    settings_doc = {
        "config": job.config_hash(),
        "as_of": settings.as_of.isoformat(),
        "seed": settings.seed,
        "data_dir": str(settings.data_dir),
    }
    return NightKey(inputs_fingerprint(night_files(job, settings)), _hash(settings_doc), __version__)
