"""Delivery of the night's coupons to customers: channel choice, images, messages, publication.

The plan is checked before any code is issued (channels chosen, every SMS measured with codes of
the real length), so a template that is too long fails the preview and the run alike, before the
ledger is touched. After issuing, each channel's folder is published atomically: ``email/`` (merge
file, one HTML file per customer, barcode images), ``sms/`` and ``app/`` (JSON Lines).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from coupongen.config import Job
from coupongen.delivery import files as channel_files
from coupongen.delivery import images as render
from coupongen.delivery import messages
from coupongen.delivery.publish import publish_folder

IMAGE_CACHE = "images"


@dataclass
class Delivery:
    """Who is reached by which channel, and the messages they get."""

    channels: pl.DataFrame  # customer_id, channel (null: unreachable), coupons
    messages: messages.Messages
    suppressed: int

    def counts(self) -> dict[str, int]:
        """Customers per channel, unreachable ones included, and how many were suppressed."""
        by = dict(self.channels.group_by("channel").len().rows())
        out = {ch: int(by.get(ch, 0)) for ch in messages.CHANNELS}
        out["unreachable"] = int(by.get(None, 0))
        out["suppressed"] = self.suppressed
        return out


def _suppression(job: Job) -> list[str]:
    path = job.config.channels.suppression
    return messages.read_suppression(job.resolve(path)) if path else []


def _target_names(products: pl.DataFrame) -> dict[str, str]:
    names = dict(zip(products["sku"].to_list(), products["name"].to_list(), strict=True))
    names.update({c: c for c in products["category"].unique().to_list()})
    return names


def placeholder_coupons(job: Job, offers: pl.DataFrame) -> pl.DataFrame:
    """Offers with stand-in codes of the real length, to measure messages before codes exist."""
    stand_in = {
        c.name: c.code.prefix + "X" * (c.code.code_format().size - len(c.code.prefix)) for c in job.campaigns
    }
    code = pl.col("campaign").replace_strict(stand_in, return_dtype=pl.String)
    return offers.with_columns(code.alias("code"), code.alias("barcode_value"))


def choose(job: Job, coupons: pl.DataFrame, customers: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Each customer's channel (customer_id, channel, coupons) and how many were suppressed."""
    contacts = messages.contact_status(customers, _suppression(job))
    priorities = {c.name: c.channels for c in job.campaigns}
    chosen = messages.choose_channels(coupons, contacts, priorities)
    suppressed = contacts.join(chosen.select("customer_id"), on="customer_id")["suppressed"].sum()
    return chosen, int(suppressed)


def plan_delivery(
    job: Job,
    coupons: pl.DataFrame,
    customers: pl.DataFrame,
    products: pl.DataFrame,
    *,
    chosen: tuple[pl.DataFrame, int] | None = None,
    image_paths: Mapping[str, str] | None = None,
) -> Delivery:
    """Choose each customer's channel and render every message (SMS lengths are checked here)."""
    cfg = job.config.channels
    channels_, suppressed = chosen if chosen is not None else choose(job, coupons, customers)
    env = messages.template_environment(job.resolve(cfg.templates))
    rendered = messages.render_messages(
        coupons,
        channels_,
        customers,
        _target_names(products),
        env,
        brand=cfg.brand,
        currency=job.config.currency,
        max_sms_parts=cfg.max_sms_parts,
        image_paths=image_paths,
    )
    return Delivery(channels_, rendered, suppressed)


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        dst.write_bytes(src.read_bytes())


def render_email_images(
    job: Job, coupons: pl.DataFrame, email_customers: pl.Series, run_dir: Path
) -> dict[str, str]:
    """Barcode / QR PNGs for the coupons that go out by e-mail, cached per night for reruns."""
    if not job.config.channels.email_images or email_customers.is_empty():
        return {}
    items = coupons.filter(pl.col("customer_id").is_in(email_customers.implode())).select(
        "code", pl.col("barcode_value").alias("payload"), "symbology"
    )
    if items.is_empty():
        return {}
    done = render.render_images(items, run_dir / IMAGE_CACHE, formats=("png",))
    return dict(zip(done["code"].to_list(), done["png_path"].to_list(), strict=True))


def publish_delivery(
    delivery: Delivery, run_dir: Path, *, run_id: int, as_of: date, image_paths: Mapping[str, str]
) -> dict[str, str]:
    """Publish email/, sms/ and app/ for the night, each atomically with a manifest."""
    meta = {"run_id": run_id, "as_of": as_of.isoformat()}
    msgs = delivery.messages
    files: dict[str, str] = {}

    def write_email(folder: Path) -> dict[str, object]:
        merge = msgs.email.with_columns(("html/" + pl.col("customer_id") + ".html").alias("html_file"))
        channel_files.write_csv(merge.drop("html"), folder / "merge.csv")
        (folder / "html").mkdir()
        for cid, html in zip(msgs.email["customer_id"], msgs.email["html"], strict=True):
            (folder / "html" / f"{cid}.html").write_text(html + "\n", encoding="utf-8")
        for rel in sorted(set(image_paths.values())):
            _link_or_copy(run_dir / IMAGE_CACHE / rel, folder / "images" / rel)
        return {**meta, "channel": "email", "rows": {"merge.csv": msgs.email.height}}

    def write_sms(folder: Path) -> dict[str, object]:
        channel_files.write_csv(msgs.sms, folder / "messages.csv")
        return {**meta, "channel": "sms", "rows": {"messages.csv": msgs.sms.height}}

    def write_app(folder: Path) -> dict[str, object]:
        text = "".join(line + "\n" for line in msgs.app["payload"].to_list())
        (folder / "messages.jsonl").write_text(text, encoding="utf-8")
        return {**meta, "channel": "app", "rows": {"messages.jsonl": msgs.app.height}}

    for name, write, main in (
        ("email", write_email, "merge.csv"),
        ("sms", write_sms, "messages.csv"),
        ("app", write_app, "messages.jsonl"),
    ):
        publish_folder(run_dir / name, write)
        files[name] = str(run_dir / name / main)
    return files
