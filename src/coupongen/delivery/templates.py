"""The job's message templates: which files each channel needs, loaded and compiled once per run.

Texts come from Jinja2 templates in the job's templates folder, one per channel, part and language
(``sms_ru.txt.j2``, ``email_en.html.j2``...). The job's ``locale`` picks the default language; a
customer whose own ``locale`` has templates in the folder gets theirs. Numbers, money and dates are
formatted by Babel in the message's locale and the job's currency (`formatting`). A missing
template, a syntax error or an unknown variable is a configuration error found before any coupon is
issued.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
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

from coupongen.delivery.formatting import parse_locale, template_filters
from coupongen.errors import ConfigError

# What each channel renders, by part: the template name for a language.
# The macro file that says one coupon's offer in a language (its ``describe(coupon)``).
OFFER_MACROS = "_offer_{locale}.j2"
TEMPLATE_NAMES = {
    "email": {"subject": "email_subject_{locale}.txt.j2", "html": "email_{locale}.html.j2"},
    "sms": {"text": "sms_{locale}.txt.j2"},
    "app": {"title": "app_title_{locale}.txt.j2"},
}


_LANGUAGE_FILE = re.compile(r"^(?:email_subject|email|sms|app_title)_([a-z]{2,3})\.(?:txt|html)\.j2$")


def template_name(channel: str, part: str, language: str) -> str:
    """The file that renders ``part`` of a ``channel``'s message in ``language``."""
    return TEMPLATE_NAMES[channel][part].format(locale=language)


def language_of(tag: str) -> str:
    """The language of a locale tag: ``en`` of ``en_US``."""
    return re.split(r"[_\-]", tag.strip(), maxsplit=1)[0].lower()


@dataclass(frozen=True)
class Templates:
    """The job's Jinja2 templates: ``*.html.j2`` rendered with every value HTML-escaped (the shared
    macros they import included), the text templates (SMS, subjects, titles) without.
    """

    folder: Path
    html: Environment
    text: Environment
    locale: str  # the job's locale (a Babel tag): the default language and formats
    languages: tuple[str, ...]  # the job's language first, then every other one with templates
    prefix: str = ""  # "reminder_": the reminder's templates (reminder_sms_en.txt.j2...)

    def name(self, channel: str, part: str, language: str) -> str:
        """The file that renders ``part`` of a ``channel``'s message (of this set) in ``language``."""
        return self.prefix + template_name(channel, part, language)

    def names(self, channels: Iterable[str], languages: Iterable[str] | None = None) -> list[str]:
        """The template files of this set the ``channels`` render, in each language (default: all)."""
        return [self.prefix + n for n in names_for(channels, languages or self.languages)]

    def locale_for(self, customer_locale: str | None) -> tuple[str, str]:
        """A customer's template language and formatting locale: their own ``locale`` when the
        folder has templates in its language (formatted as the job's locale when the languages are
        the same, as theirs otherwise), else the job's.
        """
        tag = (customer_locale or "").strip()
        language = language_of(tag) if tag else ""
        if language not in self.languages[1:]:
            return self.languages[0], self.locale
        try:
            return language, str(parse_locale(tag))
        except ValueError:
            return language, language

    def render(self, name: str, context: dict[str, object]) -> str:
        """Render template ``name``; an error in it (or in a value a filter could not format)
        becomes a ConfigError naming the file.
        """
        env = self.html if name.endswith(".html.j2") else self.text
        try:
            return env.get_template(name).render(**context).strip()
        except (TemplateError, TypeError, ValueError) as e:
            raise ConfigError(f"{self.folder / name}: {e}") from e

    def call_macro(
        self, name: str, macro: str, *args: object, context: Mapping[str, object] | None = None
    ) -> str:
        """Call ``macro`` of the text template ``name`` (e.g. ``describe`` of ``_offer_en.j2``) with
        the message's ``context`` (its locale drives the filters); an error becomes a ConfigError
        naming the file, as in `render`.
        """
        try:
            template = self.text.get_template(name)
            module = template.make_module(vars=dict(context)) if context is not None else template.module
            return str(getattr(module, macro)(*args)).strip()
        except (TemplateError, TypeError, ValueError, AttributeError) as e:
            raise ConfigError(f"{self.folder / name}: {e}") from e

    def compile(self, channels: Iterable[str]) -> None:
        """Load and compile every template the ``channels`` need, in every language.

        Raises ConfigError naming the first template that is missing or does not compile.
        """
        for name in self.names(channels):
            env = self.html if name.endswith(".html.j2") else self.text
            try:
                env.get_template(name)
            except TemplateNotFound as e:
                raise ConfigError(f"{self.folder / name}: template not found") from e
            except TemplateSyntaxError as e:
                raise ConfigError(f"{self.folder / name}: line {e.lineno}: {e.message}") from e


def names_for(channels: Iterable[str], languages: Iterable[str]) -> list[str]:
    """The template files the ``channels`` render, in each of the ``languages``."""
    wanted = set(channels)
    return [
        template_name(channel, part, language)
        for channel, parts in TEMPLATE_NAMES.items()
        if channel in wanted
        for part in parts
        for language in languages
    ]


def _environment(folder: Path, *, html: bool, locale: str, currency: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # SMS, subjects and titles: plain spaces, see `formatting`
    env.filters.update(template_filters(plain_spaces=not html))
    env.filters["first_upper"] = lambda s: s[:1].upper() + s[1:]
    # the job's defaults, seen by macros imported without context too
    env.globals.update(locale=locale, currency=currency)
    return env


def template_environment(folder: Path, *, locale: str, currency: str, prefix: str = "") -> Templates:
    """Load the job's templates folder for a job in ``locale`` and ``currency``; undefined names in
    a template are errors, not blanks. Its languages are the job's and every other one the folder
    has a template of. ``prefix`` "reminder_" picks the reminders' templates.
    """
    if not folder.is_dir():
        raise ConfigError(f"{folder}: templates folder not found")
    own = language_of(locale)
    found = sorted(template_languages(folder) - {own})
    return Templates(
        folder,
        _environment(folder, html=True, locale=locale, currency=currency),
        _environment(folder, html=False, locale=locale, currency=currency),
        locale=locale,
        languages=(own, *found),
        prefix=prefix,
    )


def template_languages(folder: Path) -> set[str]:
    """The languages ``folder`` has a message template in (``en`` of ``sms_en.txt.j2``)."""
    return {m.group(1) for p in folder.iterdir() if (m := _LANGUAGE_FILE.match(p.name))}


def copy_language(folder: Path, source: str, language: str) -> list[str]:
    """Write every template of ``folder`` in the ``source`` language under ``language``'s name
    (``sms_en.txt.j2`` as ``sms_de.txt.j2``, reminders' and offer macros too), their imports of
    ``source``'s offer macros turned to ``language``'s: a job in ``language`` then runs, in
    ``source``'s words and ``language``'s formats, until they are translated. Returns the names
    written, sorted.
    """
    name = re.compile(rf"^(.+)_{re.escape(source)}(\.[a-z.]*j2)$")
    macros = (f'"{OFFER_MACROS.format(locale=source)}"', f'"{OFFER_MACROS.format(locale=language)}"')
    written = []
    for path in sorted(folder.iterdir()):
        if (m := name.match(path.name)) is not None:
            copy = folder / f"{m.group(1)}_{language}{m.group(2)}"
            copy.write_text(path.read_text(encoding="utf-8").replace(*macros), encoding="utf-8")
            written.append(copy.name)
    return written
