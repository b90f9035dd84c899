"""Who a campaign may address: its eligibility rules, and the products no coupon may target.

A campaign admits customers by spend, RFM segment, lifecycle stage and NPS class. Products the
retailer marks ``promo_allowed=false`` (alcohol, tobacco, infant formula) are never a target, and
neither is a whole category holding one.
"""

from __future__ import annotations

import polars as pl

from coupongen.config import CampaignConfig


def eligible_customers(customers: pl.DataFrame, campaign: CampaignConfig) -> pl.DataFrame:
    """The customers a campaign's eligibility admits (an empty list admits everyone)."""
    rules = campaign.eligibility
    cond = pl.col("monetary") >= rules.min_spend
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
