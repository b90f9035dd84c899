"""The ledger and codes commands, driven through the CLI as a user types them."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from coupongen.codes import SIGNING_KEY_ENV, SIGNING_KEY_FILE_ENV, check_character, code_maker
from coupongen.config import load_job
from coupongen.ledger import Ledger
from coupongen.offers.planning import OFFER_COLUMNS
from tests.conftest import AS_OF, NIGHTLY, invoke, run_nightly

KEY = "a-signing-key-for-tests-only-0123456789"
NIGHT = date(2026, 11, 22)

JOB = """
name = "t"
ledger = "ledger.sqlite"
campaigns = ["plain.toml", "signed.toml"]
"""
PLAIN = """
name = "plain"
type = "cross_sell"
reward = { type = "percent", value = 10 }
code = { prefix = "X", length = 10 }
"""
SIGNED = """
name = "signed"
type = "vip_reward"
reward = { type = "points", value = 100 }
max_uses = 2
code = { prefix = "S", length = 10, signed = true, symbology = "qr", qr_payload = "signed" }
"""


def offer_rows(campaign: str, customers: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "offer_key": f"{campaign}:{NIGHT}:{c}:0",
                "kind": "personal",
                "symbology": "code128",
                "as_of": NIGHT.isoformat(),
                "campaign": campaign,
                "offer_type": "cross_sell",
                "customer_id": c,
                "card_number": "2770" + c[1:],
                "target_kind": "basket",
                "target": None,
                "reward_type": "percent",
                "reward_value": 10.0,
                "min_basket": 0.0,
                "valid_from": "2026-11-23",
                "valid_to": "2026-12-06",
                "max_uses": 1,
                "expected_cost": 1.0,
                "reason": "test",
            }
            for c in customers
        ],
        schema=OFFER_COLUMNS,
    )


@pytest.fixture
def job_dir(tmp_path: Path, monkeypatch) -> Path:
    """A job with a plain and a signed campaign, and a ledger with one run of three coupons."""
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    monkeypatch.delenv(SIGNING_KEY_FILE_ENV, raising=False)
    (tmp_path / "job.toml").write_text(JOB)
    (tmp_path / "plain.toml").write_text(PLAIN)
    (tmp_path / "signed.toml").write_text(SIGNED)
    job = load_job(tmp_path / "job.toml")
    with Ledger.open(tmp_path / "ledger.sqlite") as led:
        run = led.start_run(job="t", as_of=NIGHT, config_hash="h")
        for campaign, customers in (("plain", ["C1", "C2"]), ("signed", ["C3"])):
            make = code_maker(job.campaign(campaign), as_of=NIGHT, key=KEY.encode())
            led.issue_coupons(offer_rows(campaign, customers), run=run, make_codes=make)
        led.record_controls(offer_rows("plain", ["C9"]), run=run)
        led.finish_run(run, status="succeeded")
        led.conn.execute(
            "UPDATE runs SET started_at = '2026-11-22T01:00:00+00:00', "
            "finished_at = '2026-11-22T01:00:07+00:00'"
        )
    return tmp_path


def code_of(job_dir: Path, customer: str) -> str:
    with Ledger.open(job_dir / "ledger.sqlite") as led:
        return str(led.coupons().filter(pl.col("customer_id") == customer)["code"].item())


# --- coupongen ledger ------------------------------------------------------------------------------


def test_ledger_lists_runs_and_totals(job_dir):
    result = invoke("ledger", "--config", str(job_dir / "job.toml"))
    assert result.exit_code == 0
    assert result.output == (
        f"ledger {job_dir / 'ledger.sqlite'} (schema version 6)\n"
        "  run  job          as of       status     started (UTC)        finished (UTC)         coupons   holdout\n"
        "    1  t            2026-11-22  succeeded  2026-11-22 01:00:00  2026-11-22 01:00:07          3         1\n"
        "total: 1 run (1 succeeded); 3 coupons (3 personal; 0 void); 1 in holdout; 0 redemptions\n"
    )
    same = invoke("ledger", "--ledger", str(job_dir / "ledger.sqlite"))
    assert same.output == result.output
    assert invoke("ledger", "--out", str(job_dir)).output.splitlines()[0] == (
        f"ledger {job_dir / 'ledger.sqlite'} (schema version 6)"
    )


def test_ledger_of_a_missing_file_is_an_input_error(tmp_path):
    result = invoke("ledger", "--ledger", str(tmp_path / "nope.sqlite"))
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {tmp_path / 'nope.sqlite'}: no coupon ledger there (check --ledger, --out or --config)\n"
    )
    assert not (tmp_path / "nope.sqlite").exists()


def test_ledger_shows_the_lock_and_unlock_releases_a_dead_remote_holder(job_dir):
    path = str(job_dir / "ledger.sqlite")
    with Ledger.open(path) as led:
        run = led.start_run(job="t", as_of=NIGHT, config_hash="h")
        led.conn.execute("UPDATE locks SET host = 'othermachine', pid = 1, acquired_at = 'then'")
    shown = invoke("ledger", "--ledger", path).output.splitlines()
    assert shown[-1] == f"locked by run {run.run_id} (pid 1 on othermachine, since then)"
    assert "running" in shown[3]

    wrong = invoke("ledger", "unlock", "7", "--ledger", path)
    assert wrong.exit_code == 1
    assert wrong.output == f"Error: {path}: run 7 does not hold the lock (run 2 holds it)\n"
    result = invoke("ledger", "unlock", str(run.run_id), "--ledger", path)
    assert result.exit_code == 0
    assert result.output == "released the lock of run 2; it is marked failed\n"
    assert "locked by" not in invoke("ledger", "--ledger", path).output


def test_the_ledger_of_the_sample_run_matches_its_exports(sample_run):
    result = invoke("ledger", "--out", str(sample_run.out))
    assert result.exit_code == 0
    pos = pl.read_csv(sample_run.night / "pos" / "coupons.csv", infer_schema=False)
    summary = json.loads((sample_run.night / "summary.json").read_text())
    run_line = result.output.splitlines()[2].split()
    assert run_line[:4] == ["1", "nightly", AS_OF, "succeeded"]
    assert int(run_line[-2].replace(",", "")) == pos.height
    assert int(run_line[-1].replace(",", "")) == summary["coupons"]["control"]
    referral = pos.filter(pl.col("kind") == "referral").height
    assert (
        f"{pos.height:,} coupons ({pos.height - referral:,} personal, {referral:,} referral; 0 void)"
        in result.output
    )


# --- coupongen codes verify ------------------------------------------------------------------------


def verify(job_dir: Path, *args: str):
    return invoke("codes", "verify", *args, "--config", str(job_dir / "job.toml"))


def test_verify_a_valid_code_exits_0(job_dir):
    code = code_of(job_dir, "C1")
    result = verify(job_dir, code, "--as-of", "2026-11-30")
    assert result.exit_code == 0
    assert result.output == (
        f"valid: {code} (campaign plain, personal, customer C1; valid 2026-11-23 to 2026-12-06, "
        "used 0 of 1)\n"
    )


@pytest.mark.parametrize(
    ("as_of", "status"),
    [("2026-12-07", "expired"), ("2026-11-22", "not yet valid")],
)
def test_verify_out_of_dates_exits_1(job_dir, as_of, status):
    code = code_of(job_dir, "C1")
    result = verify(job_dir, code, "--as-of", as_of)
    assert result.exit_code == 1
    assert result.output.startswith(f"{status}: {code} (campaign plain")


def test_verify_a_redeemed_code(job_dir):
    code = code_of(job_dir, "C2")
    with Ledger.open(job_dir / "ledger.sqlite") as led:
        coupon_id = led.find_coupon(code=code)["coupon_id"]
        led.conn.execute(
            "INSERT INTO redemptions (code, coupon_id, redeemed_at, store_id, status, imported_at) "
            "VALUES (?, ?, '2026-11-25T18:02:11', 'S12', 'accepted', 'now')",
            (code, coupon_id),
        )
    result = verify(job_dir, code, "--as-of", "2026-11-26")
    assert result.exit_code == 1
    assert result.output == (
        f"redeemed: {code} (campaign plain, personal, customer C2; used 1 of 1, last on "
        "2026-11-25T18:02:11)\n"
    )


def test_verify_a_typo_and_an_unknown_code(job_dir):
    code = code_of(job_dir, "C1")
    typo = code[:4] + code[5] + code[4] + code[6:] if code[4] != code[5] else code[:4] + "Z" + code[5:]
    result = verify(job_dir, typo)
    assert result.exit_code == 1
    assert result.output == (
        f"bad check character: {typo} (format of plain: a character is mistyped or two are swapped)\n"
    )
    body = "X2345678923"
    made_up = body + check_character(body[1:], "23456789ABCDEFGHJKMNPQRSTUVWXYZ")
    result = verify(job_dir, made_up)
    assert (result.exit_code, result.output) == (
        1,
        f"unknown: {made_up} (well formed, but not in the ledger)\n",
    )


def test_verify_signed_code_and_payload_offline(job_dir):
    code = code_of(job_dir, "C3")
    result = verify(job_dir, code, "--offline")
    assert result.exit_code == 0
    assert result.output == (
        f"valid: {code} (campaign signed, signature valid; checked offline, so redemptions and "
        "expiry were not seen)\n"
    )
    with Ledger.open(job_dir / "ledger.sqlite") as led:
        payload = str(led.find_coupon(code=code)["barcode_value"])
    assert payload.startswith(f"CG2.{code}.")
    assert verify(job_dir, payload, "--offline", "--as-of", "2026-12-06").exit_code == 0
    late = verify(job_dir, payload, "--offline", "--as-of", "2026-12-07")
    assert (late.exit_code, late.output) == (
        1,
        f"expired: {payload} (signed payload of {code}, campaign signed, valid until 2026-12-06)\n",
    )
    assert KEY not in result.output + late.output


def test_verify_a_forged_signed_code_offline(job_dir):
    code = code_of(job_dir, "C3")
    inner = code[1:11] + "2345"
    forged = "S" + inner + check_character(inner, "23456789ABCDEFGHJKMNPQRSTUVWXYZ")
    if forged == code:  # the real signature happens to be 2345: alter the body instead
        inner = ("2" if code[1] != "2" else "3") + code[2:15]
        forged = "S" + inner + check_character(inner, "23456789ABCDEFGHJKMNPQRSTUVWXYZ")
    result = verify(job_dir, forged, "--offline")
    assert result.exit_code == 1
    assert result.output == f"bad signature: {forged} (format of signed: forged or altered)\n"


def test_verify_offline_without_a_key_is_a_configuration_error(job_dir, monkeypatch):
    monkeypatch.delenv(SIGNING_KEY_ENV)
    result = verify(job_dir, code_of(job_dir, "C3"), "--offline")
    assert result.exit_code == 2
    assert result.output == (
        "Error: verifying a signed code offline needs the signing key: set COUPONGEN_SIGNING_KEY "
        "or COUPONGEN_SIGNING_KEY_FILE, or pass --key-file\n"
    )


def test_verify_with_a_key_file(job_dir, monkeypatch, tmp_path):
    monkeypatch.delenv(SIGNING_KEY_ENV)
    key_file = tmp_path / "signing.key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o644)
    loose = verify(job_dir, code_of(job_dir, "C3"), "--offline", "--key-file", str(key_file))
    assert loose.exit_code == 2
    assert loose.output == (
        f"Error: {key_file}: signing key file is accessible to group or others (chmod 600 {key_file})\n"
    )
    key_file.chmod(0o600)
    assert verify(job_dir, code_of(job_dir, "C3"), "--offline", "--key-file", str(key_file)).exit_code == 0


def test_verify_an_unsigned_code_offline_says_it_cannot(job_dir):
    code = code_of(job_dir, "C1")
    result = verify(job_dir, code, "--offline")
    assert result.exit_code == 1
    assert result.output == (
        f"unknown: {code} (check character is right, but plain does not sign its codes: only "
        "signed codes can be verified offline)\n"
    )


def test_verify_offline_needs_the_job_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("codes", "verify", "X123", "--offline")
    assert result.exit_code == 2
    assert "--offline needs the job file for the campaigns' code formats" in result.output


def test_a_signed_campaign_without_a_key_fails_the_run_with_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    monkeypatch.delenv(SIGNING_KEY_FILE_ENV, raising=False)
    jobs = tmp_path / "jobs"
    shutil.copytree(NIGHTLY.parent, jobs)
    campaign = jobs / "campaigns" / "cross_sell.toml"
    campaign.write_text(campaign.read_text().replace('symbology = "qr"', 'symbology = "qr", signed = true'))
    result = invoke(
        "run", "--config", str(jobs / "nightly.toml"), "--data", str(NIGHTLY.parent.parent / "sample_data"),
        "--out", str(tmp_path / "out"), "--as-of", AS_OF, "-q",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output == (
        "Error: campaign 'cross_sell' needs a signing key: set COUPONGEN_SIGNING_KEY, or "
        "COUPONGEN_SIGNING_KEY_FILE to a file readable only by its owner\n"
    )
    with Ledger.open(tmp_path / "out" / "ledger.sqlite") as led:
        assert led.coupons().height == 0
        assert led.runs()["status"].to_list() == ["failed"]


# --- coupongen codes entropy -----------------------------------------------------------------------


def test_entropy_describes_every_campaign():
    result = invoke("codes", "entropy", "--config", str(NIGHTLY), "--issued", "1000000")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "with 1,000,000 live coupons per campaign:"
    by_name = {line.split()[0]: line.split() for line in lines[2:]}
    assert set(by_name) == {c.name for c in load_job(NIGHTLY).campaigns}
    assert by_name["win_back"][1:] == [
        "ean13",
        "49.5",
        "1",
        "in",
        "819,628,287",
        "-",
        "-",
        "33.2",
        "1",
        "in",
        "10,000",
    ]
    assert by_name["replenishment"][-4:] == ["39.9", "1", "in", "1,000,000"]


def test_voided_coupons_leave_the_pos_file_and_join_the_revocations(fresh_copy):
    pos = fresh_copy.night / "pos"
    before = pl.read_csv(pos / "coupons.csv", infer_schema=False)
    gone = before["code"].head(2).to_list()
    result = invoke("ledger", "void", *gone, "--ledger", str(fresh_copy.ledger), "--yes")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("voided 2 coupon(s) of 2 code(s)")
    assert run_nightly(fresh_copy.out).exit_code == 0
    after = pl.read_csv(pos / "coupons.csv", infer_schema=False)
    revoked = pl.read_csv(pos / "revocations.csv", infer_schema=False)
    assert after.height == before.height - 2 and not set(gone) & set(after["code"])
    assert sorted(revoked["code"]) == sorted(gone)
    manifest = (pos / "manifest.json").read_text()
    assert '"revocations.csv": 2' in manifest
    again = invoke("ledger", "void", *gone, "--ledger", str(fresh_copy.ledger), "--yes")
    assert again.exit_code == 0 and again.output.startswith("nothing to void: no live coupon of 2 code(s)")


def test_void_refuses_unknown_codes_and_needs_codes_or_a_campaign(fresh_copy):
    unknown = invoke("ledger", "void", "NOPE123", "--ledger", str(fresh_copy.ledger))  # refused before asking
    assert unknown.exit_code == 1 and "no coupon with code 'NOPE123'" in unknown.output
    assert "Void the" not in unknown.output
    neither = invoke("ledger", "void", "--ledger", str(fresh_copy.ledger), "--yes")
    assert neither.exit_code == 2 and "give either CODE... or --campaign NAME" in neither.output
    whole = invoke("ledger", "void", "--campaign", "referral", "--ledger", str(fresh_copy.ledger), "--yes")
    assert whole.exit_code == 0 and "of campaign 'referral'" in whole.output
