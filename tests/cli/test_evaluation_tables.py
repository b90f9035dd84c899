"""What `coupongen evaluate` prints: the narrow table pinned on hand-made figures, the wide one."""

from __future__ import annotations

from datetime import date

import polars as pl

from coupongen.cli.evaluation_tables import WIDTH, render_evaluation
from coupongen.loop import evaluate as ev
from coupongen.loop.comparison import EFFECT_SCHEMA

NIGHT = "2026-11-22"


def effect(campaign: str, n: tuple[int, int], diff: float, ci: tuple | None, verdict: str, **extra) -> dict:
    row = dict.fromkeys(EFFECT_SCHEMA)
    low, high = ci or (None, None)
    row |= {"campaign": campaign, "as_of": NIGHT, "metric": "spend", "treated_n": n[0], "control_n": n[1],
            "treated_mean": 100.0 + diff, "control_mean": 100.0, "difference": diff, "ci_low": low,
            "ci_high": high, "lift": diff / 100, "method": "Welch t", "verdict": verdict,
            "valid_from": "2026-11-23", "valid_to": "2026-12-06", "complete": True,
            "covers": f"{campaign}@{NIGHT}"}  # fmt: skip
    return row | extra


def money(campaign: str, redemptions: int, cost: float, margin: float, multiple: float | None) -> dict:
    return {"campaign": campaign, "as_of": NIGHT, "treated_n": 0, "redemptions": redemptions, "cost": cost,
            "incremental_spend": 0.0, "margin_rate": 0.25, "incremental_margin": margin, "margin_low": None,
            "margin_high": None, "return_multiple": multiple, "return_low": None, "return_high": None,
            "verdict": ""}  # fmt: skip


def evaluation() -> ev.Evaluation:
    effects = pl.DataFrame(
        [
            effect("cross_sell", (1317, 155), 296.4, (172.2, 420.6), "effect detected"),
            effect("a_campaign_with_a_long_name", (40, 5), 12.0, None, "too few buyers to tell"),
            effect("win_back", (359, 44), -64.0, (-110.0, -18.0), "negative effect detected", complete=False),
            effect(
                "all",
                (1716, 204),
                210.0,
                (90.5, 329.5),
                "effect detected",
                covers=f"cross_sell@{NIGHT}; win_back@{NIGHT}",
            ),
        ],
        schema=EFFECT_SCHEMA,
    )
    economics = pl.DataFrame(
        [
            money("cross_sell", 16, 373.71, 97600.0, 261.17),
            money("a_campaign_with_a_long_name", 0, 0.4, 120.0, None),
            money("win_back", 9, 1669.35, -5744.0, -3.44),
            money("all", 25, 2043.06, 90090.0, 44.1),
        ]
    )
    rates = pl.DataFrame(
        {
            "dimension": ["campaign"],
            "value": ["cross_sell"],
            "coupons": [1317],
            "redeemed": [16],
            "rate": [16 / 1317],
            "uses": [16],
            "discount": [373.71],
        }
    )
    return ev.Evaluation(effects, rates, economics, margin_rate=0.25, purchases_until=date(2026, 12, 1))


def test_the_narrow_table_reads_one_row_per_campaign_within_100_columns():
    text = render_evaluation(evaluation(), label=NIGHT, currency="USD", locale="en_US")
    assert text.splitlines() == [
        "evaluation of 2026-11-22: purchases up to 2026-12-01",
        "",
        "campaign            treated  holdout  extra spend per customer  verdict                   return",
        "cross_sell            1,317      155  +$296 (+172 to +421)      effect detected           261.2×",
        "a_campaign_with_a…       40        5  +$12                      too few buyers to tell         -",
        "win_back                359       44  -$64 (-110 to -18) *      negative effect detected   -3.4×",
        "all                   1,716      204  +$210 (+90 to +330)       effect detected            44.1×",
        "",
        "extra spend per customer: net spend of the coupons' holders minus the holdout's in the validity",
        "  window (95% interval)",
        "return: incremental margin (25% of the extra spend) per $1 of rewards; n/a: nothing paid out; -: no",
        "  interval; without an effect detected it is not yet a return",
        "rewards paid out: $2,043 on 25 redemptions",
        "all: cross_sell, win_back",
        "* win_back (2026-11-22) is valid until 2026-12-06, the purchases end on 2026-12-01: the figures",
        "  cover the days so far",
        "every metric, redemption rates, cost and return with intervals: --wide",
    ]
    assert max(len(line) for line in text.splitlines()) <= WIDTH


def test_the_wide_tables_show_every_detail_with_returns_as_multiples():
    text = render_evaluation(evaluation(), label=NIGHT, currency="RUB", locale="ru_RU", wide=True)
    assert "a_campaign_with_a_long_name" in text
    assert "redemption rates (coupons used at least once):" in text
    row = next(line for line in text.splitlines() if line.startswith("cross_sell") and "₽" in line)
    assert row.split()[-3:] == ["261,2×", "effect", "detected"] or "261,2×" in row
    assert "%" not in "".join(
        line for line in text.splitlines() if line.startswith("cross_sell") and "₽" in line
    )
