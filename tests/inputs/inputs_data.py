"""Tiny hand-made inputs shared by the tests of the input contract: files, frames and helpers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from coupongen.inputs.contract import (
    LINE_COL,
    REASON_COL,
    SPECS,
    Inputs,
    Loaded,
)
from coupongen.inputs.loading import load_inputs
from coupongen.inputs.validation import validate_transactions

TX_SCHEMA = {
    "receipt_id": pl.String,
    "customer_id": pl.String,
    "ts": pl.Datetime("us"),
    "store_id": pl.String,
    "sku": pl.String,
    "quantity": pl.Float64,
    "amount": pl.Float64,
}
PRODUCT_SCHEMA = {
    "sku": pl.String,
    "name": pl.String,
    "category": pl.String,
    "category_name": pl.String,
    "subcategory": pl.String,
    "brand": pl.String,
    "price": pl.Float64,
    "cost": pl.Float64,
    "promo_allowed": pl.Boolean,
}
CUSTOMER_SCHEMA = {
    "customer_id": pl.String,
    "card_number": pl.String,
    "email": pl.String,
    "phone": pl.String,
    "email_opt_in": pl.Boolean,
    "sms_opt_in": pl.Boolean,
    "push_opt_in": pl.Boolean,
    "birth_date": pl.Date,
    "nps_score": pl.Int64,
    "first_name": pl.String,
    "locale": pl.String,
}

PRODUCTS_CSV = """sku,name,category,brand,price,promo_allowed
A,Spaghetti 500g,pasta,Nonna,1.20,true
B,"Tomato sauce, basil",sauce,Rosso,2.50,
W,Red wine,wine,Vino,7.90,false
"""
CUSTOMERS_CSV = """customer_id,card_number,email,phone,email_opt_in,sms_opt_in
C1,111,a@example.com,+4911,true,false
C2,222,b@example.com,+4922,yes,1
"""
TX_HEADER = "receipt_id,customer_id,ts,store_id,sku,quantity,amount\n"
TX_CSV = TX_HEADER + (
    "R1,C1,2026-03-14T10:15:00,S1,A,2,2.40\n"
    "R1,C1,2026-03-14T10:15:00,S1,B,1,2.50\n"
    "R2,C2,2026-03-15 18:00:05,S2,W,1,7.90\n"
    "R3,,2026-03-16,S1,A,-1,-1.20\n"
)
KEPT_TX = pl.DataFrame(
    {
        "receipt_id": ["R1", "R1", "R2", "R3"],
        "customer_id": ["C1", "C1", "C2", None],
        "ts": [
            datetime(2026, 3, 14, 10, 15),
            datetime(2026, 3, 14, 10, 15),
            datetime(2026, 3, 15, 18, 0, 5),
            datetime(2026, 3, 16),
        ],
        "store_id": ["S1", "S1", "S2", "S1"],
        "sku": ["A", "B", "W", "A"],
        "quantity": [2.0, 1.0, 1.0, -1.0],
        "amount": [2.4, 2.5, 7.9, -1.2],
    },
    schema=TX_SCHEMA,
)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def write_inputs(folder: Path) -> Path:
    """The three example inputs written to ``folder`` as products.csv, customers.csv, transactions.csv."""
    write(folder / "products.csv", PRODUCTS_CSV)
    write(folder / "customers.csv", CUSTOMERS_CSV)
    write(folder / "transactions.csv", TX_CSV)
    return folder


def load(folder: Path, transactions: str | Path = "transactions.csv", **kw: object) -> Inputs:
    return load_inputs(folder / transactions, folder / "products.csv", folder / "customers.csv", **kw)


def text_frame(rows: list[dict[str, str | None]], spec_name: str) -> pl.DataFrame:
    """A raw frame as the reader makes it: every contract column as text, absent ones null."""
    names = [c.name for c in SPECS[spec_name].columns]
    return pl.DataFrame({n: [r.get(n) for r in rows] for n in names}, schema={n: pl.String for n in names})


def reasons(loaded: Loaded) -> list[tuple[int, str]]:
    return loaded.quarantined.select(LINE_COL, REASON_COL).rows()


def validate(rows: list[dict[str, str | None]], **kw: object) -> Loaded:
    defaults = {
        "receipt_id": "R1",
        "customer_id": "C1",
        "ts": "2026-03-14T10:15:00",
        "store_id": "S1",
        "sku": "A",
        "quantity": "1",
        "amount": "1.20",
    }
    raw = text_frame([defaults | r for r in rows], "transactions")
    return validate_transactions(
        raw,
        skus=pl.Series(["A", "B"]),
        customer_ids=pl.Series(["C1", "C2"]),
        **kw,  # type: ignore[arg-type]
    )
