"""A finished night, recognised: a rerun with the same key and ledger has nothing to do.

When a night completes, ``stages/night.json`` records its key, the ledger run that finished it,
the ledger's state (`Ledger.night_state`) and the SHA-256 of each published folder's manifest and
of every other output file. A later run of the same night finds the night complete when all of it
still holds: the same key and night folder, that run succeeded in this very ledger with the same settings, the
ledger's state is unchanged, every published folder is whole (its ``_SUCCESS``, its manifest with
the recorded hash, each listed file with its listed size) and the other files are unchanged. Then
nothing is recomputed or republished, and the night's summary is returned as this run's (no coupon
issued by it: all were issued before). Anything else and the night runs as usual.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from coupongen.delivery.publish import MANIFEST, SUCCESS_MARKER, sha256_file, write_atomic
from coupongen.ledger import Ledger
from coupongen.night.checkpoints import STAGES
from coupongen.night.fingerprint import NightKey
from coupongen.report.html import find_previous
from coupongen.results import RunSummary

RECORD = "night.json"
SKIPPED = (STAGES, "images")
"""Folders of the night not covered by the record: checkpoints, and the rendered images (a
render cache; the published folders carry their own copies)."""


def record_path(run_dir: Path) -> Path:
    """Where the night's record lives."""
    return Path(run_dir) / STAGES / RECORD


def _outputs(run_dir: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of each published folder's manifest and of every other output file."""
    found: dict[str, str] = {}
    published = {p.parent for p in run_dir.glob(f"*/{SUCCESS_MARKER}") if (p.parent / MANIFEST).is_file()}
    for top in sorted(run_dir.iterdir()):
        if top.name in SKIPPED:
            continue
        # A published folder's manifest vouches for its files: they are not even looked at.
        if top in published:
            paths = list(top.rglob(MANIFEST))
        else:
            paths = list(top.rglob("*")) if top.is_dir() else [top]
        for path in sorted(paths):
            if path.is_file() and not path.name.startswith("."):
                found[path.relative_to(run_dir).as_posix()] = sha256_file(path)
    return found


def _previous(run_dir: Path) -> str | None:
    """SHA-256 of the earlier night's summary the report compares with (None without one)."""
    found = find_previous(run_dir.parent, run_dir.name)
    return sha256_file(found[0]) if found else None


def write_record(run_dir: Path, key: NightKey, ledger: Ledger, *, run_id: int, coupons: int) -> Path:
    """Record the night in ``run_dir`` as finished by run ``run_id`` of ``ledger``, under ``key``."""
    as_of = run_dir.name
    doc = {
        "key": key.to_json(),
        "run_dir": str(run_dir.resolve()),
        "ledger_id": ledger.ledger_id,
        "run_id": run_id,
        "ledger_state": ledger.night_state(as_of=date.fromisoformat(as_of)),
        "coupons": coupons,
        "outputs": _outputs(run_dir),
        "previous": _previous(run_dir),
    }
    path = record_path(run_dir)
    write_atomic(path, lambda p: p.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n"), private=True)
    return path


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _folder_whole(folder: Path, manifest_sha: str) -> bool:
    """True when ``folder`` still holds what its manifest (with hash ``manifest_sha``) lists."""
    manifest = folder / MANIFEST
    if not (folder / SUCCESS_MARKER).is_file() or sha256_file(manifest) != manifest_sha:
        return False
    files = _read(manifest)
    listed = files.get("files") if files else None
    if not isinstance(listed, dict):
        return False
    for name, entry in listed.items():
        path = folder / name
        try:
            if path.stat().st_size != entry["bytes"]:
                return False
        except (OSError, KeyError, TypeError):
            return False
    return True


def _outputs_unchanged(run_dir: Path, recorded: dict[str, str]) -> bool:
    for rel, sha in recorded.items():
        path = run_dir / rel
        try:
            if rel.endswith(f"/{MANIFEST}") and (path.parent / SUCCESS_MARKER).exists():
                if not _folder_whole(path.parent, sha):
                    return False
            elif sha256_file(path) != sha:
                return False
        except OSError:
            return False
    return True


def finished_summary(run_dir: Path, key: NightKey, ledger: Ledger, *, config_hash: str) -> RunSummary | None:
    """The summary of the night in ``run_dir`` when it finished under ``key`` and nothing it was made
    of changed since (see the module's docstring); None when it has to run.
    """
    doc = _read(record_path(run_dir))
    if doc is None or NightKey.from_json(doc.get("key")) != key or doc.get("ledger_id") != ledger.ledger_id:
        return None
    if doc.get("run_dir") != str(run_dir.resolve()):
        return None  # a copied or moved night: its summary names the files where they were
    runs = ledger.runs().filter(run_id=doc.get("run_id"))
    if runs.height != 1:
        return None
    run = runs.row(0, named=True)
    if (run["status"], run["as_of"], run["config_hash"]) != ("succeeded", run_dir.name, config_hash):
        return None
    if ledger.night_state(as_of=date.fromisoformat(run_dir.name)) != doc.get("ledger_state"):
        return None
    outputs = doc.get("outputs")
    if not isinstance(outputs, dict) or _previous(run_dir) != doc.get("previous"):
        return None
    if not _outputs_unchanged(run_dir, outputs):
        return None
    summary = _read(run_dir / "summary.json")
    if summary is None:
        return None
    try:
        found = RunSummary.from_json(summary)
    except (KeyError, TypeError, ValueError):
        return None
    if found.coupons is None:
        return None
    # Nothing is issued by this run: every coupon of the night was issued before.
    totals = replace(found.coupons, issued_this_run=0, already_issued=found.coupons.total)
    return replace(found, coupons=totals)
