"""Campaigns -> offers: who gets which coupon, and why.

Each campaign's offer type proposes at most one candidate per eligible customer, with a target, a
priority and a human reason. Guards then apply in a fixed order: never a restricted product or category,
never a cross-sell of what the customer already bought, a frequency cap per offer type, a cap of coupons
per customer across campaigns, a budget on expected cost filled by priority, and finally a salted,
deterministic holdout that is recorded but sent nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from coupongen.analysis import relevance
from coupongen.config import CampaignConfig

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
    the cross-sell offer type compute it for its eligible customers.
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


@dataclass(frozen=True)
class OfferPlan:
    """The outcome of targeting: offers to issue, holdout members, and per-campaign counts.

    offers / controls columns: offer_key, kind (personal, or referral: shareable), symbology, as_of,
    campaign, offer_type, customer_id, card_number, target_kind, target, reward_type, reward_value,
    min_basket, valid_from, valid_to, max_uses, expected_cost, reason. funnel: campaign, offer_type,
    eligible, candidates, capped, within_budget, treated, control, expected_cost, budget.
    """

    offers: pl.DataFrame
    controls: pl.DataFrame
    funnel: pl.DataFrame


# --- eligibility -----------------------------------------------------------------------------------


def eligible_customers(customers: pl.DataFrame, campaign: CampaignConfig) -> pl.DataFrame:
    """The customers a campaign's eligibility admits (an empty list admits everyone)."""
    rules = campaign.eligibility
    cond = pl.col("monetary") >= rules.min_spend
    if rules.segments:
        cond &= pl.col("rfm_segment").is_in(list(rules.segments))
    if rules.lifecycle:
        cond &= pl.col("lifecycle").is_in(list(rules.lifecycle))
    if rules.nps:
        cond &= pl.col("nps_class").is_in(list(rules.nps))
    if rules.exclude_nps:
        cond &= ~pl.col("nps_class").is_in(list(rules.exclude_nps)).fill_null(False)
    return customers.filter(cond)


def restricted_categories(products: pl.DataFrame) -> pl.Series:
    """Categories holding any product with promo_allowed=false: never a coupon target as a whole."""
    return products.filter(~pl.col("promo_allowed"))["category"].unique().sort()


# --- offer types -----------------------------------------------------------------------------------


def _names(products: pl.DataFrame) -> pl.DataFrame:
    return products.select("sku", "name", "price", "promo_allowed")


def cross_sell_candidates(
    eligible: pl.DataFrame, ctx: OfferContext, campaign: CampaignConfig
) -> pl.DataFrame:
    """A product the customer did not buy in the look-back window and is likely to buy next.

    The ranking is `relevance.recommend`'s (a collaborative model over every customer's
    purchases, then the association rules their purchases fire, then the most-bought products):
    ``ctx.relevance`` when precomputed, else computed here for the eligible customers. The
    customer's best-ranked promotable product not bought in the window wins; priority is its
    relevance score. The reason names the customer's purchase the choice rests on and, where an
    association rule links the two, the rule's lift and confidence.
    """
    if eligible.is_empty():
        return pl.DataFrame(schema=CANDIDATE_SCHEMA)
    ranked = ctx.relevance
    if ranked is None:
        ranked = relevance.recommend(
            ctx.bought, ctx.products, rules=ctx.rules, customers=eligible["customer_id"]
        )
    recent = ctx.bought.filter(pl.col("in_lookback")).select("customer_id", "sku", "receipts")
    names = _names(ctx.products)
    best = (
        ranked.join(eligible.select("customer_id"), on="customer_id")
        .rename({"sku": "target"})
        .join(
            recent.select("customer_id", pl.col("sku").alias("target")),
            on=["customer_id", "target"],
            how="anti",
        )
        .join(names.rename({"sku": "target", "name": "target_name"}), on="target")
        .filter(pl.col("promo_allowed"))
        .sort("customer_id", "rank", "target")
        .group_by("customer_id", maintain_order=True)
        .first()
        .join(
            names.select(pl.col("sku").alias("anchor"), pl.col("name").alias("anchor_name")),
            on="anchor",
            how="left",
        )
        .join(
            recent.select(
                "customer_id", pl.col("sku").alias("anchor"), pl.col("receipts").alias("anchor_receipts")
            ),
            on=["customer_id", "anchor"],
            how="left",
        )
    )
    days = pl.lit(ctx.lookback_days)
    habit = pl.format("bought {} {}x in {} days; ", "anchor_name", "anchor_receipts", days)
    rule = pl.format(
        "{} -> {}, lift {}, confidence {}%",
        "anchor_name",
        "target_name",
        pl.col("lift").round(1),
        (pl.col("confidence") * 100).round(0).cast(pl.Int64),
    )
    peers = pl.format("customers who buy {} also buy {}", "anchor_name", "target_name")
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
    return best.select(
        "customer_id",
        pl.lit("sku").alias("target_kind"),
        "target",
        pl.col("score").alias("priority"),
        pl.col("price").fill_null(0.0).alias("base_value"),
        reason.alias("reason"),
    ).cast(CANDIDATE_SCHEMA)  # type: ignore[arg-type]


