"""Reminders before coupons expire: which coupons are due one, and the words and channels it takes.

A customer holding coupons that expire within a campaign's ``[reminder] days_before`` days (or the
``--days`` of ``coupongen remind``), unused, gets one reminder holding all of them, by the same
rules as a night's message: consent, the suppression list, channel priority and fallback. Each
coupon is reminded once; redeemed ones, and those reminded on an earlier night, are left out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType

import polars as pl

from coupongen.config import Job
from coupongen.delivery.campaign_messages import compile_messages
from coupongen.delivery.planning import DeliveryContext
from coupongen.delivery.templates import template_environment

REMINDER_TEMPLATES = "reminder_"
"""The prefix of the reminders' template files (``reminder_sms_en.txt.j2``...)."""


def reminder_days(job: Job, days: int | None = None) -> dict[str, int]:
    """Days before expiry each campaign reminds, by campaign (enabled ones with reminders enabled):
    ``days`` when given (the command's ``--days``), else the campaign's ``reminder.days_before``.
    """
    return {
        c.name: days if days is not None else c.reminder.days_before
        for c in job.campaigns
        if c.enabled and c.reminder.enabled
    }


@dataclass(frozen=True)
class DueReminders:
    """Coupons about to expire, sorted out.

    due: the coupons to remind tonight (the ledger's coupon columns), those recorded on this night
    by an earlier run included. expiring: coupons of reminded campaigns expiring within their
    days; redeemed: of those, used at least once; reminded_before: reminded on an earlier night.
    """

    due: pl.DataFrame
    expiring: int
    redeemed: int
    reminded_before: int


def due_reminders(expiring: pl.DataFrame, *, as_of: date, days: Mapping[str, int]) -> DueReminders:
    """The coupons of ``expiring`` (the ledger's `expiring_coupons`) that get a reminder tonight.

    A coupon is due when its campaign reminds (is in ``days``), its last valid day is at most
    ``days[campaign]`` days after ``as_of``, it is unused and no earlier night reminded it.
    """
    window = pl.col("campaign").replace_strict(dict(days), default=None, return_dtype=pl.Int64)
    last_day = pl.lit(as_of) + pl.duration(days=window)
    within = expiring.filter(window.is_not_null() & (pl.col("valid_to").str.to_date() <= last_day))
    unused = pl.col("uses") == 0
    earlier = pl.col("reminded_on").is_not_null() & (pl.col("reminded_on") != as_of.isoformat())
    due = within.filter(unused & ~earlier).drop("uses", "reminded_on")
    return DueReminders(
        due=due,
        expiring=within.height,
        redeemed=int(within.select((~unused).sum()).item()),
        reminded_before=int(within.select((unused & earlier).sum()).item()),
    )


def latest_expiry(as_of: date, days: Mapping[str, int]) -> date:
    """The last expiry day any campaign reminds about on ``as_of``."""
    return as_of + timedelta(days=max(days.values(), default=0))


def reminder_context(job: Job, night: DeliveryContext) -> DeliveryContext:
    """The night's delivery context turned to reminders: the reminder templates (each one the
    campaigns' reminder channels need compiled, in every language), the campaigns' reminder texts,
    and each campaign's reminder channel (its ``reminder.channel``, else its channel priority).

    ConfigError names a reminder template that is missing or does not compile.
    """
    cfg = job.config.channels
    templates = template_environment(
        job.resolve(cfg.templates),
        locale=job.config.locale,
        currency=job.config.currency,
        prefix=REMINDER_TEMPLATES,
    )
    priorities = {
        c.name: (c.reminder.channel,) if c.reminder.channel else tuple(c.channels) for c in job.campaigns
    }
    templates.compile(
        {ch for c in job.campaigns if c.enabled and c.reminder.enabled for ch in priorities[c.name]}
    )
    return dataclasses.replace(
        night,
        templates=templates,
        priorities=MappingProxyType(priorities),
        campaign_messages=compile_messages(job, templates.text, kind=REMINDER_TEMPLATES),
    )
