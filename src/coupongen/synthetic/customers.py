"""The sample's card holders: names, contact details and consents, card numbers, birth dates and
survey answers, each drawn to fit the customer's household type and how they shop.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import polars as pl
from faker import Faker

from coupongen.codes import gs1
from coupongen.synthetic.export_format import CUSTOMER_SCHEMA, format_id, id_width
from coupongen.synthetic.shoppers import Shoppers
from coupongen.synthetic.tables import (
    BEHAVIOURS,
    HOUSEHOLD_TYPES,
    HOUSEHOLDS,
    MAIL_DOMAINS,
    NPS_MIX,
    TRANSLITERATION,
    US_AREA_CODES,
)

CARD_PREFIX = "2770"
"""First digits of every loyalty card number (GS1 restricted-circulation range)."""

US_PHONE_NUMBERS = len(US_AREA_CODES) * 10**4
"""How many distinct US numbers the sample can make: four digits after 555 in each area code."""

_DETRACTOR_SCORES = np.array([0.04, 0.03, 0.05, 0.08, 0.12, 0.23, 0.45])


def make_customers(
    rng: np.random.Generator,
    seed: int,
    shoppers: Shoppers,
    customers: int,
    as_of: date,
    *,
    english_share: float = 0.07,
    phones: str = "ru",
) -> pl.DataFrame:
    """The customers table for the first `customers` shoppers (the card holders): `english_share`
    of them English speakers, phone numbers of the `phones` country ("ru" or "us").
    """
    behaviour = shoppers.behaviour[:customers]
    household = shoppers.household[:customers]
    english = rng.random(customers) < english_share
    female = rng.random(customers) < 0.55
    first, first_latin, last_latin = _names(rng, seed, english, female)
    has_email = rng.random(customers) >= 0.12
    has_phone = rng.random(customers) >= 0.06
    engaged = np.isin(behaviour, [BEHAVIOURS.index("regular"), BEHAVIOURS.index("big_spender")])
    frame = pl.DataFrame(
        {
            "customer_id": pl.Series(np.arange(1, customers + 1)),
            "card_number": _card_numbers(rng, customers),
            "first_name": first,
            "locale": np.where(english, "en", "ru"),
            "email": _emails(rng, first_latin, last_latin, english),
            "phone": _phones(rng, english) if phones == "ru" else _us_phones(rng, customers),
            "email_opt_in": has_email & (rng.random(customers) < np.where(engaged, 0.65, 0.55)),
            "sms_opt_in": has_phone & (rng.random(customers) < np.where(engaged, 0.55, 0.45)),
            "push_opt_in": rng.random(customers) < np.where(engaged, 0.40, 0.28),
            "birth_date": _birth_dates(rng, household, as_of),
            "nps_score": _nps_scores(rng, behaviour),
        }
    )
    return frame.with_columns(
        customer_id=format_id("C", pl.col("customer_id"), id_width(customers)),
        email=pl.when(pl.Series(has_email)).then(pl.col("email")),
        phone=pl.when(pl.Series(has_phone)).then(pl.col("phone")),
    ).select([pl.col(c).cast(t) for c, t in CUSTOMER_SCHEMA.items()])


def _names(
    rng: np.random.Generator, seed: int, english: np.ndarray, female: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First names, and latin first and last names for e-mail addresses.

    Faker fills small pools of names once; numpy draws from them for every customer.
    """
    ru, en = Faker("ru_RU"), Faker("en_US")
    ru.seed_instance(seed)
    en.seed_instance(seed)
    pools = {
        (False, False): (_pool(ru.first_name_male), _pool(ru.last_name_male)),
        (False, True): (_pool(ru.first_name_female), _pool(ru.last_name_female)),
        (True, False): (_pool(en.first_name_male), _pool(en.last_name)),
        (True, True): (_pool(en.first_name_female), _pool(en.last_name)),
    }
    n = len(english)
    first = np.empty(n, dtype=object)
    first_latin = np.empty(n, dtype=object)
    last_latin = np.empty(n, dtype=object)
    for (is_en, is_female), (firsts, lasts) in pools.items():
        rows = np.flatnonzero((english == is_en) & (female == is_female))
        pick = rng.integers(0, len(firsts), len(rows))
        first[rows] = np.array(firsts, dtype=object)[pick]
        first_latin[rows] = np.array([_latin(name) for name in firsts], dtype=object)[pick]
        latin = np.array([_latin(name) for name in lasts], dtype=object)
        last_latin[rows] = latin[rng.integers(0, len(latin), len(rows))]
    return first, first_latin, last_latin


def _pool(draw: Callable[[], str], size: int = 600) -> list[str]:
    return list(dict.fromkeys(draw() for _ in range(size)))


def _latin(name: str) -> str:
    """Transliterate a Russian name into plain lower-case latin letters."""
    return "".join(TRANSLITERATION.get(ch, ch) for ch in name.lower())


