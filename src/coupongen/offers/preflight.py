"""Preflight: each campaign checked against tonight's data before a coupon is issued.

Can it fire (the customer columns it needs hold values, someone is eligible, someone is a
candidate), what share of tonight's baskets reach its ``min_basket``, what its reward is worth
against the price of what it is on, its expected cost against its budget, and the expected value
of its coupons (a campaign expected to lose money per coupon is flagged). Findings are rows the
CLI, summary.json and the report show; inputs older than the job's ``stale_after_days`` stop the run.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from coupongen.config import CampaignConfig, Job, amount
from coupongen.errors import InputError
from coupongen.offers.money import DataFigures
from coupongen.offers.planning import OfferPlan

FINDING_COLUMNS = {"campaign": pl.String, "check": pl.String, "status": pl.String, "detail": pl.String}
OK, WARNING, CANNOT_FIRE = "ok", "warning", "cannot fire"
MIN_BASKET_REACH = 0.25  # a coupon fewer baskets than this can meet is flagged
MAX_REWARD_SHARE = 0.5  # a reward worth more than this share of what it is on is flagged
BUDGET_SPENT = 0.95  # expected cost past this share of the budget: the budget decided who got one
NEEDS_COLUMN = {"birthday": "birth_date", "service_recovery": "nps_score", "referral": "nps_score"}


def check_fresh(last: object, as_of: date, stale_after_days: int, *, allow_stale: bool = False) -> None:
    """Stop the run (InputError, exit 2) when the newest transaction is too old for ``as_of``."""
    if allow_stale or last is None or not hasattr(last, "date"):
        return
    age = (as_of - last.date()).days
    if age > stale_after_days:
        raise InputError(
            f"transactions: the newest transaction is from {last.date().isoformat()}, {age} days before "
            f"--as-of {as_of.isoformat()} (stale_after_days = {stale_after_days}); "
            "pass --allow-stale to run on it anyway"
        )


def _needed_columns(campaign: CampaignConfig) -> list[str]:
    needed = [NEEDS_COLUMN[campaign.type]] if campaign.type in NEEDS_COLUMN else []
    if campaign.eligibility.nps and "nps_score" not in needed:
        needed.append("nps_score")
    return needed


def _reward_worth(campaign: CampaignConfig, point_value: float, ppc: float) -> pl.Expr:
    """Each offer's reward in money as a share of ``price`` (its target's, or the basket's)."""
    value = pl.col("reward_value")
    kind = campaign.reward.type
    if kind == "percent":
        return value / 100
    if kind == "amount":
        return value / pl.col("price")
    if kind == "points":
        return value * point_value / pl.col("price")
    return (value - 1) * ppc * point_value


