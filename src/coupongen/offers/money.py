"""Money settings resolved against tonight's data: basket and spend figures, and the resolved values.

A campaign's ``min_basket``, ``eligibility.min_spend``, ``budget`` and amount or points reward may
be a rule relative to the data (see ``config.money``). Tonight's baskets (receipt totals in the
look-back window) and customers' spend give each rule a number; a ``target_price`` reward stays a
rule and is priced per offer (``reward_value``). The resolved values are a table the preview, the
CLI and the report show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl

from coupongen.config import CampaignConfig, Job, MoneyRule

MONEY_COLUMNS = {"campaign": pl.String, "setting": pl.String, "rule": pl.String, "value": pl.Float64}


@dataclass(frozen=True)
class DataFigures:
    """What relative money settings and the preflight measure against.

    ``baskets``: total of each receipt with a positive total in the look-back window; ``spend``:
    each customer's spend in it (``monetary``); ``first``/``last``: the oldest and newest kept
    transaction (None without any).
    """

    baskets: pl.Series
    spend: pl.Series
    first: datetime | None
    last: datetime | None

    def basket_percentile(self, q: float) -> float:
        """The basket total that ``q`` percent of baskets stay at or under (0 without baskets)."""
        return _quantile(self.baskets, q / 100)

    def spend_percentile(self, q: float) -> float:
        """The spend that ``q`` percent of customers stay at or under (0 without customers)."""
        return _quantile(self.spend, q / 100)

    def share_reaching(self, total: float) -> float | None:
        """The share of baskets whose total is at least ``total`` (None without baskets)."""
        if self.baskets.is_empty():
            return None
        return float((self.baskets >= total).mean())  # type: ignore[arg-type]


def _quantile(values: pl.Series, q: float) -> float:
    if values.is_empty():
        return 0.0
    return float(values.quantile(q, interpolation="linear") or 0.0)


def data_figures(
    transactions: pl.DataFrame, customers: pl.DataFrame, *, as_of: date, lookback_days: int
) -> DataFigures:
    """Basket totals and customer spend in the look-back window before ``as_of``, and the date range.

    ``transactions`` are the kept lines (receipt_id, ts, amount); ``customers`` the segmented
    customers (monetary).
    """
    start = datetime.combine(as_of - timedelta(days=lookback_days), datetime.min.time())
    end = datetime.combine(as_of, datetime.min.time())
    # Lazy, so that only the window's receipt ids and amounts are read, not a copy of its lines.
    window = transactions.lazy().filter(pl.col("ts").is_between(start, end, closed="left"))
    baskets = window.group_by("receipt_id").agg(pl.col("amount").sum()).collect()["amount"]
    return DataFigures(
        baskets=baskets.filter(baskets > 0).sort(),
        spend=customers["monetary"].filter(customers["monetary"] > 0).sort()
        if "monetary" in customers.columns
        else pl.Series("monetary", [], dtype=pl.Float64),
        first=transactions["ts"].min() if transactions.height else None,  # type: ignore[arg-type]
        last=transactions["ts"].max() if transactions.height else None,  # type: ignore[arg-type]
    )


def money_value(rule: MoneyRule, figures: DataFigures) -> float:
    """A whole-night rule's value in the job's currency, to the cent."""
    if rule.rule == "median_basket":
        value = rule.factor * figures.basket_percentile(50)
    elif rule.rule == "basket_percentile":
        value = figures.basket_percentile(rule.factor)
    elif rule.rule == "spend_percentile":
        value = figures.spend_percentile(rule.factor)
    else:
        raise ValueError("target_price is priced per offer, not per night")
    return round(value, 2)


def shown_amount(value: float) -> float:
    """A threshold customers read, rounded down to two significant figures: a basket of 16.01
    reads 16, 7.37 reads 7.30, 1,874.87 reads 1,800 (never above what the rule gave).
    """
    if value <= 0:
        return value
    step = 10.0 ** (math.floor(math.log10(value)) - 1)
    return round(math.floor(value / step + 1e-9) * step, 2)


def resolve_money(job: Job, figures: DataFigures) -> tuple[Job, pl.DataFrame]:
    """The job with every whole-night money rule replaced by its value, and the table of them.

    Table columns: campaign, setting, rule (in words), value (None for a per-offer rule). Points
    rewards are converted at the job's ``point_value`` and rounded to whole points (at least 1);
    ``min_basket``, the threshold the customer reads, is `shown_amount`.
    """
    rows: list[dict[str, object]] = []
    campaigns = []
    for c in job.campaigns:

        def resolved(
            value: object,
            setting: str,
            points: bool = False,
            shown: bool = False,
            campaign: str = c.name,
            bounds: str = "",
        ) -> object:
            if not isinstance(value, MoneyRule):
                return value
            if value.rule == "target_price":
                rule = f"{value.describe()}, {bounds}" if bounds else value.describe()
                rows.append({"campaign": campaign, "setting": setting, "rule": rule, "value": None})
                return value
            money = shown_amount(money_value(value, figures)) if shown else money_value(value, figures)
            out = max(round(money / job.config.point_value), 1) if points else money
            rows.append(
                {"campaign": campaign, "setting": setting, "rule": value.describe(), "value": float(out)}
            )
            return float(out)

        reward = c.reward.model_copy(
            update={
                "value": resolved(
                    c.reward.value,
                    "reward",
                    points=c.reward.type == "points",
                    bounds=c.reward.bounds_text(),
                )
            }
        )
        eligibility = c.eligibility.model_copy(
            update={"min_spend": resolved(c.eligibility.min_spend, "eligibility.min_spend")}
        )
        campaigns.append(
            c.model_copy(
                update={
                    "reward": reward,
                    "eligibility": eligibility,
                    "min_basket": resolved(c.min_basket, "min_basket", shown=True),
                    "budget": resolved(c.budget, "budget"),
                }
            )
        )
    table = pl.DataFrame(rows, schema=MONEY_COLUMNS) if rows else pl.DataFrame(schema=MONEY_COLUMNS)
    resolved_job = Job(
        job.path,
        job.config,
        tuple(campaigns),
        customer_lists=job.customer_lists,
        campaign_files=job.campaign_files,
    )
    return resolved_job, table


def per_offer_reward(campaign: CampaignConfig, base_value: pl.Expr, point_value: float) -> pl.Expr:
    """The reward value of each offer: the campaign's number, or its share of the target's price.

    A ``target_price`` amount is rounded to the cent, a points reward to whole points (at least 1),
    then held within the reward's ``min_value`` and ``max_value``; an amount never exceeds the
    target's price (a floor above it makes the product free, no more).
    """
    reward = campaign.reward
    value = reward.value
    if not isinstance(value, MoneyRule):
        return pl.lit(float(value))
    price = base_value.fill_null(0.0)
    given = (
        pl.max_horizontal((price * value.factor / point_value).round(0), pl.lit(1.0))
        if reward.type == "points"
        else (price * value.factor).round(2)
    )
    if reward.min_value is not None:
        given = pl.max_horizontal(given, pl.lit(reward.min_value))
    if reward.max_value is not None:
        given = pl.min_horizontal(given, pl.lit(reward.max_value))
    if reward.type == "amount" and reward.min_value is not None:
        given = pl.min_horizontal(given, price.round(2))
    return given.round(2) if reward.type == "amount" else given