def win_back_candidates(eligible: pl.DataFrame, ctx: OfferContext, campaign: CampaignConfig) -> pl.DataFrame:
    """The customer's favourite promotable category, for customers slipping away.

    Priority is the customer's spend in the window, so the budget goes to the most valuable first;
    the reward's base value is the customer's average spend per visit in that category.
    """
    banned = restricted_categories(ctx.products)
    fav = (
        ctx.categories.filter(~pl.col("category").is_in(banned.implode()))
        .sort(["customer_id", "spend", "category"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .first()
    )
    joined = eligible.join(fav, on="customer_id")
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
            "category",
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
            pl.lit(ctx.lookback_days),
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


# --- guards and money ------------------------------------------------------------------------------


def expected_cost(
    campaign: CampaignConfig, base_value: pl.Expr, point_value: float, points_per_currency: float = 0.01
) -> pl.Expr:
    """Expected cost of one coupon: redemption rate x the reward's money value.

    Points are worth ``point_value`` each; a multiplier costs the extra points the base value earns
    at ``points_per_currency``.
    """
    reward = campaign.reward
    if reward.type == "percent":
        value = base_value * reward.value / 100
    elif reward.type == "amount":
        value = pl.lit(reward.value)
    elif reward.type == "points":
        value = pl.lit(reward.value * point_value)
    else:
        value = base_value * points_per_currency * (reward.value - 1) * point_value
    return (value * campaign.expected_redemption_rate).round(4)


def in_holdout(customer_ids: pl.Series, *, salt: str, share: float) -> pl.Series:
    """True for the deterministic ``share`` of customers whose salted hash falls below it.

    A keyed BLAKE2b hash (stable across versions and machines, unlike in-memory hashes) of the salt
    and customer id, read as a fraction of 2**64.
    """
    key = salt.encode()
    scale = float(2**64)
    values = [
        int.from_bytes(hashlib.blake2b(cid.encode(), digest_size=8, key=key[:64]).digest(), "big") / scale
        < share
        for cid in customer_ids.to_list()
    ]
    return pl.Series(customer_ids.name, values, dtype=pl.Boolean)


def within_budget(candidates: pl.DataFrame, budget: float | None, *, salt: str, share: float) -> pl.DataFrame:
    """Candidates by descending priority down to where the budget runs out, each marked ``held``.

    The holdout is drawn over all candidates first; the budget is then spent on the coupons that
    will really be sent (held-out customers cost nothing), and the holdout is cut at the same place
    in the priority order, so treated and control come from the same customers.
    """
    ordered = candidates.sort(["priority", "customer_id"], descending=[True, False])
    drawn = in_holdout(ordered["customer_id"], salt=salt, share=share)
    # A group recorded by an earlier run of the night (column ``recorded_held``) stands.
    recorded = ordered["recorded_held"] if "recorded_held" in ordered.columns else None
    held = drawn if recorded is None else recorded.fill_null(drawn)
    ordered = ordered.with_columns(held.alias("held"))
    if budget is None:
        return ordered
    spent = pl.when(pl.col("held")).then(0.0).otherwise(pl.col("expected_cost")).cum_sum()
    last = ordered.select(pl.int_range(pl.len()).filter(~pl.col("held") & (spent <= budget)).max()).item()
    return ordered.head(0 if last is None else last + 1)


DECIDED_SCHEMA: dict[str, pl.DataType] = {
    "campaign": pl.String(),
    "customer_id": pl.String(),
    "held": pl.Boolean(),
    "expected_cost": pl.Float64(),
}


def _frequency_capped(
    cands: pl.DataFrame, campaign: CampaignConfig, ctx: OfferContext, recent: pl.DataFrame | None
) -> pl.DataFrame:
    if recent is None or campaign.frequency_cap_days <= 0:
        return cands
    since = ctx.as_of - timedelta(days=campaign.frequency_cap_days)
    seen = recent.filter(
        (pl.col("offer_type") == campaign.type) & (pl.col("as_of") >= since) & (pl.col("as_of") < ctx.as_of)
    ).select("customer_id")
    return cands.join(seen, on="customer_id", how="anti")


def plan_offers(
    campaigns: tuple[CampaignConfig, ...],
    ctx: OfferContext,
    *,
    max_per_customer: int,
    seed: int,
    recent: pl.DataFrame | None = None,
    decided: pl.DataFrame | None = None,
) -> OfferPlan:
    """Decide every campaign's offers and holdout for the run date.

    Campaigns are planned in priority order: each one's candidates are the eligible customers who
    still have a free slot (``max_per_customer``, holdout places included), its budget and holdout
    are applied, and only what it keeps takes a slot, so an offer cut by a budget leaves the slot to
    the next campaign. ``recent`` holds the (customer_id, offer_type, as_of) of earlier nights'
    coupons and holdout entries: a customer who had the same offer type within a campaign's
    ``frequency_cap_days`` is skipped. ``decided`` holds what earlier runs of the same night already
    recorded (campaign, customer_id, held, expected_cost): those customers keep their group, their
    places count against the caps and their coupons against the budgets, and the plan adds only
    what is new.
    """
    card = ctx.customers.select("customer_id", "card_number")
    before = decided if decided is not None else pl.DataFrame(schema=DECIDED_SCHEMA)
    taken = before.select("customer_id", "campaign")
    counts: list[dict[str, object]] = []
    offers: list[pl.DataFrame] = []
    controls: list[pl.DataFrame] = []
    for campaign in (c for c in campaigns if c.enabled):
        eligible = eligible_customers(ctx.customers, campaign)
        cands = _frequency_capped(OFFER_TYPES[campaign.type](eligible, ctx, campaign), campaign, ctx, recent)
        earlier = before.filter(pl.col("campaign") == campaign.name)
        full = (
            taken.filter(pl.col("campaign") != campaign.name)
            .group_by("customer_id")
            .len("used")
            .filter(pl.col("used") >= max_per_customer)
            .join(earlier.select("customer_id"), on="customer_id", how="anti")
            .select("customer_id")
        )
        free = (
            cands.join(full, on="customer_id", how="anti")
            .join(
                earlier.select("customer_id", pl.col("held").alias("recorded_held")),
                on="customer_id",
                how="left",
            )
            .with_columns(
                expected_cost(campaign, pl.col("base_value"), ctx.point_value, ctx.points_per_currency).alias(
                    "expected_cost"
                )
            )
        )
        # Coupons issued earlier tonight to customers who are no longer candidates still cost.
        gone = earlier.join(cands.select("customer_id"), on="customer_id", how="anti")
        spent_elsewhere = float(gone.filter(~pl.col("held"))["expected_cost"].sum())
        budget = None if campaign.budget is None else max(campaign.budget - spent_elsewhere, 0.0)
        chosen = (
            within_budget(free, budget, salt=f"{campaign.name}:{seed}", share=campaign.holdout_share)
            if not free.is_empty()
            else free.with_columns(pl.lit(False).alias("held"))
        )
        new = chosen.join(earlier.select("customer_id"), on="customer_id", how="anti")
        treated = _offer_rows(new.filter(~pl.col("held")), campaign, ctx.as_of, card)
        control = _offer_rows(new.filter(pl.col("held")), campaign, ctx.as_of, card)
        taken = pl.concat(
            [
                taken.filter(pl.col("campaign") != campaign.name),
                pl.concat([chosen.select("customer_id"), gone.select("customer_id")]).with_columns(
                    pl.lit(campaign.name).alias("campaign")
                ),
            ]
        )
        sent_before = earlier.filter(~pl.col("held"))
        counts.append(
            {
                "campaign": campaign.name,
                "offer_type": campaign.type,
                "eligible": eligible.height,
                "candidates": cands.height,
                "capped": free.height,
                "within_budget": chosen.height + gone.height,
                "treated": treated.height + sent_before.height,
                "control": control.height + earlier.height - sent_before.height,
                "expected_cost": round(
                    float(treated["expected_cost"].sum()) + float(sent_before["expected_cost"].sum()), 2
                ),
                "budget": campaign.budget,
            }
        )
        offers.append(treated)
        controls.append(control)
    return OfferPlan(
        offers=_concat_or_empty(offers),
        controls=_concat_or_empty(controls),
        funnel=pl.DataFrame(counts) if counts else pl.DataFrame(),
    )


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
    "min_basket": pl.Float64(),
    "valid_from": pl.String(),
    "valid_to": pl.String(),
    "max_uses": pl.Int64(),
    "expected_cost": pl.Float64(),
    "reason": pl.String(),
}


def _concat_or_empty(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if not f.is_empty()]
    return pl.concat(frames) if frames else pl.DataFrame(schema=OFFER_COLUMNS)


def _offer_rows(
    chosen: pl.DataFrame, campaign: CampaignConfig, as_of: date, card: pl.DataFrame
) -> pl.DataFrame:
    valid_from, valid_to = campaign.validity(as_of)
    return (
        chosen.join(card, on="customer_id", how="left")
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
            pl.lit(float(campaign.reward.value)).alias("reward_value"),
            pl.lit(float(campaign.min_basket)).alias("min_basket"),
            pl.lit(valid_from.isoformat()).alias("valid_from"),
            pl.lit(valid_to.isoformat()).alias("valid_to"),
            pl.lit(campaign.max_uses).cast(pl.Int64).alias("max_uses"),
            "expected_cost",
            "reason",
        )
        .cast(OFFER_COLUMNS)  # type: ignore[arg-type]
        .sort("customer_id")
    )
