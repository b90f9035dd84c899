"""Offer candidates on Spark: each campaign's eligible customers and candidates, with the holdout flag.

The planning's offer types (`offers.candidates`, the campaign's target in `offers.targeting`) and
its eligibility rules look at one customer at a time: their row of the customer table, their
purchases, category spend and cross-sell ranking, besides the product table and the rules every
customer shares. So the driver hands the offer context over as stages (``offer_customers``,
``offer_bought``, ``offer_categories``, ``offer_ranking``, ``offer_also_bought``), Spark brings each
customer's rows of all of them together in one group of customers (a hash of the customer id), and
each group runs the very polars functions the driver's planning runs, with the products and rules
broadcast. The holdout flag is drawn by `holdout.with_holdout`, the planning's keyed hash. The
``candidates`` stage holds one row per campaign and eligible customer (``offered`` when the offer
type proposed an offer), and the driver's planning then applies the caps, budgets and holdout cut,
draws the codes and writes the ledger over it, as on the polars engine.

A campaign whose target picks from every customer's purchases (the model's pick, or the set's most
widely bought product) is proposed on the driver, as are campaigns with a public code.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from coupongen import __version__
from coupongen.config import CampaignConfig, Job
from coupongen.engines import stages
from coupongen.engines.spark.holdout import HELD, with_holdout
from coupongen.offers.campaign_free import proposals
from coupongen.offers.candidates import CANDIDATE_SCHEMA, OfferContext
from coupongen.offers.eligibility import FILTER_COLUMNS, eligible_customers
from coupongen.offers.guards import DRAWN
from coupongen.offers.substitutes import ALTERNATIVE, SUBSTITUTE

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

STAGE = "candidates"
POSITION = "position"
"""The customer's row in the driver's customer table: the eligible customers' order there."""

HANDED_OVER = ("customers", "bought", "categories", "ranking", "also_bought")
"""The offer context's customer-keyed frames, each handed over as the stage ``offer_<kind>``."""

CUSTOMERS_PER_GROUP = 50_000
"""About how many customers a Spark task proposes offers for at once."""

# The customer columns the offer types read besides eligibility's (see `_customer_columns`).
_OFFER_COLUMNS = (
    "customer_id",
    "monetary",
    "avg_basket",
    "visits",
    "frequency",
    "recency_days",
    "rfm_segment",
    "lifecycle",
    "nps_score",
    "nps_class",
    "birth_date",
)
_SPARK_ROWS = (
    "campaign string, customer_id string, position long, offered boolean, target_kind string, "
    "target string, priority double, base_value double, reason string, substitute boolean, "
    "alternative boolean"
)


def on_driver(campaign: CampaignConfig) -> bool:
    """True for a campaign the driver proposes: a public code, or a target whose pick needs every
    customer's purchases (the cross-sell model fitted on them, or the set's most widely bought
    product for customers who bought none of it; see `targeting._pick`).
    """
    if campaign.code.public:
        return True
    target = campaign.target
    if target is None:
        return False
    if target.rule == "model" or campaign.type == "cross_sell":
        return True
    if target.rule == "replenishment":
        return False
    if target.categories_only or (target.rule == "favourite" and not target.has_products):
        return False
    return target.rule != "favourite"


def staged_campaigns(job: Job, ctx: OfferContext) -> list[CampaignConfig]:
    """The campaigns running tonight whose candidates the Spark stage proposes."""
    return [c for c in job.campaigns if c.enabled and c.runs_on(ctx.as_of) and not on_driver(c)]


def _customer_columns(customers: pl.DataFrame, campaigns: list[CampaignConfig]) -> list[str]:
    """The customer table's columns the campaigns' eligibility and offer types read (contact
    details and names stay on the driver).
    """
    wanted = list(_OFFER_COLUMNS)
    for campaign in campaigns:
        rules = campaign.eligibility
        wanted += [FILTER_COLUMNS.get(key, key.removeprefix("columns.")) for key in rules.filters()]
        if rules.customers_file is not None:
            wanted.append("card_number")
    return [c for c in dict.fromkeys(wanted) if c in customers.columns]


