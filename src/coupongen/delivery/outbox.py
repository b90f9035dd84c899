"""The night's messages, published: one folder per channel and the list of rejected messages.

Each folder is published atomically with a manifest: ``email/`` (merge file, one HTML file per
customer, barcode images), ``sms/`` and ``app/`` (JSON Lines), and ``delivery/`` with
rejected_messages.csv (who fell back to another channel or got no message, and why) and the
message counts, which reconcile: planned = sent + fallen_back + rejected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import polars as pl

from coupongen.delivery.files import write_csv
from coupongen.delivery.image_files import render_images
from coupongen.delivery.planning import Delivery, DeliveryContext, plan_delivery
from coupongen.delivery.publish import publish_folder
from coupongen.delivery.safe_names import safe_stems

IMAGE_CACHE = "images"
REJECTED_FILE = "rejected_messages.csv"


def deliver(
    ctx: DeliveryContext,
    coupons: pl.DataFrame,
    customers: pl.DataFrame,
    run_dir: Path,
    *,
    run_id: int,
    as_of: date,
) -> tuple[Delivery, dict[str, str]]:
    """Render every customer's message once, draw the e-mails' images and publish the channel
    folders; returns the delivery and the main file of each channel's folder.
    """
    live = coupons.filter(pl.col("status") == "issued")
    sent = plan_delivery(ctx, live, customers)
    images = {}
    if ctx.email_images:
        by_email = sent.channels.filter(pl.col("channel") == "email")["customer_id"]
        images = render_email_images(live, by_email, run_dir)
    files = publish_delivery(sent, run_dir, run_id=run_id, as_of=as_of, image_paths=images)
    return sent, files


def render_email_images(coupons: pl.DataFrame, email_customers: pl.Series, run_dir: Path) -> dict[str, str]:
    """Barcode / QR PNGs for the coupons that go out by e-mail, cached per night for reruns.

    Returns each code's image path relative to the cache folder.
    """
    items = coupons.filter(pl.col("customer_id").is_in(email_customers.implode())).select(
        "code", pl.col("barcode_value").alias("payload"), "symbology"
    )
    if items.is_empty():
        return {}
    done = render_images(items, run_dir / IMAGE_CACHE, formats=("png",))
    return dict(zip(done["code"].to_list(), done["png_path"].to_list(), strict=True))


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        dst.write_bytes(src.read_bytes())


def publish_delivery(
    delivery: Delivery, run_dir: Path, *, run_id: int, as_of: date, image_paths: Mapping[str, str]
) -> dict[str, str]:
    """Publish email/, sms/, app/ and delivery/ for the night, each atomically with a manifest."""
    meta = {"run_id": run_id, "as_of": as_of.isoformat()}
    msgs = delivery.messages

    def write_email(folder: Path) -> dict[str, object]:
        # File names never come from the data as they are: see safe_names.
        stems = safe_stems(msgs.email["customer_id"])
        merge = msgs.email.with_columns(("html/" + stems + ".html").alias("html_file"))
        write_csv(merge.drop("html"), folder / "merge.csv")
        (folder / "html").mkdir()
        for stem, html in zip(stems, msgs.email["html"], strict=True):
            (folder / "html" / f"{stem}.html").write_text(html + "\n", encoding="utf-8")
        for rel in sorted(set(image_paths.values())):
            _link_or_copy(run_dir / IMAGE_CACHE / rel, folder / "images" / rel)
        return {**meta, "channel": "email", "rows": {"merge.csv": msgs.email.height}}

    def write_sms(folder: Path) -> dict[str, object]:
        write_csv(msgs.sms, folder / "messages.csv")
        return {**meta, "channel": "sms", "rows": {"messages.csv": msgs.sms.height}}

    def write_app(folder: Path) -> dict[str, object]:
        text = "".join(line + "\n" for line in msgs.app["payload"].to_list())
        (folder / "messages.jsonl").write_text(text, encoding="utf-8")
        return {**meta, "channel": "app", "rows": {"messages.jsonl": msgs.app.height}}

    def write_rejected(folder: Path) -> dict[str, object]:
        write_csv(msgs.rejected, folder / REJECTED_FILE)
        return {**meta, "rows": {REJECTED_FILE: msgs.rejected.height}, "messages": msgs.counts()}

    files: dict[str, str] = {}
    for name, write, main in (
        ("email", write_email, "merge.csv"),
        ("sms", write_sms, "messages.csv"),
        ("app", write_app, "messages.jsonl"),
    ):
        publish_folder(run_dir / name, write)
        files[name] = str(run_dir / name / main)
    # Not among the returned files: the summary lists the consumers' files only.
    publish_folder(run_dir / "delivery", write_rejected)
    return files
