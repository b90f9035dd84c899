"""The ledger's schema, version by version, and the migration of an older ledger to the current one.

The version is SQLite's ``user_version``. Opening a ledger applies the missing migrations in order,
each in its own transaction, so a ledger written by any earlier coupongen keeps its history. A
migration that rebuilds a table runs with foreign-key enforcement off (SQLite's documented way) and
checks every reference before it commits.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from coupongen.errors import LedgerError
from coupongen.ledger.connection import transaction

SCHEMA_VERSION = 6

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY,
        job TEXT NOT NULL,
        as_of TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
        counts TEXT
    );
    CREATE TABLE coupons (
        coupon_id INTEGER PRIMARY KEY,
        offer_key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('personal', 'referral')),
        code TEXT NOT NULL UNIQUE,
        barcode_value TEXT NOT NULL,
        symbology TEXT NOT NULL,
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        as_of TEXT NOT NULL,
        campaign TEXT NOT NULL,
        offer_type TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        card_number TEXT,
        target_kind TEXT NOT NULL,
        target TEXT,
        reward_type TEXT NOT NULL,
        reward_value REAL NOT NULL,
        min_basket REAL NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT NOT NULL,
        max_uses INTEGER NOT NULL,
        expected_cost REAL NOT NULL,
        reason TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'void')),
        issued_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX coupons_barcode ON coupons(symbology, barcode_value);
    CREATE INDEX coupons_customer ON coupons(customer_id, as_of);
    CREATE INDEX coupons_campaign ON coupons(campaign, as_of);
    CREATE TABLE controls (
        control_id INTEGER PRIMARY KEY,
        offer_key TEXT NOT NULL UNIQUE,
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        as_of TEXT NOT NULL,
        campaign TEXT NOT NULL,
        offer_type TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        target_kind TEXT NOT NULL,
        target TEXT
    );
    CREATE INDEX controls_campaign ON controls(campaign, as_of);
    CREATE TABLE locks (
        name TEXT PRIMARY KEY,
        run_id INTEGER,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        acquired_at TEXT NOT NULL
    );
    """,
    # 2: a barcode's identifying key is unique (a GCN serial must not repeat under another expiry
    # date); runs say when all their coupons were durably recorded; redemptions. Coupons are found
    # by night and campaign (one index serves issuing, exports and the frequency cap; the unused
    # per-customer index only slowed inserts down).
    2: """
    ALTER TABLE runs ADD COLUMN issued_at TEXT;
    ALTER TABLE coupons ADD COLUMN barcode_key TEXT NOT NULL DEFAULT '';
    UPDATE coupons SET barcode_key = barcode_value;
    DROP INDEX coupons_barcode;
    CREATE UNIQUE INDEX coupons_barcode_key ON coupons(symbology, barcode_key);
    DROP INDEX coupons_customer;
    DROP INDEX coupons_campaign;
    CREATE INDEX coupons_night ON coupons(as_of, campaign);
    CREATE TABLE redemptions (
        redemption_id INTEGER PRIMARY KEY,
        code TEXT NOT NULL,
        coupon_id INTEGER REFERENCES coupons(coupon_id),
        redeemed_at TEXT NOT NULL,
        store_id TEXT,
        receipt_id TEXT,
        card_number TEXT,
        discount REAL,
        source_file TEXT,
        line INTEGER,
        status TEXT NOT NULL CHECK (status IN ('accepted', 'rejected')),
        reason TEXT,
        imported_at TEXT NOT NULL,
        UNIQUE (source_file, line)
    );
    CREATE INDEX redemptions_coupon ON redemptions(coupon_id, status);
    """,
    # 3: each coupon's customer segment on the night and the channel that carried it, so an
    # evaluation breaks redemptions down without the night's published files. Coupons recorded
    # before keep both null: neither can be known for them any more.
    3: """
    ALTER TABLE coupons ADD COLUMN segment TEXT;
    ALTER TABLE coupons ADD COLUMN channel TEXT;
    """,
    # 4: item rewards' quantities (buy, get); referrers' credits, once per referral coupon and
    # friend's card; refunds, each undoing one accepted redemption.
    4: """
    ALTER TABLE coupons ADD COLUMN reward_buy INTEGER;
    ALTER TABLE coupons ADD COLUMN reward_get INTEGER;
    CREATE TABLE referral_credits (
        credit_id INTEGER PRIMARY KEY,
        coupon_id INTEGER NOT NULL REFERENCES coupons(coupon_id),
        friend_card TEXT NOT NULL,
        redemption_id INTEGER NOT NULL REFERENCES redemptions(redemption_id),
        customer_id TEXT NOT NULL,
        reward_type TEXT NOT NULL,
        reward_value REAL NOT NULL,
        credited_at TEXT NOT NULL,
        UNIQUE (coupon_id, friend_card)
    );
    CREATE TABLE refunds (
        refund_id INTEGER PRIMARY KEY,
        code TEXT NOT NULL,
        coupon_id INTEGER REFERENCES coupons(coupon_id),
        redemption_id INTEGER REFERENCES redemptions(redemption_id),
        refunded_at TEXT NOT NULL,
        store_id TEXT,
        receipt_id TEXT,
        card_number TEXT,
        source_file TEXT NOT NULL,
        line INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('accepted', 'rejected')),
        reason TEXT,
        imported_at TEXT NOT NULL,
        UNIQUE (source_file, line)
    );
    CREATE UNIQUE INDEX refunds_redemption ON refunds(redemption_id) WHERE status = 'accepted';
    """,
    # 5: the ledger's identity, a random id drawn once when the ledger is created (or migrated),
    # stamped beside every night it issues so that a missing or replaced ledger is noticed.
    5: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('ledger_id', lower(hex(randomblob(16))));
    """,
    # 6: public coupons, one shared code per campaign with no holder (the coupons table is rebuilt:
    # SQLite cannot change a CHECK constraint in place), and reminders, at most one per coupon.
    6: """
    CREATE TABLE coupons_v6 (
        coupon_id INTEGER PRIMARY KEY,
        offer_key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('personal', 'referral', 'public')),
        code TEXT NOT NULL UNIQUE,
        barcode_value TEXT NOT NULL,
        symbology TEXT NOT NULL,
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        as_of TEXT NOT NULL,
        campaign TEXT NOT NULL,
        offer_type TEXT NOT NULL,
        customer_id TEXT CHECK ((kind = 'public') = (customer_id IS NULL)),
        card_number TEXT,
        target_kind TEXT NOT NULL,
        target TEXT,
        reward_type TEXT NOT NULL,
        reward_value REAL NOT NULL,
        min_basket REAL NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT NOT NULL,
        max_uses INTEGER NOT NULL,
        expected_cost REAL NOT NULL,
        reason TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'void')),
        issued_at TEXT NOT NULL,
        barcode_key TEXT NOT NULL DEFAULT '',
        segment TEXT,
        channel TEXT,
        reward_buy INTEGER,
        reward_get INTEGER
    );
    INSERT INTO coupons_v6 SELECT coupon_id, offer_key, kind, code, barcode_value, symbology, run_id,
        as_of, campaign, offer_type, customer_id, card_number, target_kind, target, reward_type,
        reward_value, min_basket, valid_from, valid_to, max_uses, expected_cost, reason, status,
        issued_at, barcode_key, segment, channel, reward_buy, reward_get FROM coupons;
    DROP TABLE coupons;
    ALTER TABLE coupons_v6 RENAME TO coupons;
    CREATE UNIQUE INDEX coupons_barcode_key ON coupons(symbology, barcode_key);
    CREATE INDEX coupons_night ON coupons(as_of, campaign);
    CREATE INDEX coupons_expiry ON coupons(valid_to);
    CREATE TABLE reminders (
        reminder_id INTEGER PRIMARY KEY,
        coupon_id INTEGER NOT NULL UNIQUE REFERENCES coupons(coupon_id),
        customer_id TEXT NOT NULL,
        as_of TEXT NOT NULL,
        channel TEXT NOT NULL,
        reminded_at TEXT NOT NULL
    );
    CREATE INDEX reminders_night ON reminders(as_of);
    """,
}
"""The statements that bring a ledger from the version before each key to that version."""


def schema_version(conn: sqlite3.Connection) -> int:
    """The ledger's schema version (SQLite's user_version; 0 for a new, empty file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _check_version(version: int, path: Path) -> None:
    if version > SCHEMA_VERSION:
        raise LedgerError(
            f"{path}: ledger schema version {version} is newer than this coupongen "
            f"understands ({SCHEMA_VERSION}); upgrade coupongen"
        )


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Apply the missing migrations, each in its own transaction; LedgerError for a newer ledger."""
    _check_version(schema_version(conn), path)
    if schema_version(conn) == SCHEMA_VERSION:
        return
    # Rebuilding a table drops the old one, which foreign-key enforcement would refuse: it is off
    # while migrating (it cannot change inside a transaction), and each migration checks instead.
    enforced = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys=OFF")
    try:
        while schema_version(conn) < SCHEMA_VERSION:
            with transaction(conn):
                # Read again under the write lock: another process may have migrated meanwhile.
                version = schema_version(conn)
                _check_version(version, path)
                if version == SCHEMA_VERSION:
                    break
                for statement in MIGRATIONS[version + 1].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                broken = conn.execute("PRAGMA foreign_key_check").fetchone()
                if broken is not None:
                    raise LedgerError(
                        f"{path}: cannot migrate the ledger to schema version {version + 1}: "
                        f"table {broken[0]} row {broken[1]} refers to a missing {broken[2]} row"
                    )
                conn.execute(f"PRAGMA user_version = {version + 1}")
    finally:
        conn.execute(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")
