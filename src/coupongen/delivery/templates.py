"""The job's message templates: which files each channel needs, loaded and compiled once per run.

Texts come from Jinja2 templates in the job's templates folder, one per channel, part and locale
(``sms_ru.txt.j2``, ``email_en.html.j2``...). A missing template, a syntax error or an unknown
variable is a configuration error found before any coupon is issued.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
)

from coupongen.errors import ConfigError

LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"
# What each channel renders, by part: the template name for a locale.
# The macro file that says one coupon's offer in a locale (its ``describe(coupon, currency)``).
OFFER_MACROS = "_offer_{locale}.j2"
TEMPLATE_NAMES = {
    "email": {"subject": "email_subject_{locale}.txt.j2", "html": "email_{locale}.html.j2"},
    "sms": {"text": "sms_{locale}.txt.j2"},
    "app": {"title": "app_title_{locale}.txt.j2"},
}


def template_name(channel: str, part: str, locale: str) -> str:
    """The file that renders ``part`` of a ``channel``'s message in ``locale``."""
    return TEMPLATE_NAMES[channel][part].format(locale=locale)


def locale_of(value: str | None) -> str:
    """A customer's message locale: theirs when templates exist for it, else the default."""
    return value if value in LOCALES else DEFAULT_LOCALE


@dataclass(frozen=True)
class Templates:
    """The job's Jinja2 templates: ``*.html.j2`` rendered with every value HTML-escaped (the shared
    macros they import included), the text templates (SMS, subjects, titles) without.
    """

    folder: Path
    html: Environment
    text: Environment

    def render(self, name: str, context: dict[str, object]) -> str:
        """Render template ``name``; an error in it (or in a value a filter could not format)
        becomes a ConfigError naming the file.
        """
        env = self.html if name.endswith(".html.j2") else self.text
        try:
            return env.get_template(name).render(**context).strip()
        except (TemplateError, TypeError, ValueError) as e:
            raise ConfigError(f"{self.folder / name}: {e}") from e

    def call_macro(self, name: str, macro: str, *args: object) -> str:
        """Call ``macro`` of the text template ``name`` (e.g. ``describe`` of ``_offer_en.j2``);
        an error becomes a ConfigError naming the file, as in `render`.
        """
        try:
            return str(getattr(self.text.get_template(name).module, macro)(*args)).strip()
        except (TemplateError, TypeError, ValueError, AttributeError) as e:
            raise ConfigError(f"{self.folder / name}: {e}") from e

    def compile(self, channels: Iterable[str]) -> None:
        """Load and compile every template the ``channels`` need, in every locale.

        Raises ConfigError naming the first template that is missing or does not compile.
        """
        for name in names_for(channels):
            env = self.html if name.endswith(".html.j2") else self.text
            try:
                env.get_template(name)
            except TemplateNotFound as e:
                raise ConfigError(f"{self.folder / name}: template not found") from e
            except TemplateSyntaxError as e:
                raise ConfigError(f"{self.folder / name}: line {e.lineno}: {e.message}") from e


def names_for(channels: Iterable[str]) -> list[str]:
    """The template files the ``channels`` render, in every locale."""
    wanted = set(channels)
    return [
        template_name(channel, part, locale)
        for channel, parts in TEMPLATE_NAMES.items()
        if channel in wanted
        for part in parts
        for locale in LOCALES
    ]


def _environment(folder: Path, *, html: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # a plain space groups thousands: a no-break space is not in GSM-7 and would make SMS UCS-2
    env.filters["money"] = lambda v: (f"{v:,.0f}" if v == int(v) else f"{v:,.2f}").replace(",", " ")
    env.filters["ddmm"] = lambda iso: f"{iso[8:10]}.{iso[5:7]}"
    env.filters["first_upper"] = lambda s: s[:1].upper() + s[1:]
    return env


def template_environment(folder: Path) -> Templates:
    """Load the job's templates folder; undefined names in a template are errors, not blanks."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: templates folder not found")
    return Templates(folder, _environment(folder, html=True), _environment(folder, html=False))
