"""How likely the purchase an offer is for is, measured on the retailer's own history.

Each chance is a share of what customers did in the past, by a time split inside the history: the
state of every customer `horizon` days before the run date (the coupon's validity), and what they
did in the `horizon` days up to the run date, which were history already. Nothing after the run
date is read. Three tables, one row per group:

- ``visit``: customers by days since their last visit, by visits so far and by how late they are
  against their own mean gap between visits; the share who came back (for win-back, second
  purchase and every offer on the whole basket);
- ``cycle``: (customer, product) pairs that were due by the customer's own cycle, by how overdue;
  the share bought again (replenishment);
- ``adoption``: per product, the active customers who had never bought it; the share who bought it
  for the first time (cross-sell when the ranking gives no calibrated chance).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta

import polars as pl

from coupongen.analysis import features
from coupongen.config import Job

CHANCE_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(),
    "horizon": pl.Int64(),
    "key": pl.String(),
    "cases": pl.Int64(),
    "hits": pl.Int64(),
    "rate": pl.Float64(),
}
"""Columns of the chance tables: the model, the horizon in days, the group's key ("*": every case
of the model), how many cases the group had, how many were hits, and the estimated rate."""

RECENCY_EDGES = (7, 14, 30, 60, 90, 180, 365)
"""Upper bounds (days since the last visit, included) of the visit model's recency groups."""

VISIT_EDGES = (1, 2, 4, 9)
"""Upper bounds (visits so far, included) of the visit model's frequency groups."""

RHYTHM_EDGES = (1, 2, 4)
"""Upper bounds (days since the last visit / the customer's mean days between visits, included) of
the visit model's rhythm groups: how late the customer is by their own habit."""

DUE_EDGES = (1.2, 1.6, 2.2)
"""Upper bounds (days since the last purchase / the cycle, excluded) of the cycle model's groups."""

PRIOR_WEIGHT = 20
"""Cases' worth of weight the model's overall rate gets in a group's rate (a group of 5 cases with
no hit is not a chance of zero): rate = (hits + PRIOR_WEIGHT x overall) / (cases + PRIOR_WEIGHT).
A visit group is shrunk toward its recency group's rate instead, itself shrunk toward the overall
rate: customers as late as they are differ more from the average customer than from each other."""


MODELS = ("visit", "cycle", "adoption")
"""The chance tables, by name."""


