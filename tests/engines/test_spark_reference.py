"""Products and customers validated on Spark give the polars validation's rows exactly: the kept
rows (defaults filled), the quarantined rows with every reason each input can give, in its words
and order, the customers' extra columns typed alike, and byte-equal quarantine files.

CSV parts of two headers (the customers' with different extra columns) and a typed Parquet part;
repeats are judged across the parts, in file and line order. The check runs inside the Spark
night's test (tests/engines/test_spark_equality.py), on its session: a test of its own could go to
the other worker of the suite and start a second JVM.
"""

from __future__ import annotations

from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from coupongen.engines import stages
from coupongen.engines.spark.loading import load_reference
from coupongen.inputs.contract import CUSTOMERS, PRODUCTS, Inputs, Loaded
from coupongen.inputs.quarantine import write_quarantine
from coupongen.inputs.reading import read_input
from coupongen.inputs.validation import validate_customers, validate_products

# Products and customers: every reason each can give, CSV parts of two headers (the customers'
# with different extra columns) and a typed Parquet part; repeats judged across the parts.
PRODUCTS_CSV = (
    "sku,name,category,price,cost,promo_allowed,brand\n"
    "A1,Apple,fruit, 2.50 ,1.00,YES,Acme\n"
    "A2,Pear,fruit,1.5d,0x1p3,maybe,\n"
    "A3,,fruit,-1,-0.5,,\n"
    ",Nameless,fruit,1,1,t,\n"
    "A4,Kiwi,,1e400,nan,0,\n"
    "A1,Apple again,fruit,1,1,,\n"
    "A5,Plum,fruit,1,1,N,Acme,extra\n"
    '"A6","Fig, dried",fruit,.5,-0,F,\n'
    "\u00a0,Blank sku,fruit,1,1,,\n"
)
PRODUCTS_PARQUET = pl.DataFrame(
    {
        "sku": ["A7", "A1", "A8", None],
        "name": ["Lime", "Apple dup", "Lemon", "No sku"],
        "category": ["fruit"] * 4,
        "price": [1.25, 2.0, -3.0, 1.0],
        "promo_allowed": [True, None, False, True],
    }
)
CUSTOMERS_CSV = (
    "customer_id,card_number,email,phone,email_opt_in,sms_opt_in,push_opt_in,birth_date,nps_score,"
    "first_name,locale,tier,postcode,vip\n"
    "C1,K1,a@example.org,+100,yes,no,,1990-11-25,7.0,Ann,en_US,gold,007,true\n"
    "C2,K2,,,1,0,1,1990-11-25T08:00:00,10,,,silver,12345,FALSE\n"
    " C1 ,K3,,,true,false,,,,,,,,\n"
    "C3,K1,,,true,false,,,,,,,,\n"
    ",K4,,,true,false,,,,,,,,\n"
    "C4,K5,,,si,false,maybe,1990-02-30,10.5,,,,,\n"
    "C5,K6,,,true,nope,,1990-1-5,1e30,,,,,\n"
    "C6,,,,,,,,-1,,,,,\n"
    "C8,,,,,,,,,,,bronze,,\n"
    "C9,K7,,,true,false,,,,,,,,,x\n"
)
CUSTOMERS_CSV_TWO = (
    "customer_id,email_opt_in,sms_opt_in,card_number,email,phone,visits_total,tier\n"
    "C10,true,true,K8,,,5,gold\nC2,false,false,K9,,,3,\nC11,no,no,K2,,,4,\n"
)
CUSTOMERS_PARQUET = pl.DataFrame(
    {
        "customer_id": ["C12", "C10", "C13"],
        "card_number": ["K10", "K11", "K8"],
        "email": [None, None, None],
        "phone": [None, None, None],
        "email_opt_in": [True, False, None],
        "sms_opt_in": [False, False, True],
        "nps_score": [3, 12, None],
        "birth_date": [date(1980, 1, 2), None, None],
        "visits_total": [7, 1, 2],
        "joined": [date(2020, 1, 1), None, None],
    },
    schema_overrides={"email": pl.String, "phone": pl.String},
)
PRODUCT_REASONS = [
    ("products.csv", 3, "price: not a number; cost: not a number; promo_allowed: not true/false"),
    ("products.csv", 4, "name: empty; price: negative; cost: negative"),
    ("products.csv", 5, "sku: empty"),
    ("products.csv", 6, "category: empty; price: not a number; cost: not a number"),
    ("products.csv", 7, "sku: duplicate of an earlier product"),
    ("products.csv", 8, "more fields than the header"),
    ("products.csv", 10, "sku: empty"),
    ("products.parquet", 2, "sku: duplicate of an earlier product"),
    ("products.parquet", 3, "price: negative"),
    ("products.parquet", 4, "sku: empty"),
]
CUSTOMER_REASONS = [
    ("customers-1.csv", 4, "customer_id: duplicate of an earlier customer"),
    ("customers-1.csv", 5, "card_number: already used by an earlier customer"),
    ("customers-1.csv", 6, "customer_id: empty"),
    (
        "customers-1.csv",
        7,
        "email_opt_in: not true/false; push_opt_in: not true/false; "
        "birth_date: not an ISO-8601 date (YYYY-MM-DD); nps_score: not a whole number; "
        "nps_score: outside 0-10",
    ),
    (
        "customers-1.csv",
        8,
        "sms_opt_in: not true/false; birth_date: not an ISO-8601 date (YYYY-MM-DD); nps_score: outside 0-10",
    ),
    ("customers-1.csv", 9, "nps_score: outside 0-10"),
    ("customers-1.csv", 11, "more fields than the header"),
    ("customers-2.csv", 3, "customer_id: duplicate of an earlier customer"),
    ("customers-2.csv", 4, "card_number: already used by an earlier customer"),
    ("customers-3.parquet", 2, "nps_score: outside 0-10; customer_id: duplicate of an earlier customer"),
    ("customers-3.parquet", 3, "card_number: already used by an earlier customer"),
]


