"""Who a campaign may address: its eligibility rules, and the products no coupon may target.

A campaign admits customers by spend, RFM segment, lifecycle stage and NPS class. Products the
retailer marks ``promo_allowed=false`` (alcohol, tobacco, infant formula) or the job's
``[products] never_promote`` names (by category, brand, sku or name pattern) are never a target,
and neither is a whole category holding one.
"""

from __future__ import annotations

import polars as pl

from coupongen.config import CampaignConfig, NeverPromote, amount


def eligible_customers(customers: pl.DataFrame, campaign: CampaignConfig) -> pl.DataFrame:
    """The customers a campaign's eligibility admits (an empty list admits everyone)."""
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
    return customers.filter(cond)


def restricted_categories(products: pl.DataFrame) -> pl.Series:
    """Categories holding any product with promo_allowed=false: never a coupon target as a whole."""
    return products.filter(~pl.col("promo_allowed"))["category"].unique().sort()


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


def promotable(products: pl.DataFrame, rules: NeverPromote) -> pl.DataFrame:
    """The products with ``promo_allowed`` also false where ``never_promote`` names them."""
    banned = never_promoted(rules, brands="brand" in products.columns)
    return products.with_columns((pl.col("promo_allowed") & ~banned).alias("promo_allowed"))
