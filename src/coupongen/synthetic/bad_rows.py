"""Broken transaction lines planted in a sample CSV, the kinds a real export holds now and then:
a day-first date, an empty or unknown product, a decimal comma, a duplicate, an unknown customer.

They let the input checks and the quarantine be tried on data that looks real.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from coupongen.synthetic.export_format import SampleData, transactions_text

BAD_ROW_KINDS = (
    "bad_date",
    "empty_sku",
    "unknown_sku",
    "bad_amount",
    "duplicate",
    "unknown_customer",
)
"""Kinds of broken transaction line `write_sample` can plant, used in this order, round robin."""


def make_bad_rows(data: SampleData, count: int) -> tuple[np.ndarray, pl.DataFrame]:
    """`count` broken copies of random lines and the places they go (same data, same result).

    A duplicate goes right after its original; the others anywhere, the end included.
    """
    text = transactions_text(data.transactions.head(0))
    if count == 0 or data.transactions.is_empty():
        return np.zeros(0, dtype=np.int64), text
    n = data.transactions.height
    rng = np.random.default_rng([n, count])
    source = rng.integers(0, n, count)
    kinds = np.array([BAD_ROW_KINDS[i % len(BAD_ROW_KINDS)] for i in range(count)])
    places = np.where(kinds == "duplicate", source + 1, rng.integers(0, n + 1, count))
    order = np.argsort(places, kind="stable")
    rows = transactions_text(data.transactions[source[order]]).with_columns(kind=pl.Series(kinds[order]))
    bad = rows.with_columns(
        ts=pl.when(pl.col("kind") == "bad_date")
        .then(pl.col("ts").str.to_datetime("%Y-%m-%dT%H:%M:%S").dt.strftime("%d.%m.%Y %H:%M"))
        .otherwise(pl.col("ts")),
        sku=pl.when(pl.col("kind") == "empty_sku")
        .then(pl.lit(None, dtype=pl.String))
        .when(pl.col("kind") == "unknown_sku")
        .then(pl.lit(_unknown_code(data.products["sku"])))
        .otherwise(pl.col("sku")),
        amount=pl.when(pl.col("kind") == "bad_amount")
        .then(pl.col("amount").str.replace(r"\.(\d)\d$", ",${1}O"))
        .otherwise(pl.col("amount")),
        customer_id=pl.when(pl.col("kind") == "unknown_customer")
        .then(pl.lit(_unknown_code(data.customers["customer_id"])))
        .otherwise(pl.col("customer_id")),
    ).drop("kind")
    return places[order], bad


def _unknown_code(existing: pl.Series) -> str:
    """A code shaped like the existing ones (same letter, same width) that none of them uses."""
    sample = str(existing[0])
    prefix, width = sample[0], len(sample) - 1
    taken = set(existing.to_list())
    candidate = 10**width - 1
    while f"{prefix}{candidate:0{width}d}" in taken:
        candidate -= 1
    return f"{prefix}{candidate:0{width}d}"
