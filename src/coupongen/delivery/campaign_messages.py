"""A campaign's own words: the subject and body a campaign file sets per locale.

A service recovery apologises, a referral explains what both sides get: the job's templates say
"we picked an offer for you". A campaign's ``[messages.<locale>]`` texts are Jinja templates with
the same values as the job's (first_name, brand, currency, coupons); the message of a customer
holding such a campaign's coupon takes the campaign's subject (e-mail subject, app title) and body
(``message.body`` in the e-mail templates). With several, the campaign listed first in the job wins.
A reminder before coupons expire takes the campaign's ``reminder_subject`` and ``reminder_body`` the
same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from jinja2 import Environment, Template, TemplateError, TemplateSyntaxError

from coupongen.config import Job
from coupongen.errors import ConfigError


@dataclass(frozen=True)
class CampaignMessages:
    """Compiled campaign texts: campaign -> locale -> (subject, body), campaigns in job order;
    ``kind`` is "" for the coupons' message, "reminder_" for the reminder.
    """

    texts: Mapping[str, Mapping[str, tuple[Template, Template]]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    kind: str = ""

    def pick(self, campaigns: Iterable[str], locale: str) -> tuple[str, str] | None:
        """(campaign, locale key) of the first of ``campaigns``, in job order, with texts for
        ``locale`` (that key, else one of the same language); None when none has.
        """
        held = set(campaigns)
        for campaign, by_locale in self.texts.items():
            key = _match(by_locale, locale) if campaign in held else None
            if key is not None:
                return campaign, key
        return None

    def render(
        self, campaigns: Iterable[str], locale: str, context: dict[str, object]
    ) -> dict[str, str] | None:
        """{"subject", "body"} of the campaign message for a customer holding coupons of
        ``campaigns`` in ``locale``, or None. ConfigError names the campaign and key that fail.
        """
        chosen = self.pick(campaigns, locale)
        if chosen is None:
            return None
        campaign, key = chosen
        subject, body = self.texts[campaign][key]
        out = {}
        for part, template in (("subject", subject), ("body", body)):
            try:
                out[part] = template.render(**context).strip()
            except (TemplateError, TypeError, ValueError) as e:
                raise ConfigError(f"campaign {campaign!r}: messages.{key}.{self.kind}{part}: {e}") from e
        return out


def _match(by_locale: Mapping[str, object], locale: str) -> str | None:
    if locale in by_locale:
        return locale
    language = locale.split("_")[0]
    return next((k for k in sorted(by_locale) if k.split("_")[0] == language), None)


def compile_messages(job: Job, env: Environment, kind: str = "") -> CampaignMessages:
    """Compile every enabled campaign's texts of ``kind`` ("" the coupons' message, "reminder_"
    the reminder) with the job's text environment (its filters and strict undefined names).
    ConfigError names the job, campaign, key and line of a syntax error.
    """
    texts: dict[str, Mapping[str, tuple[Template, Template]]] = {}
    for campaign in (c for c in job.campaigns if c.enabled and c.messages):
        by_locale = {}
        for key, message in sorted(campaign.messages.items()):
            pair = message.texts(kind)
            if pair is None:
                continue
            parts = []
            for part, source in zip((f"{kind}subject", f"{kind}body"), pair, strict=True):
                try:
                    parts.append(env.from_string(source))
                except TemplateSyntaxError as e:
                    raise ConfigError(
                        f"{job.path}: campaign {campaign.name!r}: messages.{key}.{part}: "
                        f"line {e.lineno}: {e.message}"
                    ) from e
            by_locale[key] = (parts[0], parts[1])
        if by_locale:
            texts[campaign.name] = MappingProxyType(by_locale)
    return CampaignMessages(MappingProxyType(texts), kind)
