"""The rows a plan's offers and holdout places are recorded and issued from, one per customer.

Each row is the offer's key, the campaign's reward, code and validity as of the run date, the
target chosen for the customer, its expected cost and value, and the reason in words. A row
missing a value the ledger requires is set aside (`split_incomplete`) instead of failing the night.
"""

from __future__ import annotations

import polars as pl

from coupongen.config import CampaignConfig, amount
from coupongen.offers.candidates import OfferContext
from coupongen.offers.money import per_offer_reward

OFFER_COLUMNS: dict[str, pl.DataType] = {
    "offer_key": pl.String(),
    "kind": pl.String(),
    "symbology": pl.String(),
    "as_of": pl.String(),
    "campaign": pl.String(),
    "offer_type": pl.String(),
    "customer_id": pl.String(),
    "card_number": pl.String(),
    "target_kind": pl.String(),
    "target": pl.String(),
    "reward_type": pl.String(),
    "reward_value": pl.Float64(),
    "reward_buy": pl.Int64(),
    "reward_get": pl.Int64(),
    "min_basket": pl.Float64(),
    "valid_from": pl.String(),
    "valid_to": pl.String(),
    "max_uses": pl.Int64(),
    "expected_cost": pl.Float64(),
    "chance": pl.Float64(),
    "expected_value": pl.Float64(),
    "reason": pl.String(),
}
"""The offer rows' columns; chance and expected_value as `value.with_values` gives them."""

REQUIRED_COLUMNS = (
    "offer_key",
    "kind",
    "symbology",
    "as_of",
    "campaign",
    "offer_type",
    "customer_id",
    "target_kind",
    "reward_type",
    "reward_value",
    "min_basket",
    "valid_from",
    "valid_to",
    "max_uses",
    "expected_cost",
    "reason",
)
"""The offer columns the ledger records a personal coupon or a holdout place only with (NOT NULL
in its coupons and controls tables); a target is required too, unless the offer is on the basket."""

SET_ASIDE_SCHEMA: dict[str, pl.DataType] = {
    "campaign": pl.String(),
    "offer_type": pl.String(),
    "customer_id": pl.String(),
    "target_kind": pl.String(),
    "target": pl.String(),
    "problem": pl.String(),
}
"""The columns of the offers `split_incomplete` sets aside: whose and on what, and what they lack."""


def concat_or_empty(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The non-empty frames one after the other; an empty frame of `OFFER_COLUMNS` without any."""
    frames = [f for f in frames if not f.is_empty()]
    return pl.concat(frames) if frames else pl.DataFrame(schema=OFFER_COLUMNS)


def split_incomplete(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The offer ``rows`` the ledger can record, and those it cannot: (complete, set aside).

    A row is complete when it has every column of `REQUIRED_COLUMNS`, and a target unless its
    target_kind is ``basket``. The complete rows keep their columns and order; the others have the
    columns of `SET_ASIDE_SCHEMA`, where ``problem`` names each missing value in the offer columns'
    order ("no reason", "no target"; several joined by "; ").
    """
    checked = [c for c in OFFER_COLUMNS if c in REQUIRED_COLUMNS or c == "target"]
    missing = {c: pl.col(c).is_null() for c in checked}
    missing["target"] = missing["target"] & pl.col("target_kind").ne_missing("basket")
    incomplete = pl.any_horizontal(missing.values())
    problem = pl.concat_str(
        [pl.when(absent).then(pl.lit(f"no {c}")) for c, absent in missing.items()],
        separator="; ",
        ignore_nulls=True,
    )
    who = [c for c in SET_ASIDE_SCHEMA if c != "problem"]
    set_aside = rows.filter(incomplete).select(*who, problem.alias("problem"))
    return rows.filter(~incomplete), set_aside


def offer_rows(
    chosen: pl.DataFrame, campaign: CampaignConfig, ctx: OfferContext, card: pl.DataFrame
) -> pl.DataFrame:
    """The campaign's chosen candidates (with expected_cost and `value.VALUE_COLUMNS`) as offer
    rows, with the customers' card numbers from ``card``; sorted by customer_id.
    """
    as_of = ctx.as_of
    valid_from, valid_to = campaign.validity(as_of)
    # The chosen customers' cards only: a join would hash every customer's card number.
    theirs = card.filter(pl.col("customer_id").is_in(chosen["customer_id"].implode()))
    return (
        chosen.join(theirs, on="customer_id", how="left")
        .select(
            pl.format("{}:{}:{}:0", pl.lit(campaign.name), pl.lit(as_of.isoformat()), "customer_id").alias(
                "offer_key"
            ),
            pl.lit("referral" if campaign.type == "referral" else "personal").alias("kind"),
            pl.lit(campaign.code.symbology).alias("symbology"),
            pl.lit(as_of.isoformat()).alias("as_of"),
            pl.lit(campaign.name).alias("campaign"),
            pl.lit(campaign.type).alias("offer_type"),
            "customer_id",
            "card_number",
            "target_kind",
            "target",
            pl.lit(campaign.reward.type).alias("reward_type"),
            per_offer_reward(campaign, pl.col("base_value"), ctx.point_value).alias("reward_value"),
            pl.lit(campaign.reward.buy, dtype=pl.Int64).alias("reward_buy"),
            pl.lit(campaign.reward.get, dtype=pl.Int64).alias("reward_get"),
            pl.lit(amount(campaign.min_basket, "min_basket")).alias("min_basket"),
            pl.lit(valid_from.isoformat()).alias("valid_from"),
            pl.lit(valid_to.isoformat()).alias("valid_to"),
            pl.lit(campaign.max_uses).cast(pl.Int64).alias("max_uses"),
            "expected_cost",
            "chance",
            "expected_value",
            "reason",
        )
        .cast(OFFER_COLUMNS)  # type: ignore[arg-type]
        .sort("customer_id")
    )
