"""Guards and money: frequency and per-customer caps, a coupon's expected cost, budgets, holdout.

A campaign's budget is spent on expected cost (redemption rate times the reward's value), highest
priority first (or highest expected value, see ``value``); a lifetime budget caps what is left for
tonight after earlier nights' cost. The holdout is a salted, deterministic share of candidates
that is recorded but sent nothing, so that the campaign's effect can be measured against it.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import polars as pl

from coupongen.config import CampaignConfig, amount
from coupongen.offers.money import per_offer_reward


def frequency_capped(
    candidates: pl.DataFrame, campaign: CampaignConfig, recent: pl.DataFrame | None, *, as_of: date
) -> pl.DataFrame:
    """The candidates who had no offer of the campaign's type within its ``frequency_cap_days``.

    ``recent`` holds earlier nights' coupons and holdout entries (customer_id, offer_type, as_of).
    """
    if recent is None or campaign.frequency_cap_days <= 0:
        return candidates
    since = as_of - timedelta(days=campaign.frequency_cap_days)
    seen = recent.filter(
        (pl.col("offer_type") == campaign.type) & (pl.col("as_of") >= since) & (pl.col("as_of") < as_of)
    ).select("customer_id")
    return candidates.join(seen, on="customer_id", how="anti")


def expected_cost(
    campaign: CampaignConfig, base_value: pl.Expr, point_value: float, points_per_currency: float = 0.01
) -> pl.Expr:
    """Expected cost of one coupon: redemption rate x the reward's money value (`reward_cost`)."""
    value = reward_cost(campaign, base_value, point_value, points_per_currency)
    return (value * campaign.expected_redemption_rate).round(4)


def reward_cost(
    campaign: CampaignConfig, base_value: pl.Expr, point_value: float, points_per_currency: float = 0.01
) -> pl.Expr:
    """What one coupon costs when it is used: the reward's money value.

    Points are worth ``point_value`` each; a multiplier costs the extra points the base value earns
    at ``points_per_currency``. A reward relative to the target's price is priced per offer. Item
    rewards take the base value (the target's price, or the spend it stands for) as one item:
    ``free_product`` and ``buy_x_get_y`` give ``get`` of them at ``value`` percent off,
    ``cheapest_free`` the share ``get / buy`` of them (the cheapest of the items is worth at most
    their average).
    """
    reward = campaign.reward
    given = per_offer_reward(campaign, base_value, point_value)
    if reward.type in ("free_product", "buy_x_get_y"):
        return base_value * (reward.get or 1) * given / 100
    if reward.type == "cheapest_free":
        return base_value * (reward.get or 1) / (reward.buy or 1) * given / 100
    if reward.type == "percent":
        return base_value * given / 100
    if reward.type == "amount":
        return given
    if reward.type == "points":
        return given * point_value
    return base_value * points_per_currency * (given - 1) * point_value


def in_holdout(customer_ids: pl.Series, *, salt: str, share: float) -> pl.Series:
    """True for the deterministic ``share`` of customers whose salted hash falls below it.

    A keyed BLAKE2b hash (stable across versions and machines, unlike in-memory hashes) of the salt
    and customer id, read as a fraction of 2**64.
    """
    scale = float(2**64)
    # The keyed hash's state after the key, copied for each id: the key is not hashed again.
    keyed = hashlib.blake2b(digest_size=8, key=salt.encode()[:64])

    def drawn(cid: str) -> bool:
        h = keyed.copy()
        h.update(cid.encode())
        return int.from_bytes(h.digest(), "big") / scale < share

    values = [drawn(cid) for cid in customer_ids.to_list()]
    return pl.Series(customer_ids.name, values, dtype=pl.Boolean)


DRAWN = "holdout"
"""A candidates column holding the holdout flag `in_holdout` gave (salt and share as below), when
an engine drew it with the candidates: `within_budget` takes it instead of drawing again."""


def within_budget(candidates: pl.DataFrame, budget: float | None, *, salt: str, share: float) -> pl.DataFrame:
    """Candidates by descending priority down to where the budget runs out, each marked ``held``.

    The holdout is drawn over all candidates first; the budget is then spent on the coupons that
    will really be sent (held-out customers cost nothing), and the holdout is cut at the same place
    in the priority order, the first coupon the budget cannot pay for, so treated and control come
    from the same customers; a budget that pays for every coupon keeps every candidate, one that
    pays for none keeps no new holdout place either (nothing is sent to compare it with). Rows
    recorded by an earlier run of the night (``recorded_held`` not null) are always kept and their
    coupons count against the budget before any new one. A `DRAWN` column, when there is one, is
    the holdout.
    """
    ordered = _marked(candidates, salt=salt, share=share)
    if budget is None:
        return ordered
    last, over = _cut(ordered, budget)
    was = pl.col("recorded_held").is_not_null() if "recorded_held" in ordered.columns else pl.lit(False)
    if last is None and (over is not None or budget <= 0):
        # a budget that pays for no new coupon sends nothing to compare a new holdout place with
        return ordered.filter(was)
    if over is None:
        return ordered
    return ordered.filter(was | (pl.int_range(pl.len()) < over))


