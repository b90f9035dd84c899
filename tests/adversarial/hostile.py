"""The hostile corpus: a small copy of the bundled data with the values an attacker or a broken
export would put in it, and the job file that runs it.

Every hostile value sits on a real customer who has purchases, consent and coupons, so each one
reaches the stage it attacks.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import polars as pl

from tests.conftest import NIGHTLY, REPO, SAMPLE

CUSTOMERS = 400  # the first customers of the bundled set, with all their purchases

# customer_id -> what it becomes
HOSTILE_IDS = {
    "C0000003": "../../../escaped",  # e-mail opt-in: would name html/../../../escaped.html
    "C0000005": "a/b",  # e-mail opt-in: a folder that does not exist
}
# customer_id -> column -> hostile value
HOSTILE_VALUES = {
    "C0000014": {"first_name": "Ann\r\nBcc: spy@evil.example\x07"},  # e-mail: subject header
    "C0000017": {"email": "ann@example.com\r\nBcc: spy@evil.example"},  # e-mail: To header
    "C0000004": {"phone": "+7 900 000 00 13 ext 5"},  # SMS: would become 790000000135
}
ESCAPED_NAME = "escaped.html"


def hostile_data(folder: Path) -> Path:
    """Write the hostile copy of the bundled data into ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    customers = pl.read_csv(SAMPLE / "customers.csv", infer_schema_length=0).head(CUSTOMERS)
    kept = customers["customer_id"]
    transactions = pl.read_csv(SAMPLE / "transactions.csv", infer_schema_length=0).filter(
        pl.col("customer_id").is_in(kept.implode())
    )
    for old, new in HOSTILE_IDS.items():
        customers = customers.with_columns(pl.col("customer_id").replace(old, new))
        transactions = transactions.with_columns(pl.col("customer_id").replace(old, new))
    for cid, values in HOSTILE_VALUES.items():
        for column, value in values.items():
            customers = customers.with_columns(
                pl.when(pl.col("customer_id") == cid)
                .then(pl.lit(value))
                .otherwise(pl.col(column))
                .alias(column)
            )
    customers.write_csv(folder / "customers.csv")
    transactions.write_csv(folder / "transactions.csv")
    shutil.copy(SAMPLE / "products.csv", folder / "products.csv")
    return folder


def hostile_job(folder: Path, data: Path) -> Path:
    """The bundled job file pointed at ``data``, written in ``folder`` beside copies of the
    campaigns and templates; returns its path.
    """
    jobs = folder / "jobs"
    shutil.copytree(REPO / "jobs", jobs, dirs_exist_ok=True)
    text = NIGHTLY.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^data = .*$", f'data = "{data.as_posix()}"', text)
    (jobs / "nightly.toml").write_text(text, encoding="utf-8")
    return jobs / "nightly.toml"
