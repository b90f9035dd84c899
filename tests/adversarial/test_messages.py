"""Headers and SMS carry no control characters; malformed contacts are refused with a reason."""

from __future__ import annotations

import polars as pl

from coupongen.delivery.messages import email_ok, msisdn_of, one_line


def _read(path):
    return pl.read_csv(path, infer_schema_length=0)


def test_a_name_with_crlf_cannot_add_an_email_header(hostile_run):
    merge = _read(hostile_run.night / "email" / "merge.csv")
    row = merge.filter(pl.col("customer_id") == "C0000014").row(0, named=True)
    assert row["first_name"] == "Ann Bcc: spy@evil.example"
    assert row["subject"].startswith("Ann Bcc: spy@evil.example, ")
    for column in ("first_name", "subject", "email"):
        assert not merge[column].str.contains(r"[\x00-\x1f\x7f]").any(), column


def test_malformed_contacts_are_rejected_with_a_reason_not_sent(hostile_run):
    rejected = _read(hostile_run.night / "delivery" / "rejected_messages.csv")
    reasons = {(r["customer_id"], r["channel"]): r["reason"] for r in rejected.iter_rows(named=True)}
    assert reasons[("C0000004", "sms")] == "phone number is not valid"
    sms = _read(hostile_run.night / "sms" / "messages.csv")
    assert "790000000135" not in sms["msisdn"].to_list()
    assert "C0000004" not in sms["customer_id"].to_list()
    assert not sms["text"].str.contains(r"[\x00-\x1f\x7f]").any()
    merge = _read(hostile_run.night / "email" / "merge.csv")
    assert "C0000017" not in merge["customer_id"].to_list()  # its address is two header lines
    assert not merge["email"].str.contains(r"\s").any()


def test_contact_checks():
    assert msisdn_of("+7 (900) 000-00-13") == "79000000013"
    assert msisdn_of("+7 900 000 00 13 ext 5") is None
    assert msisdn_of("12345") is None  # too short for a number
    assert msisdn_of("+7 900 000 00 13 +7 900 000 00 14") is None  # two numbers, 22 digits
    assert email_ok("ann@example.com")
    for bad in ("ann@example.com\r\nBcc: x@y.z", "a@b", "ann example@x.com", "a@b.com, c@d.com", "<a@b.com>"):
        assert not email_ok(bad), bad
    assert one_line("a\r\nb\tc\x00\u2028d ") == "a b c d"
