"""Issued coupons: recorded once per offer, read back by night, and what carried them to whom.

An offer's ``offer_key`` (campaign, run date, customer, slot) is unique, so a rerun of the same night
finds what was already issued and issues nothing twice; coupons are written in committed batches, so
a run killed at any point resumes where it stopped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from datetime import date

import polars as pl

from coupongen.errors import LedgerError
from coupongen.ledger.base import LedgerBase
from coupongen.ledger.connection import IN_CHUNK, NOT_REFUNDED, night_filter, now, read_frame
from coupongen.ledger.runs import Run

BATCH_SIZE = 100_000  # rows per transaction: fewer commits rewrite fewer index pages
MAX_CODE_ATTEMPTS = 5
_CHUNK = 2_000  # rows per executemany: a collision costs a look-up of this many offer keys
# Drawn codes: (codes, barcode values) or (codes, barcode values, barcode keys). The key is the
# part of the barcode that identifies the coupon (the GCN with its serial); it defaults to the value.
Drawn = tuple[list[str], ...]

NO_CHANNEL = "none"
"""The channel of a coupon that reached nobody: no channel reaches its customer, or it was void."""

COUPON_COLUMNS = (
    "offer_key",
    "kind",
    "code",
    "barcode_value",
    "symbology",
    "run_id",
    "as_of",
    "campaign",
    "offer_type",
    "customer_id",
    "card_number",
    "target_kind",
    "target",
    "reward_type",
    "reward_value",
    "min_basket",
    "valid_from",
    "valid_to",
    "max_uses",
    "expected_cost",
    "reason",
    "status",
    "segment",
    "channel",
    "reward_buy",
    "reward_get",
)


class CouponsMixin(LedgerBase):
    """Issuing coupons, reading them back, and recording the channel each went out by."""

    def _existing_offer_keys(self, offers: pl.DataFrame) -> set[str]:
        """Offer keys already issued among the campaigns and run dates of ``offers`` (read only)."""
        keys: set[str] = set()
        for campaign, as_of in offers.select("campaign", "as_of").unique().rows():
            keys.update(
                r[0]
                for r in self.conn.execute(
                    "SELECT offer_key FROM coupons WHERE campaign = ? AND as_of = ?",
                    (campaign, as_of),
                )
            )
        return keys

    def _present_offer_keys(self, keys: list[str]) -> set[str]:
        present: set[str] = set()
        for i in range(0, len(keys), IN_CHUNK):
            chunk = keys[i : i + IN_CHUNK]
            present.update(
                r[0]
                for r in self.conn.execute(
                    f"SELECT offer_key FROM coupons WHERE offer_key IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
            )
        return present

    def issue_coupons(
        self,
        offers: pl.DataFrame,
        *,
        run: Run,
        make_codes: Callable[[int], Drawn],
        batch_size: int = BATCH_SIZE,
    ) -> int:
        """Record a coupon for every offer whose ``offer_key`` the ledger does not hold yet.

        ``offers`` has the coupon columns except code, barcode_value, run_id, status and channel
        (without ``segment``, ``reward_buy`` or ``reward_get`` none is recorded); ``make_codes(n)``
        returns n fresh codes, n barcode values and optionally n barcode keys (see ``Drawn``). Each
        batch is one transaction: a run killed at any moment leaves whole batches, and the next run
        issues the rest. Offers whose
        code or barcode collides with an earlier coupon are drawn again, in the same transaction.
        Returns how many were new.
        """
        existing = self._existing_offer_keys(offers)
        todo = offers.filter(
            ~pl.col("offer_key").is_in(pl.Series(sorted(existing), dtype=pl.String).implode())
        )
        optional = {"segment": pl.String, "reward_buy": pl.Int64, "reward_get": pl.Int64}
        todo = todo.with_columns(
            pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in optional.items()
            if name not in todo.columns
        )
        drawn_or_later = ("code", "barcode_value", "run_id", "status", "channel")
        fields = [c for c in COUPON_COLUMNS if c not in drawn_or_later]
        insert = (
            f"INSERT INTO coupons ({', '.join(fields)}, code, barcode_value, barcode_key, run_id, "
            f"issued_at) VALUES ({', '.join('?' * (len(fields) + 5))}) ON CONFLICT DO NOTHING"
        )
        issued = 0
        issued_at = now()
        for start in range(0, todo.height, batch_size):
            batch = todo.slice(start, batch_size).select(fields)
            issued += self._insert_batch(insert, batch, run.run_id, issued_at, make_codes)
        return issued

    def _insert_batch(
        self,
        insert: str,
        batch: pl.DataFrame,
        run_id: int,
        now: str,
        make_codes: Callable[[int], Drawn],
    ) -> int:
        """Insert one batch in one transaction, drawing new codes for rows that collided."""
        added = 0
        with self._transaction() as conn:
            for _ in range(MAX_CODE_ATTEMPTS):
                drawn = make_codes(batch.height)
                keys = drawn[2] if len(drawn) > 2 else drawn[1]
                rows = batch.with_columns(
                    pl.Series("code", drawn[0], dtype=pl.String),
                    pl.Series("barcode_value", drawn[1], dtype=pl.String),
                    pl.Series("barcode_key", keys, dtype=pl.String),
                    pl.lit(run_id, dtype=pl.Int64).alias("run_id"),
                    pl.lit(now).alias("issued_at"),
                ).rows()
                collided: list[str] = []
                for i in range(0, len(rows), _CHUNK):
                    chunk = rows[i : i + _CHUNK]
                    before = conn.total_changes
                    try:
                        conn.executemany(insert, chunk)
                    except sqlite3.IntegrityError as e:
                        raise LedgerError(f"{self.path}: cannot record coupons: {e}") from e
                    changed = conn.total_changes - before
                    added += changed
                    if changed < len(chunk):
                        # Only a chunk that lost rows is searched for the offers still missing.
                        keys_in_chunk = [str(r[0]) for r in chunk]
                        present = self._present_offer_keys(keys_in_chunk)
                        collided.extend(k for k in keys_in_chunk if k not in present)
                if not collided:
                    return added
                batch = batch.filter(
                    pl.col("offer_key").is_in(pl.Series(collided, dtype=pl.String).implode())
                )
            raise LedgerError(
                f"{self.path}: could not draw unique codes after {MAX_CODE_ATTEMPTS} attempts; "
                "the code space is too small for this many coupons (raise code.length)"
            )

    def coupons(self, *, as_of: date | None = None, campaigns: Iterable[str] | None = None) -> pl.DataFrame:
        """Coupons (all, or of one run date and some campaigns), ordered by campaign and customer.

        Columns: COUPON_COLUMNS. segment is the customer's RFM segment on the night; channel the
        one that carried the coupon (email, sms, app, or NO_CHANNEL when none reached the
        customer), null until the night's delivery is planned. Both are null for coupons recorded
        before the ledger kept them.
        """
        where, params = night_filter(as_of, campaigns)
        return read_frame(
            self.conn,
            f"SELECT {', '.join(COUPON_COLUMNS)} FROM coupons {where} "
            "ORDER BY campaign, customer_id, offer_key",
            params,
            COUPON_COLUMNS,
        )

    def find_coupon(
        self, *, code: str | None = None, symbology: str | None = None, key: str | None = None
    ) -> dict[str, object] | None:
        """One coupon by its ``code``, or by ``symbology`` and barcode ``key``; None if unknown.

        The record has coupon_id, code, kind, campaign, customer_id, valid_from, valid_to,
        max_uses, status, symbology, barcode_value, uses (accepted redemptions not refunded) and
        last_used_at.
        """
        params: tuple[str, ...]
        if code is not None:
            where, params = "c.code = ?", (code,)
        elif symbology is not None and key is not None:
            where, params = "c.symbology = ? AND c.barcode_key = ?", (symbology, key)
        else:
            raise ValueError("find_coupon needs a code, or a symbology and a barcode key")
        names = (
            "coupon_id", "code", "kind", "campaign", "customer_id", "valid_from", "valid_to",
            "max_uses", "status", "symbology", "barcode_value", "uses", "last_used_at",
        )  # fmt: skip
        row = self.conn.execute(
            "SELECT c.coupon_id, c.code, c.kind, c.campaign, c.customer_id, c.valid_from, "
            "c.valid_to, c.max_uses, c.status, c.symbology, c.barcode_value, COUNT(r.coupon_id), "
            "MAX(r.redeemed_at) FROM coupons c LEFT JOIN redemptions r "
            f"ON r.coupon_id = c.coupon_id AND r.status = 'accepted' {NOT_REFUNDED} WHERE {where} "
            "GROUP BY c.coupon_id",
            params,
        ).fetchone()
        return dict(zip(names, row, strict=True)) if row else None

    def public_issued(self) -> dict[str, str]:
        """The night (ISO date) each campaign's public code was issued, by campaign."""
        rows = self.conn.execute(
            "SELECT campaign, MIN(as_of) FROM coupons WHERE kind = 'public' GROUP BY campaign"
        )
        return {str(campaign): str(night) for campaign, night in rows}

    def codes_in_ledger(self, codes: Iterable[str]) -> set[str]:
        """Those of ``codes`` that some coupon in the ledger already has."""
        wanted = sorted(set(codes))
        found: set[str] = set()
        for i in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[i : i + IN_CHUNK]
            found.update(
                r[0]
                for r in self.conn.execute(
                    f"SELECT code FROM coupons WHERE code IN ({', '.join('?' * len(chunk))})", chunk
                )
            )
        return found

    def recent_offer_types(self, *, since: date, before: date) -> pl.DataFrame:
        """customer_id, offer_type, as_of (date) of coupons and holdout entries, since <= as_of < before.

        Holdout members count too: they were chosen for the offer, and must stay comparable.
        """
        rows = self.conn.execute(
            "SELECT customer_id, offer_type, as_of FROM coupons WHERE as_of >= ? AND as_of < ? "
            "UNION SELECT customer_id, offer_type, as_of FROM controls WHERE as_of >= ? AND as_of < ? "
            "ORDER BY 1, 2, 3",
            (since.isoformat(), before.isoformat()) * 2,
        ).fetchall()
        return pl.DataFrame(
            rows,
            schema={"customer_id": pl.String, "offer_type": pl.String, "as_of": pl.String},
            orient="row",
        ).with_columns(pl.col("as_of").str.to_date())

    def record_channels(self, channels: pl.DataFrame, *, as_of: date, campaigns: Iterable[str]) -> None:
        """Record the channel of every coupon of the night ``as_of`` and ``campaigns``.

        ``channels`` is delivery planning's choice: customer_id, channel (null when no channel
        reaches the customer), and campaigns (the campaigns the customer's message holds; without
        it, all of them), one row per customer. A live coupon takes its customer's channel when
        the message holds its campaign, else NO_CHANNEL (an unreachable customer, one not in
        ``channels``, a campaign left out of the message); a void coupon that was never sent gets
        NO_CHANNEL and one that was keeps its channel. A rerun of the night, which plans the same
        delivery, records the same.
        """
        where, params = night_filter(as_of, campaigns)
        one = channels.unique("customer_id", keep="first")
        if "campaigns" in one.columns:
            chosen = one.select("customer_id", "campaigns", "channel").explode("campaigns").rows()
        else:
            chosen = one.select("customer_id", pl.lit(None, dtype=pl.String), "channel").rows()
        with self._transaction() as conn:
            conn.execute("CREATE TEMP TABLE delivered (customer_id TEXT, campaign TEXT, channel TEXT)")
            try:
                conn.executemany("INSERT INTO temp.delivered VALUES (?, ?, ?)", chosen)
                conn.execute("CREATE INDEX temp.delivered_customer ON delivered (customer_id)")
                conn.execute(
                    "UPDATE coupons SET channel = CASE WHEN status = 'issued' THEN COALESCE("
                    "(SELECT d.channel FROM temp.delivered d WHERE d.customer_id = coupons.customer_id"
                    " AND (d.campaign IS NULL OR d.campaign = coupons.campaign)), "
                    f"?) ELSE ? END {where} AND (status = 'issued' OR channel IS NULL)",
                    (NO_CHANNEL, NO_CHANNEL, *params),
                )
            finally:
                conn.execute("DROP TABLE temp.delivered")
