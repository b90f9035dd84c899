"""Golden test: every output file of the bundled sample night, compared with a recorded digest.

The night is run with a seeded entropy source, so even the coupon codes are the same each time.
What may change by design is set aside before hashing: absolute paths and stage timings in
summary.json, the chart
images (their pixels depend on the installed matplotlib and its fonts, in the PNGs and inlined in the
HTML report) and the Parquet writer's own metadata (the frames are hashed instead). The night's
checkpoints and record under ``stages/`` are left out: they are keyed by the input files' times and
paths, and are the run's own bookkeeping, not an output anyone reads.

After an intended change of the outputs, rewrite the record with
``COUPONGEN_WRITE_GOLDEN=1 pytest tests/test_golden.py`` and say in the commit why the outputs changed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
from PIL import Image

from coupongen import pipeline
from coupongen.config import load_job

REPO = Path(__file__).resolve().parents[1]
RECORD = REPO / "tests" / "golden" / "sample_night.txt"
CHARTS = {"segments.png", "rules.png", "category_rules.png"}


def _png_digest(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return f"{image.mode}{image.size}".encode() + image.tobytes()


def _digest(path: Path, out: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".zip":
        # an image archive: its member names in order, each image by its pixels (as a PNG file is)
        with zipfile.ZipFile(path) as archive:
            data = b"".join(
                info.filename.encode() + b"\0" + _png_digest(archive.read(info))
                if info.filename.endswith(".png")
                else info.filename.encode() + b"\0" + archive.read(info)
                for info in archive.infolist()
            )
    elif path.suffix == ".parquet":
        data = pl.read_parquet(path).write_ndjson().encode()
    elif path.name in CHARTS:
        data = b"chart"
    elif path.suffix == ".png":
        data = _png_digest(data)
    elif path.name == "summary.json":
        summary = json.loads(data.replace(str(out).encode(), b"<out>"))
        summary.pop("timings", None)  # seconds per stage: differ from run to run by nature
        data = json.dumps(summary, indent=2, sort_keys=True).encode() + b"\n"
    elif path.name == "ledger.json":
        data = re.sub(rb'"ledger_id": "[0-9a-f]+"', b'"ledger_id": "<random>"', data)
    elif path.name == "_render_manifest.json":
        # the fingerprints include the renderer's own source, so they change with any edit of it;
        # the hashes of the image bytes are what must not change
        records = json.loads(data)["files"]
        data = json.dumps({name: record[1] for name, record in records.items()}, sort_keys=True).encode()
    elif path.name == "report.html":
        data = re.sub(rb"data:image/png;base64,[A-Za-z0-9+/=]+", b"data:image/png;base64,...", data)
    return hashlib.sha256(data).hexdigest()[:16]


def run_sample_night(out: Path) -> pipeline.RunResult:
    """The sample night, run into ``out`` with the seeded entropy source."""
    job = load_job(REPO / "jobs" / "nightly.toml")
    settings = pipeline.resolve_settings(job, as_of=date(2026, 11, 22), out_dir=out)
    return pipeline.run_job(job, settings, entropy=random.Random(7).randbytes)


def digests_of(out: Path) -> str:
    """One line per output file of the sample night in ``out``: path and digest."""
    night = out / "2026-11-22"
    lines = [
        f"{path.relative_to(night).as_posix()} {_digest(path, out)}"
        for path in sorted(night.rglob("*"))
        if path.is_file() and path.relative_to(night).parts[0] != "stages"
    ]
    return "\n".join(lines) + "\n"


def test_sample_night_outputs_match_the_record(seeded_run: Path) -> None:
    found = digests_of(seeded_run)
    if os.environ.get("COUPONGEN_WRITE_GOLDEN"):
        RECORD.write_text(found)
    assert_as_recorded(found)


def assert_as_recorded(found: str) -> None:
    """AssertionError naming the files whose digests differ from the record."""
    expected = RECORD.read_text()
    if found != expected:
        want = dict(line.split(" ") for line in expected.splitlines())
        got = dict(line.split(" ") for line in found.splitlines())
        changed = sorted(k for k in want.keys() | got.keys() if want.get(k) != got.get(k))
        raise AssertionError(f"{len(changed)} output files differ from the record, e.g. {changed[:10]}")