def propose_on_spark(
    spark: SparkSession,
    run_dir: Path,
    job: Job,
    ctx: OfferContext,
    *,
    seed: int,
    groups: int | None = None,
) -> Mapping[str, tuple[pl.DataFrame, pl.DataFrame]]:
    """The ``candidates`` stage of the night under ``run_dir``, and per staged campaign its
    eligible customers and candidates read back (`planning.StagedCandidates`; the holdout flag as
    `guards.DRAWN`, drawn with the planning's salt ``"<campaign>:<seed>"``).

    ``groups`` is how many groups of customers Spark proposes in (default: one per
    `CUSTOMERS_PER_GROUP` customers, at least one per worker). A campaign's eligibility filter
    the customer table cannot answer is a ConfigError here, on the driver, before Spark starts.
    """
    from coupongen.engines.spark.night import spark_stage

    campaigns = staged_campaigns(job, ctx)
    folder = stages.stage_dir(run_dir, STAGE)
    for stage in (STAGE, *(f"offer_{kind}" for kind in HANDED_OVER)):  # an earlier run's, if any
        stages.begin_stage(stages.stage_dir(run_dir, stage))
    if not campaigns:
        return {}
    lists = {c.name: job.customer_lists.get(c.name) for c in campaigns}
    for campaign in campaigns:  # the same ConfigError the driver's planning gives, raised here
        eligible_customers(ctx.customers.clear(), campaign, listed=lists[campaign.name])
    frames = _handed_over(ctx, campaigns)
    key = _key(job, ctx, seed, frames)
    for kind, frame in frames.items():
        stages.write_frame(frame, stages.stage_dir(run_dir, f"offer_{kind}"), key)
    if groups is None:
        groups = max(
            spark.sparkContext.defaultParallelism, math.ceil(ctx.customers.height / CUSTOMERS_PER_GROUP)
        )
    with spark_stage(STAGE):
        proposed = _proposed(spark, run_dir, ctx, campaigns, lists, frames, groups)
        draws = {c.name: (f"{c.name}:{seed}", c.holdout_share) for c in campaigns}
        drawn = with_holdout(proposed, draws).sortWithinPartitions("campaign", POSITION)
        drawn.write.mode("overwrite").parquet(folder.as_posix())
    stages.finish_stage(folder, key)
    return StagedRead(folder, [c.name for c in campaigns])


def _handed_over(ctx: OfferContext, campaigns: list[CampaignConfig]) -> dict[str, pl.DataFrame]:
    """The offer context's customer-keyed frames as the stage reads them (empty ones left out)."""
    frames = {
        "customers": ctx.customers.select(_customer_columns(ctx.customers, campaigns)),
        "bought": ctx.bought,
        "categories": ctx.categories,
    }
    if ctx.relevance is not None:
        frames["ranking"] = ctx.relevance
    if ctx.also_bought is not None and not ctx.also_bought.is_empty():
        frames["also_bought"] = ctx.also_bought
    # Each row's place in the driver's frame: a group sees its rows in the driver's order.
    return {
        kind: frame.with_row_index(POSITION).with_columns(pl.col(POSITION).cast(pl.Int64))
        for kind, frame in frames.items()
    }


def _key(job: Job, ctx: OfferContext, seed: int, frames: dict[str, pl.DataFrame]) -> dict[str, str]:
    """What made the stage: the settings, night, seed and version, and the rows handed over."""
    counts = ",".join(f"{kind}={frame.height}" for kind, frame in frames.items())
    return {
        "inputs": hashlib.sha256(counts.encode()).hexdigest()[:16],
        "settings": job.config_hash(),
        "as_of": ctx.as_of.isoformat(),
        "seed": str(seed),
        "engine": "spark",
        "version": __version__,
    }


def _proposed(
    spark: SparkSession,
    run_dir: Path,
    ctx: OfferContext,
    campaigns: list[CampaignConfig],
    lists: dict[str, frozenset[str] | None],
    frames: dict[str, pl.DataFrame],
    groups: int,
) -> DataFrame:
    """Every kind of customer row in one frame (columns ``<kind>__<column>``), grouped by a hash of
    the customer id, each group proposing its customers' offers (`_propose_group`).
    """
    from pyspark.sql import functions as F

    parts = []
    for kind in frames:
        rows = spark.read.parquet((stages.stage_dir(run_dir, f"offer_{kind}") / "part-*.parquet").as_posix())
        parts.append(
            rows.select(
                F.pmod(F.xxhash64("customer_id"), F.lit(groups)).alias("group"),
                F.lit(kind).alias("kind"),
                *(F.col(c).alias(f"{kind}__{c}") for c in rows.columns),
            )
        )
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part, allowMissingColumns=True)
    shared = replace(
        ctx,
        customers=pl.DataFrame(),
        bought=pl.DataFrame(),
        categories=pl.DataFrame(),
        relevance=None,
        also_bought=None,
        chances=None,
    )
    schemas = {kind: frame.schema for kind, frame in frames.items()}
    payload = spark.sparkContext.broadcast((shared, campaigns, lists, schemas))
    # A lambda: pyspark reads the function's signature, which a functools.partial has none of.
    return union.groupBy("group").applyInArrow(
        lambda table: _propose_group(table, payload=payload), _SPARK_ROWS
    )


# --- inside the tasks ------------------------------------------------------------------------------


def _kind_frame(table: pa.Table, kind: str, schema: pl.Schema) -> pl.DataFrame:
    """The rows of one kind in a group's table, with the driver's columns and types."""
    import pyarrow.compute as pc

    rows = table.filter(pc.equal(table["kind"], kind)).select([f"{kind}__{c}" for c in schema.names()])
    frame = pl.from_arrow(rows.rename_columns(schema.names()))
    assert isinstance(frame, pl.DataFrame)
    fixes = [
        pl.col(name).dt.replace_time_zone(None)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    ]
    return frame.with_columns(fixes).cast(dict(schema))  # type: ignore[arg-type]


