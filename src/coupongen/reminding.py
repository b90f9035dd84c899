"""Wiring of ``coupongen remind``: coupons about to expire, unused, get one reminder per customer.

Reads the ledger's expiring coupons and the job's customers and products, plans one message per
customer by the night's rules (consent, suppression list, channel priority and fallback), records
each reminded coupon once in the ledger, then publishes ``out/<as-of>/reminders/`` (email/, sms/,
app/, delivery/) as a night publishes its messages. A rerun of the night records nothing new and
publishes the same messages again; a later night never reminds a coupon twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl

from coupongen.config import Job
from coupongen.delivery import outbox, reminders
from coupongen.delivery.planning import Delivery, load_context
from coupongen.inputs.loading import load_customers_and_products
from coupongen.ledger import COUPON_COLUMNS, Ledger
from coupongen.progress import Clock
from coupongen.settings import Settings

REMINDERS_FOLDER = "reminders"


@dataclass
class RemindResult:
    """What a reminder run found and did, in coupons and customers.

    expiring: coupons of reminding campaigns expiring within their days (live, held by a customer);
    redeemed: of those, used; reminded_before: reminded on an earlier night; due: the rest.
    holders: customers holding due coupons; unreachable: of those, no channel may reach (no consent,
    no contact, or suppressed); suppressed: of those, on the suppression list; rejected: a channel
    was allowed but none could carry the message. reminded: customers with a reminder tonight
    (messages), holding reminded_coupons coupons; new: coupons recorded as reminded by this run
    (0 on a rerun of the night).
    """

    as_of: date
    days: dict[str, int]
    expiring: int = 0
    redeemed: int = 0
    reminded_before: int = 0
    due: int = 0
    holders: int = 0
    unreachable: int = 0
    suppressed: int = 0
    rejected: int = 0
    reminded: int = 0
    reminded_coupons: int = 0
    new: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)


def reminded_coupons(due: pl.DataFrame, sent: Delivery) -> pl.DataFrame:
    """code, customer_id, channel of every due coupon whose holder's message a channel carries."""
    carried = sent.channels.filter(pl.col("channel").is_not_null()).select("customer_id", "channel")
    return due.select("code", "customer_id").join(carried, on="customer_id").sort("code")


def run_reminders(
    job: Job, settings: Settings, *, days: int | None = None, clock: Clock | None = None
) -> RemindResult:
    """Remind the holders of coupons that expire soon, unused, once per coupon (see the module).

    ``days`` overrides every campaign's ``reminder.days_before``. Raises InputError when the ledger
    or an input is missing, ConfigError for a reminder template that is missing or fails.
    """
    as_of = settings.as_of
    by_campaign = reminders.reminder_days(job, days)
    result = RemindResult(as_of=as_of, days=by_campaign)
    customers, products = load_customers_and_products(job.config.inputs, settings.data_dir)
    context = reminders.reminder_context(job, load_context(job, products.kept))
    with Ledger.open(settings.ledger_path, create=False) as ledger:
        expiring = ledger.expiring_coupons(as_of=as_of, until=reminders.latest_expiry(as_of, by_campaign))
        found = reminders.due_reminders(expiring, as_of=as_of, days=by_campaign)
        due = found.due.select(COUPON_COLUMNS)
        result.expiring, result.redeemed = found.expiring, found.redeemed
        result.reminded_before, result.due = found.reminded_before, due.height
        result.holders = due["customer_id"].n_unique()

        def record(sent: Delivery) -> None:
            ledger.check_file()
            result.new = ledger.record_reminders(reminded_coupons(due, sent), as_of=as_of)

        sent, files = outbox.deliver(
            context,
            due,
            customers.kept,
            settings.run_dir / REMINDERS_FOLDER,
            run_id=None,
            as_of=as_of,
            clock=clock,
            before_publish=record,
        )
    counts = sent.counts()
    done = reminded_coupons(due, sent)
    result.unreachable, result.suppressed = sent.unreachable, sent.suppressed
    result.rejected = counts.get("rejected", 0)
    result.reminded, result.reminded_coupons = done["customer_id"].n_unique(), done.height
    result.by_channel = {ch: counts[ch] for ch in ("email", "sms", "app")}
    result.files = files
    return result
