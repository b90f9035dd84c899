"""No file name comes from the data: hostile customer ids stay inside the output folder."""

from __future__ import annotations

import polars as pl

from coupongen.delivery.safe_names import safe_stem
from tests.adversarial.hostile import ESCAPED_NAME, HOSTILE_IDS


def test_hostile_ids_do_not_fail_the_night(hostile_run):
    assert hostile_run.result.exit_code == 0, hostile_run.result.output


def test_nothing_is_written_outside_the_output_folder(hostile_run):
    written = [p for p in hostile_run.root.rglob(ESCAPED_NAME)]
    assert written == []
    outside = [p for p in hostile_run.root.rglob("*") if p.is_file() and hostile_run.out not in p.parents]
    assert all(p.parts[len(hostile_run.root.parts)] in ("data", "jobs") for p in outside), outside


def test_hostile_ids_get_hashed_file_names_listed_in_the_merge_file(hostile_run):
    merge = pl.read_csv(hostile_run.night / "email" / "merge.csv", infer_schema_length=0)
    named = dict(zip(merge["customer_id"], merge["html_file"], strict=True))
    for cid in HOSTILE_IDS.values():
        assert named[cid] == f"html/{safe_stem(cid)}.html"
        assert (hostile_run.night / "email" / named[cid]).is_file()
    assert named["C0000001" if "C0000001" in named else next(iter(named))].startswith("html/")


def test_safe_stem_keeps_plain_ids_and_hashes_the_rest():
    assert safe_stem("C0000001") == "C0000001"
    assert safe_stem("ab-c_9") == "ab-c_9"
    for bad in ("../x", "a/b", ".hidden", "", "_x", "a b", "a\nb", "é", "x" * 65, "a\\b"):
        stem = safe_stem(bad)
        assert stem.startswith("_") and len(stem) == 33 and stem[1:].isalnum(), bad
    assert safe_stem("../x") != safe_stem("../y")
