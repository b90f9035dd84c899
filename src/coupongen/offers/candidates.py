"""The offer types: for each, which eligible customers get a candidate offer, on what, and why.

Each offer type proposes at most one candidate per eligible customer, with a target, a priority
and a reason in words the CRM team can read. Guards, budgets and holdout come later (``planning``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl

from coupongen.analysis import relevance
from coupongen.analysis.item_models import ModelSpec
from coupongen.config import CampaignConfig
from coupongen.offers.eligibility import restricted_categories
from coupongen.offers.substitutes import ALTERNATIVE, SUBSTITUTE, with_alternatives, with_substitutes

CANDIDATE_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "target_kind": pl.String(),
    "target": pl.String(),
    "priority": pl.Float64(),
    "base_value": pl.Float64(),
    "reason": pl.String(),
}


@dataclass(frozen=True)
class OfferContext:
    """What the offer types look at, all as of the run date.

    customers: segmented features joined with the customer master (one row per customer with
    purchases: customer_id, card_number, rfm_segment, lifecycle, nps_class, recency_days, frequency,
    monetary, avg_basket, ...). bought: customer_products (customer_id, sku, receipts, in_lookback...).
    categories: category_spend (customer_id, category, spend, share). rules: mined sku rules.
    relevance: the cross-sell ranking (`relevance.recommend`) when computed beforehand; None lets
    the cross-sell offer type compute it for its eligible customers. also_bought: purchases kept
    out of the analysis for their size (customer_id, sku, ts; see
    `inputs.quarantine.oversized_purchases`), which still count as bought. chances: the chance
    tables measured on the history (`chances.estimate_chances`; None: no chance is known);
    calibrated: the relevance scores are chances (the learned ranking's); margin_rate: the margin
    on sales of products without a cost. The last three give each offer its expected value.
    model: the collaborative model the cross-sell offer type ranks with when it computes the
    ranking itself (a campaign's own target set: `relevance.model_spec`; None: EASE, no hold).
    max_substitute_share: at most this share of the coupons a cross-sell campaign's budget lets
    out are substitutes of what the customer buys (``substitutes``; None: no hold in the cut).
    """

    customers: pl.DataFrame
    bought: pl.DataFrame
    categories: pl.DataFrame
    products: pl.DataFrame
    rules: pl.DataFrame
    as_of: date
    lookback_days: int
    point_value: float = 1.0
    points_per_currency: float = 0.01
    relevance: pl.DataFrame | None = None
    also_bought: pl.DataFrame | None = None
    chances: pl.DataFrame | None = None
    calibrated: bool = False
    margin_rate: float = 0.25
    model: ModelSpec | None = None
    max_substitute_share: float | None = None

    @property
    def window_days(self) -> int:
        """The days the reasons speak of: the look-back window, or the history when it is shorter
        (a retailer with four weeks of data has not seen "3x in 365 days").
        """
        if "first_day" not in self.bought.columns or self.bought.is_empty():
            return self.lookback_days
        first = self.bought["first_day"].min()
        if isinstance(first, datetime):
            first = first.date()
        if not isinstance(first, date):
            return self.lookback_days
        return max(1, min(self.lookback_days, (self.as_of - first).days))

    def bought_recently(self) -> pl.DataFrame:
        """(customer_id, sku) of every purchase in the look-back window, oversized lines included."""
        return pl.concat(self.bought_recently_parts()).unique().collect()

    def bought_recently_parts(self) -> list[pl.LazyFrame]:
        """The (customer_id, sku) of `bought_recently` in parts that may overlap: the facts, and
        the oversized lines when there are any; lazy, so that a caller reading a few of them does
        not copy them all.
        """
        recent = self.bought.lazy().filter(pl.col("in_lookback")).select("customer_id", "sku")
        if self.also_bought is None or self.also_bought.is_empty():
            return [recent]
        since = self.as_of - timedelta(days=self.lookback_days)
        extra = (
            self.also_bought.lazy()
            .filter(
                pl.col("ts").is_between(
                    pl.lit(since).cast(pl.Datetime("us")),
                    pl.lit(self.as_of).cast(pl.Datetime("us")),
                    closed="left",
                )
            )
            .select("customer_id", "sku")
        )
        return [recent, extra]


def _names(products: pl.DataFrame) -> pl.DataFrame:
    return products.select("sku", "name", "price", "promo_allowed")


def cross_sell_candidates(
    eligible: pl.DataFrame, ctx: OfferContext, campaign: CampaignConfig, *, alternatives: bool = False
) -> pl.DataFrame:
    """A product the customer did not buy in the look-back window and is likely to buy next.

    The ranking is `relevance.recommend`'s (a collaborative model over every customer's
    purchases, then the association rules their purchases fire, then the most-bought products):
    ``ctx.relevance`` when precomputed, else computed here for the eligible customers. The
    customer's best-ranked promotable product not bought in the window wins; priority is its
    relevance score. The reason names the customer's purchase the choice rests on and, where an
    association rule links the two, the rule's lift and confidence. With ``alternatives`` every
    candidate is flagged `substitutes.SUBSTITUTE`, and a customer whose best is a substitute also
    gets their best product of a new type, flagged `substitutes.ALTERNATIVE`, for the budget's
    cut to choose between (`substitutes.held_for_budget`).
    """
    if eligible.is_empty():
        return pl.DataFrame(schema=CANDIDATE_SCHEMA)
    ranked = ctx.relevance
    if ranked is None:
        ranked = relevance.recommend(
            ctx.bought, ctx.products, rules=ctx.rules, customers=eligible["customer_id"], spec=ctx.model
        )
    recent = ctx.bought.lazy().filter(pl.col("in_lookback")).select("customer_id", "sku", "receipts")
    names = _names(ctx.products)
    unbought = ranked.join(eligible.select("customer_id"), on="customer_id").rename({"sku": "target"})
    # Each part of what was bought is left out on its own: no need to deduplicate their union. The
    # ranked pairs a customer bought are found first (a lookup in the ranking, not in every
    # purchase), so that only those few are held to leave them out.
    for part in ctx.bought_recently_parts():
        had = (
            part.select("customer_id", pl.col("sku").alias("target"))
            .join(unbought.lazy().select("customer_id", "target"), on=["customer_id", "target"], how="semi")
            .collect()
        )
        unbought = unbought.join(had, on=["customer_id", "target"], how="anti")
    listed = unbought.join(names.rename({"sku": "target", "name": "target_name"}), on="target").filter(
        pl.col("promo_allowed")
    )
    if alternatives:
        listed = with_alternatives(with_substitutes(listed, ctx))
    else:
        listed = (
            listed.sort("customer_id", "rank", "target").group_by("customer_id", maintain_order=True).first()
        )
    best = listed.join(
        names.select(pl.col("sku").alias("anchor"), pl.col("name").alias("anchor_name")),
        on="anchor",
        how="left",
    )
    # The anchors' purchase counts, looked up the same way: the pairs first, then the join.
    counts = pl.col("receipts").alias("anchor_receipts")
    anchors = (
        recent.select("customer_id", pl.col("sku").alias("anchor"), counts)
        .join(best.lazy().select("customer_id", "anchor"), on=["customer_id", "anchor"], how="semi")
        .collect()
    )
    best = best.join(anchors, on=["customer_id", "anchor"], how="left")
    days = pl.lit(ctx.window_days)
    habit = pl.format("bought {} {}x in {} days; ", "anchor_name", "anchor_receipts", days)
    rule = pl.format(
        "{} -> {}, lift {}, confidence {}%",
        "anchor_name",
        "target_name",
        pl.col("lift").round(1),
        (pl.col("confidence") * 100).round(0).cast(pl.Int64),
    )
    peers = pl.format("customers who buy {} also buy {}", "anchor_name", "target_name")
    if ctx.calibrated:
        # the learned ranking's score is a chance, not a share of customers
        popular = pl.format(
            "the learned ranking gives {} a {}% chance of a first purchase by this customer",
            "target_name",
            (pl.col("score") * 100).round(1),
        )
    else:
        popular = pl.format(
            "{} is one of the most bought products ({}% of customers in {} days)",
            "target_name",
            (pl.col("score") * 100).round(0).cast(pl.Int64),
            days,
        )
    reason = (
        pl.when(pl.col("anchor").is_null())
        .then(popular)
        .when(pl.col("lift").is_not_null())
        .then(habit + rule)
        .otherwise(habit + peers)
    )
    flags = (SUBSTITUTE, ALTERNATIVE) if alternatives else ()
    return best.select(
        "customer_id",
        pl.lit("sku").alias("target_kind"),
        "target",
        pl.col("score").alias("priority"),
        pl.col("price").fill_null(0.0).alias("base_value"),
        reason.alias("reason"),
        *flags,
    ).cast(CANDIDATE_SCHEMA)  # type: ignore[arg-type]


def win_back_candidates(eligible: pl.DataFrame, ctx: OfferContext, campaign: CampaignConfig) -> pl.DataFrame:
    """The customer's favourite promotable category, for customers slipping away.

    Priority is the customer's spend in the window, so the budget goes to the most valuable first;
    the reward's base value is the customer's average spend per visit in that category.
    """
    banned = restricted_categories(ctx.products)
    # The eligible customers' categories only, before sorting: not every customer's.
    fav = (
        ctx.categories.lazy()
        .join(eligible.lazy().select("customer_id"), on="customer_id", how="semi")
        .filter(~pl.col("category").is_in(banned.implode()))
        .sort(["customer_id", "spend", "category"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .first()
        .collect()
    )
    joined = eligible.join(fav, on="customer_id")
    # the category's display name where the products carry one (the night's plan gives them)
    shown = (
        ctx.products.select("category", "category_name").unique("category")
        if "category_name" in ctx.products.columns
        else pl.DataFrame(schema={"category": pl.String, "category_name": pl.String})
    )
    joined = joined.join(shown, on="category", how="left").with_columns(
        pl.coalesce("category_name", "category").alias("category_name")
    )
    return joined.select(
        "customer_id",
        pl.lit("category").alias("target_kind"),
        pl.col("category").alias("target"),
        pl.col("monetary").alias("priority"),
        (pl.col("avg_basket").fill_null(0.0) * pl.col("share")).round(2).alias("base_value"),
        pl.format(
            "last visit {} ago ({}); favourite category {} ({}% of spend)",
            _days("recency_days"),
            "lifecycle",
            "category_name",
            (pl.col("share") * 100).round(0).cast(pl.Int64),
        ).alias("reason"),
    ).cast(CANDIDATE_SCHEMA)  # type: ignore[arg-type]


def _days(column: str) -> pl.Expr:
    """A count of days in words: "1 day", "12 days"."""
    n = pl.col(column).cast(pl.Int64)
    return pl.format("{} {}", n, pl.when(n == 1).then(pl.lit("day")).otherwise(pl.lit("days")))


def _basket_offer(eligible: pl.DataFrame, priority: pl.Expr, reason: pl.Expr) -> pl.DataFrame:
    """Candidates whose reward applies to the whole basket; base value is the average basket."""
    return eligible.select(
        "customer_id",
        pl.lit("basket").alias("target_kind"),
        pl.lit(None, dtype=pl.String).alias("target"),
        priority.cast(pl.Float64).alias("priority"),
        pl.col("avg_basket").fill_null(0.0).alias("base_value"),
        reason.alias("reason"),
    ).cast(CANDIDATE_SCHEMA)  # type: ignore[arg-type]


def second_purchase_candidates(
    eligible: pl.DataFrame, ctx: OfferContext, campaign: CampaignConfig
) -> pl.DataFrame:
    """New customers with exactly one visit: a reason to come back a second time."""
    firsts = eligible.filter(pl.col("visits") == 1)
    return _basket_offer(
        firsts,
        pl.col("monetary"),
        pl.format("first visit {} ago, spent {}", _days("recency_days"), pl.col("monetary").round(2)),
    )


def vip_reward_candidates(
    eligible: pl.DataFrame, ctx: OfferContext, campaign: CampaignConfig
) -> pl.DataFrame:
    """The best customers (as the campaign's eligibility defines them): a thank-you reward."""
    return _basket_offer(
        eligible,
        pl.col("monetary"),
        pl.format(
            "{} customer: {} visits, {} spent in {} days",
            "rfm_segment",
            "frequency",
            pl.col("monetary").round(2),
            pl.lit(ctx.window_days),
        ),
    )


def service_recovery_candidates(
    eligible: pl.DataFrame, ctx: OfferContext, campaign: CampaignConfig
) -> pl.DataFrame:
    """NPS detractors: an apology before any further sales pitch."""
    unhappy = eligible.filter(pl.col("nps_class") == "detractor")
    return _basket_offer(
        unhappy,
        pl.col("monetary"),
        pl.format("answered {} of 10 to 'would you recommend us' (detractor)", "nps_score"),
    )


def referral_candidates(eligible: pl.DataFrame, ctx: OfferContext, campaign: CampaignConfig) -> pl.DataFrame:
    """NPS promoters: a shareable code that rewards both the friend and the referrer."""
    fans = eligible.filter(pl.col("nps_class") == "promoter")
    return _basket_offer(
        fans,
        pl.col("monetary"),
        pl.format("answered {} of 10 to 'would you recommend us' (promoter)", "nps_score"),
    )


def birthday_candidates(eligible: pl.DataFrame, ctx: OfferContext, campaign: CampaignConfig) -> pl.DataFrame:
    """Customers whose birthday falls within the coupon's validity window."""
    start, _ = campaign.validity(ctx.as_of)
    days = [start + timedelta(days=i) for i in range(campaign.valid_days)]
    # month-day keys; a 29 February birthday is celebrated on 28 February in common years
    keys = {d.strftime("%m-%d") for d in days}
    if any(d.month == 2 and d.day == 28 for d in days) and not any(
        d.month == 2 and d.day == 29 for d in days
    ):
        keys.add("02-29")
    born = eligible.filter(pl.col("birth_date").is_not_null())
    celebrating = born.filter(pl.col("birth_date").dt.strftime("%m-%d").is_in(sorted(keys)))
    return _basket_offer(
        celebrating,
        pl.col("monetary"),
        pl.format("birthday on {}", pl.col("birth_date").dt.strftime("%d %B")),
    )


def replenishment_candidates(
    eligible: pl.DataFrame, ctx: OfferContext, campaign: CampaignConfig
) -> pl.DataFrame:
    """A regular product that is due by the customer's own purchase cycle.

    Due means at least ``REPLENISH_DUE`` of the cycle has passed since the last purchase, but not
    more than ``REPLENISH_GIVEN_UP`` cycles (by then the customer buys it elsewhere or stopped).
    The most overdue regular product per customer wins.
    """
    names = _names(ctx.products)
    due = (
        ctx.bought.filter(pl.col("cycle_days").is_not_null() & (pl.col("cycle_days") > 0))
        .join(eligible.select("customer_id"), on="customer_id")
        .with_columns((pl.col("days_since_last") / pl.col("cycle_days")).alias("due_ratio"))
        .filter(pl.col("due_ratio").is_between(REPLENISH_DUE, REPLENISH_GIVEN_UP))
        .join(names, on="sku")
        .filter(pl.col("promo_allowed"))
        .sort(["customer_id", "due_ratio", "sku"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .first()
    )
    return due.select(
        "customer_id",
        pl.lit("sku").alias("target_kind"),
        pl.col("sku").alias("target"),
        pl.col("receipts").cast(pl.Float64).alias("priority"),
        pl.col("price").fill_null(0.0).alias("base_value"),
        pl.format(
            "buys {} every ~{} days ({}x); last bought {} ago",
            "name",
            pl.col("cycle_days").round(0).cast(pl.Int64),
            "receipts",
            _days("days_since_last"),
        ).alias("reason"),
    ).cast(CANDIDATE_SCHEMA)  # type: ignore[arg-type]


REPLENISH_DUE = 0.9
REPLENISH_GIVEN_UP = 3.0

Proposer = Callable[[pl.DataFrame, OfferContext, CampaignConfig], pl.DataFrame]
OFFER_TYPES: dict[str, Proposer] = {
    "cross_sell": cross_sell_candidates,
    "win_back": win_back_candidates,
    "second_purchase": second_purchase_candidates,
    "replenishment": replenishment_candidates,
    "vip_reward": vip_reward_candidates,
    "birthday": birthday_candidates,
    "service_recovery": service_recovery_candidates,
    "referral": referral_candidates,
}