def _propose_group(table: pa.Table, *, payload: Any) -> pa.Table:
    """One group of customers: each staged campaign's eligible customers, with its offer type's
    candidate (target chosen) where it proposes one.
    """
    import pyarrow as pa

    shared, campaigns, lists, schemas = payload.value
    frames = {kind: _kind_frame(table, kind, schema).sort(POSITION) for kind, schema in schemas.items()}
    customers = frames["customers"]
    ranking, also_bought = frames.get("ranking"), frames.get("also_bought")
    ctx = replace(
        shared,
        customers=customers.drop(POSITION),
        bought=frames["bought"].drop(POSITION),
        categories=frames["categories"].drop(POSITION),
        relevance=None if ranking is None else ranking.drop(POSITION),
        also_bought=None if also_bought is None else also_bought.drop(POSITION),
    )
    out = []
    for campaign in campaigns:
        eligible = eligible_customers(ctx.customers, campaign, listed=lists[campaign.name])
        proposed = proposals(eligible, ctx, campaign)
        # a held cross-sell campaign's flags (`substitutes`); null for every other campaign
        flags = [
            (pl.col(c) if c in proposed.columns else pl.lit(None, dtype=pl.Boolean)).alias(c)
            for c in (SUBSTITUTE, ALTERNATIVE)
        ]
        out.append(
            eligible.select("customer_id")
            .join(customers.select("customer_id", POSITION), on="customer_id", how="left")
            .join(proposed.with_columns(pl.lit(True).alias("offered")), on="customer_id", how="left")
            .select(
                pl.lit(campaign.name).alias("campaign"),
                "customer_id",
                POSITION,
                pl.col("offered").fill_null(False),
                *(c for c in CANDIDATE_SCHEMA if c != "customer_id"),
                *flags,
            )
        )
    rows = pl.concat(out) if out else pl.DataFrame()
    schema = pa.schema(
        [
            ("campaign", pa.string()),
            ("customer_id", pa.string()),
            (POSITION, pa.int64()),
            ("offered", pa.bool_()),
            ("target_kind", pa.string()),
            ("target", pa.string()),
            ("priority", pa.float64()),
            ("base_value", pa.float64()),
            ("reason", pa.string()),
            (SUBSTITUTE, pa.bool_()),
            (ALTERNATIVE, pa.bool_()),
        ]
    )
    if rows.is_empty():
        return schema.empty_table()
    return rows.to_arrow().cast(schema)


# --- back on the driver ----------------------------------------------------------------------------


STAGED_SCHEMA = pl.Schema({**CANDIDATE_SCHEMA, DRAWN: pl.Boolean()})
"""A staged campaign's candidates as the planning reads them."""


class StagedRead(Mapping[str, tuple[pl.DataFrame, pl.DataFrame]]):
    """The ``candidates`` stage read one campaign at a time, when the planning reaches it:
    (eligible customer_id in the customer table's order, candidates with `guards.DRAWN`).
    """

    def __init__(self, folder: Path, campaigns: list[str]):
        self.folder, self.campaigns = folder, campaigns

    def __getitem__(self, campaign: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        if campaign not in self.campaigns:
            raise KeyError(campaign)
        if not (self.folder / stages.SUCCESS).is_file():
            raise stages.StageError(f"{self.folder}: stage output is incomplete (no {stages.SUCCESS})")
        parts = sorted(p.as_posix() for p in self.folder.glob("part-*.parquet"))
        if not parts:
            return pl.DataFrame(schema={"customer_id": pl.String}), pl.DataFrame(schema=STAGED_SCHEMA)
        rows = pl.scan_parquet(parts).filter(pl.col("campaign") == campaign).collect().sort(POSITION)
        # a held cross-sell campaign's flags (`substitutes`), its alternatives not eligible rows
        held = SUBSTITUTE in rows.columns and rows[SUBSTITUTE].null_count() < rows.height
        alternative = pl.col(ALTERNATIVE).fill_null(False) if held else pl.lit(False)
        eligible = rows.filter(~alternative).select(pl.col("customer_id").cast(pl.String))
        offered = rows.filter(pl.col("offered")).select(
            *(pl.col(name).cast(dtype) for name, dtype in CANDIDATE_SCHEMA.items()),
            pl.col(HELD).cast(pl.Boolean).alias(DRAWN),
            *((pl.col(SUBSTITUTE).fill_null(False), alternative.alias(ALTERNATIVE)) if held else ()),
        )
        return eligible, offered

    def __iter__(self) -> Iterator[str]:
        return iter(self.campaigns)

    def __len__(self) -> int:
        return len(self.campaigns)
