"""Tests of the synthetic loyalty export: contract, determinism, planted patterns, bad rows."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from coupongen.synthetic.sample import COMPLEMENTS, SampleData, generate_sample, write_sample

AS_OF = date(2026, 11, 22)
AS_OF_TS = datetime(2026, 11, 22)

TRANSACTIONS = {
    "receipt_id": pl.String,
    "customer_id": pl.String,
    "ts": pl.Datetime("us"),
    "store_id": pl.String,
    "sku": pl.String,
    "quantity": pl.Float64,
    "amount": pl.Float64,
}
PRODUCTS = {
    "sku": pl.String,
    "name": pl.String,
    "category": pl.String,
    "brand": pl.String,
    "price": pl.Float64,
    "promo_allowed": pl.Boolean,
}
CUSTOMERS = {
    "customer_id": pl.String,
    "card_number": pl.String,
    "first_name": pl.String,
    "locale": pl.String,
    "email": pl.String,
    "phone": pl.String,
    "email_opt_in": pl.Boolean,
    "sms_opt_in": pl.Boolean,
    "push_opt_in": pl.Boolean,
    "birth_date": pl.Date,
    "nps_score": pl.Int64,
}
RESTRICTED = {"tobacco", "beer", "wine", "spirits"}


@pytest.fixture(scope="module")
def small() -> SampleData:
    return generate_sample(300, seed=7, as_of=AS_OF)


@pytest.fixture(scope="module")
def medium() -> SampleData:
    """Large enough for the statistical checks to be stable, still well under a second."""
    return generate_sample(2000, seed=11, as_of=AS_OF)


@pytest.fixture(scope="module")
def lines(medium: SampleData) -> pl.DataFrame:
    return medium.transactions.join(medium.products, on="sku", how="left")


def sales_of_card_holders(data: SampleData) -> pl.DataFrame:
    return data.transactions.filter(pl.col("customer_id").is_not_null() & (pl.col("quantity") > 0))


# --- contract ------------------------------------------------------------------------------


def test_frames_follow_the_contract_schema(small: SampleData) -> None:
    assert dict(small.transactions.schema) == TRANSACTIONS
    assert dict(small.products.schema) == PRODUCTS
    assert dict(small.customers.schema) == CUSTOMERS


def test_history_covers_the_days_before_as_of(small: SampleData) -> None:
    ts = small.transactions["ts"]
    assert ts.min() >= AS_OF_TS - timedelta(days=365)
    assert ts.max() < AS_OF_TS
    assert ts.max() >= AS_OF_TS - timedelta(days=3)


def test_short_history_stays_inside_its_window() -> None:
    data = generate_sample(40, seed=3, as_of=AS_OF, days=14)
    assert data.transactions["ts"].min() >= AS_OF_TS - timedelta(days=14)
    assert data.transactions["ts"].max() < AS_OF_TS


def test_every_transaction_sku_is_a_product(small: SampleData) -> None:
    unknown = small.transactions.join(small.products, on="sku", how="anti")
    assert unknown.is_empty()


def test_every_card_holder_in_transactions_is_a_customer(small: SampleData) -> None:
    known = small.transactions.drop_nulls("customer_id")
    assert known.join(small.customers, on="customer_id", how="anti").is_empty()


def test_ids_and_card_numbers_are_unique(small: SampleData) -> None:
    customers = small.customers
    assert customers["customer_id"].is_unique().all()
    assert customers["card_number"].is_unique().all()
    assert small.products["sku"].is_unique().all()


def ean13_check_digit(first_twelve: str) -> int:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(first_twelve)))
    return (10 - total % 10) % 10


def test_ean13_check_digit_known_answer() -> None:
    assert ean13_check_digit("400614457735") == 0


def test_card_numbers_are_13_digit_chain_cards_with_a_valid_check_digit(small: SampleData) -> None:
    for card in small.customers["card_number"]:
        assert re.fullmatch(r"2770\d{9}", card), card
        assert int(card[-1]) == ean13_check_digit(card[:12]), card


def test_promo_is_barred_exactly_for_tobacco_and_alcohol(small: SampleData) -> None:
    products = small.products
    barred = set(products.filter(~pl.col("promo_allowed"))["category"].unique())
    assert barred == RESTRICTED
    assert products.filter(pl.col("category").is_in(RESTRICTED))["promo_allowed"].not_().all()


def whole_cents(values: pl.Series) -> bool:
    cents = values.to_numpy() * 100
    return bool(np.all(np.abs(cents - np.round(cents)) < 1e-6))


def test_catalogue_has_many_categories_and_plausible_names(small: SampleData) -> None:
    products = small.products
    assert 20 <= products["category"].n_unique() <= 45
    assert products["brand"].n_unique() >= 60
    assert products["name"].is_unique().all()
    assert (products["price"] > 0).all()
    assert whole_cents(products["price"])
    for name, brand in products.select("name", "brand").iter_rows():
        assert name.startswith(brand + " ")
        size = r"(\d+(\.\d+)? ?(g|kg|l|l can|ml|pcs|bags|rolls)|per kg)( No\. \d+)?$"
        assert re.search(size, name), name


def test_amounts_have_two_decimals_and_follow_the_sign_of_quantity(small: SampleData) -> None:
    t = small.transactions
    assert whole_cents(t["amount"])
    assert (t["quantity"] != 0).all()
    assert ((t["quantity"] > 0) == (t["amount"] > 0)).all()


def test_skus_argument_sets_the_catalogue_size() -> None:
    products = generate_sample(20, seed=1, as_of=AS_OF, skus=20_000).products
    assert products.height == 20_000
    assert products["name"].is_unique().all()
    assert products["sku"].is_unique().all()


def test_default_catalogue_grows_with_the_customer_count() -> None:
    few = generate_sample(50, seed=1, as_of=AS_OF).products.height
    many = generate_sample(3000, seed=1, as_of=AS_OF).products.height
    assert few < many
    assert 200 <= many <= 600


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 0}, "customers must be at least 1, got 0"),
        ({"days": 3}, "days must be at least 7, got 3"),
        ({"skus": 5}, "skus must be at least 40 (one per category), got 5"),
        ({"anonymous_share": 1.0}, "anonymous_share must be in [0, 1), got 1.0"),
        ({"lines_per_customer": 0}, "lines_per_customer must be positive, got 0"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, float], message: str) -> None:
    arguments = {"customers": 10, "seed": 1, "as_of": AS_OF} | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_sample(**arguments)


# --- determinism -------------------------------------------------------------------------


def test_same_seed_gives_identical_frames(small: SampleData) -> None:
    again = generate_sample(300, seed=7, as_of=AS_OF)
    assert_frame_equal(small.transactions, again.transactions)
    assert_frame_equal(small.products, again.products)
    assert_frame_equal(small.customers, again.customers)


def test_another_seed_gives_other_frames(small: SampleData) -> None:
    other = generate_sample(300, seed=8, as_of=AS_OF)
    assert not small.transactions.equals(other.transactions)
    assert not small.products.equals(other.products)
    assert not small.customers.equals(other.customers)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_data_gives_byte_identical_files(small: SampleData, tmp_path: Path, fmt: str) -> None:
    bad = 6 if fmt == "csv" else 0
    first = write_sample(small, tmp_path / "a", fmt=fmt, bad_rows=bad)
    second = write_sample(generate_sample(300, seed=7, as_of=AS_OF), tmp_path / "b", fmt=fmt, bad_rows=bad)
    assert set(first) == {"transactions", "products", "customers"}
    for name, path in first.items():
        assert path.name == f"{name}.{fmt}"
        assert path.read_bytes() == second[name].read_bytes()


# --- files -------------------------------------------------------------------------------


def test_clean_csv_reads_back_to_the_same_frames(small: SampleData, tmp_path: Path) -> None:
    paths = write_sample(small, tmp_path)
    transactions = pl.read_csv(paths["transactions"], schema=TRANSACTIONS | {"ts": pl.String}).with_columns(
        pl.col("ts").str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us")
    )
    assert_frame_equal(transactions, small.transactions)
    assert_frame_equal(pl.read_csv(paths["products"], schema=PRODUCTS), small.products)
    customers = pl.read_csv(paths["customers"], schema=CUSTOMERS | {"birth_date": pl.String})
    customers = customers.with_columns(pl.col("birth_date").str.to_date("%Y-%m-%d"))
    assert_frame_equal(customers, small.customers)


def test_csv_text_follows_the_export_format(small: SampleData, tmp_path: Path) -> None:
    text = write_sample(small, tmp_path)["transactions"].read_text(encoding="utf-8")
    header, first = text.splitlines()[:2]
    assert header == "receipt_id,customer_id,ts,store_id,sku,quantity,amount"
    assert re.fullmatch(r"R\d+,(C\d+)?,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,S\d+,P\d+,[\d.]+,\d+\.\d\d", first), (
        first
    )


def test_parquet_keeps_the_types(small: SampleData, tmp_path: Path) -> None:
    paths = write_sample(small, tmp_path, fmt="parquet")
    assert_frame_equal(pl.read_parquet(paths["transactions"]), small.transactions)
    assert_frame_equal(pl.read_parquet(paths["customers"]), small.customers)


def test_unknown_format_is_refused(small: SampleData, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Unknown format 'xlsx': use one of csv, parquet"):
        write_sample(small, tmp_path, fmt="xlsx")


def test_bad_rows_only_go_into_csv(small: SampleData, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bad_rows can only be planted in CSV files"):
        write_sample(small, tmp_path, fmt="parquet", bad_rows=3)


def problems(raw: pl.DataFrame, data: SampleData) -> dict[str, int]:
    """Count each kind of broken line in transactions read as strings."""
    skus = data.products["sku"]
    customers = data.customers["customer_id"]
    return {
        "bad_date": raw.filter(
            pl.col("ts").str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False).is_null()
        ).height,
        "empty_sku": raw.filter(pl.col("sku").is_null()).height,
        "unknown_sku": raw.filter(pl.col("sku").is_not_null() & ~pl.col("sku").is_in(skus.implode())).height,
        "bad_amount": raw.filter(pl.col("amount").cast(pl.Float64, strict=False).is_null()).height,
        "duplicate": raw.filter(raw.is_duplicated()).height // 2,
        "unknown_customer": raw.filter(
            pl.col("customer_id").is_not_null() & ~pl.col("customer_id").is_in(customers.implode())
        ).height,
    }


def test_bad_rows_are_planted_and_the_file_stays_valid_csv(small: SampleData, tmp_path: Path) -> None:
    path = write_sample(small, tmp_path, bad_rows=12)["transactions"]
    raw = pl.read_csv(path, infer_schema=False)
    assert raw.columns == list(TRANSACTIONS)
    assert all(dtype == pl.String for dtype in raw.dtypes)
    assert raw.height == small.transactions.height + 12
    assert problems(raw, small) == {
        "bad_date": 2,
        "empty_sku": 2,
        "unknown_sku": 2,
        "bad_amount": 2,
        "duplicate": 2,
        "unknown_customer": 2,
    }


def test_bad_rows_are_spread_over_the_file(small: SampleData, tmp_path: Path) -> None:
    path = write_sample(small, tmp_path, bad_rows=6)["transactions"]
    raw = pl.read_csv(path, infer_schema=False).with_row_index()
    bad = raw.filter(pl.col("sku").is_null() | pl.col("amount").str.contains(","))
    assert bad.height == 2
    assert bad["index"].max() - bad["index"].min() > 10


def test_a_clean_file_has_no_problems(small: SampleData, tmp_path: Path) -> None:
    raw = pl.read_csv(write_sample(small, tmp_path)["transactions"], infer_schema=False)
    assert set(problems(raw, small).values()) == {0}


# --- planted behaviour -------------------------------------------------------------------


def test_about_ten_lines_per_customer_a_year(medium: SampleData) -> None:
    assert 8.5 <= medium.transactions.height / medium.customers.height <= 11.5


def test_lines_per_customer_sets_the_volume() -> None:
    rich = generate_sample(500, seed=2, as_of=AS_OF, lines_per_customer=30)
    assert 25 <= rich.transactions.height / 500 <= 35


def test_returns_refer_to_earlier_purchases(medium: SampleData) -> None:
    t = medium.transactions
    returns = t.filter(pl.col("quantity") < 0)
    assert 0.005 <= returns.height / t.height <= 0.03
    assert (returns["amount"] < 0).all()
    sales = t.filter(pl.col("quantity") > 0).select("customer_id", "sku", sold=pl.col("ts"))
    card_returns = returns.drop_nulls("customer_id").with_row_index("return")
    matched = card_returns.join(sales, on=["customer_id", "sku"]).filter(pl.col("sold") < pl.col("ts"))
    assert matched["return"].n_unique() == card_returns.height
    sale_receipts = t.filter(pl.col("quantity") > 0)["receipt_id"].implode()
    assert returns["receipt_id"].is_in(sale_receipts).not_().all()


def test_anonymous_share_of_receipts(medium: SampleData) -> None:
    receipts = medium.transactions.filter(pl.col("quantity") > 0).unique("receipt_id")
    share = receipts["customer_id"].is_null().mean()
    assert share is not None
    assert 0.11 <= share <= 0.19


def test_no_anonymous_receipts_when_share_is_zero() -> None:
    data = generate_sample(100, seed=5, as_of=AS_OF, anonymous_share=0.0)
    assert data.transactions["customer_id"].null_count() == 0


def customer_summary(data: SampleData) -> pl.DataFrame:
    t = data.transactions.filter(pl.col("customer_id").is_not_null() & (pl.col("quantity") > 0))
    half = AS_OF_TS - timedelta(days=183)
    return t.group_by("customer_id").agg(
        receipts=pl.col("receipt_id").n_unique(),
        early=pl.col("receipt_id").filter(pl.col("ts") < half).n_unique(),
        late=pl.col("receipt_id").filter(pl.col("ts") >= half).n_unique(),
        spend=pl.col("amount").sum(),
        first_days=(pl.lit(AS_OF_TS) - pl.col("ts").min()).dt.total_days(),
        last_days=(pl.lit(AS_OF_TS) - pl.col("ts").max()).dt.total_days(),
    )


def test_every_kind_of_customer_shows_up(medium: SampleData) -> None:
    s = customer_summary(medium)
    median_spend = s["spend"].median()
    assert median_spend is not None
    kinds = {
        "new": s.filter(pl.col("first_days") <= 42),
        "occasional": s.filter(pl.col("receipts") <= 2, pl.col("first_days") > 60),
        "regular": s.filter(pl.col("receipts") >= 8, pl.col("last_days") <= 45),
        "big_spender": s.filter(pl.col("spend") >= 8 * median_spend),
        "lapsing": s.filter(
            pl.col("early") >= 3 * pl.col("late"), pl.col("late") >= 1, pl.col("last_days") <= 70
        ),
        "lapsed": s.filter(pl.col("receipts") >= 2, pl.col("last_days").is_between(60, 200)),
    }
    sizes = {name: frame.height for name, frame in kinds.items()}
    assert all(size >= 10 for size in sizes.values()), sizes
    assert s.height >= 0.97 * medium.customers.height


def test_weekends_are_busier(medium: SampleData) -> None:
    per_day = medium.transactions.unique("receipt_id").group_by(weekday=pl.col("ts").dt.weekday()).len()
    counts = dict(per_day.iter_rows())
    assert counts[6] > 1.25 * counts[2]
    assert counts[7] > 1.1 * counts[1]


def test_several_stores_and_opening_hours(medium: SampleData) -> None:
    t = medium.transactions
    assert t["store_id"].n_unique() >= 4
    hours = t["ts"].dt.hour()
    assert hours.min() >= 7
    assert hours.max() <= 22


@pytest.mark.parametrize(("first", "second", "probability"), COMPLEMENTS)
def test_planted_complements_lift_above_one_and_a_half(
    lines: pl.DataFrame, first: str, second: str, probability: float
) -> None:
    baskets = lines.filter(pl.col("quantity") > 0).select("receipt_id", "category").unique()
    n = baskets["receipt_id"].n_unique()
    with_a = set(baskets.filter(pl.col("category") == first)["receipt_id"])
    with_b = set(baskets.filter(pl.col("category") == second)["receipt_id"])
    assert with_a
    assert with_b
    lift = len(with_a & with_b) * n / (len(with_a) * len(with_b))
    assert lift > 1.5, (first, second, lift)
    assert len(with_a & with_b) / len(with_a) >= 0.6 * probability


def test_an_unrelated_pair_is_not_planted(lines: pl.DataFrame) -> None:
    baskets = lines.filter(pl.col("quantity") > 0).select("receipt_id", "category").unique()
    n = baskets["receipt_id"].n_unique()
    with_a = set(baskets.filter(pl.col("category") == "toothpaste")["receipt_id"])
    with_b = set(baskets.filter(pl.col("category") == "pasta_sauce")["receipt_id"])
    lift = len(with_a & with_b) * n / (len(with_a) * len(with_b))
    assert lift < 1.5


def test_popularity_is_heavy_tailed(lines: pl.DataFrame) -> None:
    counts = lines.group_by("sku").len().sort("len", descending=True)["len"]
    top_tenth = counts.head(max(1, len(counts) // 10)).sum() / counts.sum()
    assert top_tenth >= 0.3
    categories = lines.group_by("category").len()["len"]
    assert categories.max() >= 8 * categories.min()


def test_past_purchases_predict_later_ones(medium: SampleData) -> None:
    """A customer's later lines repeat their own earlier products far more than someone else's."""
    t = sales_of_card_holders(medium)
    half = AS_OF_TS - timedelta(days=183)
    early = t.filter(pl.col("ts") < half).select("customer_id", "sku").unique()
    returning = early.select("customer_id").unique()
    late = t.filter(pl.col("ts") >= half).join(returning, on="customer_id")

    def repeat_share(history: pl.DataFrame) -> float:
        seen = history.unique().with_columns(seen=pl.lit(True))
        joined = late.join(seen, on=["customer_id", "sku"], how="left")
        return float(joined["seen"].is_not_null().mean() or 0.0)

    own = repeat_share(early)
    someone_else = repeat_share(early.with_columns(pl.col("customer_id").shuffle(seed=1)))
    assert own > 0.35
    assert own > 3 * someone_else


def purchase_matrix(lines: pl.DataFrame, customers: pl.DataFrame, skus: pl.Series) -> np.ndarray:
    pairs = (
        lines.select("customer_id", "sku")
        .unique()
        .join(customers, on="customer_id")
        .join(skus.to_frame().with_row_index("column"), on="sku")
    )
    matrix = np.zeros((customers.height, len(skus)))
    matrix[pairs["row"].to_numpy(), pairs["column"].to_numpy()] = 1.0
    return matrix


def test_similar_customers_buy_similar_new_products(medium: SampleData) -> None:
    """Item-kNN on co-purchases finds the products customers try next better than popularity."""
    t = sales_of_card_holders(medium)
    cut = AS_OF_TS - timedelta(days=90)
    before = t.filter(pl.col("ts") < cut)
    customers = before.select("customer_id").unique().sort("customer_id").with_row_index("row")
    seen = purchase_matrix(before, customers, medium.products["sku"])
    tried = purchase_matrix(t.filter(pl.col("ts") >= cut), customers, medium.products["sku"])
    tried *= 1 - seen
    co = seen.T @ seen
    norm = np.sqrt(np.diag(co)) + 1e-9
    similarity = co / norm[:, None] / norm[None, :]
    np.fill_diagonal(similarity, 0.0)

    def hits(scores: np.ndarray) -> float:
        top = np.argsort(-np.where(seen > 0, -np.inf, scores), axis=1, kind="stable")[:, :10]
        return float(np.take_along_axis(tried, top, axis=1).sum())

    popularity = np.broadcast_to(seen.sum(axis=0), seen.shape)
    assert tried.sum() >= 1000
    assert hits(seen @ similarity) > 1.15 * hits(popularity)


def test_customers_keep_discovering_new_products(medium: SampleData) -> None:
    t = sales_of_card_holders(medium).with_columns(
        first_time=pl.col("ts") == pl.col("ts").min().over("customer_id", "sku"),
        first_visit=pl.col("ts") == pl.col("ts").min().over("customer_id"),
    )
    share = t.filter(~pl.col("first_visit"))["first_time"].mean()
    assert share is not None
    assert 0.15 <= share <= 0.7


def test_frequent_shoppers_have_staples(medium: SampleData) -> None:
    t = sales_of_card_holders(medium)
    frequent = (
        t.group_by("customer_id")
        .agg(receipts=pl.col("receipt_id").n_unique())
        .filter(pl.col("receipts") >= 6)
    )
    top_item = (
        t.join(frequent, on="customer_id")
        .group_by("customer_id", "sku")
        .agg(pl.col("receipt_id").n_unique().alias("times"), pl.col("receipts").first())
        .group_by("customer_id")
        .agg((pl.col("times") / pl.col("receipts")).max().alias("share"))
    )
    assert frequent.height >= 50
    assert (top_item["share"] >= 0.5).mean() >= 0.6


def test_household_types_shape_category_mix(lines: pl.DataFrame) -> None:
    """Baby products concentrate in few households: a niche, not spread over everyone."""
    card = lines.filter(pl.col("customer_id").is_not_null())
    buyers = card.filter(pl.col("category") == "diapers")["customer_id"].n_unique()
    assert 0 < buyers < 0.3 * card["customer_id"].n_unique()
    per_buyer = card.filter(pl.col("category") == "diapers").height / buyers
    assert per_buyer > 1.5


# --- customers ---------------------------------------------------------------------------


def test_contact_details_are_plausible(medium: SampleData) -> None:
    c = medium.customers
    emails = c["email"].drop_nulls()
    phones = c["phone"].drop_nulls()
    assert 0.05 <= c["email"].null_count() / c.height <= 0.2
    assert 0.02 <= c["phone"].null_count() / c.height <= 0.12
    assert emails.is_unique().all()
    assert phones.is_unique().all()
    assert emails.str.contains(r"^[a-z0-9._]+@[a-z]+\.[a-z]+$").all()
    assert phones.str.contains(r"^\+\d{11,12}$").all()
    assert c.filter(pl.col("email").is_null())["email_opt_in"].not_().all()
    assert c.filter(pl.col("phone").is_null())["sms_opt_in"].not_().all()


def test_locales_names_and_birth_dates(medium: SampleData) -> None:
    c = medium.customers
    assert set(c["locale"].unique()) == {"ru", "en"}
    assert 0.8 <= (c["locale"] == "ru").mean() <= 0.98
    russian = c.filter(locale="ru")["first_name"]
    assert russian.str.contains(r"^\p{Lu}[\p{Ll}]+$").all()
    assert russian.str.contains(r"\p{Cyrillic}").all()
    assert c.filter(locale="en")["first_name"].str.contains(r"^[A-Z][a-z]+$").all()
    assert 0.25 <= c["birth_date"].null_count() / c.height <= 0.35
    born = c["birth_date"].drop_nulls()
    assert born.min() >= date(1935, 1, 1)
    assert born.max() <= date(2008, 11, 22)


def test_nps_answers_are_sparse_and_follow_behaviour(medium: SampleData) -> None:
    c = medium.customers
    assert 0.6 <= c["nps_score"].null_count() / c.height <= 0.8
    scores = c["nps_score"].drop_nulls()
    assert scores.min() >= 0
    assert scores.max() <= 10
    s = customer_summary(medium).join(c, on="customer_id").drop_nulls("nps_score")
    promoter = pl.col("nps_score") >= 9
    detractor = pl.col("nps_score") <= 6

    def nps(frame: pl.DataFrame) -> float:
        return float(frame.select(promoter.mean() - detractor.mean()).item())

    active = s.filter(pl.col("receipts") >= 5, pl.col("last_days") <= 45)
    gone = s.filter(pl.col("last_days") >= 60, pl.col("receipts") >= 2)
    assert nps(active) > nps(gone) + 0.2


# --- properties --------------------------------------------------------------------------


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    customers=st.integers(1, 40),
    seed=st.integers(0, 2**32),
    days=st.integers(7, 800),
    share=st.floats(0.0, 0.6),
)
def test_any_small_sample_keeps_the_contract(customers: int, seed: int, days: int, share: float) -> None:
    data = generate_sample(customers, seed=seed, as_of=AS_OF, days=days, anonymous_share=share)
    t = data.transactions
    assert dict(t.schema) == TRANSACTIONS
    assert data.customers.height == customers
    assert t.join(data.products, on="sku", how="anti").is_empty()
    assert t.drop_nulls("customer_id").join(data.customers, on="customer_id", how="anti").is_empty()
    assert t["ts"].min() >= AS_OF_TS - timedelta(days=days)
    assert t["ts"].max() < AS_OF_TS
    assert data.customers["card_number"].is_unique().all()
    assert not t.select("receipt_id", "sku").is_duplicated().any()
    per_receipt = t.group_by("receipt_id").agg(pl.col("customer_id", "ts", "store_id").n_unique())
    assert (per_receipt.select(pl.exclude("receipt_id")) == 1).to_numpy().all()
    assert np.all(np.isfinite(t["amount"].to_numpy()))


# --- the bundled dataset -----------------------------------------------------------------

BUNDLED = Path(__file__).resolve().parent.parent / "sample_data"


def test_bundled_sample_data_is_what_its_readme_says(tmp_path: Path) -> None:
    """sample_data/ must be regenerated whenever the generator's output changes."""
    data = generate_sample(3000, seed=42, as_of=AS_OF, lines_per_customer=33)
    fresh = write_sample(data, tmp_path, bad_rows=6)
    for name in ("transactions", "products"):
        assert fresh[name].read_bytes() == (BUNDLED / f"{name}.csv").read_bytes(), name
    customers = pl.read_csv(BUNDLED / "customers.csv", infer_schema=False)
    assert customers.columns == list(CUSTOMERS)
    assert customers["customer_id"].to_list() == data.customers["customer_id"].to_list()
    readme = (BUNDLED / "README.md").read_text(encoding="utf-8")
    assert "--customers 3000 --seed 42 --as-of 2026-11-22 --lines-per-customer 33 --out sample_data" in readme
    assert f"{data.transactions.height + 6:,} receipt lines" in readme
