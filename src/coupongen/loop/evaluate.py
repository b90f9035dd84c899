"""Did the coupons work? Redemption rates, and the incremental effect against the holdout.

Holdout members were chosen for the same offer as the treated and, at random, sent nothing: during
a campaign's validity window their purchases show what the treated would have bought without the
coupon. The difference between the groups, with its 95% confidence interval, is the campaign's
incremental effect (``comparison``); set against the rewards paid out it gives the return on the
spend. Everything is read from the ledger and the purchases, never from the published files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from coupongen.errors import InputError
from coupongen.loop.comparison import CONTROL, COVER_SEPARATOR, TREATED, compare_groups

PRE_DAYS = 182
"""Days before the night whose purchases predict each member's behaviour (the covariates)."""
DEFAULT_MARGIN_RATE = 0.25
"""Gross margin on incremental spend when the caller gives none."""
MIN_COST = 1.0
"""Rewards paid out below this (one unit of the job's currency) count as no cost: no return multiple."""


# --- members and outcomes --------------------------------------------------------------------------


def campaign_members(coupons: pl.DataFrame, controls: pl.DataFrame) -> pl.DataFrame:
    """One row per member of a campaign-night: treated (an issued coupon) or control (holdout).

    Columns: campaign, as_of, offer_type, customer_id, group (treated, control), target_kind,
    target, valid_from, valid_to (dates). Holdout members take their campaign-night's validity
    window from its coupons; a campaign-night without a single coupon has no window and is left
    out. Void coupons are left out: they were withdrawn.
    """
    columns = ["campaign", "as_of", "offer_type", "customer_id", "target_kind", "target"]
    windows = coupons.group_by("campaign", "as_of").agg(pl.col("valid_from").min(), pl.col("valid_to").max())
    treated = coupons.filter(pl.col("status") == "issued").select(
        *columns, pl.lit(TREATED).alias("group"), "valid_from", "valid_to"
    )
    held = controls.join(windows, on=["campaign", "as_of"], how="inner").select(
        *columns, pl.lit(CONTROL).alias("group"), "valid_from", "valid_to"
    )
    return (
        pl.concat([treated, held])
        .with_columns(pl.col("target").cast(pl.String), pl.col("valid_from", "valid_to").str.to_date())
        .sort("campaign", "as_of", "group", "customer_id")
    )


def measure_outcomes(
    members: pl.DataFrame,
    purchases: pl.DataFrame,
    products: pl.DataFrame,
    *,
    history: pl.DataFrame | None = None,
    pre_days: int = PRE_DAYS,
) -> pl.DataFrame:
    """Each member's purchases in their own validity window (first and last day included).

    ``purchases`` are receipt lines in the transactions contract. Adds: purchased (bought anything,
    bool), spend (net: purchases minus refunds), target_spend (net spend on the target sku or
    category; null for offers on the whole basket). With ``history`` (receipt lines before the
    night), also the same facts over the ``pre_days`` days before the night, which the coupon cannot
    have changed: pre_visits (receipts with a purchase), pre_spend, pre_target_spend.
    """
    outcomes = _window_sums(members, purchases, products).drop("visits")
    if history is None:
        return outcomes
    night = pl.col("as_of").str.to_date()
    before = members.with_columns(
        (night - pl.duration(days=pre_days)).alias("valid_from"),
        (night - pl.duration(days=1)).alias("valid_to"),
    )
    pre = _window_sums(before, history, products)
    return outcomes.with_columns(
        pre["visits"].cast(pl.Float64).alias("pre_visits"),
        pre["spend"].alias("pre_spend"),
        pre["target_spend"].alias("pre_target_spend"),
    )


