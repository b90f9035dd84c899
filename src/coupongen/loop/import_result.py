"""What one import of a redemption file did: the lines judged, the refunds, the credits, and the
rejected lines written for the people who look into them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from coupongen.delivery.publish import write_atomic
from coupongen.loop.refunds import REFUND_SCHEMA
from coupongen.safecsv import write_csv

ACCEPTED = "accepted"
REJECTED = "rejected"

REJECTED_COLUMNS = (
    "source_file",
    "line",
    "code",
    "redeemed_at",
    "store_id",
    "receipt_id",
    "card_number",
    "discount",
    "reason",
    "detail",
)
"""Columns of the rejected-lines CSV: where the line was, its values (a well-formed time in ISO
form, a broken value as read), why it was refused."""

_DECIDED_SCHEMA: dict[str, pl.DataType] = {
    "code": pl.String(),
    "coupon_id": pl.Int64(),
    "redeemed_at": pl.String(),
    "store_id": pl.String(),
    "receipt_id": pl.String(),
    "card_number": pl.String(),
    "discount": pl.Float64(),
    "source_file": pl.String(),
    "line": pl.Int64(),
    "status": pl.String(),
    "reason": pl.String(),
    "detail": pl.String(),
    "discount_text": pl.String(),
}


@dataclass(frozen=True)
class ImportResult:
    """What one import did.

    ``decided`` holds the lines judged this time (the ledger's redemption columns, ``detail`` and
    ``discount_text``, the discount as read where it was not a number);
    ``already_imported`` counts the lines skipped because the ledger held them (the same file line,
    or the same coupon on the same store's receipt from another file, or a refund of a redemption
    refunded already); ``refunds`` holds the refund lines judged this time (``refunds.REFUND_SCHEMA``,
    status accepted or rejected); ``credited`` the referrers credited this time. Always
    ``read == accepted + rejected + refunded + already_imported``, where rejected counts rejected
    redemption and refund lines.
    """

    path: Path
    source: str
    read: int
    decided: pl.DataFrame
    already_imported: int
    refunds: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REFUND_SCHEMA))
    credited: int = 0
    rejected_file: Path | None = None

    @property
    def refunded(self) -> int:
        """Refund lines accepted this time: redemptions undone."""
        return int((self.refunds["status"] == ACCEPTED).sum())

    @property
    def accepted(self) -> int:
        """Lines accepted this time."""
        return int((self.decided["status"] == ACCEPTED).sum())

    @property
    def rejected(self) -> pl.DataFrame:
        """The lines rejected this time, as read, with ``reason`` and ``detail`` (REJECTED_COLUMNS);
        a refund line shows its refund time as ``redeemed_at``.
        """
        refunds = self.refunds.filter(pl.col("status") == REJECTED).select(
            pl.col("code"),
            pl.col("coupon_id"),
            pl.col("refunded_at").alias("redeemed_at"),
            "store_id",
            "receipt_id",
            "card_number",
            pl.lit(None, dtype=pl.Float64).alias("discount"),
            "source_file",
            "line",
            "status",
            "reason",
            pl.lit("a refund line").alias("detail"),
            pl.lit(None, dtype=pl.String).alias("discount_text"),
        )
        return (
            pl.concat([self.decided, refunds])
            .filter(pl.col("status") == REJECTED)
            .with_columns(
                pl.lit(self.path.name).alias("source_file"),
                pl.coalesce("discount_text", pl.col("discount").cast(pl.String)).alias("discount"),
            )
            .select(REJECTED_COLUMNS)
            .sort("line")
        )

    def reason_counts(self) -> list[tuple[str, int]]:
        """Each single reason of this time's rejections with its number of lines, most first."""
        rejected = pl.concat(
            [self.decided.select("status", "reason"), self.refunds.select("status", "reason")]
        )
        rejected = rejected.filter(pl.col("status") == REJECTED)
        if rejected.is_empty():
            return []
        counted = (
            rejected.select(pl.col("reason").str.split("; ").explode())
            .group_by("reason")
            .len()
            .sort(["len", "reason"], descending=[True, False])
        )
        return [(str(r), int(n)) for r, n in counted.iter_rows()]


def write_rejected(result: ImportResult, folder: Path) -> Path | None:
    """Write this import's rejected lines to ``<folder>/<file stem>.rejected.csv``, owner-only.

    Nothing is written (and an earlier file is left alone) when no line was rejected this time:
    a second import of the same file changes nothing on disk either.
    """
    rejected = result.rejected
    if rejected.is_empty():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.path.stem}.rejected.csv"
    write_atomic(path, lambda staging: write_csv(rejected, staging), private=True)
    return path
