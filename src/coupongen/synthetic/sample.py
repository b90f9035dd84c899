"""Synthetic purchase histories for demos, tests and benchmarks.

The data looks like a grocery and drugstore chain's loyalty export: a catalogue, the card holders
and a year of receipt lines. The patterns the analytics look for are planted in it (personal tastes,
household types, re-bought staples, complementary products, lapsing and new customers, returns,
anonymous receipts), each with noise, so that no single method finds everything by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from faker import Faker

from coupongen.codes import gs1

RESTRICTED_CATEGORIES = frozenset({"tobacco", "beer", "wine", "spirits"})
"""Categories that must never be discounted (`promo_allowed` is false for exactly these)."""

COMPLEMENTS: tuple[tuple[str, str, float], ...] = (
    ("pasta", "pasta_sauce", 0.45),
    ("chips", "beer", 0.30),
    ("chips", "dips", 0.25),
    ("coffee", "milk", 0.40),
    ("diapers", "baby_wipes", 0.50),
    ("shampoo", "conditioner", 0.40),
    ("bread", "butter", 0.25),
)
"""Planted complements: (category bought, category added to the same receipt, probability).

Each receipt line in the first category brings a line of the second with the given probability:
half the time the partner product (same brand, else same popularity rank), half the time the
shopper's own favourite in the second category.
"""

BEHAVIOURS = ("occasional", "regular", "big_spender", "lapsing", "lapsed", "new")
"""Kinds of card holder: a few visits a year; steady; steady with big baskets; visits thinning
out towards the end of the history; stopped 2-5 months before the end; first visit in the last
6 weeks."""

HOUSEHOLDS = (
    "family_baby",
    "family_kids",
    "student",
    "health",
    "senior",
    "professional",
    "home_care",
    "party",
)
"""Latent household types: each tilts category preferences and brand choices its own way."""

TRANSACTION_SCHEMA = {
    "receipt_id": pl.String,
    "customer_id": pl.String,
    "ts": pl.Datetime("us"),
    "store_id": pl.String,
    "sku": pl.String,
    "quantity": pl.Float64,
    "amount": pl.Float64,
}
PRODUCT_SCHEMA = {
    "sku": pl.String,
    "name": pl.String,
    "category": pl.String,
    "brand": pl.String,
    "price": pl.Float64,
    "promo_allowed": pl.Boolean,
}
CUSTOMER_SCHEMA = {
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

CARD_PREFIX = "2770"
"""First digits of every loyalty card number (GS1 restricted-circulation range)."""

BAD_ROW_KINDS = (
    "bad_date",
    "empty_sku",
    "unknown_sku",
    "bad_amount",
    "duplicate",
    "unknown_customer",
)
"""Kinds of broken transaction line `write_sample` can plant, used in this order, round robin."""

FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class SampleData:
    """One generated dataset, typed as the data contract says.

    transactions: receipt_id, customer_id (null = anonymous), ts (Datetime), store_id, sku,
        quantity (Float64, negative = return), amount (Float64, net paid, negative = refund).
    products: sku, name, category, brand, price (Float64), promo_allowed (Boolean).
    customers: customer_id, card_number, first_name, locale, email, phone, email_opt_in,
        sms_opt_in, push_opt_in, birth_date (Date), nps_score (Int64, 0-10).
    """

    transactions: pl.DataFrame
    products: pl.DataFrame
    customers: pl.DataFrame


@dataclass(frozen=True)
class _Category:
    name: str
    weight: float  # share of receipt lines before household tilts
    breadth: float  # share of the catalogue
    price: tuple[float, float]
    cycle: float  # days between purchases when the category is someone's staple
    brands: tuple[str, ...]
    items: tuple[str, ...]
    sizes: tuple[str, ...]
    multibuy: float  # mean number of extra units on a line


def _cat(
    name: str,
    weight: float,
    breadth: float,
    price: tuple[float, float],
    cycle: float,
    brands: str,
    items: str,
    sizes: str,
    multibuy: float = 0.08,
) -> _Category:
    return _Category(
        name,
        weight,
        breadth,
        price,
        cycle,
        tuple(brands.split("|")),
        tuple(items.split("|")),
        tuple(sizes.split("|")),
        multibuy,
    )


WEIGHED = "per kg"

CATEGORIES: tuple[_Category, ...] = (
    _cat(
        "bread",
        6.0,
        3.0,
        (35, 140),
        4,
        "Kolomenskoye|Kharmont|Fazer|Khlebny Dom|Yashkino|Daily Bake|Borodino Bakery",
        "White Loaf|Rye Bread|Baguette|Borodinsky Bread|Toast Bread|Whole Grain Bread|Ciabatta|Buns",
        "250 g|300 g|400 g|500 g|700 g",
    ),
    _cat(
        "butter",
        3.0,
        1.5,
        (120, 450),
        14,
        "Prostokvashino|Valio|President|Ekomilk|Brest-Litovsk|Vologodskoe|Anchor",
        "Butter 82.5%|Butter 72.5%|Salted Butter|Ghee|Spread|Peasant Butter",
        "180 g|200 g|400 g",
    ),
    _cat(
        "milk",
        6.0,
        2.5,
        (70, 200),
        5,
        "Prostokvashino|Domik v Derevne|Parmalat|Valio|Vkusnoteevo|Savushkin|Alpro",
        "Milk 2.5%|Milk 3.2%|Milk 1.5%|Lactose-Free Milk|Baked Milk|Oat Drink|Kefir 2.5%",
        "0.9 l|0.93 l|1 l|1.4 l|2 l",
        0.3,
    ),
    _cat(
        "yoghurt",
        5.0,
        3.0,
        (40, 160),
        6,
        "Danone|Activia|Ehrmann|Teos|Chudo|Epica|Savushkin",
        "Natural Yoghurt|Strawberry Yoghurt|Greek Yoghurt|Drinking Yoghurt|Peach Yoghurt|Cottage Cheese|Skyr",
        "100 g|125 g|270 g|290 g|500 g",
        1.0,
    ),
    _cat(
        "cheese",
        4.0,
        3.0,
        (150, 700),
        12,
        "Hochland|Valio|President|Bonfesto|Sveza|Lambert|Galbani",
        "Gouda|Mozzarella|Cheddar|Parmesan|Cream Cheese|Feta|Rossiysky Cheese|Maasdam",
        "150 g|180 g|200 g|250 g|400 g",
    ),
    _cat(
        "eggs",
        3.0,
        1.0,
        (80, 250),
        9,
        "Roskar|Okskoe|Sinyavinskaya|Village Farm|Ryabushka",
        "Eggs C1|Eggs C0|Free-Range Eggs|Quail Eggs|Eggs Selected",
        "6 pcs|10 pcs|12 pcs|20 pcs",
    ),
    _cat(
        "meat",
        4.0,
        3.5,
        (150, 800),
        9,
        "Miratorg|Petelinka|Cherkizovo|Velikolukski|Ostankino|Indilight|Dymov",
        "Chicken Breast|Chicken Thighs|Minced Beef|Pork Neck|Sausages|Ham Slices|Turkey Fillet|Frankfurters",
        "300 g|400 g|450 g|500 g|900 g",
    ),
    _cat(
        "fruit",
        6.0,
        3.0,
        (80, 450),
        6,
        "Fresh Market|Sun Valley|Green Garden|Tropic Line|Orchard Gold",
        "Bananas|Apples Golden|Apples Gala|Oranges|Mandarins|Pears|Grapes|Lemons|Kiwi",
        f"{WEIGHED}|1 kg|2 kg|500 g",
    ),
    _cat(
        "vegetables",
        7.0,
        3.5,
        (30, 400),
        6,
        "Fresh Market|Green Garden|Agro Farm|Local Harvest|Eco Field",
        "Potatoes|Tomatoes|Cucumbers|Onions|Carrots|Cabbage|Bell Peppers|Zucchini|Beetroot",
        f"{WEIGHED}|1 kg|2.5 kg|500 g",
    ),
    _cat(
        "pasta",
        3.0,
        2.5,
        (60, 250),
        14,
        "Barilla|Makfa|De Cecco|Shebekinskie|Maltagliati|Federici|Divella",
        "Spaghetti|Penne|Fusilli|Farfalle|Linguine|Tagliatelle|Lasagne Sheets|Conchiglie",
        "400 g|450 g|500 g|1 kg",
    ),
    _cat(
        "pasta_sauce",
        1.5,
        1.5,
        (110, 380),
        21,
        "Barilla|Mutti|Heinz|Pomi|Dolmio|De Cecco|Divella",
        "Tomato Basil Sauce|Bolognese Sauce|Arrabbiata Sauce|Pesto Genovese|Napoletana Sauce|Carbonara Sauce",
        "190 g|350 g|400 g|500 g",
    ),
    _cat(
        "rice_grains",
        2.0,
        2.0,
        (60, 300),
        21,
        "Mistral|Uvelka|Nationale|Agro-Alliance|Yarmarka",
        "Long Grain Rice|Basmati Rice|Buckwheat|Oat Flakes|Bulgur|Quinoa|Couscous",
        "400 g|500 g|800 g|900 g",
    ),
    _cat(
        "coffee",
        3.0,
        2.5,
        (200, 1800),
        21,
        "Jacobs|Lavazza|Nescafe|Egoiste|Paulig|Julius Meinl|Carte Noire",
        "Ground Coffee|Coffee Beans|Instant Coffee|Espresso Beans|Decaf Ground Coffee|Coffee Capsules",
        "75 g|95 g|250 g|1 kg",
    ),
    _cat(
        "tea",
        2.5,
        2.0,
        (80, 500),
        30,
        "Greenfield|Ahmad Tea|Lipton|Richard|Maitre|Curtis|Tess",
        "Black Tea|Green Tea|Earl Grey|Herbal Tea|Fruit Tea|Chamomile Tea",
        "25 bags|100 bags|100 g|200 g",
    ),
    _cat(
        "biscuits",
        3.0,
        2.5,
        (50, 300),
        10,
        "Yubileynoe|Oreo|Bahlsen|Lotus|Konti|Leibniz|Kurabie",
        "Butter Biscuits|Chocolate Chip Cookies|Crackers|Wafers|Oat Cookies|Sandwich Cookies",
        "112 g|180 g|200 g|350 g",
    ),
    _cat(
        "chocolate",
        3.0,
        2.5,
        (60, 600),
        10,
        "Alpen Gold|Milka|Ritter Sport|Babaevsky|Krasny Oktyabr|Lindt|Korkunov",
        "Milk Chocolate|Dark Chocolate 70%|Hazelnut Chocolate|Chocolate Bar|Praline Box|White Chocolate",
        "45 g|85 g|90 g|100 g|200 g",
        0.3,
    ),
    _cat(
        "chips",
        2.5,
        2.0,
        (80, 280),
        10,
        "Lay's|Pringles|Estrella|Cheetos|Russkaya Kartoshka|Doritos|Chio",
        "Salted Chips|Sour Cream & Onion Chips|Paprika Chips|Cheese Chips|Tortilla Chips|Crab Chips",
        "70 g|140 g|150 g|165 g",
    ),
    _cat(
        "dips",
        0.8,
        1.0,
        (120, 350),
        21,
        "Heinz|Pace|Old El Paso|Calve|Mr. Ricco|Santa Maria",
        "Salsa Dip|Cheese Dip|Guacamole|Sour Cream Dip|Garlic Sauce",
        "200 g|300 g|315 g",
    ),
    _cat(
        "soft_drinks",
        4.0,
        3.0,
        (40, 200),
        7,
        "Coca-Cola|Dobry Cola|Chernogolovka|Fanta|Sprite|Borjomi|Svyatoy Istochnik",
        "Cola|Orange Soda|Lemonade|Mineral Water|Still Water|Sparkling Water|Iced Tea",
        "0.33 l|0.5 l|1 l|1.5 l|2 l",
        0.5,
    ),
    _cat(
        "juice",
        2.5,
        2.0,
        (40, 250),
        10,
        "J7|Dobry|Rich|Sady Pridonya|Fruktovy Sad|Moya Semya",
        "Orange Juice|Apple Juice|Tomato Juice|Multifruit Nectar|Cherry Nectar|Grape Juice",
        "0.2 l|0.95 l|1 l|1.93 l",
        0.3,
    ),
    _cat(
        "energy_drinks",
        1.0,
        0.8,
        (90, 200),
        5,
        "Adrenaline Rush|Red Bull|Burn|Monster|Flash Up",
        "Energy Drink|Energy Drink Zero|Energy Drink Tropical",
        "0.25 l|0.449 l|0.5 l",
        0.4,
    ),
    _cat(
        "beer",
        3.0,
        3.0,
        (60, 250),
        6,
        "Baltika|Zhigulevskoe|Heineken|Stella Artois|Bud|Velkopopovicky Kozel|Krombacher|Zatecky Gus",
        "Lager|Pale Ale|Dark Beer|Wheat Beer|Non-Alcoholic Beer|IPA",
        "0.45 l|0.5 l|0.5 l can|1.3 l",
        1.5,
    ),
    _cat(
        "wine",
        2.0,
        4.0,
        (350, 2500),
        14,
        "Fanagoria|Abrau-Durso|Inkerman|Chateau Tamagne|Lefkadia|Santa Carolina|Torres|Mezzacorona",
        "Red Dry Wine|White Dry Wine|Rose Wine|Sparkling Wine|Red Semi-Sweet Wine|Prosecco",
        "0.187 l|0.75 l|1.5 l",
    ),
    _cat(
        "spirits",
        1.0,
        2.0,
        (450, 3500),
        30,
        "Beluga|Tsarskaya|Russian Standard|Jameson|Jack Daniel's|Ararat|Bacardi",
        "Vodka|Whisky|Brandy|Rum|Gin",
        "0.25 l|0.5 l|0.7 l|1 l",
    ),
    _cat(
        "tobacco",
        2.0,
        1.0,
        (180, 320),
        3,
        "Parliament|Marlboro|Winston|LD|Camel|Kent|Chesterfield",
        "Cigarettes Blue|Cigarettes Red|Cigarettes Silver|Compact Cigarettes|Superslims",
        "20 pcs",
        0.3,
    ),
    _cat(
        "diapers",
        0.8,
        1.5,
        (600, 2200),
        12,
        "Pampers|Huggies|Merries|Libero|Moony|Lovular",
        "Diapers Size 2|Diapers Size 3|Diapers Size 4|Diapers Size 5|Pants Size 4|Pants Size 5"
        "|Newborn Diapers",
        "22 pcs|44 pcs|52 pcs|94 pcs",
    ),
    _cat(
        "baby_wipes",
        0.7,
        1.0,
        (90, 450),
        10,
        "Pampers|Huggies|Johnson's Baby|Aqa Baby|Smile|Lovular",
        "Baby Wipes|Sensitive Baby Wipes|Water Wipes|Aloe Baby Wipes",
        "56 pcs|64 pcs|3x64 pcs|128 pcs",
    ),
    _cat(
        "baby_food",
        1.0,
        2.0,
        (50, 1500),
        7,
        "Agusha|FrutoNyanya|Gerber|Heinz|Nutrilon|Tema",
        "Apple Puree|Pear Puree|Vegetable Puree|Infant Formula|Baby Porridge|Meat Puree",
        "80 g|90 g|200 g|350 g|800 g",
        1.2,
    ),
    _cat(
        "shampoo",
        1.2,
        2.0,
        (180, 700),
        40,
        "Head & Shoulders|Pantene|Elseve|Schauma|Clear|Dove|Chistaya Liniya",
        "Shampoo Volume|Anti-Dandruff Shampoo|Shampoo Repair|Shampoo Daily Care|Shampoo Colour Protect",
        "250 ml|400 ml|600 ml",
    ),
    _cat(
        "conditioner",
        0.6,
        1.5,
        (180, 700),
        45,
        "Head & Shoulders|Pantene|Elseve|Schauma|Clear|Dove|Chistaya Liniya",
        "Conditioner Volume|Conditioner Repair|Conditioner Smooth|Balm Daily Care|Hair Mask",
        "200 ml|360 ml|400 ml",
    ),
    _cat(
        "toothpaste",
        1.2,
        1.5,
        (90, 450),
        45,
        "Colgate|Blend-a-med|Sensodyne|Lacalut|Splat|R.O.C.S.|Parodontax",
        "Whitening Toothpaste|Sensitive Toothpaste|Herbal Toothpaste|Kids Toothpaste|Total Care Toothpaste",
        "50 ml|75 ml|100 ml",
    ),
    _cat(
        "body_care",
        1.2,
        2.5,
        (80, 450),
        35,
        "Dove|Nivea|Palmolive|Fa|Camay|Le Petit Marseillais|Rexona",
        "Shower Gel|Liquid Soap|Bar Soap|Body Lotion|Deodorant|Hand Cream",
        "50 ml|150 ml|250 ml|500 ml",
    ),
    _cat(
        "detergent",
        1.5,
        2.0,
        (150, 1500),
        40,
        "Persil|Ariel|Tide|Losk|Vanish|Fairy|Finish",
        "Laundry Powder|Laundry Gel|Laundry Capsules|Dishwashing Liquid|Dishwasher Tablets|Stain Remover",
        "450 ml|1 l|1.3 l|3 kg",
    ),
    _cat(
        "paper_goods",
        1.8,
        1.5,
        (80, 600),
        21,
        "Zewa|Papia|Familia|Kleenex|Soffione|Mya",
        "Toilet Paper|Paper Towels|Tissues|Napkins|Facial Tissues",
        "4 rolls|8 rolls|12 rolls|10 pcs|100 pcs",
    ),
    _cat(
        "pet_food",
        2.0,
        3.0,
        (30, 3500),
        10,
        "Whiskas|Felix|Purina One|Pedigree|Royal Canin|Sheba|Chappi|Gourmet",
        "Cat Food Chicken|Cat Food Salmon|Dog Food Beef|Dry Cat Food|Dry Dog Food|Cat Treats|Kitten Food",
        "75 g|85 g|400 g|1.5 kg|10 kg",
        2.0,
    ),
    _cat(
        "cat_litter",
        0.7,
        0.8,
        (250, 1200),
        21,
        "Cat's Best|Barsik|N1|Pi-Pi-Bent|Catsan",
        "Clumping Litter|Silica Litter|Wood Litter|Clay Litter",
        "5 l|10 l|5 kg|10 kg",
    ),
    _cat(
        "frozen",
        3.0,
        3.0,
        (90, 600),
        12,
        "Miratorg|Morozko|Dr. Oetker|Sibirskaya Kollektsiya|Talosto|Hortex|Inmarko",
        "Pelmeni|Vareniki|Frozen Pizza|Frozen Vegetables|Ice Cream|Fish Fingers|Blini",
        "400 g|450 g|800 g|1 kg",
    ),
    _cat(
        "cereals",
        1.5,
        1.5,
        (120, 450),
        21,
        "Nestle|Kellogg's|Fitness|Myllyn Paras|Bruggen|Start",
        "Corn Flakes|Muesli|Granola|Chocolate Cereal|Oat Porridge|Cereal Bars",
        "250 g|375 g|450 g",
    ),
    _cat(
        "instant_noodles",
        1.5,
        1.0,
        (30, 120),
        5,
        "Doshirak|Rollton|Big Bon|Nissin|Mivina",
        "Chicken Noodles|Beef Noodles|Shrimp Noodles|Spicy Noodles|Mashed Potato Cup",
        "60 g|90 g|110 g",
        1.5,
    ),
    _cat(
        "nuts_snacks",
        1.2,
        1.5,
        (60, 600),
        14,
        "Semushka|Frutoleto|Bite|Nutberry|Kozinak",
        "Almonds|Cashews|Walnuts|Mixed Nuts|Dried Apricots|Fruit Bar|Sunflower Seeds",
        "35 g|100 g|150 g|200 g",
    ),
)

VARIANTS = (
    "",
    "Classic",
    "Original",
    "Premium",
    "Select",
    "Gold",
    "Special",
    "Value",
    "Limited Edition",
    "Family Pack",
    "Mini",
    "Max",
)

_NICHE = {
    "diapers": "baby",
    "baby_wipes": "baby",
    "baby_food": "baby",
    "pet_food": "pet",
    "cat_litter": "pet",
}

# Household type: share, category multipliers, price tilt (negative = prefers cheap), ages.
_HOUSEHOLD_SPECS: dict[str, tuple[float, dict[str, float], float, tuple[int, int]]] = {
    "family_baby": (
        0.10,
        {
            "diapers": 14,
            "baby_wipes": 14,
            "baby_food": 14,
            "milk": 1.5,
            "fruit": 1.5,
            "yoghurt": 1.6,
            "paper_goods": 1.6,
            "detergent": 1.6,
            "beer": 0.5,
            "spirits": 0.3,
            "tobacco": 0.4,
            "energy_drinks": 0.3,
        },
        0.0,
        (23, 40),
    ),
    "family_kids": (
        0.16,
        {
            "juice": 2.5,
            "biscuits": 2.0,
            "chocolate": 2.0,
            "cereals": 2.5,
            "milk": 1.5,
            "frozen": 1.5,
            "yoghurt": 1.5,
            "pasta": 1.5,
            "pasta_sauce": 1.5,
            "baby_food": 0.6,
            "spirits": 0.5,
        },
        -0.2,
        (30, 50),
    ),
    "student": (
        0.10,
        {
            "instant_noodles": 5,
            "pasta": 2,
            "pasta_sauce": 2,
            "chips": 3,
            "dips": 2,
            "beer": 2,
            "energy_drinks": 4,
            "soft_drinks": 2,
            "frozen": 2,
            "wine": 0.5,
            "cheese": 0.6,
            "meat": 0.5,
            "detergent": 0.4,
        },
        -0.8,
        (18, 26),
    ),
    "health": (
        0.12,
        {
            "fruit": 2.5,
            "vegetables": 2.5,
            "yoghurt": 2,
            "tea": 2,
            "nuts_snacks": 3,
            "rice_grains": 2,
            "cereals": 1.5,
            "chips": 0.3,
            "beer": 0.4,
            "tobacco": 0.1,
            "chocolate": 0.5,
            "soft_drinks": 0.4,
            "instant_noodles": 0.2,
        },
        0.3,
        (22, 60),
    ),
    "senior": (
        0.15,
        {
            "bread": 2,
            "milk": 1.8,
            "tea": 1.8,
            "butter": 1.8,
            "eggs": 1.5,
            "vegetables": 1.5,
            "rice_grains": 1.5,
            "beer": 0.3,
            "energy_drinks": 0.05,
            "chips": 0.2,
            "soft_drinks": 0.5,
            "instant_noodles": 0.5,
        },
        -0.6,
        (60, 85),
    ),
    "professional": (
        0.15,
        {
            "coffee": 2.5,
            "wine": 2.5,
            "cheese": 2,
            "meat": 1.2,
            "frozen": 1.5,
            "spirits": 1.5,
            "body_care": 1.5,
            "instant_noodles": 0.5,
        },
        0.5,
        (25, 55),
    ),
    "home_care": (
        0.10,
        {
            "shampoo": 4,
            "conditioner": 4,
            "toothpaste": 2.5,
            "body_care": 3,
            "detergent": 2.5,
            "paper_goods": 2.5,
        },
        0.0,
        (28, 65),
    ),
    "party": (
        0.12,
        {
            "tobacco": 6,
            "beer": 3,
            "spirits": 3,
            "chips": 2,
            "dips": 1.5,
            "soft_drinks": 1.5,
            "energy_drinks": 1.5,
        },
        -0.3,
        (20, 45),
    ),
}
_PET_SHARE = 0.22
_NICHE_DAMP = 0.06
_PET_BOOST = 4.0
_TASTE_CONCENTRATION = 30.0
_TYPE_TILT = 1.8  # spread of a household type's own liking of each product


@dataclass(frozen=True)
class _Plan:
    share: float  # of card holders
    visits: float  # a year while active (anonymous shoppers: in all)
    pattern: str  # how visits spread over the active window, one of _PATTERNS
    extra: float  # mean number of non-staple picks per visit
    habit: float  # share of picks that are a personal favourite rather than a fresh choice
    staples: tuple[int, int]  # range of the number of staples
    lines_per_visit: float  # measured on the output: staples, picks, complements, merged


_PATTERNS = ("uniform", "steady", "slowing", "stopped", "recent")
_PLANS = {
    "occasional": _Plan(0.42, 3.0, "uniform", 1.7, 0.40, (0, 1), 2.35),
    "regular": _Plan(0.15, 24.0, "steady", 1.6, 0.60, (1, 3), 3.37),
    "big_spender": _Plan(0.04, 40.0, "steady", 4.0, 0.55, (2, 4), 6.44),
    "lapsing": _Plan(0.14, 16.0, "slowing", 1.5, 0.55, (1, 2), 2.91),
    "lapsed": _Plan(0.16, 12.0, "stopped", 1.6, 0.50, (1, 2), 3.01),
    "new": _Plan(0.09, 26.0, "recent", 1.8, 0.35, (0, 1), 2.42),
    "anonymous": _Plan(0.0, 1.5, "uniform", 1.6, 0.30, (0, 1), 2.26),
}

_NPS_MIX = {  # behaviour: answer rate, (promoter, passive, detractor) shares
    "occasional": (0.22, (0.30, 0.40, 0.30)),
    "regular": (0.40, (0.55, 0.30, 0.15)),
    "big_spender": (0.45, (0.65, 0.25, 0.10)),
    "lapsing": (0.30, (0.20, 0.35, 0.45)),
    "lapsed": (0.30, (0.12, 0.28, 0.60)),
    "new": (0.25, (0.40, 0.40, 0.20)),
}
_DETRACTOR_SCORES = np.array([0.04, 0.03, 0.05, 0.08, 0.12, 0.23, 0.45])

_WEEKDAY_WEIGHT = np.array([0.85, 0.85, 0.90, 0.95, 1.15, 1.35, 1.20])  # Monday first
_HOUR_WEIGHT = np.array(
    [0, 0, 0, 0, 0, 0, 0, 2, 4, 5, 6, 7, 8, 8, 7, 6, 7, 9, 10, 10, 8, 5, 2, 0], dtype=float
)
_INFLATION = 0.07  # a year's price rise: older lines were cheaper
_PROMO_LINE_SHARE = 0.10
_RETURN_SHARE = 0.017
_STAPLE_SKIP = 0.12
_FAVOURITE_SLOTS = np.array([0.55, 0.25, 0.13, 0.07])
_CHUNK = 500_000

_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "",
            "y",
            "",
            "e",
            "yu",
            "ya",
        ],
        strict=True,
    )
)
_RU_DOMAINS = {
    "mail.ru": 0.30,
    "yandex.ru": 0.25,
    "gmail.com": 0.20,
    "bk.ru": 0.07,
    "inbox.ru": 0.05,
    "list.ru": 0.05,
    "rambler.ru": 0.05,
    "ya.ru": 0.03,
}
_EN_DOMAINS = {"gmail.com": 0.60, "outlook.com": 0.15, "yahoo.com": 0.12, "icloud.com": 0.13}


@dataclass(frozen=True)
class _Catalogue:
    """Products in category-block order: sku index i is the i-th row of every array."""

    frame: pl.DataFrame  # the products table, same row order
    code: np.ndarray  # the number in each sku code
    category: np.ndarray  # category index per sku
    price: np.ndarray
    weighed: np.ndarray
    multibuy: np.ndarray
    promo_allowed: np.ndarray
    taste_cdf: np.ndarray  # per household: cumulative choice share within each category block
    partner: dict[tuple[int, int], np.ndarray]  # complement pair -> partner sku per sku (or -1)


@dataclass(frozen=True)
class _Shoppers:
    """Everyone who shops: card holders first, then anonymous shoppers (no card)."""

    behaviour: np.ndarray  # index into BEHAVIOURS, len(BEHAVIOURS) = anonymous
    household: np.ndarray
    taste: np.ndarray  # category preference per shopper (rows sum to 1), float32
    home_store: np.ndarray
    start: np.ndarray  # active window in days from the start of the history
    end: np.ndarray
    visits: np.ndarray
    pattern: np.ndarray  # index into _PATTERNS


@dataclass(frozen=True)
class _Visits:
    """One row per sale receipt, sorted by shopper then time."""

    shopper: np.ndarray
    number: np.ndarray  # 0-based visit number of the shopper
    second: np.ndarray  # seconds from the start of the history
    store: np.ndarray


@dataclass(frozen=True)
class _Lines:
    visit: np.ndarray
    sku: np.ndarray
    quantity: np.ndarray


def generate_sample(
    customers: int,
    *,
    seed: int,
    as_of: date,
    days: int = 365,
    skus: int | None = None,
    anonymous_share: float = 0.15,
    lines_per_customer: float = 10.0,
) -> SampleData:
    """Make a synthetic loyalty export: products, card holders and their receipt lines.

    The history covers `days` days ending the day before `as_of`. `skus=None` sizes the catalogue
    to the customer count. `anonymous_share` is the share of sale receipts without a card.
    `lines_per_customer` sets the average number of transaction lines per card holder and year
    of history, anonymous lines and returns included (everyone visits at least once, so short
    histories may hold more). Same arguments, same frames.
    """
    _check_arguments(customers, days, skus, anonymous_share, lines_per_customer)
    n_skus = skus if skus is not None else _default_sku_count(customers)
    rng = np.random.default_rng(seed)
    salt = int(rng.integers(1, 2**62))
    catalogue = _make_catalogue(rng, n_skus)
    n_stores = int(np.clip(round(np.sqrt(customers) / 8), 4, 150))
    shoppers = _make_shoppers(rng, customers, days, n_stores, anonymous_share, lines_per_customer)
    visits = _make_visits(rng, shoppers, days, as_of, n_stores)
    lines = _fill_baskets(rng, salt, catalogue, shoppers, visits)
    transactions = _price_and_return(rng, catalogue, visits, lines, as_of, days, customers)
    people = _make_customers(rng, seed, shoppers, customers, as_of)
    return SampleData(transactions=transactions, products=catalogue.frame.sort("sku"), customers=people)


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


# --- catalogue -------------------------------------------------------------------------------


def _make_catalogue(rng: np.random.Generator, n_skus: int) -> _Catalogue:
    counts = _split_counts(rng, np.array([c.breadth for c in CATEGORIES]), n_skus, minimum=3)
    parts = [_category_products(rng, i, int(n)) for i, n in enumerate(counts)]
    frame = pl.concat(parts)
    codes = rng.permutation(n_skus) + 1
    width = max(6, len(str(n_skus)))
    frame = frame.with_columns(
        sku=pl.concat_str([pl.lit("P"), pl.Series(codes).cast(pl.String).str.zfill(width)])
    )
    category = frame["category_index"].to_numpy().astype(np.int64)
    promo = ~np.isin(frame["category"].to_numpy(), list(RESTRICTED_CATEGORIES))
    frame = frame.with_columns(promo_allowed=pl.Series(promo))
    starts = np.concatenate([[0], np.cumsum(counts)])
    taste_cdf = _household_taste_cdf(rng, frame, category, starts)
    partner = _complement_partners(frame, category, starts)
    products = frame.select(list(PRODUCT_SCHEMA))
    return _Catalogue(
        frame=products,
        code=codes,
        category=category,
        price=frame["price"].to_numpy(),
        weighed=frame["weighed"].to_numpy(),
        multibuy=np.array([CATEGORIES[c].multibuy for c in range(len(CATEGORIES))])[category],
        promo_allowed=promo,
        taste_cdf=taste_cdf,
        partner=partner,
    )


def _split_counts(rng: np.random.Generator, weights: np.ndarray, total: int, minimum: int) -> np.ndarray:
    """Split `total` into integer parts roughly proportional to `weights`, each >= `minimum`."""
    minimum = min(minimum, total // len(weights))
    spare = total - minimum * len(weights)
    share = weights * rng.lognormal(0.0, 0.15, len(weights))
    raw = share / share.sum() * spare
    counts = np.floor(raw).astype(np.int64)
    short = spare - counts.sum()
    counts[np.argsort(-(raw - counts), kind="stable")[:short]] += 1
    return counts + minimum


def _category_products(rng: np.random.Generator, index: int, n: int) -> pl.DataFrame:
    cat = CATEGORIES[index]
    nb, ni, nv, ns = len(cat.brands), len(cat.items), len(VARIANTS), len(cat.sizes)
    grid = np.indices((nv, nb, ni, ns)).reshape(4, -1)
    # Plain names first, then variants; a random order inside each variant rank.
    order = np.lexsort((rng.random(grid.shape[1]), grid[0]))
    pick = order[np.arange(n) % grid.shape[1]]
    repeat = np.arange(n) // grid.shape[1]
    v, b, i, s = grid[:, pick]
    brand_share = _zipf(rng, nb, 1.0)
    item_share = _zipf(rng, ni, 0.8)
    size_share = rng.dirichlet(np.full(ns, 3.0))
    popularity = (
        brand_share[b]
        * item_share[i]
        * size_share[s]
        / (1.0 + 2.5 * v)
        * rng.lognormal(0.0, 0.6, n)
        / (1.0 + repeat)
    )
    lo, hi = cat.price
    brand_f = rng.lognormal(0.0, 0.25, nb)
    item_f = rng.lognormal(0.0, 0.15, ni)
    size_f = (1.0 + s) ** 0.6 / (1.0 + (ns - 1) / 2) ** 0.6
    raw = np.sqrt(lo * hi) * brand_f[b] * item_f[i] * size_f * rng.lognormal(0.0, 0.08, n)
    price = _shelf_price(np.clip(raw, lo, hi))
    sizes = np.array(cat.sizes)[s]
    popularity *= np.where(sizes == WEIGHED, 3.0, 1.0)  # loose produce outsells the packs
    names = [
        " ".join(part for part in (cat.brands[bb], cat.items[ii], VARIANTS[vv], ss) if part)
        + (f" No. {rr + 1}" if rr else "")
        for bb, ii, vv, ss, rr in zip(b, i, v, sizes, repeat, strict=True)
    ]
    return pl.DataFrame(
        {
            "name": names,
            "category": [cat.name] * n,
            "category_index": np.full(n, index),
            "brand": np.array(cat.brands)[b],
            "price": price,
            "weighed": sizes == WEIGHED,
            "popularity": popularity,
        }
    )


def _zipf(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    return 1.0 / (1.0 + rng.permutation(n)) ** exponent


def _shelf_price(raw: np.ndarray) -> np.ndarray:
    """Round to the price endings shops use: 89.99 below 100, 129.90 above."""
    cheap = np.ceil(raw) - 0.01
    dear = np.ceil(raw / 10.0) * 10.0 - 0.10
    return np.round(np.where(raw < 100, cheap, dear), 2)


def _household_taste_cdf(
    rng: np.random.Generator, frame: pl.DataFrame, category: np.ndarray, starts: np.ndarray
) -> np.ndarray:
    """Per household type, the cumulative product choice shares inside each category block.

    Row h lives in (h * C + c, h * C + c + 1] for category c, so one searchsorted over the
    flattened array picks a product given (household, category, uniform).
    """
    popularity = frame["popularity"].to_numpy()
    price = frame["price"].to_numpy()
    cat_median = np.array([np.median(price[starts[c] : starts[c + 1]]) for c in range(len(CATEGORIES))])
    rel_price = np.log(price / cat_median[category])
    n_cats = len(CATEGORIES)
    rows = []
    for h, name in enumerate(HOUSEHOLDS):
        tilt = _HOUSEHOLD_SPECS[name][2]
        w = popularity * np.exp(tilt * rel_price) * rng.lognormal(0.0, _TYPE_TILT, len(price))
        block_sum = np.add.reduceat(w, starts[:-1])
        within = np.cumsum(w) - np.repeat(np.cumsum(block_sum) - block_sum, np.diff(starts))
        cdf = within / np.repeat(block_sum, np.diff(starts))
        cdf[starts[1:] - 1] = 1.0
        rows.append(h * n_cats + category + cdf)
    return np.concatenate(rows)


def _complement_partners(
    frame: pl.DataFrame, category: np.ndarray, starts: np.ndarray
) -> dict[tuple[int, int], np.ndarray]:
    """For each planted pair, the product a shopper adds next to a given one: the best seller of
    the same brand when the second category has it, else the product of the same popularity rank.
    """
    index = {c.name: i for i, c in enumerate(CATEGORIES)}
    popularity = frame["popularity"].to_numpy()
    brands = frame["brand"].to_numpy()
    partners = {}
    for first, second, _ in COMPLEMENTS:
        a, b = index[first], index[second]
        a_skus = np.arange(starts[a], starts[a + 1])
        b_skus = np.arange(starts[b], starts[b + 1])
        a_rank = np.argsort(np.argsort(-popularity[a_skus], kind="stable"), kind="stable")
        b_by_pop = b_skus[np.argsort(-popularity[b_skus], kind="stable")]
        best_of_brand: dict[str, int] = {}
        for sku in b_by_pop:
            best_of_brand.setdefault(str(brands[sku]), int(sku))
        fallback = b_by_pop[a_rank % len(b_by_pop)]
        same_brand = np.array([best_of_brand.get(str(brands[s]), -1) for s in a_skus])
        mapping = np.full(len(category), -1, dtype=np.int64)
        mapping[a_skus] = np.where(same_brand >= 0, same_brand, fallback)
        partners[(a, b)] = mapping
    return partners


# --- shoppers and visits ---------------------------------------------------------------------


def _make_shoppers(
    rng: np.random.Generator,
    customers: int,
    days: int,
    n_stores: int,
    anonymous_share: float,
    lines_per_customer: float,
) -> _Shoppers:
    known = [_PLANS[b] for b in BEHAVIOURS]
    shares = np.array([p.share for p in known])
    behaviour = rng.choice(len(BEHAVIOURS), size=customers, p=shares / shares.sum())
    scale = _visit_scale(days, anonymous_share, lines_per_customer)
    anonymous = round(
        customers * _anonymous_visits_per_customer(scale, days, anonymous_share) / _PLANS["anonymous"].visits
    )
    behaviour = np.concatenate([behaviour, np.full(anonymous, len(BEHAVIOURS))])
    n = len(behaviour)
    household_share = np.array([_HOUSEHOLD_SPECS[h][0] for h in HOUSEHOLDS])
    household = rng.choice(len(HOUSEHOLDS), size=n, p=household_share / household_share.sum())
    pattern = np.array([_PATTERNS.index(p) for p in _plan_array("pattern")])[behaviour]
    start, end = _active_windows(rng, pattern, days)
    rate = _plan_array("visits") * np.append(np.full(len(BEHAVIOURS), scale), 365.0 / days)
    expected = np.maximum(rate[behaviour] * (end - start) / 365.0, 1.0)
    visits = 1 + rng.poisson(expected - 1.0)
    store_weight = 1.0 / np.arange(1, n_stores + 1) ** 0.7
    home_store = rng.choice(n_stores, size=n, p=store_weight / store_weight.sum())
    return _Shoppers(
        behaviour=behaviour,
        household=household,
        taste=_tastes(rng, household),
        home_store=home_store,
        start=start,
        end=end,
        visits=visits,
        pattern=pattern,
    )


def _plan_array(field: str) -> np.ndarray:
    """One plan field per behaviour index, anonymous shoppers last."""
    return np.array([getattr(_PLANS[b], field) for b in (*BEHAVIOURS, "anonymous")])


def _mean_window(pattern: str, days: int) -> float:
    return {
        "uniform": days,
        "steady": days,
        "slowing": days - min(37.0, 0.3 * days),
        "stopped": days - min(105.0, 0.5 * days) - 0.075 * days,
        "recent": min(22.0, float(days)),
    }[pattern]


def _mean_visits(rate: float, pattern: str, days: int) -> float:
    return max(rate * _mean_window(pattern, days) / 365.0, 1.0)


def _known_visits_per_customer(scale: float, days: int) -> float:
    return sum(
        p.share * _mean_visits(p.visits * scale, p.pattern, days) for p in (_PLANS[b] for b in BEHAVIOURS)
    )


def _anonymous_visits_per_customer(scale: float, days: int, anonymous_share: float) -> float:
    return _known_visits_per_customer(scale, days) * anonymous_share / (1.0 - anonymous_share)


def _visit_scale(days: int, anonymous_share: float, lines_per_customer: float) -> float:
    """The factor on the planned visit rates that gives the requested lines per card holder."""

    def lines(scale: float) -> float:
        known = sum(
            p.share * _mean_visits(p.visits * scale, p.pattern, days) * p.lines_per_visit
            for p in (_PLANS[b] for b in BEHAVIOURS)
        )
        anonymous = _anonymous_visits_per_customer(scale, days, anonymous_share)
        return (known + anonymous * _PLANS["anonymous"].lines_per_visit) * (1 + _RETURN_SHARE)

    target = lines_per_customer * days / 365.0
    low, high = 1e-3, 1e3
    for _ in range(60):
        mid = float(np.sqrt(low * high))
        low, high = (mid, high) if lines(mid) < target else (low, mid)
    return float(np.sqrt(low * high))


def _active_windows(
    rng: np.random.Generator, pattern: np.ndarray, days: int
) -> tuple[np.ndarray, np.ndarray]:
    n = len(pattern)
    start = np.zeros(n)
    end = np.full(n, float(days))
    slowing = pattern == _PATTERNS.index("slowing")
    end[slowing] = days - np.minimum(rng.uniform(14, 60, slowing.sum()), 0.3 * days)
    stopped = pattern == _PATTERNS.index("stopped")
    start[stopped] = rng.uniform(0, 0.15 * days, stopped.sum())
    end[stopped] = days - np.minimum(rng.uniform(60, 150, stopped.sum()), 0.5 * days)
    recent = pattern == _PATTERNS.index("recent")
    start[recent] = days - np.minimum(rng.uniform(3, 42, recent.sum()), days)
    return start, end


def _tastes(rng: np.random.Generator, household: np.ndarray) -> np.ndarray:
    """Each shopper's own category preference, drawn around their household type's profile."""
    base = np.array([c.weight for c in CATEGORIES])
    names = [c.name for c in CATEGORIES]
    profiles = np.empty((len(HOUSEHOLDS), len(CATEGORIES)))
    for h, name in enumerate(HOUSEHOLDS):
        multipliers = _HOUSEHOLD_SPECS[name][1]
        damp = np.array([_NICHE_DAMP if c in _NICHE and c not in multipliers else 1.0 for c in names])
        profiles[h] = base * damp * np.array([multipliers.get(c, 1.0) for c in names])
    pet = rng.random(len(household)) < _PET_SHARE
    pet_boost = np.array([_PET_BOOST / _NICHE_DAMP if _NICHE.get(c) == "pet" else 1.0 for c in names])
    taste = np.empty((len(household), len(CATEGORIES)), dtype=np.float32)
    for lo in range(0, len(household), _CHUNK):
        hi = min(lo + _CHUNK, len(household))
        alpha = profiles[household[lo:hi]] * np.where(pet[lo:hi, None], pet_boost, 1.0)
        alpha *= _TASTE_CONCENTRATION / alpha.sum(axis=1, keepdims=True)
        g = rng.standard_gamma(alpha)
        taste[lo:hi] = g / np.maximum(g.sum(axis=1, keepdims=True), 1e-300)
    return taste


def _make_visits(
    rng: np.random.Generator, shoppers: _Shoppers, days: int, as_of: date, n_stores: int
) -> _Visits:
    n = shoppers.visits
    owner = np.repeat(np.arange(len(n)), n)
    first = np.cumsum(n) - n
    k = np.arange(len(owner)) - first[owner]
    pattern = shoppers.pattern[owner]
    spread = np.where(pattern == _PATTERNS.index("steady"), 0.25, 0.35)
    phase = rng.random(len(n))[owner]
    grid = (k + phase + rng.normal(0.0, 1.0, len(owner)) * spread) / n[owner]
    random_place = (pattern == _PATTERNS.index("uniform")) | (pattern == _PATTERNS.index("recent"))
    u = np.clip(np.where(random_place, rng.random(len(owner)), grid), 0.0, 1.0)
    # Slowing down: visits crowd the early part of the window, the gaps widen towards its end,
    # and the last one still falls close to the end (they have not stopped yet).
    slowing = pattern == _PATTERNS.index("slowing")
    last = k == n[owner] - 1
    u = np.where(slowing, np.where(last, 1.0 - 0.03 * rng.random(len(owner)), u**2.2 * 0.9), u)
    start, end = shoppers.start[owner], shoppers.end[owner]
    t = start + u * (end - start)
    first_day = np.floor(start)
    last_day = np.maximum(first_day, np.minimum(np.ceil(end) - 1, days - 1))
    day = np.clip(_weekday_shift(rng, np.floor(t), as_of - timedelta(days=days)), first_day, last_day).astype(
        np.int64
    )
    hour = rng.choice(24, size=len(owner), p=_HOUR_WEIGHT / _HOUR_WEIGHT.sum())
    second = day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, len(owner))
    order = np.lexsort((second, owner))
    away = rng.random(len(owner)) < 0.15
    store = np.where(away, rng.integers(0, n_stores, len(owner)), shoppers.home_store[owner])
    return _Visits(shopper=owner, number=k, second=second[order], store=store[order])


def _weekday_shift(rng: np.random.Generator, day: np.ndarray, start: date) -> np.ndarray:
    """Move each visit by up to three days so weekdays follow _WEEKDAY_WEIGHT (weekends busier)."""
    dow = (start.weekday() + day.astype(np.int64)) % 7
    shifts = np.arange(-3, 4)
    table = _WEEKDAY_WEIGHT[(np.arange(7)[:, None] + shifts[None, :]) % 7]
    cdf = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    pick = (cdf[dow] < rng.random(len(day))[:, None]).sum(axis=1)
    return day + shifts[np.minimum(pick, 6)]


# --- baskets ---------------------------------------------------------------------------------


def _fill_baskets(
    rng: np.random.Generator,
    salt: int,
    catalogue: _Catalogue,
    shoppers: _Shoppers,
    visits: _Visits,
) -> _Lines:
    staple_visit, staple_sku = _staple_lines(rng, salt, catalogue, shoppers, visits)
    per_visit = np.bincount(staple_visit, minlength=len(visits.shopper))
    free_visit, free_sku = _free_lines(rng, salt, catalogue, shoppers, visits, per_visit)
    visit = np.concatenate([staple_visit, free_visit])
    sku = np.concatenate([staple_sku, free_sku])
    extra_visit, extra_sku = _complement_lines(rng, salt, catalogue, shoppers, visits, visit, sku)
    visit = np.concatenate([visit, extra_visit])
    sku = np.concatenate([sku, extra_sku])
    return _merge_lines(rng, catalogue, visit, sku)


def _staple_lines(
    rng: np.random.Generator,
    salt: int,
    catalogue: _Catalogue,
    shoppers: _Shoppers,
    visits: _Visits,
) -> tuple[np.ndarray, np.ndarray]:
    """Staples: a few favourite products each shopper re-buys every m-th visit (m from the
    category's usual cycle and the shopper's visit rhythm), skipping one now and then.
    """
    ranges = _plan_array("staples")[shoppers.behaviour]
    count = rng.integers(ranges[:, 0], ranges[:, 1] + 1)
    gap = (shoppers.end - shoppers.start) / shoppers.visits
    cycle = np.array([c.cycle for c in CATEGORIES])
    staple_weight = 1.0 / np.sqrt(cycle)
    out_visit, out_sku = [], []
    for slot in range(int(count.max(initial=0))):
        holders = np.flatnonzero(count > slot)
        weights = shoppers.taste[holders] * staple_weight
        cat = _sample_rows(rng, weights / weights.sum(axis=1, keepdims=True))
        sku = _favourite(
            salt, catalogue, shoppers.household[holders], holders, cat, np.zeros(len(holders), dtype=np.int64)
        )
        period = cycle[cat] * rng.lognormal(0.0, 0.35, len(holders))
        every = np.maximum(1, np.round(period / gap[holders])).astype(np.int64)
        offset = rng.integers(0, every)
        slot_every = np.zeros(len(count), dtype=np.int64)
        slot_every[holders] = every
        slot_offset = np.zeros(len(count), dtype=np.int64)
        slot_offset[holders] = offset
        slot_sku = np.full(len(count), -1, dtype=np.int64)
        slot_sku[holders] = sku
        m = slot_every[visits.shopper]
        due = (m > 0) & ((visits.number + slot_offset[visits.shopper]) % np.maximum(m, 1) == 0)
        due &= rng.random(len(due)) >= _STAPLE_SKIP
        hit = np.flatnonzero(due)
        out_visit.append(hit)
        out_sku.append(slot_sku[visits.shopper[hit]])
    if not out_visit:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(out_visit), np.concatenate(out_sku)


def _free_lines(
    rng: np.random.Generator,
    salt: int,
    catalogue: _Catalogue,
    shoppers: _Shoppers,
    visits: _Visits,
    staples_per_visit: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The rest of the basket: categories by personal taste; in each, a personal favourite (habit)
    or a fresh pick from the household type's choice shares (which is how new products come in).
    """
    behaviour = shoppers.behaviour[visits.shopper]
    extra = rng.poisson(_plan_array("extra")[behaviour])
    extra = np.where(staples_per_visit == 0, np.maximum(extra, 1), extra)
    visit = np.repeat(np.arange(len(extra)), extra)
    owner = visits.shopper[visit]
    cat = np.empty(len(visit), dtype=np.int64)
    for lo in range(0, len(visit), _CHUNK):
        part = owner[lo : lo + _CHUNK]
        cat[lo : lo + _CHUNK] = _sample_rows(rng, shoppers.taste[part])
    habit = rng.random(len(visit)) < _plan_array("habit")[behaviour[visit]]
    slot = rng.choice(len(_FAVOURITE_SLOTS), size=len(visit), p=_FAVOURITE_SLOTS)
    favourite = _favourite(salt, catalogue, shoppers.household[owner], owner, cat, slot)
    fresh = _pick_sku(catalogue, shoppers.household[owner], cat, rng.random(len(visit)))
    return visit, np.where(habit, favourite, fresh)


