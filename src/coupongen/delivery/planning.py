"""Delivery planning: who gets which message by which channel, decided once per run.

The templates and the suppression list are read once into a frozen `DeliveryContext`. Before any
code is issued the templates are compiled and rendered on stand-in coupons, so a broken template
stops the run (exit 2) with nothing issued; after issuing, every message is rendered once, with the
real codes. The dry run plans the same way on stand-in codes of the real length, and counts the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import polars as pl

from coupongen.config import Job
from coupongen.delivery import channels as channel_choice
from coupongen.delivery import messages
from coupongen.delivery import names as display_names
from coupongen.delivery.campaign_messages import CampaignMessages, compile_messages
from coupongen.delivery.image_files import image_path
from coupongen.delivery.images import ImageStyle
from coupongen.delivery.publish import ExportModes, export_modes
from coupongen.delivery.templates import Templates, template_environment


@dataclass(frozen=True)
class DeliveryContext:
    """What delivery needs from the job, loaded once: templates, suppression list, each campaign's
    channel priority (in job order) and stand-in code, display names of the targets, message
    settings (phone_region: the country of phone numbers written without a country code, from the
    job's locale), who may read the published folders.
    """

    templates: Templates
    suppression: tuple[str, ...]
    priorities: Mapping[str, tuple[str, ...]]
    stand_in_codes: Mapping[str, str]
    target_names: Mapping[str, str]
    brand: str
    currency: str
    max_sms_parts: int
    email_images: bool
    exports: ExportModes
    image_style: ImageStyle
    image_base_url: str | None
    unsubscribe_url: str
    merge_slots: int
    campaign_messages: CampaignMessages = field(default_factory=CampaignMessages)
    phone_region: str | None = None
    sender: str | None = None


def category_names_file(job: Job) -> pl.DataFrame | None:
    """The job's category names file (``[products] names``) as category, name; None without one.

    Raises InputError for an unreadable file (see `names.read_category_names`).
    """
    names_file = job.config.products.names
    return display_names.read_category_names(job.resolve(names_file)) if names_file else None


def load_context(job: Job, products: pl.DataFrame) -> DeliveryContext:
    """Read the job's templates (each one its campaigns' channels need is compiled, in every
    language), suppression list and category names, and check its export settings.

    ``products`` (sku, name, category, optionally category_name) names the coupons' targets.
    Raises ConfigError for a missing templates folder, a template that is missing or does not
    compile, or an export group this user cannot use; InputError for an unreadable suppression list
    or names file.
    """
    cfg = job.config.channels
    templates = template_environment(
        job.resolve(cfg.templates), locale=job.config.locale, currency=job.config.currency
    )
    templates.compile({ch for c in job.campaigns if c.enabled for ch in c.channels})
    suppression = channel_choice.read_suppression(job.resolve(cfg.suppression)) if cfg.suppression else []
    names = display_names.target_names(
        products, category_names_file(job), name_case=job.config.products.name_case
    )
    return DeliveryContext(
        templates=templates,
        suppression=tuple(suppression),
        priorities=MappingProxyType({c.name: tuple(c.channels) for c in job.campaigns}),
        stand_in_codes=MappingProxyType(
            {
                c.name: c.code.prefix + "X" * (c.code.code_format().size - len(c.code.prefix))
                for c in job.campaigns
            }
        ),
        target_names=MappingProxyType(names),
        brand=cfg.brand,
        currency=job.config.currency,
        max_sms_parts=cfg.max_sms_parts,
        email_images=cfg.email_images,
        exports=export_modes(job.config.exports),
        image_style=ImageStyle(
            module_px=cfg.barcode_module_px,
            qr_module_px=cfg.qr_module_px,
            qr_quiet_modules=cfg.qr_quiet_modules,
            text=cfg.barcode_text,
        ),
        image_base_url=cfg.image_base_url.rstrip("/") if cfg.image_base_url else None,
        unsubscribe_url=cfg.unsubscribe_placeholder,
        sender=cfg.sender,
        merge_slots=job.config.max_coupons_per_customer,
        campaign_messages=compile_messages(job, templates.text),
        phone_region=messages.phone_region(job.config.locale),
    )


def stand_in_coupons(
    ctx: DeliveryContext, offers: pl.DataFrame, issued: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The night's messaged coupons before codes exist: the live coupons ``issued`` by an earlier run
    of the night, then the planned ``offers`` with stand-in codes of the real length (public codes,
    which are not messaged, left out).
    """
    code = pl.col("campaign").replace_strict(dict(ctx.stand_in_codes), return_dtype=pl.String)
    # A coupon's chance and expected value are the plan's, not the ledger's: messages do not use them.
    planned = (
        offers.filter(pl.col("kind") != "public")
        .drop("chance", "expected_value", strict=False)
        .with_columns(code.alias("code"), code.alias("barcode_value"))
    )
    if issued is None or issued.is_empty():
        return planned
    live = issued.filter((pl.col("status") == "issued") & (pl.col("kind") != "public")).select(
        planned.columns
    )
    return pl.concat([live, planned.cast(live.schema)])  # type: ignore[arg-type]


