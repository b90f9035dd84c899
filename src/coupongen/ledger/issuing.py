"""Issuing a night's plan: its holdout, then each campaign's coupons with fresh (or imported) codes,
recorded in the ledger so that a rerun of the night finds them and issues nothing twice.
"""

from __future__ import annotations

import secrets

import polars as pl

from coupongen import codes
from coupongen.codes.imported import read_code_file
from coupongen.config import Job
from coupongen.ledger.runs import Run
from coupongen.ledger.store import Ledger
from coupongen.offers.planning import OfferPlan
from coupongen.progress import SILENT, Progress


def issue(
    job: Job,
    plan_: OfferPlan,
    ledger: Ledger,
    run: Run,
    *,
    segmented: pl.DataFrame | None = None,
    entropy: codes.Entropy = secrets.token_bytes,
    progress: Progress = SILENT,
) -> int:
    """Record the plan's holdout and then its coupons in the ledger; returns how many coupons were
    new.

    Each coupon keeps its customer's ``rfm_segment`` in ``segmented`` (the analysis' customers).
    A campaign with ``code.import_file`` issues the file's codes the ledger does not hold yet, in
    file order. The signing key is read before anything is issued, so a signed campaign without a key fails
    the run with nothing recorded. The last commit reaches the disk (``Ledger.mark_issued``)
    before the exports name any coupon.
    """
    signers = [c.name for c in job.campaigns if c.code.needs_key]
    key = codes.load_signing_key(needed_for=f"campaign {signers[0]!r}") if signers else None
    offers_, controls_ = plan_.offers, plan_.controls
    if segmented is not None:
        segment = segmented.select("customer_id", pl.col("rfm_segment").alias("segment"))
        # Row order decides which offer gets which drawn code: keep the plan's.
        offers_ = offers_.join(segment, on="customer_id", how="left", maintain_order="left")
    by_campaign = [(c, offers_.filter(pl.col("campaign") == c.name)) for c in job.campaigns]
    for campaign, mine in by_campaign:
        if mine.height:
            codes.check_barcode_expiry(campaign, mine["valid_to"].unique().to_list(), as_of=run.as_of)
    # The holdout first, in one commit: a run killed while it issues coupons leaves every campaign's
    # holdout recorded, and a rerun (even with another seed) keeps exactly those customers out.
    if controls_.height:
        ledger.record_controls(controls_, run=run)
    new = 0
    for campaign, mine in by_campaign:
        if not mine.height:
            continue
        imported = None
        if campaign.code.import_file is not None:
            supplied = read_code_file(job.resolve(campaign.code.import_file))
            taken = ledger.codes_in_ledger(supplied)
            imported = [c for c in supplied if c not in taken]
        make = codes.code_maker(campaign, entropy, as_of=run.as_of, key=key, imported=imported)
        issued = ledger.issue_coupons(mine, run=run, make_codes=make)
        new += issued
        progress.advance("issue", mine.height)
        progress.note(f"{campaign.name}: {issued:,} new coupons of {mine.height:,} offers")
    ledger.mark_issued(run)
    return new