def _complement_lines(
    rng: np.random.Generator,
    salt: int,
    catalogue: _Catalogue,
    shoppers: _Shoppers,
    visits: _Visits,
    visit: np.ndarray,
    sku: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    index = {c.name: i for i, c in enumerate(CATEGORIES)}
    cat = catalogue.category[sku]
    out_visit, out_sku = [], []
    for first, second, probability in COMPLEMENTS:
        a, b = index[first], index[second]
        hit = np.flatnonzero((cat == a) & (rng.random(len(cat)) < probability))
        owner = visits.shopper[visit[hit]]
        favourite = _favourite(
            salt,
            catalogue,
            shoppers.household[owner],
            owner,
            np.full(len(hit), b),
            np.zeros(len(hit), dtype=np.int64),
        )
        partner = catalogue.partner[(a, b)][sku[hit]]
        out_visit.append(visit[hit])
        out_sku.append(np.where(rng.random(len(hit)) < 0.5, partner, favourite))
    return np.concatenate(out_visit), np.concatenate(out_sku)


def _merge_lines(
    rng: np.random.Generator, catalogue: _Catalogue, visit: np.ndarray, sku: np.ndarray
) -> _Lines:
    """One line per product per receipt, with a quantity: weighed goods in kg, others in units."""
    order = np.lexsort((sku, visit))
    visit, sku = visit[order], sku[order]
    keep = np.ones(len(visit), dtype=bool)
    keep[1:] = (visit[1:] != visit[:-1]) | (sku[1:] != sku[:-1])
    copies = np.diff(np.append(np.flatnonzero(keep), len(visit)))
    visit, sku = visit[keep], sku[keep]
    units = copies + rng.poisson(catalogue.multibuy[sku])
    kilos = np.round(np.clip(rng.lognormal(np.log(0.8), 0.45, len(sku)), 0.1, 4.0), 3)
    quantity = np.where(catalogue.weighed[sku], kilos, units.astype(float))
    return _Lines(visit=visit, sku=sku, quantity=quantity)


def _sample_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row, drawn with the row's weights (rows sum to 1)."""
    cdf = np.cumsum(weights, axis=1)
    pick = (cdf < rng.random(len(weights))[:, None] * cdf[:, -1:]).sum(axis=1)
    return np.minimum(pick, weights.shape[1] - 1)


def _pick_sku(
    catalogue: _Catalogue, household: np.ndarray, category: np.ndarray, u: np.ndarray
) -> np.ndarray:
    n_cats = len(CATEGORIES)
    n_skus = len(catalogue.category)
    key = household * n_cats + category + np.minimum(u, 1.0 - 1e-9)
    flat = np.searchsorted(catalogue.taste_cdf, key, side="right")
    return np.minimum(flat - household * n_skus, n_skus - 1)


def _favourite(
    salt: int,
    catalogue: _Catalogue,
    household: np.ndarray,
    shopper: np.ndarray,
    category: np.ndarray,
    slot: np.ndarray,
) -> np.ndarray:
    """The shopper's `slot`-th favourite product in `category`: fixed for life, drawn from their
    household type's choice shares with a hash of (shopper, category, slot) as the uniform.
    """
    u = _hash_uniform(salt, shopper, category, slot)
    return _pick_sku(catalogue, household, category, u)


def _hash_uniform(salt: int, *keys: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = np.full(len(keys[0]), salt, dtype=np.uint64)
        for key in keys:
            x = _mix(x ^ key.astype(np.uint64))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash of x."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


# --- prices, returns, receipts ---------------------------------------------------------------


def _price_and_return(
    rng: np.random.Generator,
    catalogue: _Catalogue,
    visits: _Visits,
    lines: _Lines,
    as_of: date,
    days: int,
    customers: int,
) -> pl.DataFrame:
    """Price the lines (older ones before a year's inflation, some on promotion), add returns,
    number the receipts in time order and label everything with its codes.
    """
    second = visits.second[lines.visit]
    age_years = (days * 86_400 - second) / (365.0 * 86_400)
    unit = np.round(catalogue.price[lines.sku] / (1.0 + _INFLATION * age_years), 2)
    promo = catalogue.promo_allowed[lines.sku] & (rng.random(len(unit)) < _PROMO_LINE_SHARE)
    discount = np.where(promo, rng.choice([0.10, 0.15, 0.20, 0.25, 0.30], len(unit)), 0.0)
    amount = _cents(unit * lines.quantity * (1.0 - discount))
    r_src, r_second, r_store, r_quantity, r_amount = _returns(rng, catalogue, visits, lines, amount, days)
    n_sales = len(visits.shopper)
    receipt_second = np.concatenate([visits.second, r_second])
    receipt_shopper = np.concatenate([visits.shopper, visits.shopper[lines.visit[r_src]]])
    receipt_store = np.concatenate([visits.store, r_store])
    line_receipt = np.concatenate([lines.visit, n_sales + np.arange(len(r_src))])
    receipt_rank = np.empty(len(receipt_second), dtype=np.int64)
    receipt_rank[np.lexsort((rng.random(len(receipt_second)), receipt_second))] = np.arange(
        len(receipt_second)
    )
    rank = receipt_rank[line_receipt]
    sku = np.concatenate([lines.sku, lines.sku[r_src]])
    order = np.lexsort((catalogue.code[sku], rank))
    start = datetime(as_of.year, as_of.month, as_of.day) - timedelta(days=days)
    epoch_us = int((start - datetime(1970, 1, 1)).total_seconds()) * 1_000_000
    shopper = receipt_shopper[line_receipt][order]
    frame = pl.DataFrame(
        {
            "receipt": rank[order] + 1,
            "customer": np.where(shopper < customers, shopper, -1),
            "ts": epoch_us + receipt_second[line_receipt][order] * 1_000_000,
            "store": receipt_store[line_receipt][order] + 1,
            "sku_index": sku[order],
            "quantity": np.concatenate([lines.quantity, r_quantity])[order],
            "amount": np.concatenate([amount, r_amount])[order],
        }
    )
    return _label_transactions(frame, catalogue, customers, len(receipt_second))


def _cents(value: np.ndarray) -> np.ndarray:
    return np.round(value * 100.0) / 100.0


def _returns(
    rng: np.random.Generator,
    catalogue: _Catalogue,
    visits: _Visits,
    lines: _Lines,
    amount: np.ndarray,
    days: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A few lines come back a few days later on a receipt of their own, in full or one unit."""
    chance = np.where(catalogue.weighed[lines.sku], 0.2, 1.0) * _RETURN_SHARE
    src = np.flatnonzero(rng.random(len(lines.sku)) < chance)
    delay = 1 + np.minimum(rng.geometric(0.25, len(src)), 20)
    day = visits.second[lines.visit[src]] // 86_400 + delay
    keep = day < days
    src, day = src[keep], day[keep]
    hour = rng.choice(24, size=len(src), p=_HOUR_WEIGHT / _HOUR_WEIGHT.sum())
    second = day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, len(src))
    store = visits.store[lines.visit[src]]
    sold = lines.quantity[src]
    one_unit = (sold > 1) & (sold == np.floor(sold)) & (rng.random(len(src)) < 0.4)
    quantity = -np.where(one_unit, 1.0, sold)
    refund = -_cents(amount[src] * (-quantity) / sold)
    return src, second, store, quantity, refund


def _label_transactions(
    frame: pl.DataFrame, catalogue: _Catalogue, customers: int, receipts: int
) -> pl.DataFrame:
    skus = catalogue.frame["sku"]
    return frame.select(
        receipt_id=_code("R", pl.col("receipt"), max(8, len(str(receipts)))),
        customer_id=pl.when(pl.col("customer") >= 0).then(
            _code("C", pl.col("customer") + 1, _id_width(customers))
        ),
        ts=pl.col("ts").cast(pl.Datetime("us")),
        store_id=_code("S", pl.col("store"), 3),
        sku=skus.gather(frame["sku_index"]),
        quantity=pl.col("quantity").cast(pl.Float64),
        amount=pl.col("amount").cast(pl.Float64),
    )


def _code(prefix: str, number: pl.Expr, width: int) -> pl.Expr:
    return pl.concat_str([pl.lit(prefix), number.cast(pl.String).str.zfill(width)])


def _id_width(customers: int) -> int:
    return max(7, len(str(customers)))


# --- card holders ----------------------------------------------------------------------------


def _make_customers(
    rng: np.random.Generator, seed: int, shoppers: _Shoppers, customers: int, as_of: date
) -> pl.DataFrame:
    behaviour = shoppers.behaviour[:customers]
    household = shoppers.household[:customers]
    english = rng.random(customers) < 0.07
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
            "phone": _phones(rng, english),
            "email_opt_in": has_email & (rng.random(customers) < np.where(engaged, 0.65, 0.55)),
            "sms_opt_in": has_phone & (rng.random(customers) < np.where(engaged, 0.55, 0.45)),
            "push_opt_in": rng.random(customers) < np.where(engaged, 0.40, 0.28),
            "birth_date": _birth_dates(rng, household, as_of),
            "nps_score": _nps_scores(rng, behaviour),
        }
    )
    return frame.with_columns(
        customer_id=_code("C", pl.col("customer_id"), _id_width(customers)),
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
    return "".join(_TRANSLIT.get(ch, ch) for ch in name.lower())


def _emails(rng: np.random.Generator, first: np.ndarray, last: np.ndarray, english: np.ndarray) -> pl.Series:
    """Unique addresses from latin names in a few usual shapes, at the usual mail domains."""
    n = len(first)
    domain = np.where(english, _domains(rng, _EN_DOMAINS, n), _domains(rng, _RU_DOMAINS, n))
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
    ages = np.array([_HOUSEHOLD_SPECS[h][3] for h in HOUSEHOLDS])[household]
    age_days = (rng.uniform(ages[:, 0], ages[:, 1] + 1) * 365.25).astype(np.int64)
    known = rng.random(len(household)) >= 0.30
    epoch_day = pl.Series((as_of - date(1970, 1, 1)).days - age_days).cast(pl.Date)
    return pl.select(pl.when(pl.Series(known)).then(epoch_day)).to_series()


def _nps_scores(rng: np.random.Generator, behaviour: np.ndarray) -> pl.Series:
    """Survey answers for about 30% of card holders; the mix follows how they shop."""
    mixes = [_NPS_MIX[b] for b in BEHAVIOURS]
    answered = rng.random(len(behaviour)) < np.array([m[0] for m in mixes])[behaviour]
    groups = np.array([m[1] for m in mixes])[behaviour]
    group = (np.cumsum(groups, axis=1) < rng.random(len(behaviour))[:, None]).sum(axis=1)
    promoter = 9 + rng.integers(0, 2, len(behaviour))
    passive = 7 + rng.integers(0, 2, len(behaviour))
    detractor = rng.choice(7, size=len(behaviour), p=_DETRACTOR_SCORES / _DETRACTOR_SCORES.sum())
    score = np.select([group == 0, group == 1], [promoter, passive], detractor)
    return pl.select(pl.when(pl.Series(answered)).then(pl.Series(score))).to_series()


# --- files -----------------------------------------------------------------------------------


def write_sample(data: SampleData, out_dir: Path, *, fmt: str = "csv", bad_rows: int = 0) -> dict[str, Path]:
    """Write the three tables to `out_dir` as transactions/products/customers .csv or .parquet.

    `bad_rows` (CSV only) plants that many broken transaction lines among the good ones, of the
    kinds in BAD_ROW_KINDS. Returns the written paths by table name.
    """
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if bad_rows < 0:
        raise ValueError(f"bad_rows must be 0 or more, got {bad_rows}")
    if bad_rows and fmt != "csv":
        raise ValueError("bad_rows can only be planted in CSV files (fmt='csv')")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {"transactions": data.transactions, "products": data.products, "customers": data.customers}
    paths = {name: out_dir / f"{name}.{fmt}" for name in tables}
    if fmt == "parquet":
        for name, frame in tables.items():
            frame.write_parquet(paths[name])
        return paths
    places, bad = _bad_rows(data, bad_rows)
    _write_transactions_csv(data.transactions, paths["transactions"], places, bad)
    data.products.with_columns(price=_money_text(pl.col("price"))).write_csv(paths["products"])
    data.customers.write_csv(paths["customers"])
    return paths


def write_transactions(frame: pl.DataFrame, path: Path) -> Path:
    """Write receipt lines (the transactions contract's columns) as CSV, the way `write_sample`
    writes them: ISO time stamps, amounts to the cent, whole quantities without a decimal point.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = frame.select(list(TRANSACTION_SCHEMA))
    if lines.is_empty():
        _transactions_text(lines).write_csv(path)
    else:
        _write_transactions_csv(lines, path, np.zeros(0, dtype=np.int64), lines.head(0))
    return path


def _write_transactions_csv(frame: pl.DataFrame, path: Path, places: np.ndarray, bad: pl.DataFrame) -> None:
    """Write in slices, each bad row going in before the good line at its place."""
    cuts = [*places.tolist(), frame.height]
    with path.open("wb") as handle:
        start = 0
        for i, cut in enumerate(cuts):
            for lo in range(start, cut, _CHUNK):
                chunk = _transactions_text(frame.slice(lo, min(_CHUNK, cut - lo)))
                chunk.write_csv(handle, include_header=handle.tell() == 0)
            if i < len(places):
                bad.slice(i, 1).write_csv(handle, include_header=handle.tell() == 0)
            start = cut


def _transactions_text(frame: pl.DataFrame) -> pl.DataFrame:
    """The transactions as the strings a CSV export holds: ISO timestamps, amounts to the cent,
    whole quantities without a decimal point.
    """
    whole = pl.col("quantity") == pl.col("quantity").round(0)
    return frame.with_columns(
        ts=pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S"),
        quantity=pl.when(whole)
        .then(pl.col("quantity").cast(pl.Int64).cast(pl.String))
        .otherwise(pl.col("quantity").round(3).cast(pl.String)),
        amount=_money_text(pl.col("amount")),
    )


def _money_text(value: pl.Expr) -> pl.Expr:
    cents = (value * 100).round(0).cast(pl.Int64)
    sign = pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (cents.abs() // 100).cast(pl.String)
    fraction = (cents.abs() % 100).cast(pl.String).str.zfill(2)
    return pl.concat_str([sign, whole, pl.lit("."), fraction])


def _bad_rows(data: SampleData, count: int) -> tuple[np.ndarray, pl.DataFrame]:
    """`count` broken copies of random lines and the places they go (same data, same result).

    A duplicate goes right after its original; the others anywhere, the end included.
    """
    text = _transactions_text(data.transactions.head(0))
    if count == 0 or data.transactions.is_empty():
        return np.zeros(0, dtype=np.int64), text
    n = data.transactions.height
    rng = np.random.default_rng([n, count])
    source = rng.integers(0, n, count)
    kinds = np.array([BAD_ROW_KINDS[i % len(BAD_ROW_KINDS)] for i in range(count)])
    places = np.where(kinds == "duplicate", source + 1, rng.integers(0, n + 1, count))
    order = np.argsort(places, kind="stable")
    rows = _transactions_text(data.transactions[source[order]]).with_columns(kind=pl.Series(kinds[order]))
    bad = rows.with_columns(
        ts=pl.when(pl.col("kind") == "bad_date")
        .then(pl.col("ts").str.to_datetime("%Y-%m-%dT%H:%M:%S").dt.strftime("%d.%m.%Y %H:%M"))
        .otherwise(pl.col("ts")),
        sku=pl.when(pl.col("kind") == "empty_sku")
        .then(pl.lit(None, dtype=pl.String))
        .when(pl.col("kind") == "unknown_sku")
        .then(pl.lit(_unknown_code(data.products["sku"])))
        .otherwise(pl.col("sku")),
        amount=pl.when(pl.col("kind") == "bad_amount")
        .then(pl.col("amount").str.replace(r"\.(\d)\d$", ",${1}O"))
        .otherwise(pl.col("amount")),
        customer_id=pl.when(pl.col("kind") == "unknown_customer")
        .then(pl.lit(_unknown_code(data.customers["customer_id"])))
        .otherwise(pl.col("customer_id")),
    ).drop("kind")
    return places[order], bad


def _unknown_code(existing: pl.Series) -> str:
    """A code shaped like the existing ones (same letter, same width) that none of them uses."""
    sample = str(existing[0])
    prefix, width = sample[0], len(sample) - 1
    taken = set(existing.to_list())
    candidate = 10**width - 1
    while f"{prefix}{candidate:0{width}d}" in taken:
        candidate -= 1
    return f"{prefix}{candidate:0{width}d}"
