"""The ledger's stamp beside each night it issued, and the check that the ledger is still that one.

The ledger is the source of truth: a night's codes exist only there. If it is deleted, truncated
or swapped for another file, a rerun would silently issue every coupon again with new codes and the
old ones would drop out of the POS file. So each night folder gets ``ledger.json`` naming the
ledger (its random id) as soon as the night's coupons are recorded, and a run refuses to start
when the latest stamped night was issued by another ledger, or when the ledger is missing.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from coupongen.delivery.publish import write_atomic
from coupongen.errors import LedgerError

STAMP = "ledger.json"
RESTORE = "restore it from its latest backup (see docs/operations.md)"


def write_stamp(run_dir: Path, *, ledger_id: str, run_id: int, as_of: date) -> Path:
    """Write ``run_dir/ledger.json``: which ledger issued this night's coupons, in which run."""
    text = json.dumps({"as_of": as_of.isoformat(), "ledger_id": ledger_id, "run_id": run_id}, sort_keys=True)
    path = Path(run_dir) / STAMP
    write_atomic(path, lambda p: p.write_text(text + "\n", encoding="utf-8"))
    return path


def latest_stamp(out_dir: Path) -> tuple[str, str] | None:
    """The latest stamped night below ``out_dir`` and the ledger id that issued it, or None.

    Night folders are named by their date; an unreadable stamp counts as a stamp of no ledger.
    """
    nights = sorted(
        (p for p in Path(out_dir).glob(f"*/{STAMP}") if _is_date(p.parent.name)),
        key=lambda p: p.parent.name,
    )
    if not nights:
        return None
    try:
        ledger_id = str(json.loads(nights[-1].read_text(encoding="utf-8"))["ledger_id"])
    except (OSError, ValueError, KeyError, TypeError):
        ledger_id = "unreadable"
    return nights[-1].parent.name, ledger_id


def check_same_ledger(out_dir: Path, ledger_path: Path, ledger_id: str | None) -> None:
    """LedgerError when the latest night below ``out_dir`` was issued by another ledger than the one
    at ``ledger_path`` (id ``ledger_id``; None: there is no ledger file).
    """
    stamp = latest_stamp(out_dir)
    if stamp is None or stamp[1] == ledger_id:
        return
    night, issued_by = stamp
    found = "no ledger there" if ledger_id is None else f"this ledger ({ledger_id[:12]}) is not the one"
    raise LedgerError(
        f"{ledger_path}: {found} that issued the night of {night} in {out_dir} "
        f"(ledger {issued_by[:12]}); {RESTORE}, or pass --new-ledger to start a new ledger "
        "on purpose (every coupon is then issued anew with new codes)"
    )


def _is_date(name: str) -> bool:
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return True
