"""Sample profiles: the same synthetic chain told in another country's language, money and habits.

``ru-grocery`` (the default) is the Russian grocery and drugstore chain the generator was built for.
``us-grocery`` is an English-speaking US grocery paying in dollars: prices at a US level (median
basket about 17 USD), English-speaking card holders with US numbers, English category names in a
``category_name`` products column, fuel lines from the chain's gas stations (quantities in
thousandths of a gallon, so in the thousands, as such tills record them) and "UNKNOWN" products
(lines the till could not name), the data problems a real US loyalty export has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from coupongen.synthetic.export_format import SampleData
from coupongen.synthetic.tables import CATEGORY_NAMES


@dataclass(frozen=True)
class Profile:
    """What distinguishes one sample chain from another.

    ``english_share``: card holders writing in English; ``phones``: "ru" (+79..., some +447...) or
    "us" (+1, an area code, 555 and four digits); ``price_scale``: the catalogue's rouble prices
    times this; ``fuel_share``: card holders' receipts with a fuel line; ``unknown_share``: receipts
    with an UNKNOWN line.
    """

    name: str
    locale: str
    currency: str
    english_share: float
    phones: str
    price_scale: float = 1.0
    fuel_share: float = 0.0
    unknown_share: float = 0.0


PROFILES = {
    p.name: p
    for p in (
        Profile("ru-grocery", locale="ru_RU", currency="RUB", english_share=0.07, phones="ru"),
        Profile(
            "us-grocery",
            locale="en_US",
            currency="USD",
            english_share=1.0,
            phones="us",
            price_scale=1 / 40,  # a 600-rouble median basket becomes about 15 dollars, 17-20 with fuel
            fuel_share=0.06,
            unknown_share=0.02,
        ),
    )
}
DEFAULT_PROFILE = "ru-grocery"

FUEL = ("fuel", "Fuel", "GASOLINE-REG UNLEADED", 2.49)  # category, display name, product, USD/gallon
UNKNOWN = "UNKNOWN"


def profile(name: str) -> Profile:
    """The profile called ``name``; ValueError naming the known ones otherwise."""
    if name not in PROFILES:
        raise ValueError(f"Unknown profile {name!r}: use one of {', '.join(PROFILES)}")
    return PROFILES[name]


def apply_profile(data: SampleData, prof: Profile, seed: int) -> SampleData:
    """The sample as ``prof``'s chain would export it: prices scaled, fuel and UNKNOWN lines added,
    category names given. The default profile returns ``data`` unchanged.
    """
    if prof.price_scale == 1.0 and not prof.fuel_share and not prof.unknown_share:
        return data
    rng = np.random.default_rng([seed, 7])
    cents = lambda e: (e * prof.price_scale).round(2)  # noqa: E731
    products = data.products.with_columns(
        price=pl.max_horizontal(cents(pl.col("price")), pl.lit(0.19)),
        category_name=pl.col("category").replace_strict(
            CATEGORY_NAMES["en"], default=pl.col("category"), return_dtype=pl.String
        ),
    )
    lines = data.transactions.with_columns(amount=cents(pl.col("amount")))
    width = products["sku"].str.len_chars().max()
    number = products.height
    extra_products: list[tuple[object, ...]] = []
    extra_lines = []
    if prof.fuel_share:
        number += 1
        sku = "P" + str(number).zfill(int(width) - 1)  # type: ignore[arg-type]
        category, display, name, price = FUEL
        extra_products.append((sku, name, category, None, price, False, display))
        receipts = _pick_receipts(lines.filter(pl.col("customer_id").is_not_null()), prof.fuel_share, rng)
        gallons = rng.uniform(3.0, 18.0, receipts.height)
        extra_lines.append(
            receipts.with_columns(
                sku=pl.lit(sku),
                quantity=pl.Series(np.round(gallons * 1000)),
                amount=pl.Series(np.round(np.round(gallons * 1000) / 1000 * price, 2)),
            )
        )
    if prof.unknown_share:
        skus = []
        for _ in range(2):
            number += 1
            skus.append("P" + str(number).zfill(int(width) - 1))  # type: ignore[arg-type]
            extra_products.append((skus[-1], UNKNOWN, UNKNOWN, UNKNOWN, None, False, None))
        receipts = _pick_receipts(lines, prof.unknown_share, rng)
        extra_lines.append(
            receipts.with_columns(
                sku=pl.Series(rng.choice(skus, receipts.height)),
                quantity=pl.lit(1.0),
                amount=pl.Series(np.round(rng.uniform(0.5, 9.0, receipts.height), 2)),
            )
        )
    if extra_products:
        added = pl.DataFrame(extra_products, schema=products.schema, orient="row")
        products = pl.concat([products, added]).sort("sku")
    transactions = pl.concat([lines, *(x.select(lines.columns) for x in extra_lines)]).sort(
        "ts", "receipt_id", "sku", maintain_order=True
    )
    return SampleData(transactions=transactions, products=products, customers=data.customers)


def _pick_receipts(lines: pl.DataFrame, share: float, rng: np.random.Generator) -> pl.DataFrame:
    """About ``share`` of the sale receipts among ``lines``: receipt_id, customer_id, ts, store_id."""
    receipts = (
        lines.filter(pl.col("amount") > 0)
        .group_by("receipt_id", maintain_order=True)
        .agg(pl.col("customer_id", "ts", "store_id").first())
        .sort("receipt_id")
    )
    return receipts.filter(pl.Series(rng.random(receipts.height) < share))
