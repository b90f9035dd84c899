"""The POS files: the full snapshot of live coupons, the nightly delta, currency and display text."""

from __future__ import annotations

import json
from datetime import date

import polars as pl

from coupongen.delivery.pos import POS_COLUMNS, display_text, publish_pos
from coupongen.ledger import Ledger
from tests.ledger.test_ledger import counter_codes, offers

NIGHT1, NIGHT2 = date(2026, 11, 22), date(2026, 11, 29)


def test_display_text_in_figures_and_names_never_a_formula():
    frame = pl.DataFrame(
        {
            "reward_type": ["percent", "amount", "points", "multiplier", "percent", "free_product"],
            "reward_value": [15.0, 300.0, 200.0, 2.0, 12.5, 100.0],
            "target_kind": ["sku", "basket", "category", "basket", "sku", "sku"],
            "target": ["S1", None, "dairy_milk", None, "S2", "S1"],
            "min_basket": [0.0, 1000.0, 0.0, 0.0, 0.0, 0.0],
            "reward_buy": [None, None, None, None, None, None],
            "reward_get": [None, None, None, None, None, 1],
        },
        schema_overrides={"reward_buy": pl.Int64, "reward_get": pl.Int64},
    )
    names = {"S1": "Spaghetti 500 g", "S2": "A very long product name that no till shows in full"}
    assert frame.select(display_text("RUB", names).alias("t"))["t"].to_list() == [
        "15% OFF Spaghetti 500 g",
        "300 RUB OFF basket >= 1000",
        "200 PTS dairy milk",
        "x2 PTS basket",
        "12.5% OFF A very long product name th...",  # 40 characters
        "1 FREE Spaghetti 500 g",
    ]


def test_snapshot_holds_every_live_coupon_and_delta_only_tonights(tmp_path):
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        make = counter_codes()
        run1 = ledger.start_run(job="nightly", as_of=NIGHT1, config_hash="h")
        first = offers(4, as_of=NIGHT1).with_columns(
            pl.Series("valid_to", ["2026-12-06", "2026-12-06", "2026-12-06", "2026-11-25"])
        )
        ledger.issue_coupons(first, run=run1, make_codes=make)  # CODE000000..3
        ledger.finish_run(run1, status="succeeded")
        run2 = ledger.start_run(job="nightly", as_of=NIGHT2, config_hash="h")
        ledger.issue_coupons(offers(2, campaign="wb", as_of=NIGHT2), run=run2, make_codes=make)
        ledger.void_coupons(codes=["CODE000001"])
        redeemed = ledger.find_coupon(code="CODE000002")["coupon_id"]
        ledger.conn.execute(
            "INSERT INTO redemptions (code, coupon_id, redeemed_at, status, imported_at) "
            "VALUES ('CODE000002', ?, '2026-11-25T10:00:00', 'accepted', 'now')",
            (redeemed,),
        )
        live = ledger.live(as_of=NIGHT2)
        tonight = ledger.coupons(as_of=NIGHT2)
        revoked = ledger.revoked(as_of=NIGHT2)
    # 000001 void, 000002 used up, 000003 expired on 25.11: only 000000 is left of the first night
    assert live["code"].to_list() == ["CODE000000", "CODE000004", "CODE000005"]
    publish_pos(tonight, live, revoked, tmp_path, run_id=2, as_of=NIGHT2, currency="RUB", target_names={})
    pos = tmp_path / "pos"
    snapshot = pl.read_csv(pos / "coupons.csv", infer_schema=False)
    delta = pl.read_csv(pos / "new_coupons.csv", infer_schema=False)
    assert snapshot.columns == list(POS_COLUMNS) == delta.columns
    assert snapshot["code"].to_list() == ["CODE000000", "CODE000004", "CODE000005"]
    assert delta["code"].to_list() == ["CODE000004", "CODE000005"]
    assert set(snapshot["currency"]) == {"RUB"} and set(snapshot["display_text"]) == {"15% OFF S1"}
    assert pl.read_csv(pos / "revocations.csv", infer_schema=False)["code"].to_list() == ["CODE000001"]
    manifest = json.loads((pos / "manifest.json").read_text())
    assert manifest["rows"] == {"coupons.csv": 3, "new_coupons.csv": 2, "revocations.csv": 1}
    assert (manifest["layout_version"], manifest["currency"]) == ("2.0", "RUB")
