"""What the night needs from its inputs once the analysis has run, without the transactions.

The transactions are the largest thing a night reads. After the analysis, later stages need only a
few figures of them (basket totals, the date range, home stores, oversized purchases), so
`digest` computes those and the lines are dropped. `NightData` is also what the analysis
checkpoint saves and loads (`to_frames`, `from_frames`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

from coupongen.analysis.night import Analysis
from coupongen.config import Job
from coupongen.inputs.contract import Inputs
from coupongen.inputs.quarantine import oversized_purchases
from coupongen.offers.candidates import REPLENISH_DUE, REPLENISH_GIVEN_UP
from coupongen.offers.chances import (
    CHANCE_SCHEMA,
    MODELS,
    active_customers,
    active_splits,
    chance_horizons,
    estimate_chances,
    split_days,
)
from coupongen.offers.eligibility import home_stores
from coupongen.offers.money import DataFigures, data_figures
from coupongen.report.summary import quarantine_reasons
from coupongen.results import InputCounts, QuarantineReason

FRAMES = (
    "segmented",
    "bought",
    "categories",
    "rules",
    "category_rules",
    "products",
    "customers",
    "baskets",
    "spend",
    "oversized",
    "home",
    "customer_columns",
    "chances",
)
"""The frames of the analysis checkpoint, by file name."""


@dataclass(frozen=True)
class NightData:
    """The analysis and what later stages need of the inputs.

    ``counts`` holds each input's rows read, kept and quarantined (products, customers,
    transactions); ``reasons`` the most common quarantine reasons; ``figures`` the data figures
    money rules resolve against; ``oversized`` the purchases kept out for their size (customer_id,
    sku, ts); ``home`` each customer's home store (customer_id, home_store) when a campaign filters
    on it, else None; ``customers`` the kept customer rows; ``customer_columns`` the customer
    file's columns beyond the contract (customer_id and those columns, typed) when it has any;
    ``chances`` the chance tables of the offers' expected value (`offers.chances`).
    """

    analysis: Analysis
    customers: pl.DataFrame
    counts: dict[str, InputCounts]
    reasons: tuple[QuarantineReason, ...]
    figures: DataFigures
    oversized: pl.DataFrame
    home: pl.DataFrame | None
    customer_columns: pl.DataFrame | None = None
    chances: pl.DataFrame | None = None

    @property
    def products(self) -> pl.DataFrame:
        """The kept products."""
        return self.analysis.products

    def input_range(self) -> dict[str, str]:
        """The first and last day of the kept transactions (empty without any)."""
        first, last = self.figures.first, self.figures.last
        if first is None or last is None:
            return {}
        return {"first": str(first)[:10], "last": str(last)[:10]}

    def kept_text(self) -> str:
        """Rows kept of rows read, per input, for the load stage's line."""
        return ", ".join(f"{name} {c.kept}/{c.read} kept" for name, c in self.counts.items())


def kept_text(inputs: Inputs) -> str:
    """Rows kept of rows read, per input, for the load stage's line."""
    return ", ".join(f"{x.name} {x.counts['kept']}/{x.counts['read']} kept" for x in inputs.all())