def budget_edge(candidates: pl.DataFrame, budget: float, *, salt: str, share: float) -> float | None:
    """The priority of the first new coupon `within_budget` cannot pay for; None when it pays for
    every one.

    Costs are never negative, so the budget is spent before that coupon and never again after it:
    candidates added with a lower priority than the edge change nothing `within_budget` keeps,
    and candidates added anywhere can only move the edge up (None when a cost is negative).
    """
    if candidates.is_empty() or bool((candidates["expected_cost"] < 0).any()):
        return None
    ordered = _marked(candidates, salt=salt, share=share)
    _, over = _cut(ordered, budget)
    return None if over is None else float(ordered["priority"][over])


def _marked(candidates: pl.DataFrame, *, salt: str, share: float) -> pl.DataFrame:
    """Candidates by descending priority (ties: customer_id), with ``held``: the salted holdout
    draw (or the engine's, a `DRAWN` column), or the group an earlier run of the night recorded
    (``recorded_held``).
    """
    ordered = candidates.sort(["priority", "customer_id"], descending=[True, False])
    if DRAWN in ordered.columns:  # drawn beforehand by the same hash (an engine's candidates stage)
        drawn = ordered[DRAWN]
    else:
        drawn = in_holdout(ordered["customer_id"], salt=salt, share=share)
    recorded = ordered["recorded_held"] if "recorded_held" in ordered.columns else None
    held = drawn if recorded is None else recorded.fill_null(drawn)
    return ordered.with_columns(held.alias("held"))


def _cut(ordered: pl.DataFrame, budget: float) -> tuple[int | None, int | None]:
    """In `_marked` rows: the index of the last new coupon the budget pays for, and of the first it
    cannot (None when there is none).

    What an earlier run of the night recorded stays, wherever it now falls in the order, and its
    coupons are paid for first: only what is left of the budget goes to new coupons.
    """
    was = pl.col("recorded_held").is_not_null() if "recorded_held" in ordered.columns else pl.lit(False)
    already = float(ordered.filter(was & ~pl.col("held"))["expected_cost"].sum())
    spent = pl.when(pl.col("held") | was).then(0.0).otherwise(pl.col("expected_cost")).cum_sum()
    new = ~pl.col("held") & ~was
    index = pl.int_range(pl.len())
    last, over = ordered.select(
        index.filter(new & (spent <= budget - already)).max().alias("last"),
        index.filter(new & (spent > budget - already)).min().alias("over"),
    ).row(0)
    return last, over


def per_customer_capped(
    candidates: pl.DataFrame, campaign: CampaignConfig, reach: pl.DataFrame | None, *, as_of: date
) -> pl.DataFrame:
    """The candidates under the campaign's ``per_customer`` cap: fewer than ``max`` offers of this
    campaign (coupons and holdout places) on the nights of the last ``days`` days before ``as_of``.

    ``reach`` holds earlier nights' (customer_id, campaign, as_of), as ``Ledger.campaign_reach``.
    """
    cap = campaign.per_customer
    if cap is None or reach is None:
        return candidates
    since = as_of - timedelta(days=cap.days - 1)
    full = (
        reach.filter(
            (pl.col("campaign") == campaign.name) & (pl.col("as_of") >= since) & (pl.col("as_of") < as_of)
        )
        .group_by("customer_id")
        .len("offers")
        .filter(pl.col("offers") >= cap.max)
        .select("customer_id")
    )
    return candidates.join(full, on="customer_id", how="anti")


def night_budget(campaign: CampaignConfig, spent_before: float) -> float | None:
    """What the campaign may spend tonight: its nightly budget, within what its lifetime budget has
    left after ``spent_before`` (earlier nights' cost); None when neither limits it.
    """
    limits = [amount(campaign.budget, "budget")] if campaign.budget is not None else []
    if campaign.lifetime_budget is not None:
        limits.append(max(campaign.lifetime_budget - spent_before, 0.0))
    return min(limits) if limits else None