def estimate_chances(
    transactions: pl.DataFrame | pl.LazyFrame,
    *,
    as_of: date,
    horizons: Mapping[str, Iterable[int]],
    lookback_days: int,
    due: tuple[float, float],
    regular: Mapping[date, pl.DataFrame] | None = None,
    active: Mapping[date, pl.DataFrame] | None = None,
    adoption: Mapping[date, pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """The chance tables (see the module docstring) each for the horizons ``horizons`` maps its
    name to (a model left out is not estimated); `CHANCE_SCHEMA`.

    ``transactions`` are the kept lines (customer_id, receipt_id, ts, sku, quantity, amount);
    ``due`` the share of a cycle from which a product is due and the cycles after which it is
    given up (the replenishment offer's own bounds). A horizon the history does not cover (no
    line before the split) gives no rows. Each horizon reads the history once more (the product
    cycles only for "cycle"), so only the horizons the night's offers need are asked for.
    What was computed already is passed by split day (see `split_days`), and a split day
    missing is computed from the lines: ``regular``, the regular rows of
    `features.customer_products` (`features.describe_customers`' ``earlier``); ``active``, the
    active customers (`active_customers`); ``adoption``, each sku's owners and first buyers among
    them (`features.describe_customers`' ``adoption``).
    """
    lines = transactions.lazy().filter(pl.col("customer_id").is_not_null())
    wanted = {h for days in horizons.values() for h in days if h > 0}
    if active is None:
        active = active_customers(
            lines, as_of=as_of, splits=active_splits(as_of, horizons), lookback_days=lookback_days
        )
    frames = [
        _one_horizon(
            lines,
            as_of=as_of,
            horizon=h,
            lookback_days=lookback_days,
            due=due,
            models={m for m in MODELS if h in set(horizons.get(m, ()))},
            regular=(regular or {}).get(as_of - timedelta(days=h)),
            active=active.get(as_of - timedelta(days=h)),
            adoption=(adoption or {}).get(as_of - timedelta(days=h)),
        )
        for h in sorted(wanted)
    ]
    frames = [f for f in frames if not f.is_empty()]
    if not frames:
        return pl.DataFrame(schema=CHANCE_SCHEMA)
    return pl.concat(frames).cast(CHANCE_SCHEMA)  # type: ignore[arg-type]


def active_customers(
    transactions: pl.DataFrame | pl.LazyFrame, *, as_of: date, splits: Iterable[date], lookback_days: int
) -> dict[date, pl.DataFrame]:
    """The customers with a purchase visit within ``lookback_days`` before each of ``splits`` (all
    before ``as_of``): customer_id, visits, last_day, span (days from the first visit to the last)
    and recency (days since the last). Several splits are found in one pass over the receipts
    when each receipt is on one day.
    """
    lines = transactions.lazy().filter(pl.col("customer_id").is_not_null())
    days = sorted(set(splits), reverse=True)
    daily = _daily_receipts(lines, as_of) if len(days) > 1 else None
    if daily is not None:
        return _active_by_split(daily.lazy().filter(pl.col("cents") > 0), days, lookback_days)
    return {
        day: _active(lines.filter(pl.col("ts") < datetime.combine(day, time())), day, lookback_days)
        for day in days
    }


def combined(tables: Iterable[pl.DataFrame]) -> pl.DataFrame:
    """Chance tables estimated apart (some models, then the others) in `estimate_chances`' order:
    by horizon, then model as in `MODELS`, then key.
    """
    order = {m: i for i, m in enumerate(MODELS)}
    frame = pl.concat([t.cast(CHANCE_SCHEMA) for t in tables])  # type: ignore[arg-type]
    return frame.sort(
        pl.col("horizon"), pl.col("model").replace_strict(order, return_dtype=pl.Int8), maintain_order=True
    )


def split_days(as_of: date, horizons: Mapping[str, Iterable[int]], model: str) -> list[date]:
    """The days a model's horizons split the history at (`estimate_chances`), latest first."""
    return [as_of - timedelta(days=h) for h in sorted(set(horizons.get(model, ()))) if h > 0]


def active_splits(as_of: date, horizons: Mapping[str, Iterable[int]]) -> list[date]:
    """The days the models of active customers (visit and adoption) split the history at."""
    return [day for model in ("visit", "adoption") for day in split_days(as_of, horizons, model)]


def model_of(offer_type: str) -> str:
    """The chance table an offer type's chance comes from (see `value.with_values`)."""
    return {"cross_sell": "adoption", "replenishment": "cycle"}.get(offer_type, "visit")


def chance_horizons(job: Job) -> dict[str, set[int]]:
    """The horizons each chance table is needed for: the validity (``valid_days``) of the job's
    enabled campaigns whose offer type takes its chance from it (not cross-sell under the learned
    ranking, whose own chance is calibrated).
    """
    wanted: dict[str, set[int]] = {}
    calibrated = job.config.ranking.method == "rerank"
    for c in job.campaigns:
        if (
            c.enabled
            and not c.code.public
            and not (c.type == "cross_sell" and calibrated and c.target is None)
        ):
            wanted.setdefault(model_of(c.type), set()).add(c.valid_days)
    return wanted


def recency_group(days: pl.Expr) -> pl.Expr:
    """The visit model's recency group of a number of days since the last visit ("<=30", ">365")."""
    return _group(days, RECENCY_EDGES, closed=True)


def visits_group(visits: pl.Expr) -> pl.Expr:
    """The visit model's frequency group of a number of visits ("<=1", "<=2", ">9")."""
    return _group(visits, VISIT_EDGES, closed=True)


def rhythm_group(recency: pl.Expr, span: pl.Expr, visits: pl.Expr) -> pl.Expr:
    """The visit model's rhythm group: days since the last visit against the customer's mean gap
    between visits (``span``, first to last visit, over visits - 1); "once" for a single visit.
    """
    gap = span / (visits - 1)
    return (
        pl.when(visits <= 1).then(pl.lit("once")).otherwise(_group(recency / gap, RHYTHM_EDGES, closed=True))
    )


def visit_key(recency: pl.Expr, span: pl.Expr, visits: pl.Expr) -> pl.Expr:
    """The visit model's group of a customer: recency, visits and rhythm groups ("<=30|<=4|<=2")."""
    return recency_group(recency) + "|" + visits_group(visits) + "|" + rhythm_group(recency, span, visits)


def due_group(ratio: pl.Expr) -> pl.Expr:
    """The cycle model's group of a due ratio (days since the last purchase / the cycle)."""
    return _group(ratio, DUE_EDGES, closed=False)


def _group(value: pl.Expr, edges: tuple[float, ...], *, closed: bool) -> pl.Expr:
    expr = pl.lit(f">{edges[-1]}" if closed else f">={edges[-1]}")
    for edge in reversed(edges):
        inside = value <= edge if closed else value < edge
        expr = pl.when(inside).then(pl.lit(f"<={edge}" if closed else f"<{edge}")).otherwise(expr)
    return expr


def _one_horizon(
    lines: pl.LazyFrame,
    *,
    as_of: date,
    horizon: int,
    lookback_days: int,
    due: tuple[float, float],
    models: set[str],
    regular: pl.DataFrame | None = None,
    active: pl.DataFrame | None = None,
    adoption: pl.DataFrame | None = None,
) -> pl.DataFrame:
    split = as_of - timedelta(days=horizon)
    start, end = datetime.combine(split, time()), datetime.combine(as_of, time())
    first = lines.select(pl.col("ts").min()).collect().item()
    if first is None or first >= start:
        return pl.DataFrame(schema=CHANCE_SCHEMA)
    before = lines.filter(pl.col("ts") < start)
    window = lines.filter((pl.col("ts") >= start) & (pl.col("ts") < end) & (pl.col("quantity") > 0))
    tables = []
    customers = None
    if models & {"visit", "adoption"}:
        customers = active if active is not None else _active(before, split, lookback_days)
    counted = "adoption" in models and adoption is not None
    bought = (
        window.select("customer_id", "sku").unique().collect().with_columns(pl.lit(True).alias("hit"))
        if "cycle" in models or ("adoption" in models and not counted)
        else None
    )
    if "visit" in models and customers is not None:
        came = window.select("customer_id").unique().collect().with_columns(pl.lit(True).alias("hit"))
        visit = customers.join(came, on="customer_id", how="left").select(
            visit_key(pl.col("recency"), pl.col("span"), pl.col("visits")).alias("key"),
            recency_group(pl.col("recency")).alias("parent"),
            pl.col("hit").fill_null(False),
        )
        tables.append(_rates(visit, "visit", horizon))
    if "cycle" in models and bought is not None:
        if regular is None:
            regular = features.customer_products(before, as_of=split, lookback_days=lookback_days)
        ratio = pl.col("days_since_last") / pl.col("cycle_days")
        cycle = (
            regular.filter(pl.col("in_lookback") & (pl.col("cycle_days") > 0) & ratio.is_between(*due))
            .join(bought, on=["customer_id", "sku"], how="left")
            .select(due_group(ratio).alias("key"), pl.col("hit").fill_null(False))
        )
        tables.append(_rates(cycle, "cycle", horizon))
    if counted and customers is not None and adoption is not None:
        tables.append(_adoption_rates(adoption, customers.height, horizon))
    elif "adoption" in models and customers is not None and bought is not None:
        tables.append(_adoption(customers.select("customer_id"), before, bought, horizon))
    return pl.concat(tables) if tables else pl.DataFrame(schema=CHANCE_SCHEMA)


def _active(before: pl.LazyFrame, split: date, lookback_days: int) -> pl.DataFrame:
    """The customers with a purchase visit within ``lookback_days`` before ``split``: visits,
    last_day, span (days from the first visit to the last) and recency (days since the last).
    """
    visits = features.receipts(before, as_of=split).filter(pl.col("amount") > 0)
    return _active_by_split(visits, [split], lookback_days)[split]


def _active_by_split(
    visits: pl.LazyFrame, splits: list[date], lookback_days: int
) -> dict[date, pl.DataFrame]:
    """`_active` as of each of ``splits``, in one pass over the purchase ``visits`` (customer_id,
    day: one row per receipt).
    """
    day, before = pl.col("day"), [pl.col("day") < split for split in splits]
    per_customer = (
        visits.group_by("customer_id")
        .agg(
            *(b.sum().alias(f"visits{i}") for i, b in enumerate(before)),
            *(day.filter(b).max().alias(f"last{i}") for i, b in enumerate(before)),
            *(day.filter(b).min().alias(f"first{i}") for i, b in enumerate(before)),
        )
        .collect()
    )
    return {
        split: per_customer.filter(pl.col(f"visits{i}") > 0)
        .select(
            "customer_id",
            pl.col(f"visits{i}").cast(pl.UInt32).alias("visits"),
            pl.col(f"last{i}").alias("last_day"),
            (pl.col(f"last{i}") - pl.col(f"first{i}")).dt.total_days().alias("span"),
        )
        .with_columns((pl.lit(split) - pl.col("last_day")).dt.total_days().alias("recency"))
        .filter(pl.col("recency") <= lookback_days)
        for i, split in enumerate(splits)
    }


def _daily_receipts(lines: pl.LazyFrame, as_of: date) -> pl.DataFrame | None:
    """The receipts before ``as_of`` (`features.receipts`: customer_id, day, cents) when each is
    on one day, so that every horizon's visits are a filter of them; None when one spans days.
    """
    cutoff = datetime.combine(as_of, time())
    per_receipt = (
        lines.filter(pl.col("ts") < cutoff)
        .group_by("receipt_id")
        .agg(
            pl.col("customer_id").first(),
            pl.col("ts").dt.date().min().alias("day"),
            pl.col("ts").dt.date().max().alias("last"),
            (pl.col("amount") * 100).round(0).cast(pl.Int64).sum().alias("cents"),
        )
        .collect(engine="streaming")
    )
    if (per_receipt["day"] != per_receipt["last"]).any():
        return None
    return per_receipt.select("customer_id", "day", "cents")


def _rates(cases: pl.DataFrame, model: str, horizon: int) -> pl.DataFrame:
    """Per key: cases, hits and the rate shrunk toward the model's overall rate; with a ``parent``
    column (a coarser group), the parents' rates are shrunk toward the overall rate and each key's
    toward its parent's (the parents are rows of their own, keyed by the parent).
    """
    if cases.is_empty():
        return pl.DataFrame(schema=CHANCE_SCHEMA)
    groups = cases.group_by("key").agg(pl.len().alias("cases"), pl.col("hit").sum().alias("hits"))
    if "parent" not in cases.columns:
        return _shrunk(groups, model, horizon)
    parents = _shrunk(
        cases.group_by("parent")
        .agg(pl.len().alias("cases"), pl.col("hit").sum().alias("hits"))
        .rename({"parent": "key"}),
        model,
        horizon,
    )
    toward = (
        cases.select("key", "parent")
        .unique()
        .join(parents.select(pl.col("key").alias("parent"), pl.col("rate").alias("prior")), on="parent")
    )
    children = (
        groups.join(toward, on="key")
        .with_columns(
            pl.lit(model).alias("model"),
            pl.lit(horizon, dtype=pl.Int64).alias("horizon"),
            ((pl.col("hits") + PRIOR_WEIGHT * pl.col("prior")) / (pl.col("cases") + PRIOR_WEIGHT)).alias(
                "rate"
            ),
        )
        .select(list(CHANCE_SCHEMA))
    )
    return pl.concat([parents, children.cast(CHANCE_SCHEMA)]).sort("key")  # type: ignore[arg-type]


def _shrunk(groups: pl.DataFrame, model: str, horizon: int) -> pl.DataFrame:
    total_cases, total_hits = int(groups["cases"].sum()), int(groups["hits"].sum())
    overall = total_hits / total_cases if total_cases else 0.0
    everyone = pl.DataFrame({"key": ["*"], "cases": [total_cases], "hits": [total_hits]})
    return (
        pl.concat(
            [
                groups.cast({"cases": pl.Int64, "hits": pl.Int64}),
                everyone.cast({"cases": pl.Int64, "hits": pl.Int64}),
            ]
        )
        .with_columns(
            pl.lit(model).alias("model"),
            pl.lit(horizon, dtype=pl.Int64).alias("horizon"),
            ((pl.col("hits") + PRIOR_WEIGHT * overall) / (pl.col("cases") + PRIOR_WEIGHT)).alias("rate"),
        )
        .with_columns(pl.when(pl.col("key") == "*").then(overall).otherwise(pl.col("rate")).alias("rate"))
        .select(list(CHANCE_SCHEMA))
        .sort("key")
    )


def _adoption(active: pl.DataFrame, before: pl.LazyFrame, bought: pl.DataFrame, horizon: int) -> pl.DataFrame:
    """Per product: active customers who had never bought it (cases) and how many then did (hits);
    ``before`` are the lines before the split.
    """
    if active.is_empty():
        return pl.DataFrame(schema=CHANCE_SCHEMA)
    customers = active.lazy()
    had = (
        before.filter(pl.col("quantity") > 0)
        .select("customer_id", "sku")
        .join(customers, on="customer_id", how="semi")
        .unique()
    )
    # Collected together: the pairs the active customers had are found once for both.
    owners, firsts = pl.collect_all(
        [
            had.group_by("sku").len("owners"),
            bought.lazy()
            .join(customers, on="customer_id", how="semi")
            .join(had, on=["customer_id", "sku"], how="anti")
            .group_by("sku")
            .len("hits"),
        ]
    )
    counts = owners.join(firsts, on="sku", how="full", coalesce=True).fill_null(0)
    return _adoption_rates(counts, active.height, horizon)


def _adoption_rates(counts: pl.DataFrame, active: int, horizon: int) -> pl.DataFrame:
    """The adoption table of per-sku ``counts`` (sku, owners, hits) among ``active`` customers."""
    if active == 0:
        return pl.DataFrame(schema=CHANCE_SCHEMA)
    groups = counts.select(
        pl.col("sku").alias("key"), (active - pl.col("owners")).alias("cases"), pl.col("hits")
    ).filter(pl.col("cases") > 0)
    return _shrunk(groups, "adoption", horizon)