def _window_sums(members: pl.DataFrame, purchases: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    """``members`` with purchased, visits, spend and target_spend between valid_from and valid_to."""
    units = members.with_row_index("unit")
    if units.is_empty():
        return units.drop("unit").with_columns(
            pl.lit(False).alias("purchased"),
            pl.lit(0, dtype=pl.UInt32).alias("visits"),
            pl.lit(0.0).alias("spend"),
            pl.lit(0.0).alias("target_spend"),
        )
    first, last = units["valid_from"].min(), units["valid_to"].max()
    lines = (
        purchases.filter(pl.col("customer_id").is_not_null())
        .with_columns(pl.col("ts").dt.date().alias("day"))
        .filter(pl.col("day").is_between(first, last))
        .join(products.select("sku", "category"), on="sku", how="left")
    )
    on_target = ((pl.col("target_kind") == "sku") & (pl.col("sku") == pl.col("target"))) | (
        (pl.col("target_kind") == "category") & (pl.col("category") == pl.col("target"))
    )
    sums = (
        units.select("unit", "customer_id", "valid_from", "valid_to", "target_kind", "target")
        .join(lines, on="customer_id")
        .filter(pl.col("day").is_between(pl.col("valid_from"), pl.col("valid_to")))
        .group_by("unit")
        .agg(
            (pl.col("amount") > 0).any().alias("purchased"),
            pl.col("receipt_id").filter(pl.col("amount") > 0).n_unique().alias("visits"),
            pl.col("amount").sum().alias("spend"),
            pl.when(on_target).then(pl.col("amount")).otherwise(0.0).sum().alias("target_spend"),
        )
    )
    return (
        units.join(sums, on="unit", how="left")
        .sort("unit")
        .drop("unit")
        .with_columns(
            pl.col("purchased").fill_null(False),
            pl.col("visits").fill_null(0),
            pl.col("spend").fill_null(0.0),
            pl.when(pl.col("target_kind") == "basket")
            .then(None)
            .otherwise(pl.col("target_spend").fill_null(0.0))
            .alias("target_spend"),
        )
    )


# --- redemptions and money -------------------------------------------------------------------------


RATE_DIMENSIONS = ("campaign", "offer_type", "segment", "channel")
"""What redemption rates are broken down by."""
NOT_RECORDED = "unknown"
"""The segment or channel of a coupon the ledger recorded before it kept them."""


def redemption_rates(coupons: pl.DataFrame, uses: pl.DataFrame) -> pl.DataFrame:
    """Share of issued coupons used at least once, by campaign, offer type, segment and channel.

    ``coupons`` are the ledger's, with the customer's segment on the night and the channel the
    coupon went out by (``none`` when it reached nobody; NOT_RECORDED when the ledger has neither).
    ``uses`` is ``Ledger.redemption_counts`` (code, uses, discount). Columns: dimension, value,
    coupons, redeemed (coupons used at least once), rate, uses (accepted redemptions), discount
    (their sum).
    """
    live = (
        coupons.filter(pl.col("status") == "issued")
        .join(uses.select("code", "uses", "discount"), on="code", how="left")
        .with_columns(pl.col("segment", "channel").fill_null(NOT_RECORDED))
    )
    parts = [
        live.group_by(pl.col(dim).cast(pl.String).alias("value"))
        .agg(
            pl.len().alias("coupons"),
            (pl.col("uses").fill_null(0) > 0).sum().alias("redeemed"),
            pl.col("uses").fill_null(0).sum().alias("uses"),
            pl.col("discount").fill_null(0.0).sum().round(2).alias("discount"),
        )
        .with_columns(pl.lit(dim).alias("dimension"))
        .sort("value")
        for dim in RATE_DIMENSIONS
    ]
    schema = {"dimension": pl.String, "value": pl.String, "coupons": pl.Int64, "redeemed": pl.Int64,
              "rate": pl.Float64, "uses": pl.Int64, "discount": pl.Float64}  # fmt: skip
    if live.is_empty():
        return pl.DataFrame(schema=schema)
    return (
        pl.concat(parts)
        .with_columns((pl.col("redeemed") / pl.col("coupons")).alias("rate"))
        .select(list(schema))
        .cast(schema)  # type: ignore[arg-type]
    )


def economics(
    effects: pl.DataFrame, coupons: pl.DataFrame, uses: pl.DataFrame, *, margin_rate: float
) -> pl.DataFrame:
    """Cost of the rewards against the margin the incremental spend brought, per effects row.

    cost: discounts given on the accepted redemptions of the coupons of the campaign-nights the
    row's spend comparison covers (a pooled row leaves out those with too few buyers).
    incremental_margin: the spend difference per customer x ``margin_rate`` x treated customers,
    with the interval's ends likewise. return_multiple: incremental margin per unit of cost (1 breaks
    even, 0 brought nothing, below 0 lost sales), and at the interval's ends; null when the cost is
    below MIN_COST (nothing, or next to nothing, was paid out: any margin would be an absurd
    multiple). verdict: the spend comparison's, which says whether the margin is more than noise.
    Columns: campaign, as_of, treated_n, redemptions, cost, incremental_spend, margin_rate,
    incremental_margin, margin_low, margin_high, return_multiple, return_low, return_high, verdict.
    """
    paid = coupons.filter(pl.col("status") == "issued").join(
        uses.select("code", "uses", "discount"), on="code"
    )
    rows = []
    for r in effects.filter(pl.col("metric") == "spend").iter_rows(named=True):
        covered = [tuple(entry.split("@", 1)) for entry in str(r["covers"]).split(COVER_SEPARATOR)]
        pairs = pl.DataFrame(covered, schema={"campaign": pl.String, "as_of": pl.String}, orient="row")
        mine = paid.join(pairs, on=["campaign", "as_of"], how="semi")
        cost = round(float(mine["discount"].sum()), 2)

        def margin(value: float | None, n: int = r["treated_n"]) -> float | None:
            return None if value is None else round(value * margin_rate * n, 2)

        def multiple(value: float | None, cost: float = cost) -> float | None:
            return None if value is None or cost < MIN_COST else value / cost

        gain, low, high = margin(r["difference"]), margin(r["ci_low"]), margin(r["ci_high"])
        rows.append(
            {
                "campaign": r["campaign"],
                "as_of": r["as_of"],
                "treated_n": r["treated_n"],
                "redemptions": int(mine["uses"].sum()),
                "cost": cost,
                "incremental_spend": r["difference"],
                "margin_rate": margin_rate,
                "incremental_margin": gain,
                "margin_low": low,
                "margin_high": high,
                "return_multiple": multiple(gain),
                "return_low": multiple(low),
                "return_high": multiple(high),
                "verdict": r["verdict"],
            }
        )
    schema = {"campaign": pl.String, "as_of": pl.String, "treated_n": pl.Int64, "redemptions": pl.Int64,
              "cost": pl.Float64, "incremental_spend": pl.Float64, "margin_rate": pl.Float64,
              "incremental_margin": pl.Float64, "margin_low": pl.Float64, "margin_high": pl.Float64,
              "return_multiple": pl.Float64, "return_low": pl.Float64, "return_high": pl.Float64,
              "verdict": pl.String}  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


HEADLINE_METRIC = "spend"
"""The comparison a manager reads first: extra net spend per treated customer (the one the
incremental margin and the return are figured from)."""


def headline(effects: pl.DataFrame, money: pl.DataFrame) -> pl.DataFrame:
    """One row per campaign-night (and pooled row): its sizes, headline effect, verdict and return.

    ``effects`` and ``money`` are `compare_groups` and `economics` output. Columns: campaign,
    as_of, treated_n, control_n, difference, ci_low, ci_high (extra net spend per treated customer
    and its 95% interval), lift, verdict, complete, cost, incremental_margin, return_multiple,
    return_low, return_high; in the effects' order.
    """
    spend = effects.filter(pl.col("metric") == HEADLINE_METRIC).select(
        "campaign", "as_of", "treated_n", "control_n", "difference", "ci_low", "ci_high", "lift",
        "verdict", "complete",
    )  # fmt: skip
    paid = money.select(
        "campaign", "as_of", "cost", "incremental_margin", "return_multiple", "return_low", "return_high"
    )
    return spend.join(paid, on=["campaign", "as_of"], how="left", maintain_order="left")


# --- the whole evaluation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """The effects (EFFECT_SCHEMA), redemption rates and economics of a set of campaign-nights."""

    effects: pl.DataFrame
    rates: pl.DataFrame
    economics: pl.DataFrame
    margin_rate: float
    purchases_until: date | None

    @property
    def headline(self) -> pl.DataFrame:
        """The evaluation in one row per campaign-night (see `headline`)."""
        return headline(self.effects, self.economics)


def evaluate(
    coupons: pl.DataFrame,
    controls: pl.DataFrame,
    uses: pl.DataFrame,
    purchases: pl.DataFrame,
    products: pl.DataFrame,
    *,
    history: pl.DataFrame | None = None,
    margin_rate: float = DEFAULT_MARGIN_RATE,
    adjust: bool = True,
) -> Evaluation:
    """Evaluate the campaign-nights of ``coupons`` and ``controls`` (ledger frames) on ``purchases``.

    ``history`` holds the purchases before the nights, for the CUPED adjustment (``adjust``);
    without it the groups are compared unadjusted. InputError when there is nothing to evaluate,
    or the purchases end before any coupon's validity window starts (the evaluation needs the
    purchases made after the night).
    """
    if not 0 <= margin_rate <= 1:
        raise InputError(f"margin rate must be between 0 and 1, got {margin_rate}")
    members = campaign_members(coupons, controls)
    if members.is_empty():
        raise InputError("no coupons to evaluate: the ledger holds none for this selection")
    last_day = purchases["ts"].max()
    until = last_day.date() if isinstance(last_day, datetime) else None
    starts = members["valid_from"].min()
    assert isinstance(starts, date)
    if until is None or until < starts:
        seen = "hold no purchase" if until is None else f"end on {until}"
        raise InputError(
            f"the purchases {seen}, before the coupons' validity starts on {starts}: nothing to "
            "measure yet (give the purchases made since the night with --purchases)"
        )
    outcomes = measure_outcomes(members, purchases, products, history=history if adjust else None)
    effects = compare_groups(outcomes, purchases_until=until, adjust=adjust)
    return Evaluation(
        effects=effects,
        rates=redemption_rates(coupons, uses),
        economics=economics(effects, coupons, uses, margin_rate=margin_rate),
        margin_rate=margin_rate,
        purchases_until=until,
    )
