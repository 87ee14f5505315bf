"""Translations and Vietnamese-first formatting.

Source strings are English; ``locales/<lang>/LC_MESSAGES/sipas.po`` holds the
catalogues, compiled the first time a language is asked for (no ``.mo`` files to build
or commit). Compiling costs every CLI command about 40 ms of CPU, so the compiled
catalogue is kept in the user's cache directory under a name made of the
``.po``'s content hash: an edited catalogue is compiled again, an old one is never read.
Vietnamese is the default language. ``N_`` marks a string for extraction where it is
defined and translates nothing; it is translated where used.
"""

from __future__ import annotations

import functools
import gettext
import hashlib
import io
import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.numbers import format_decimal, format_percent

DOMAIN = "sipas"
LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locales"


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated later, where it is shown."""
    return message


class Problem(ValueError):
    """Bad input whose reason a user reads: an ``N_`` message and its fields. ``str()``
    is the English; ``text(t)`` the reason in ``t``'s language."""

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message.format(**fields))
        self.message = message
        self.fields = fields

    def text(self, t: Translator) -> str:
        """The reason in ``t``'s language."""
        return t.gettext(self.message).format(**self.fields)


def normalise_locale(value: str | None, default: str = DEFAULT_LOCALE) -> str:
    """``vi``/``en`` from what a client reports (``vi-VN``, ``en_US``); else ``default``."""
    if value:
        short = value.replace("_", "-").split("-")[0].lower()
        if short in LOCALES:
            return short
    return default


@functools.cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalogue for ``locale`` (English source text when there is none)."""
    po_path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    try:
        source = po_path.read_bytes()
    except FileNotFoundError:
        return gettext.NullTranslations()
    cached = _cache_dir() / f"{DOMAIN}-{locale}-{hashlib.sha256(source).hexdigest()[:20]}.mo"
    try:
        with cached.open("rb") as fh:
            return gettext.GNUTranslations(fh)
    except Exception:  # missing, unreadable or damaged: compile it again
        pass
    compiled = _compile(source, locale)
    _keep(cached, compiled)
    return gettext.GNUTranslations(io.BytesIO(compiled))


def _compile(source: bytes, locale: str) -> bytes:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    buf = io.BytesIO()
    write_mo(buf, read_po(io.BytesIO(source), locale=locale))
    return buf.getvalue()


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sipas-bot"


def _keep(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)
    except OSError:
        pass


class Translator:
    """Texts and formats for one language."""

    def __init__(self, locale: str, timezone: str = "Asia/Ho_Chi_Minh") -> None:
        self.locale = normalise_locale(locale)
        self.tz = ZoneInfo(timezone)
        self._t = translations(self.locale)

    def gettext(self, message: str) -> str:
        """``message`` in this language."""
        return self._t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The singular or plural form for ``n``, in this language."""
        return self._t.ngettext(singular, plural, n)

    def percent(self, ratio: float | None, digits: int = 1) -> str:
        """``0.83`` → ``83,0%`` in Vietnamese, ``83.0%`` in English; ``–`` for no data."""
        if ratio is None:
            return "–"
        pattern = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
        return format_percent(ratio, pattern, locale=self.locale)

    def number(self, value: float | int, digits: int | None = None) -> str:
        """``1234.5`` → ``1.234,5`` in Vietnamese."""
        if digits is None:
            return format_decimal(value, locale=self.locale)
        pattern = "#,##0." + "0" * digits if digits else "#,##0"
        return format_decimal(value, pattern, locale=self.locale)

    def date(self, value: date | datetime) -> str:
        """``20/12/2026`` (a datetime is shown in the display zone)."""
        if isinstance(value, datetime):
            value = value.astimezone(self.tz).date()
        return _babel_date(value, "dd/MM/yyyy", locale=self.locale)

    def datetime(self, value: datetime) -> str:
        """``20/12/2026 14:05`` in the display zone."""
        local = value.astimezone(self.tz)
        return f"{self.date(local.date())} {local:%H:%M}"

    def language_name(self, locale: str) -> str:
        """A language's own name: ``Tiếng Việt``, ``English``."""
        name = Locale.parse(locale).get_display_name(locale) or locale
        return name[:1].upper() + name[1:]


@functools.cache
def translator(locale: str, timezone: str = "Asia/Ho_Chi_Minh") -> Translator:
    """A shared ``Translator`` for ``locale``."""
    return Translator(locale, timezone)
