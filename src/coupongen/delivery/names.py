"""Display names of coupon targets: a product's name, a category's name as customers should read it.

A category's name comes from the job's names file (``[products] names``: columns category, name;
relative to the job file, since a retailer's data folder may be read-only),
else from a ``category_name`` column of the products file, else from its key with underscores as
spaces (``pasta_sauce`` reads "pasta sauce"). Messages and the CRM file show these names; the POS
file and the ledger keep the keys.

Names taken from the data (a product's name, a ``category_name`` column, a key) are often written
in capitals by the retailer's systems ("BANANAS 40 LB"). With ``[products] name_case = "auto"``
(the default) such a name reads in title case, a unit after a number in lower case ("Bananas 40 lb");
a name with any small letter is the retailer's own casing and stays as written, and so do the names
of the job's names file. ``"as_written"`` keeps every name as the data has it.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from coupongen.errors import InputError

NAME_COLUMNS = ("category", "name")

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
"""A run of letters, with apostrophes inside it ("DON'T" is one word)."""

_UNIT = re.compile(
    r"(?<=\d)(\s?)(oz|lbs?|ct|pk|pcs?|dz|doz|ea|kg|mg|g|ml|cl|gal?|qt|pt|fl oz|fl)\b", re.IGNORECASE
)
"""A unit of measure right after a number ("40 LB", "12OZ"): shown in lower case."""


def readable_name(name: str) -> str:
    """``name`` in title case when it is written all in capitals (its runs of spaces made one),
    else unchanged.

    "ICE - CRUSHED/CUBED 22 LB" reads "Ice - Crushed/Cubed 22 lb"; "Café au lait 1 L" and a name
    without letters stay as written.
    """
    cased = [ch for ch in name if ch.lower() != ch.upper()]
    if len(cased) < 2 or any(ch.islower() for ch in cased):
        return name
    titled = _WORD.sub(lambda m: m.group(0)[0] + m.group(0)[1:].lower(), " ".join(name.split()))
    return _UNIT.sub(lambda m: m.group(1) + m.group(2).lower(), titled)


def readable_names(names: pl.Series) -> pl.Series:
    """`readable_name` of each of ``names``: only the distinct names written in capitals are read
    (a catalogue repeats its names: 17,407 in 92,334 products of a grocer's).
    """
    shouting = names.filter(
        (names == names.str.to_uppercase()) & (names != names.str.to_lowercase())
    ).unique()
    return names.replace(shouting, [readable_name(n) for n in shouting.to_list()])


def read_category_names(path: Path) -> pl.DataFrame:
    """The names file (CSV, columns category and name, UTF-8) as category, name.

    Raises InputError for a missing or unreadable file, one without those columns, or a category
    named twice (its row number given); blank names are left to the fallbacks.
    """
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except FileNotFoundError:
        raise InputError(f"{path}: category names file not found") from None
    except (OSError, pl.exceptions.PolarsError) as e:
        raise InputError(f"{path}: cannot read the category names file ({type(e).__name__})") from None
    missing = [c for c in NAME_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)} (need category, name)")
    frame = frame.select(pl.col("category").str.strip_chars(), pl.col("name").str.strip_chars())
    twice = frame.with_row_index("row", offset=2).filter(pl.col("category").is_duplicated())
    if twice.height:
        raise InputError(f"{path}: row {twice['row'][1]}: category named twice")
    return frame.filter(pl.col("category").is_not_null() & (pl.col("name").fill_null("") != ""))


def category_names(
    products: pl.DataFrame, names: pl.DataFrame | None = None, *, name_case: str = "auto"
) -> pl.DataFrame:
    """category, name: one row per category of ``products`` with its display name."""
    keys = products.select("category").unique().sort("category")
    column = (
        products.filter(pl.col("category_name").fill_null("") != "")
        .group_by("category")
        .agg(pl.col("category_name").mode().sort().first().alias("from_products"))
        if "category_name" in products.columns
        else pl.DataFrame(schema={"category": pl.String, "from_products": pl.String})
    )
    given = names.rename({"name": "from_file"}) if names is not None else None
    out = keys.join(column, on="category", how="left")
    if given is not None:
        out = out.join(given, on="category", how="left")
    else:
        out = out.with_columns(from_file=pl.lit(None, pl.String))
    out = out.with_columns(
        pl.coalesce("from_products", pl.col("category").str.replace_all("_", " ")).alias("data")
    )
    if name_case == "auto":
        out = out.with_columns(readable_names(out["data"]))
    return out.select("category", pl.coalesce("from_file", "data").alias("name"))


def target_names(
    products: pl.DataFrame, names: pl.DataFrame | None = None, *, name_case: str = "auto"
) -> dict[str, str]:
    """Each sku's product name and each category's display name, by target key (see the module
    for ``name_case``).
    """
    shown = readable_names(products["name"]) if name_case == "auto" else products["name"]
    out = dict(zip(products["sku"].to_list(), shown.to_list(), strict=True))
    out.update(dict(category_names(products, names, name_case=name_case).iter_rows()))
    return out
