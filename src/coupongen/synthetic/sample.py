"""Synthetic purchase histories for demos, tests and benchmarks.

The data looks like a grocery and drugstore chain's loyalty export: a catalogue, the card holders
and a year of receipt lines. The patterns the analytics look for are planted in it (personal tastes,
household types, re-bought staples, complementary products, lapsing and new customers, returns,
anonymous receipts), each with noise, so that no single method finds everything by construction.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from coupongen.progress import SILENT, Clock, Progress
from coupongen.synthetic.bad_rows import BAD_ROW_KINDS
from coupongen.synthetic.baskets import fill_baskets
from coupongen.synthetic.catalogue import make_catalogue
from coupongen.synthetic.customers import CARD_PREFIX, US_PHONE_NUMBERS, make_customers
from coupongen.synthetic.export_format import CUSTOMER_SCHEMA, PRODUCT_SCHEMA, TRANSACTION_SCHEMA, SampleData
from coupongen.synthetic.profiles import DEFAULT_PROFILE, PROFILES, apply_profile
from coupongen.synthetic.profiles import profile as find_profile
from coupongen.synthetic.receipts import make_transactions
from coupongen.synthetic.shoppers import make_shoppers, make_visits
from coupongen.synthetic.tables import BEHAVIOURS, CATEGORIES, COMPLEMENTS, HOUSEHOLDS, RESTRICTED_CATEGORIES
from coupongen.synthetic.writing import FORMATS, write_sample, write_transactions

__all__ = [
    "BAD_ROW_KINDS",
    "BEHAVIOURS",
    "CARD_PREFIX",
    "COMPLEMENTS",
    "CUSTOMER_SCHEMA",
    "DEFAULT_PROFILE",
    "FORMATS",
    "HOUSEHOLDS",
    "PRODUCT_SCHEMA",
    "PROFILES",
    "RESTRICTED_CATEGORIES",
    "TRANSACTION_SCHEMA",
    "SampleData",
    "generate_sample",
    "write_sample",
    "write_transactions",
]


def generate_sample(
    customers: int,
    *,
    seed: int,
    as_of: date,
    days: int = 365,
    skus: int | None = None,
    anonymous_share: float = 0.15,
    lines_per_customer: float = 10.0,
    profile: str = DEFAULT_PROFILE,
    progress: Progress = SILENT,
) -> SampleData:
    """Make a synthetic loyalty export: products, card holders and their receipt lines.

    The history covers `days` days ending the day before `as_of`. `skus=None` sizes the catalogue
    to the customer count. `anonymous_share` is the share of sale receipts without a card.
    `lines_per_customer` sets the average number of transaction lines per card holder and year
    of history, anonymous lines and returns included (everyone visits at least once, so short
    histories may hold more). `profile` tells the chain in another country's language and money
    (see `profiles`: "ru-grocery", "us-grocery"). Same arguments, same frames.

    ``progress`` hears each step start and end (catalogue, shoppers, baskets, receipts, customers),
    which at a million customers take a minute or more each.
    """
    prof = find_profile(profile)
    _check_arguments(customers, days, skus, anonymous_share, lines_per_customer)
    if prof.phones == "us" and customers > US_PHONE_NUMBERS:
        raise ValueError(
            f"the {prof.name} profile has phone numbers for at most {US_PHONE_NUMBERS:,} customers, "
            f"got {customers:,}"
        )
    n_skus = skus if skus is not None else _default_sku_count(customers)
    rng = np.random.default_rng(seed)
    salt = int(rng.integers(1, 2**62))
    clock = Clock(progress)
    clock.start("catalogue")
    catalogue = make_catalogue(rng, n_skus)
    clock.done("catalogue", f"{n_skus:,} products")
    n_stores = int(np.clip(round(np.sqrt(customers) / 8), 4, 150))
    clock.start("shoppers")
    shoppers = make_shoppers(rng, customers, days, n_stores, anonymous_share, lines_per_customer)
    visits = make_visits(rng, shoppers, days, as_of, n_stores)
    clock.done("shoppers", f"{len(shoppers.behaviour):,} shoppers, {len(visits.shopper):,} visits")
    clock.start("baskets")
    lines = fill_baskets(rng, salt, catalogue, shoppers, visits)
    clock.done("baskets", f"{len(lines.visit):,} basket lines")
    clock.start("receipts")
    transactions = make_transactions(rng, catalogue, visits, lines, as_of, days, customers)
    clock.done("receipts", f"{transactions.height:,} transaction lines")
    clock.start("customers")
    people = make_customers(
        rng, seed, shoppers, customers, as_of, english_share=prof.english_share, phones=prof.phones
    )
    clock.done("customers", f"{people.height:,} card holders")
    data = SampleData(transactions=transactions, products=catalogue.frame.sort("sku"), customers=people)
    return apply_profile(data, prof, seed)


def _check_arguments(
    customers: int, days: int, skus: int | None, anonymous_share: float, lines: float
) -> None:
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    if days < 7:
        raise ValueError(f"days must be at least 7, got {days}")
    if skus is not None and skus < len(CATEGORIES):
        raise ValueError(f"skus must be at least {len(CATEGORIES)} (one per category), got {skus}")
    if not 0.0 <= anonymous_share < 1.0:
        raise ValueError(f"anonymous_share must be in [0, 1), got {anonymous_share}")
    if lines <= 0:
        raise ValueError(f"lines_per_customer must be positive, got {lines}")


def _default_sku_count(customers: int) -> int:
    return int(np.clip(round(6 * np.sqrt(customers)), 4 * len(CATEGORIES), 20_000))