def _emails(rng: np.random.Generator, first: np.ndarray, last: np.ndarray, english: np.ndarray) -> pl.Series:
    """Unique addresses from latin names in a few usual shapes, at the usual mail domains."""
    n = len(first)
    domain = np.where(english, _domains(rng, MAIL_DOMAINS["en"], n), _domains(rng, MAIL_DOMAINS["ru"], n))
    df = pl.DataFrame(
        {
            "first": first.astype(str),
            "last": last.astype(str),
            "style": rng.integers(0, 5, n),
            "number": rng.integers(1, 100, n),
            "year": rng.integers(1960, 2008, n),
            "domain": domain,
        }
    ).with_columns(pl.col("first", "last").str.replace_all(r"[^a-z]", ""))
    number = pl.col("number").cast(pl.String)
    year = pl.col("year").cast(pl.String)
    local = (
        pl.when(pl.col("style") == 0)
        .then(pl.concat_str(["first", pl.lit("."), "last"]))
        .when(pl.col("style") == 1)
        .then(pl.concat_str(["first", pl.lit("_"), "last", number]))
        .when(pl.col("style") == 2)
        .then(pl.concat_str([pl.col("first").str.slice(0, 1), "last", year.str.slice(2, 2)]))
        .when(pl.col("style") == 3)
        .then(pl.concat_str(["last", pl.lit("."), "first"]))
        .otherwise(pl.concat_str(["first", year]))
    )
    emails = (
        df.select(local=local, domain="domain")
        .with_row_index("row")
        .with_columns(email=pl.concat_str(["local", pl.lit("@"), "domain"]))
    )
    # A repeated address gets the row number, which keeps every address unique.
    return (
        emails.select(
            pl.when(pl.col("email").is_first_distinct())
            .then(pl.col("email"))
            .otherwise(
                pl.concat_str(["local", pl.lit("."), pl.col("row").cast(pl.String), pl.lit("@"), "domain"])
            )
        )
        .to_series()
        .alias("email")
    )


def _domains(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    names = np.array(list(shares))
    weights = np.array(list(shares.values()))
    return names[rng.choice(len(names), size=n, p=weights / weights.sum())]


def _phones(rng: np.random.Generator, english: np.ndarray) -> np.ndarray:
    """Unique E.164 mobile numbers: +79..., and some +447... among the English speakers."""
    n = len(english)
    number = _unique_ints(rng, n, 10**9)
    uk = english & (rng.random(n) < 0.3)
    digits = pl.Series(number).cast(pl.String).str.zfill(9)
    prefix = pl.Series(np.where(uk, "+447", "+79"))
    return (prefix + digits).to_numpy()


def _us_phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique US numbers in the 555 exchange, which is kept for fiction and directory services:
    +1, one of `US_AREA_CODES`, 555 and four digits. 555 itself is no area code, so a number such
    as +1 555 ... is not valid and could never be sent an SMS.
    """
    drawn = _unique_ints(rng, n, US_PHONE_NUMBERS)
    area = pl.Series(np.array(US_AREA_CODES)[drawn // 10**4])
    line = pl.Series(drawn % 10**4).cast(pl.String).str.zfill(4)
    return ("+1" + area + "555" + line).to_numpy()


def _card_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique 13-digit card numbers: CARD_PREFIX, 8 random digits and an EAN-13 check digit."""
    body = int(CARD_PREFIX) * 10**8 + _unique_ints(rng, n, 10**8)
    check = gs1.check_digits(body[:, None] // 10 ** np.arange(11, -1, -1) % 10)
    return pl.Series(body * 10 + check).cast(pl.String).to_numpy()


def _unique_ints(rng: np.random.Generator, n: int, high: int) -> np.ndarray:
    """N distinct integers in [0, high), in random order."""
    if n > high // 4:
        return rng.permutation(high)[:n]
    drawn = np.zeros(0, dtype=np.int64)
    while True:
        drawn = np.concatenate([drawn, rng.integers(0, high, n + n // 20 + 16)])
        _, first = np.unique(drawn, return_index=True)
        if len(first) >= n:
            return drawn[np.sort(first)[:n]]


def _birth_dates(rng: np.random.Generator, household: np.ndarray, as_of: date) -> pl.Series:
    """Birth dates by household type (students young, seniors old); unknown for about 30%."""
    ages = np.array([HOUSEHOLD_TYPES[h].ages for h in HOUSEHOLDS])[household]
    age_days = (rng.uniform(ages[:, 0], ages[:, 1] + 1) * 365.25).astype(np.int64)
    known = rng.random(len(household)) >= 0.30
    epoch_day = pl.Series((as_of - date(1970, 1, 1)).days - age_days).cast(pl.Date)
    return pl.select(pl.when(pl.Series(known)).then(epoch_day)).to_series()


def _nps_scores(rng: np.random.Generator, behaviour: np.ndarray) -> pl.Series:
    """Survey answers for about 30% of card holders; the mix follows how they shop."""
    mixes = [NPS_MIX[b] for b in BEHAVIOURS]
    answered = rng.random(len(behaviour)) < np.array([m[0] for m in mixes])[behaviour]
    groups = np.array([m[1] for m in mixes])[behaviour]
    group = (np.cumsum(groups, axis=1) < rng.random(len(behaviour))[:, None]).sum(axis=1)
    promoter = 9 + rng.integers(0, 2, len(behaviour))
    passive = 7 + rng.integers(0, 2, len(behaviour))
    detractor = rng.choice(7, size=len(behaviour), p=_DETRACTOR_SCORES / _DETRACTOR_SCORES.sum())
    score = np.select([group == 0, group == 1], [promoter, passive], detractor)
    return pl.select(pl.when(pl.Series(answered)).then(pl.Series(score))).to_series()
