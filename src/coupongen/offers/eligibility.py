"""Who a campaign may address: its eligibility rules, and the products no coupon may target.

A campaign admits customers by spend, RFM segment and scores, lifecycle stage, NPS class, visits,
age, home store, any column of the customer table, or a list of customer ids or cards. Products the
retailer marks ``promo_allowed=false`` (alcohol, tobacco, infant formula) or the job's
``[products] never_promote`` names (by category, brand, sku or name pattern) are never a target,
and neither is a whole category holding one.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from coupongen.config import CampaignConfig, Filter, Job, NeverPromote, amount
from coupongen.errors import ConfigError

# The customer-table column each named eligibility filter tests.
FILTER_COLUMNS = {
    "r_score": "r_score",
    "f_score": "f_score",
    "m_score": "m_score",
    "spend": "monetary",
    "visits": "visits",
    "age": "age",
    "home_store": "home_store",
}


def with_audience_facts(
    customers: pl.DataFrame,
    *,
    as_of: date,
    transactions: pl.DataFrame | None = None,
    lookback_days: int = 365,
    home: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The customer table plus the facts eligibility filters need beyond the analysis.

    Added columns: age (full years on ``as_of``, from birth_date; null when unknown) and, with
    ``transactions`` (or their `home_stores` computed beforehand, ``home``), home_store (the store
    of most of the customer's receipts in the look-back window, ties to the smallest store id; null
    without purchases there).
    """
    out = customers
    if "birth_date" in out.columns:
        born = pl.col("birth_date")
        had_birthday = (born.dt.month() < as_of.month) | (
            (born.dt.month() == as_of.month) & (born.dt.day() <= as_of.day)
        )
        age = pl.lit(as_of.year) - born.dt.year() - pl.when(had_birthday).then(0).otherwise(1)
        out = out.with_columns(age.cast(pl.Int64).alias("age"))
    if home is None and transactions is not None:
        home = home_stores(transactions, as_of=as_of, lookback_days=lookback_days)
    if home is not None:
        out = out.drop("home_store", strict=False).join(home, on="customer_id", how="left")
    return out