def preflight(
    job: Job,
    plan: OfferPlan,
    figures: DataFigures,
    customers: pl.DataFrame,
    products: pl.DataFrame,
) -> pl.DataFrame:
    """Findings for every enabled campaign of the (resolved) job: campaign, check, status, detail.

    ``customers`` is the customer master as loaded; ``products`` the products with their prices.
    Status is ``ok``, ``warning`` or ``cannot fire`` (the campaign issues nothing tonight).
    """
    rows: list[dict[str, str]] = []
    funnel = {r["campaign"]: r for r in plan.funnel.to_dicts()} if not plan.funnel.is_empty() else {}
    prices = products.select(pl.col("sku").alias("target"), "price")
    point_value, ppc = job.config.point_value, job.config.points_per_currency
    for c in (c for c in job.campaigns if c.enabled):

        def add(check: str, status: str, detail: str, name: str = c.name) -> None:
            rows.append({"campaign": name, "check": check, "status": status, "detail": detail})

        missing = [
            col
            for col in _needed_columns(c)
            if col not in customers.columns or customers[col].is_null().all()
        ]
        if missing:
            add("columns", CANNOT_FIRE, f"needs customer column {', '.join(missing)}, which holds no values")
        f = funnel.get(c.name, {})
        if c.code.public:
            shared = "its public code is issued tonight" if f.get("treated") else "its public code is issued"
            add("eligible", OK, f"nobody is chosen: {shared}, for any card")
        elif not missing:
            if not f.get("eligible"):
                add("eligible", CANNOT_FIRE, "no customer meets its eligibility tonight")
            elif not f.get("candidates") and f.get("recently_offered") == f["eligible"]:
                add(
                    "eligible",
                    OK,
                    f"{f['eligible']:,} eligible, all offered it within its {_caps(c)}: none tonight",
                )
            elif not f.get("candidates"):
                recently = f.get("recently_offered")
                also = f"; {recently:,} more were offered it within its {_caps(c)}" if recently else ""
                add(
                    "eligible",
                    CANNOT_FIRE,
                    f"{f['eligible']:,} eligible, but none has an offer of this type{also}",
                )
            elif not f.get("capped") and not f.get("treated") and not f.get("control"):
                add(
                    "eligible",
                    CANNOT_FIRE,
                    f"{f['candidates']:,} candidates, all already given max_coupons_per_customer "
                    "offers by campaigns before it",
                )
            else:
                add("eligible", OK, f"{f['eligible']:,} eligible, {f['candidates']:,} candidates")
        min_basket = amount(c.min_basket, "min_basket")
        share = figures.share_reaching(min_basket) if min_basket > 0 else None
        if share is not None:
            status = OK if share >= MIN_BASKET_REACH else WARNING
            shown = "under 0.1%" if 0 < share < 0.001 else f"{share:.1%}"
            add("min_basket", status, f"{shown} of baskets reach min_basket {min_basket:,.2f}")
        mine = plan.offers.filter(pl.col("campaign") == c.name)
        if not mine.is_empty():
            if mine["target_kind"][0] == "sku":
                priced = mine.join(prices, on="target", how="left").filter(pl.col("price") > 0)
                what = "the target's price"
            else:
                base = min_basket or figures.basket_percentile(50)
                priced = mine.with_columns(pl.lit(base).alias("price")).filter(pl.col("price") > 0)
                what = "min_basket" if min_basket else "the median basket"
            worth = priced.select(_reward_worth(c, point_value, ppc).median()).item()
            if worth is not None:
                status = OK if worth <= MAX_REWARD_SHARE else WARNING
                add("reward", status, f"reward worth {worth:.0%} of {what} (median over its offers)")
        if f.get("budget") is not None and f.get("capped"):
            spent = f["expected_cost"] >= BUDGET_SPENT * f["budget"]
            add(
                "budget",
                OK,
                f"expected cost {f['expected_cost']:,.2f} of budget {f['budget']:,.2f}"
                + ("; the budget runs out, the lowest-priority candidates go without" if spent else ""),
            )
        if f.get("value_per_coupon") is not None:
            add(*_value_finding(f, job.config.currency))
    return pl.DataFrame(rows, schema=FINDING_COLUMNS) if rows else pl.DataFrame(schema=FINDING_COLUMNS)


def _caps(campaign: CampaignConfig) -> str:
    """The campaign's caps over earlier nights, by their keys."""
    caps = []
    if campaign.frequency_cap_days > 0:
        caps.append(f"frequency_cap_days = {campaign.frequency_cap_days}")
    if campaign.per_customer is not None:
        caps.append(f"per_customer = {campaign.per_customer.max} in {campaign.per_customer.days} days")
    return " or ".join(caps)


def _value_finding(f: dict[str, object], currency: str) -> tuple[str, str, str]:
    """The "value" check of a campaign's funnel row: a warning when a coupon is expected to lose
    money on average.
    """
    per = float(f["value_per_coupon"])  # type: ignore[arg-type]
    total = float(f["expected_value"] or 0.0)  # type: ignore[arg-type]
    chance = f.get("mean_chance")
    detail = (
        f"expected value {total:,.2f} {currency}, {per:,.2f} per coupon"
        + (f" (chance {float(chance):.1%} on average" if chance is not None else " (")  # type: ignore[arg-type]
        + f"; margin from the {f['margin_source']})"
    )
    if per < 0:
        return "value", WARNING, f"negative: {detail}; the reward costs more than the margin it brings"
    losing = int(f.get("negative_value") or 0)  # type: ignore[call-overload]
    return "value", OK, detail + (f"; {losing:,} coupons expected to lose money" if losing else "")
