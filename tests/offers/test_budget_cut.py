"""The budget's cut: where it runs out, and who stays in the coupon group or the holdout."""

from __future__ import annotations

import polars as pl

from coupongen.offers.guards import DRAWN, within_budget


def candidates(held: list[bool], cost: float = 1.0) -> pl.DataFrame:
    """One candidate per flag, best priority first, each coupon costing `cost`."""
    n = len(held)
    return pl.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "priority": [float(n - i) for i in range(n)],
            "expected_cost": [cost] * n,
            DRAWN: held,
        }
    )


def test_a_budget_that_pays_for_every_coupon_keeps_every_candidate_and_the_holdout_below_the_last_coupon():
    cands = candidates([False, True, False, True, True])
    kept = within_budget(cands, 100.0, salt="s", share=0.5)
    assert kept["customer_id"].to_list() == ["C0", "C1", "C2", "C3", "C4"]
    assert kept["held"].to_list() == [False, True, False, True, True]
    assert kept.equals(within_budget(cands, None, salt="s", share=0.5))


def test_the_holdout_is_cut_where_the_budget_runs_out_not_at_the_last_coupon_it_paid():
    # two coupons paid (C0, C2); C3 held; C4 is the first coupon the budget cannot pay for
    cands = candidates([False, True, False, True, False, True])
    kept = within_budget(cands, 2.0, salt="s", share=0.5)
    assert kept["customer_id"].to_list() == ["C0", "C1", "C2", "C3"]
    assert kept.filter(~pl.col("held"))["expected_cost"].sum() == 2.0


def test_a_budget_that_pays_for_no_coupon_keeps_no_holdout_place_either():
    # a spent lifetime budget (nothing left tonight) or one below the first coupon's cost: no
    # coupon is sent, so a holdout place would only take the customer's slot from other campaigns
    cands = candidates([True, False, True], cost=5.0)
    assert within_budget(cands, 1.0, salt="s", share=0.5).is_empty()
    assert within_budget(candidates([True, True]), 0.0, salt="s", share=0.5).is_empty()
    assert within_budget(candidates([True, True]), 1.0, salt="s", share=0.5).height == 2  # nothing to pay
