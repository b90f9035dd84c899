"""The redemption file the tills send back: its layout, and reading it with the input contract's rules.

Layout 1.1 (docs/pos.md) has a line per coupon taken: code or scanned barcode, time, store,
receipt, card and discount given; an optional ``kind`` column marks refund lines, which undo an
earlier redemption. A file is named by its content, so the same file is known again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from coupongen.errors import InputError
from coupongen.inputs.contract import LINE_COL, Column, InputSpec, Loaded
from coupongen.inputs.parsing import value_name
from coupongen.inputs.reading import read_input
from coupongen.inputs.validation import validate_rows

LAYOUT_VERSION = "1.1"

REDEMPTION = "redemption"
REFUND = "refund"
LINE_KINDS = (REDEMPTION, REFUND)

REDEMPTIONS = InputSpec(
    "redemptions",
    (
        Column("code", "str"),
        Column("redeemed_at", "datetime"),
        Column("store_id", "str"),
        Column("receipt_id", "str"),
        Column("card_number", "str"),
        Column("discount", "float"),
        Column("kind", "str", required=False),
    ),
)
"""The redemption file, layout 1.1 (docs/pos.md): every column but ``kind`` must be in the header."""

REQUIRED_VALUES = ("code", "redeemed_at", "receipt_id")
"""Columns a line may not leave blank; a blank store, card or discount is judged, not refused."""

NEGATIVE_DISCOUNT = "discount: negative"
BAD_KIND = "kind: not redemption or refund"

# The contract's helpers drop the line number of kept rows; a copy of it rides along as a column.
_LINE = "__line"
_LINED = InputSpec(REDEMPTIONS.name, (*REDEMPTIONS.columns, Column(_LINE, "int", required=False)))


def source_name(path: Path) -> str:
    """How the ledger names a redemption file: its name and the start of its content's SHA-256.

    Importing the same content again finds its lines recorded; a corrected file sent under the
    same name is a new source, whose redemptions are matched by coupon, store and receipt instead.
    """
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from e
    return f"{path.name}#{digest.hexdigest()[:16]}"


def read_redemptions(path: Path) -> Loaded:
    """Read and check a redemption file's lines (layout 1.1) with the input contract's rules.

    ``kept`` has code, redeemed_at (datetime, the store's wall time), store_id, receipt_id,
    card_number (text), discount (f64), kind (``redemption`` or ``refund``; a blank or absent kind
    is a redemption) and line (the file's line number, the header being 1).
    ``quarantined`` has the same columns as read, with source_file, line and reason. InputError
    for a missing or unreadable file or a missing column.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the redemption file itself")
    if not path.exists():
        raise InputError(f"{path}: file not found")
    raw = read_input([path], REDEMPTIONS, ",")
    loaded = validate_rows(
        raw.with_columns(pl.col(LINE_COL).cast(pl.String).alias(_LINE)),
        _LINED,
        required_values=REQUIRED_VALUES,
        checks=[
            (pl.col(value_name("discount")) < 0, NEGATIVE_DISCOUNT),
            (~pl.col(value_name("kind")).str.to_lowercase().is_in(LINE_KINDS), BAD_KIND),
        ],
    )
    kind = pl.col("kind").str.to_lowercase().fill_null(REDEMPTION)
    loaded.kept = loaded.kept.rename({_LINE: LINE_COL}).with_columns(kind.alias("kind"))
    loaded.quarantined = loaded.quarantined.drop(_LINE)
    loaded.files = [path]
    return loaded