def check_spark_reference_equals_polars(spark, tmp_path):
    """Products and customers validated on Spark: the polars validation's kept rows (defaults
    filled), quarantined rows with every reason in its words and order, the customers' extra
    columns typed alike, and byte-equal quarantine files.
    """
    data = tmp_path / "reference"
    data.mkdir()
    (data / "products.csv").write_text(PRODUCTS_CSV, encoding="utf-8")
    PRODUCTS_PARQUET.write_parquet(data / "products.parquet")
    (data / "customers-1.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    (data / "customers-2.csv").write_text(CUSTOMERS_CSV_TWO, encoding="utf-8")
    CUSTOMERS_PARQUET.write_parquet(data / "customers-3.parquet")
    p_files = [data / "products.csv", data / "products.parquet"]
    c_files = [data / f for f in ("customers-1.csv", "customers-2.csv", "customers-3.parquet")]
    expected = (
        validate_products(read_input(p_files, PRODUCTS, ",")),
        validate_customers(read_input(c_files, CUSTOMERS, ",")),
    )
    run_dir, key = tmp_path / "run", {"night": "reference"}
    got = (
        load_reference(spark, PRODUCTS, p_files, ",", run_dir, key),
        load_reference(spark, CUSTOMERS, c_files, ",", run_dir, key),
    )
    for on_spark, on_polars in zip(got, expected, strict=True):
        assert_frame_equal(on_spark.kept, on_polars.kept, check_exact=True)
        assert_frame_equal(on_spark.quarantined, on_polars.quarantined, check_exact=True)
        assert on_spark.counts == on_polars.counts
    products, customers = expected
    assert products.quarantined.select("source_file", "line", "reason").rows() == PRODUCT_REASONS
    assert customers.quarantined.select("source_file", "line", "reason").rows() == CUSTOMER_REASONS
    assert products.kept.select("sku", "promo_allowed", "cost").rows() == [
        ("A1", True, 1.0),
        ("A6", False, -0.0),
        ("A7", True, None),
    ]
    assert customers.kept.select("customer_id", "email_opt_in", "push_opt_in", "nps_score").rows() == [
        ("C1", True, False, 7),
        ("C2", True, True, 10),
        ("C8", False, False, None),
        ("C10", True, False, None),
        ("C12", True, False, 3),
    ]
    assert got[1].extra is not None and customers.extra is not None
    assert_frame_equal(got[1].extra, customers.extra, check_exact=True)
    assert dict(customers.extra.schema) == {
        "customer_id": pl.String,
        "tier": pl.String,
        "postcode": pl.String,
        "vip": pl.Boolean,
        "visits_total": pl.Int64,
        "joined": pl.Date,
    }
    empty = Loaded("transactions", pl.DataFrame(), pl.DataFrame())
    held = (tmp_path / "held_polars", tmp_path / "held_spark")
    for folder, (p, c) in zip(held, (expected, got), strict=True):
        write_quarantine(Inputs(empty, p, c), folder)
    for name in ("products.csv", "customers.csv"):
        assert (held[0] / name).read_bytes() == (held[1] / name).read_bytes(), name
    for stage in ("valid_products", "quarantine_products", "valid_customers", "quarantine_customers"):
        assert (stages.stage_dir(run_dir, stage) / stages.SUCCESS).is_file(), stage
