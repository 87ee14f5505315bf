"""Catalogues: Vietnamese complete and consistent, templates up to date, formats Vietnamese."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from babel.messages.pofile import read_po

from flows.i18n import LOCALE_DIR, Translator, normalise_locale, translations

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def catalogue(locale: str):
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "sipas.po").open("rb") as fh:
        return read_po(fh, locale=locale)


def test_vietnamese_is_complete_and_keeps_every_placeholder():
    vi = catalogue("vi")
    problems = []
    for message in vi:
        if not message.id:
            continue
        # Plural entries hold tuples: (singular, plural) ids, one string per plural form.
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            problems.append(f"untranslated: {message.id!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif any(
            sorted(PLACEHOLDER.findall(ids[-1])) != sorted(PLACEHOLDER.findall(s)) for s in strings
        ):
            problems.append(f"placeholders differ: {message.id!r}")
    assert not problems, "\n".join(problems)


def test_templates_are_up_to_date(tmp_path):
    """Every string in the code is in the catalogues (run `make messages` when this fails)."""
    pot = tmp_path / "fresh.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "pyproject.toml",
            "-k",
            "N_",
            "-k",
            "_",
            "-k",
            "gettext",
            "-k",
            "ngettext:1,2",
            "--no-location",
            "--omit-header",
            "-o",
            str(pot),
            "bot",
            "flows",
            "scheduler",
            "storage",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        in_code = {m.id for m in read_po(fh) if m.id}
    for locale in ("vi", "en"):
        in_catalogue = {m.id for m in catalogue(locale) if m.id}
        missing = in_code - in_catalogue
        assert not missing, f"{locale}: not in the catalogue: {sorted(missing, key=str)[:5]}"


def test_vietnamese_is_loaded_not_the_fallback():
    assert translations("vi").gettext("Skip") == "Bỏ qua"
    assert translations("en").gettext("Skip") == "Skip"


def test_vietnamese_formats():
    t = Translator("vi")
    assert t.percent(0.83) == "83,0%"
    assert t.percent(0.8394, 2) == "83,94%"
    assert t.percent(None) == "–"
    assert t.number(1234567) == "1.234.567"
    assert t.number(4.25, 1) in ("4,2", "4,3")
    assert t.date(date(2026, 12, 20)) == "20/12/2026"
    # 17:30 UTC on 19/12 is already 20/12 in Hà Nội.
    assert t.date(datetime(2026, 12, 19, 17, 30, tzinfo=UTC)) == "20/12/2026"
    assert t.datetime(datetime(2026, 12, 19, 17, 30, tzinfo=UTC)) == "20/12/2026 00:30"
    assert Translator("en").percent(0.83) == "83.0%"
    assert t.language_name("vi") == "Tiếng Việt"


def test_locale_from_clients():
    assert normalise_locale("vi-VN") == "vi"
    assert normalise_locale("en_US") == "en"
    assert normalise_locale("fr") == "vi"
    assert normalise_locale(None, "en") == "en"


def test_compiled_catalogues_are_cached_by_content_and_rebuilt_when_damaged(tmp_path, monkeypatch):
    """The compiled catalogue is kept under the .po's content hash; a damaged cache file
    is compiled again, never trusted, and an unwritable cache is skipped."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    translations.cache_clear()
    try:
        assert translations("vi").gettext("Thank you!") != "Thank you!"
        (cached,) = (tmp_path / "sipas-bot").glob("sipas-vi-*.mo")
        cached.write_bytes(b"not a catalogue")
        translations.cache_clear()
        assert translations("vi").gettext("Thank you!") != "Thank you!"
        assert cached.read_bytes().startswith(b"\xde\x12\x04\x95")  # rewritten: .mo magic
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
        (tmp_path / "file").write_text("a file where the directory would go")
        translations.cache_clear()
        assert translations("vi").gettext("Thank you!") != "Thank you!"
    finally:
        translations.cache_clear()


def test_vietnamese_uses_one_style_of_quotation_marks():
    """Words quoted in messages are “like this”; what a user typed or a code, 'like this';
    never straight double quotes (issue 16, item 18)."""
    straight = []
    for message in catalogue("vi"):
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        straight += [s for s in strings if message.id and '"' in s]
    assert not straight, straight
