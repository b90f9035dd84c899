"""The night's substitute share: cross-sell offers in a product type the customer already buys."""

from __future__ import annotations

import polars as pl

from coupongen.offers.planning import plan_offers
from coupongen.offers.substitutes import substitute_share
from tests.offers.test_offers import PRODUCTS, bought, campaign, context, customers


def sent(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["customer_id", "target_kind", "target"], orient="row")


def test_a_product_of_a_type_bought_in_the_window_is_a_substitute():
    # CHIPS and SALSA share the category "snacks" (no subcategory column: the category is the type)
    ctx = context(customers(3), bought([("C0", "CHIPS"), ("C1", "PASTA"), ("C2", "SAUCE")]))
    offers = sent(
        [("C0", "sku", "SALSA"), ("C1", "sku", "SAUCE"), ("C2", "sku", "PASTA"), ("C2", "basket", "")]
    )
    # C0: salsa is another snack (substitute); C1, C2: a new type each; the basket offer is not counted
    assert substitute_share(offers, ctx) == round(1 / 3, 4)
    assert substitute_share(offers.filter(pl.col("target_kind") == "basket"), ctx) is None


def test_the_subcategory_is_the_type_where_the_products_have_one():
    products = PRODUCTS.with_columns(pl.Series("subcategory", ["long", "red", "lager", "chips", "dips"]))
    base = context(customers(1), bought([("C0", "CHIPS")]))
    ctx = type(base)(**{**base.__dict__, "products": products})
    assert substitute_share(sent([("C0", "sku", "SALSA")]), ctx) == 0.0  # snacks, but dips are new
    assert substitute_share(sent([("C0", "sku", "SALSA")]), base) == 1.0


def test_purchases_before_the_window_do_not_make_a_substitute():
    old = bought([("C0", "CHIPS")]).with_columns(pl.lit(False).alias("in_lookback"))
    assert substitute_share(sent([("C0", "sku", "SALSA")]), context(customers(1), old)) == 0.0


def test_the_plan_gives_each_cross_sell_campaign_its_share():
    ctx = context(customers(2), bought([("C0", "PASTA"), ("C1", "CHIPS")]))
    plan = plan_offers((campaign(), campaign("wb", "win_back")), ctx, max_per_customer=2, seed=1)
    funnel = {r["campaign"]: r for r in plan.funnel.to_dicts()}
    # C0 (pasta) gets the sauce, a new type; C1 (chips) gets the salsa, another snack
    assert sorted(plan.offers.filter(pl.col("campaign") == "cs").select("customer_id", "target").rows()) == [
        ("C0", "SAUCE"),
        ("C1", "SALSA"),
    ]
    assert funnel["cs"]["substitute_share"] == 0.5
    assert funnel["wb"]["substitute_share"] is None