def night_chances(
    job: Job,
    inputs: Inputs,
    as_of: date,
    *,
    models: Collection[str] = MODELS,
    regular: Mapping[date, pl.DataFrame] | None = None,
    active: Mapping[date, pl.DataFrame] | None = None,
    adoption: Mapping[date, pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """The chance tables of the night's offers (`offers.chances.estimate_chances`) from the lines:
    those of ``models`` only; ``regular`` the regular products as of the cycle model's split days,
    ``active`` the active customers (`night_active`) and ``adoption`` the adoption counts
    (`adoption_days`), when computed already.
    """
    return estimate_chances(
        inputs.transactions.kept,
        as_of=as_of,
        horizons={m: days for m, days in chance_horizons(job).items() if m in models},
        lookback_days=job.config.segments.lookback_days,
        due=(REPLENISH_DUE, REPLENISH_GIVEN_UP),
        regular=regular,
        active=active,
        adoption=adoption,
    )


def night_active(job: Job, inputs: Inputs, as_of: date) -> dict[date, pl.DataFrame]:
    """The active customers as of the split days of the night's visit and adoption chance tables
    (`offers.chances.active_customers`).
    """
    return active_customers(
        inputs.transactions.kept,
        as_of=as_of,
        splits=active_splits(as_of, chance_horizons(job)),
        lookback_days=job.config.segments.lookback_days,
    )


def adoption_days(job: Job, as_of: date) -> list[date]:
    """The days the adoption model's chance tables split the history at: the analysis counts each
    sku's owners and first buyers among the active customers as of each (`analysis.night.analyse`'
    ``adopters``).
    """
    return split_days(as_of, chance_horizons(job), "adoption")


def cycle_days(job: Job, as_of: date) -> list[date]:
    """The days the cycle model's chance tables split the history at: the analysis computes the
    regular products as of each (`analysis.night.analyse`' ``earlier``).
    """
    return split_days(as_of, chance_horizons(job), "cycle")


def digest(
    job: Job, inputs: Inputs, analysis: Analysis, as_of: date, *, chances: pl.DataFrame | None = None
) -> NightData:
    """What the night keeps of ``inputs`` after ``analysis`` (see the module's docstring);
    ``chances`` when `night_chances` computed them already.
    """
    tx = inputs.transactions.kept
    by_store = any(c.eligibility.home_store is not None for c in job.campaigns)
    lookback = job.config.segments.lookback_days
    return NightData(
        analysis=analysis,
        customers=inputs.customers.kept,
        counts={x.name: InputCounts(**x.counts) for x in inputs.all()},
        reasons=quarantine_reasons({x.name: x.quarantined for x in inputs.all()}),
        figures=data_figures(tx, analysis.segmented, as_of=as_of, lookback_days=lookback),
        oversized=oversized_purchases(inputs.transactions.quarantined),
        home=home_stores(tx, as_of=as_of, lookback_days=lookback) if by_store else None,
        customer_columns=inputs.customers.extra,
        chances=night_chances(job, inputs, as_of) if chances is None else chances,
    )


def to_frames(night: NightData) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """The frames and small values that `from_frames` makes ``night`` from again."""
    a = night.analysis
    empty = pl.DataFrame(schema={"customer_id": pl.String})
    home = night.home if night.home is not None else empty
    extra = night.customer_columns if night.customer_columns is not None else empty
    frames = {
        "segmented": a.segmented,
        "bought": a.bought,
        "categories": a.categories,
        "rules": a.rules,
        "category_rules": a.category_rules,
        "products": a.products,
        "customers": night.customers,
        "baskets": night.figures.baskets.to_frame(),
        "spend": night.figures.spend.to_frame(),
        "oversized": night.oversized,
        "home": home,
        "customer_columns": extra,
        "chances": night.chances if night.chances is not None else pl.DataFrame(schema=CHANCE_SCHEMA),
    }
    f = night.figures
    meta = {
        "n_baskets": a.n_baskets,
        "as_of": a.as_of.isoformat() if a.as_of else None,
        "parts": list(a.parts),
        "counts": [[name, asdict(c)] for name, c in night.counts.items()],  # in order
        "reasons": [asdict(r) for r in night.reasons],
        "first": f.first.isoformat() if f.first else None,
        "last": f.last.isoformat() if f.last else None,
        "has_home": night.home is not None,
        "has_customer_columns": night.customer_columns is not None,
    }
    return frames, meta


def from_frames(frames: dict[str, pl.DataFrame], meta: dict[str, Any]) -> NightData:
    """The `NightData` that `to_frames` saved."""
    analysis = Analysis(
        segmented=frames["segmented"],
        bought=frames["bought"],
        categories=frames["categories"],
        rules=frames["rules"],
        category_rules=frames["category_rules"],
        n_baskets=int(meta["n_baskets"]),
        products=frames["products"],
        as_of=date.fromisoformat(meta["as_of"]) if meta["as_of"] else None,
        parts=tuple(meta["parts"]),
    )
    first, last = meta["first"], meta["last"]
    return NightData(
        analysis=analysis,
        customers=frames["customers"],
        counts={name: InputCounts(**c) for name, c in meta["counts"]},
        reasons=tuple(QuarantineReason(**r) for r in meta["reasons"]),
        figures=DataFigures(
            baskets=frames["baskets"].to_series(),
            spend=frames["spend"].to_series(),
            first=datetime.fromisoformat(first) if first else None,
            last=datetime.fromisoformat(last) if last else None,
        ),
        oversized=frames["oversized"],
        home=frames["home"] if meta["has_home"] else None,
        customer_columns=frames["customer_columns"] if meta["has_customer_columns"] else None,
        chances=frames["chances"],
    )