def home_stores(transactions: pl.DataFrame, *, as_of: date, lookback_days: int) -> pl.DataFrame:
    """customer_id, home_store: the store of most of each customer's receipts in the look-back
    window before ``as_of`` (ties to the smallest store id).
    """
    since = as_of - timedelta(days=lookback_days)
    day = pl.col("ts").dt.date()
    # Lazy: the window's lines are read in place, not copied.
    return (
        transactions.lazy()
        .filter((day >= since) & (day < as_of))
        .group_by("customer_id", "store_id")
        .agg(pl.col("receipt_id").n_unique().alias("receipts"))
        .sort(["customer_id", "receipts", "store_id"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .first()
        .select("customer_id", pl.col("store_id").alias("home_store"))
        .collect()
    )


def with_customer_columns(customers: pl.DataFrame, extra: pl.DataFrame | None) -> pl.DataFrame:
    """The customer table plus the customer file's columns beyond the contract (``extra``: customer_id
    and those columns, typed), for ``[eligibility.columns]`` filters. A column the table already
    has (a computed fact such as age) keeps the table's value.
    """
    if extra is None:
        return customers
    added = [c for c in extra.columns if c not in customers.columns]
    if not added:
        return customers
    return customers.join(extra.select("customer_id", *added), on="customer_id", how="left")


def check_filter_columns(job: Job, customers: pl.DataFrame) -> None:
    """ConfigError naming the campaign file and key of the first ``[eligibility.columns]`` filter
    on a column the customer table lacks, listing the columns there are (never their values).
    """
    for campaign in (c for c in job.campaigns if c.enabled):
        missing = sorted(set(campaign.eligibility.columns) - set(customers.columns))
        if missing:
            available = ", ".join(sorted(customers.columns))
            raise ConfigError(
                f"{job.campaign_file(campaign.name)}: eligibility.columns.{missing[0]}: no customer "
                f"column {missing[0]!r} (available: {available})"
            )


def filter_expr(column: str, rule: Filter) -> pl.Expr:
    """The polars test of one eligibility filter on ``column`` (null never passes)."""
    col = pl.col(column)
    values = list(rule.values)
    if rule.op == "equals":
        expr = col == values[0]
    elif rule.op == "in":
        expr = col.is_in(values)
    elif rule.op == "between":
        # pl.lit: a text bound is a value, never read as a column name
        expr = col.is_between(pl.lit(values[0]), pl.lit(values[1]))
    elif rule.op == "at_least":
        expr = col >= pl.lit(values[0])
    else:
        expr = col <= pl.lit(values[0])
    return expr.fill_null(False)


def eligible_customers(
    customers: pl.DataFrame, campaign: CampaignConfig, *, listed: frozenset[str] | None = None
) -> pl.DataFrame:
    """The customers a campaign's eligibility admits (an empty list or no filter admits everyone).

    ``listed`` holds the customer ids or card numbers of the campaign's customers_file. A filter
    on a column the customer table lacks is a ConfigError naming the campaign and the key.
    """
    rules = campaign.eligibility
    cond = pl.col("monetary") >= amount(rules.min_spend, "eligibility.min_spend")
    if rules.segments:
        cond &= pl.col("rfm_segment").is_in(list(rules.segments))
    if rules.lifecycle:
        cond &= pl.col("lifecycle").is_in(list(rules.lifecycle))
    if rules.nps:
        cond &= pl.col("nps_class").is_in(list(rules.nps))
    if rules.exclude_nps:
        cond &= ~pl.col("nps_class").is_in(list(rules.exclude_nps)).fill_null(False)
    for key, rule in rules.filters().items():
        column = FILTER_COLUMNS.get(key, key.removeprefix("columns."))
        if column not in customers.columns:
            raise ConfigError(
                f"campaign {campaign.name!r}: eligibility.{key}: the customer table has no column {column!r}"
            )
        cond &= _typed_filter(customers, column, rule, campaign.name, key)
    if rules.customers_file is not None:
        ids = pl.Series(sorted(listed or ()), dtype=pl.String).implode()
        cond &= pl.col("customer_id").is_in(ids) | pl.col("card_number").is_in(ids).fill_null(False)
    return customers.filter(cond)


def _typed_filter(customers: pl.DataFrame, column: str, rule: Filter, campaign: str, key: str) -> pl.Expr:
    """The filter's test, after checking its values can be compared with the column."""
    dtype = customers.schema[column]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in rule.values)
    ok = (
        (dtype.is_numeric() and numeric)
        or (dtype == pl.String and all(isinstance(v, str) for v in rule.values))
        or (dtype == pl.Boolean and all(isinstance(v, bool) for v in rule.values))
        or (dtype == pl.Date and all(isinstance(v, date) for v in rule.values))
    )
    if not ok:
        raise ConfigError(
            f"campaign {campaign!r}: eligibility.{key}: column {column!r} holds {dtype}, "
            f"which the filter's values cannot be compared with"
        )
    return filter_expr(column, rule)


def restricted_categories(products: pl.DataFrame) -> pl.Series:
    """Categories holding any product with promo_allowed=false: never a coupon target as a whole."""
    return products.filter(~pl.col("promo_allowed"))["category"].unique().sort()


def promotable(products: pl.DataFrame) -> pl.DataFrame:
    """The products a coupon may target (promo_allowed): where campaign targets meet the
    never-promote guard.
    """
    return products.filter(pl.col("promo_allowed"))


def never_promoted(rules: NeverPromote, *, brands: bool = True) -> pl.Expr:
    """True for a product the job's ``never_promote`` names (a products frame's expression).

    ``brands=False`` for a products frame without a brand column: no brand rule can match there.
    """
    cond = pl.lit(False)
    if rules.categories:
        cond |= pl.col("category").is_in(list(rules.categories))
    if rules.brands and brands:
        cond |= pl.col("brand").is_in(list(rules.brands)).fill_null(False)
    if rules.skus:
        cond |= pl.col("sku").is_in(list(rules.skus))
    if rules.name_patterns:
        pattern = "(?i)" + "|".join(f"(?:{p})" for p in rules.name_patterns)
        cond |= pl.col("name").str.contains(pattern).fill_null(False)
    return cond


def apply_never_promote(products: pl.DataFrame, rules: NeverPromote) -> pl.DataFrame:
    """The products with ``promo_allowed`` also false where ``never_promote`` names them."""
    banned = never_promoted(rules, brands="brand" in products.columns)
    return products.with_columns((pl.col("promo_allowed") & ~banned).alias("promo_allowed"))
