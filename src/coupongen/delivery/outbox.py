"""The night's messages, published: one folder per channel and the list of rejected messages.

Each folder is published atomically with a manifest: ``email/`` (merge file, one HTML and one .eml
file per customer, the barcode images in one archive), ``sms/`` and ``app/`` (JSON Lines), and
``delivery/`` with rejected_messages.csv (who fell back to another channel or got no message, and why) and the
message counts, which reconcile: planned = sent + fallen_back + rejected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path

import polars as pl

from coupongen.delivery.eml import build_eml
from coupongen.delivery.image_files import DEFAULT_STYLE, PACK_NAME, read_pack, render_images
from coupongen.delivery.images import ImageStyle
from coupongen.delivery.merge_fields import merge_frame
from coupongen.delivery.planning import Delivery, DeliveryContext, image_links, plan_delivery
from coupongen.delivery.publish import PRIVATE, ExportModes, publish_folder, write_files
from coupongen.delivery.safe_names import safe_stems
from coupongen.progress import SILENT, Clock
from coupongen.safecsv import write_csv

IMAGE_CACHE = "images"
REJECTED_FILE = "rejected_messages.csv"


def deliver(
    ctx: DeliveryContext,
    coupons: pl.DataFrame,
    customers: pl.DataFrame,
    run_dir: Path,
    *,
    run_id: int | None,
    as_of: date,
    clock: Clock | None = None,
    before_publish: Callable[[Delivery], None] | None = None,
) -> tuple[Delivery, dict[str, str]]:
    """Render every customer's message once, draw the e-mails' images and publish the channel
    folders; returns the delivery and the main file of each channel's folder.

    ``clock`` hears the stages "messages" (customers rendered), "images" (images drawn) and
    "publish" (messages written), with their items. ``before_publish`` hears the planned delivery
    before anything is written (reminders are recorded there, so that a rerun publishes them again).
    """
    clock = clock or Clock(SILENT)
    # A public code is printed or posted, not messaged: it has no holder.
    live = coupons.filter((pl.col("status") == "issued") & (pl.col("kind") != "public"))
    clock.start("messages", live["customer_id"].n_unique())
    sent = plan_delivery(ctx, live, customers, on_progress=lambda n: clock.advance("messages", n))
    clock.done("messages", ", ".join(f"{k} {v:,}" for k, v in sent.counts().items()))
    if before_publish is not None:
        before_publish(sent)
    images = {}
    if ctx.email_images:
        by_email = sent.channels.filter(pl.col("channel") == "email")["customer_id"]
        images = render_email_images(live, by_email, run_dir, style=ctx.image_style, clock=clock)
    msgs = sent.messages
    clock.start("publish", msgs.email.height + msgs.sms.height + msgs.app.height)
    files = publish_delivery(
        sent,
        run_dir,
        run_id=run_id,
        as_of=as_of,
        image_paths=images,
        ctx=ctx,
        coupons=live,
        on_progress=lambda n: clock.advance("publish", n),
        modes=ctx.exports,
    )
    clock.done("publish", f"e-mail {msgs.email.height:,}, SMS {msgs.sms.height:,}, app {msgs.app.height:,}")
    return sent, files


def render_email_images(
    coupons: pl.DataFrame,
    email_customers: pl.Series,
    run_dir: Path,
    *,
    style: ImageStyle = DEFAULT_STYLE,
    clock: Clock | None = None,
) -> dict[str, str]:
    """Barcode / QR PNGs for the coupons that go out by e-mail, packed into one archive per night
    (``images/images.zip``), cached for reruns.

    Returns each code's image name in the archive.
    """
    items = coupons.filter(pl.col("customer_id").is_in(email_customers.implode())).select(
        "code", pl.col("barcode_value").alias("payload"), "symbology"
    )
    if items.is_empty():
        return {}
    clock = clock or Clock(SILENT)
    clock.start("images", items.height)
    done = render_images(
        items,
        run_dir / IMAGE_CACHE,
        formats=("png",),
        style=style,
        on_progress=lambda n: clock.advance("images", n),
    )
    clock.done("images", f"{items.height:,} barcode images")
    return dict(zip(done["code"].to_list(), done["png_path"].to_list(), strict=True))


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        dst.write_bytes(src.read_bytes())


def publish_delivery(
    delivery: Delivery,
    run_dir: Path,
    *,
    run_id: int | None,
    as_of: date,
    image_paths: Mapping[str, str],
    ctx: DeliveryContext,
    coupons: pl.DataFrame,
    on_progress: Callable[[int], None] | None = None,
    modes: ExportModes = PRIVATE,
) -> dict[str, str]:
    """Publish email/, sms/, app/ and delivery/ for the night, each atomically with a manifest and
    the export ``modes``.

    email/ holds merge.csv (one column per merge field, see `merge_fields`), html/ (the rendered
    e-mails), eml/ (each e-mail as a ready message, images inline unless served from the job's
    ``image_base_url``) and images.zip, every barcode image in one archive laid out as the links
    expect them once unpacked (``<symbology>/<code>.png``). ``on_progress`` hears how many more
    messages were written. Without a ``run_id`` (reminders) the manifests name none.
    """
    tell = on_progress or (lambda n: None)
    meta: dict[str, object] = {"as_of": as_of.isoformat()}
    if run_id is not None:
        meta = {"run_id": run_id, **meta}
    msgs = delivery.messages
    # Images at the job's image_base_url stay links; relatively linked ones go inline in the .eml.
    embedded = image_paths if ctx.image_base_url is None else {}
    links = image_links(ctx, coupons.filter(pl.col("code").is_in(list(embedded)))) or {}
    owners = coupons.filter(pl.col("code").is_in(list(links))).select("customer_id", "code").iter_rows()
    by_customer: dict[str, dict[str, str]] = {}
    for customer, code in owners:
        by_customer.setdefault(customer, {})[links[code]] = image_paths[code]

    image_data = read_pack(run_dir / IMAGE_CACHE) if by_customer else {}

    hashed: dict[Path, str] = {}

    def email_files(folder: Path, stems: pl.Series) -> Iterator[tuple[Path, bytes]]:
        rows = msgs.email.select("customer_id", "email", "subject", "html").iter_rows()
        for i, ((cid, to, subject, html), stem) in enumerate(zip(rows, stems, strict=True), 1):
            if i % 1000 == 0:
                tell(1000)
            yield folder / "html" / f"{stem}.html", (html + "\n").encode("utf-8")
            eml = build_eml(
                to=to,
                subject=subject,
                html=html + "\n",
                images=by_customer.get(cid, {}),
                image_data=image_data,
                unsubscribe_url=ctx.unsubscribe_url,
                sender=ctx.sender,
            )
            yield folder / "eml" / f"{stem}.eml", eml

    def write_email(folder: Path) -> dict[str, object]:
        # File names never come from the data as they are: see safe_names.
        stems = safe_stems(msgs.email["customer_id"])
        write_csv(merge_frame(msgs.email, ctx.merge_slots, stems), folder / "merge.csv")
        (folder / "html").mkdir()
        (folder / "eml").mkdir()
        if image_paths:
            # One archive for all the night's images, not one file each.
            _link_or_copy(run_dir / IMAGE_CACHE / PACK_NAME, folder / PACK_NAME)
        write_files(email_files(folder, stems), digests=hashed)
        tell(msgs.email.height % 1000)
        return {**meta, "channel": "email", "rows": {"merge.csv": msgs.email.height}}

    def write_sms(folder: Path) -> dict[str, object]:
        write_csv(msgs.sms, folder / "messages.csv")
        tell(msgs.sms.height)
        return {**meta, "channel": "sms", "rows": {"messages.csv": msgs.sms.height}}

    def write_app(folder: Path) -> dict[str, object]:
        text = "".join(line + "\n" for line in msgs.app["payload"].to_list())
        (folder / "messages.jsonl").write_text(text, encoding="utf-8")
        tell(msgs.app.height)
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
        publish_folder(run_dir / name, write, modes=modes, digests=hashed)
        files[name] = str(run_dir / name / main)
    # Not among the returned files: the summary lists the consumers' files only.
    publish_folder(run_dir / "delivery", write_rejected, modes=modes)
    return files