def check_templates(ctx: DeliveryContext, coupons: pl.DataFrame) -> None:
    """Render every template the campaigns use, in every language, once on stand-in coupons: one of
    each campaign's. Raises ConfigError naming the template that fails (an unknown variable, a
    missing macro file); run before anything is issued.
    """
    sample = coupons.unique("campaign", keep="first", maintain_order=True)
    if sample.is_empty():
        return
    used = {ch for camp in sample["campaign"] for ch in ctx.priorities[camp]}
    for language in ctx.templates.languages:
        context = messages.message_context(
            sample.sort("campaign").to_dicts(),
            first_name="Anna",
            brand=ctx.brand,
            currency=ctx.currency,
            locale=ctx.templates.locale_for(language)[1],
            target_names=ctx.target_names,
            image_paths=image_links(ctx, sample),
            unsubscribe_url=ctx.unsubscribe_url,
        )
        for name in ctx.templates.names(used, [language]):
            ctx.templates.render(name, context)
        # a campaign's own words, in each language it has them, through the templates that show them
        for campaign in sample["campaign"]:
            for key in ctx.campaign_messages.texts.get(campaign, {}):
                if key.split("_")[0] != language:
                    continue
                context["message"] = ctx.campaign_messages.render([campaign], key, context)
                for name in ctx.templates.names(ctx.priorities[campaign], [language]):
                    ctx.templates.render(name, context)
            context["message"] = None


def image_links(ctx: DeliveryContext, coupons: pl.DataFrame) -> dict[str, str] | None:
    """Each code's barcode image as an e-mail links it: under the job's ``image_base_url`` when set
    (email/images/ is laid out for upload there), else relative to the HTML files in email/html/
    (the .eml files carry the images inside).
    """
    if not ctx.email_images:
        return None
    base = ctx.image_base_url or "../images"
    pairs = zip(coupons["code"], coupons["symbology"], strict=True)
    return {code: f"{base}/{image_path(code, symbology)}" for code, symbology in pairs}


@dataclass
class Delivery:
    """Who is reached by which channel, and the messages they get.

    channels: customer_id, channel (the one carrying the message; null: none), coupons (how many
    it holds), campaigns (the campaigns whose coupons it holds).
    """

    channels: pl.DataFrame
    messages: messages.Messages
    suppressed: int
    unreachable: int

    def counts(self) -> dict[str, int]:
        """Customers per channel, those no channel may reach, and how many were suppressed; then,
        when some message fell back to another channel or was rejected, how many, and when a
        message left a campaign out, how many campaigns' coupons (``left_out``).
        """
        by = dict(self.channels.group_by("channel").len().rows())
        out = {ch: int(by.get(ch, 0)) for ch in channel_choice.CHANNELS}
        out["unreachable"] = self.unreachable
        out["suppressed"] = self.suppressed
        outcome = self.messages.counts()
        # Only a night with such messages says so: an ordinary night's summary keeps its shape.
        out |= {k: outcome[k] for k in ("fallen_back", "rejected") if outcome[k]}
        left_out = self.messages.left_out()
        if left_out:
            out["left_out"] = left_out
        return out


def plan_delivery(
    ctx: DeliveryContext,
    coupons: pl.DataFrame,
    customers: pl.DataFrame,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> Delivery:
    """Rank each customer's channels and render their message once, falling back as needed.

    ``coupons`` are the night's live coupons (or `stand_in_coupons`); their e-mail images are
    linked as `image_links` says. ``on_progress`` hears how many more customers were rendered.
    """
    # The coupons' customers only: their contacts are checked with text patterns.
    holders = customers.join(coupons.select("customer_id").unique(), on="customer_id", how="semi")
    contacts = channel_choice.contact_status(holders, ctx.suppression, phone_region=ctx.phone_region)
    ranked = channel_choice.rank_channels(coupons, contacts, ctx.priorities)
    suppressed = contacts.join(ranked.select("customer_id"), on="customer_id")["suppressed"].sum()
    unreachable = int((ranked["channels"].list.len() == 0).sum())
    if on_progress is not None and unreachable:
        on_progress(unreachable)  # handled at once: no channel may reach them, nothing to render
    rendered = messages.render_messages(
        coupons,
        ranked,
        customers,
        ctx.target_names,
        ctx.templates,
        brand=ctx.brand,
        currency=ctx.currency,
        max_sms_parts=ctx.max_sms_parts,
        phone_region=ctx.phone_region,
        image_paths=image_links(ctx, coupons),
        unsubscribe_url=ctx.unsubscribe_url,
        campaign_messages=ctx.campaign_messages,
        on_progress=on_progress,
    )
    chosen = ranked.join(rendered.outcomes, on="customer_id", how="left", maintain_order="left").select(
        "customer_id", "channel", "coupons", "campaigns"
    )
    return Delivery(chosen, rendered, int(suppressed), unreachable)
