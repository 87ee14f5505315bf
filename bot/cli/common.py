"""What every command group shares: errors, words in the user's language, argument
types, output paths, running a body against the app, choosing a unit and a period.

Imports here stay light (no database, no web framework): ``--help`` loads this module.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.settings import Settings
    from flows.i18n import Translator
    from flows.periods import Period


class UsageError(Exception):
    """Bad usage or bad input: reported on one line, exit code 2."""


# --- the user's language ------------------------------------------------------------------

_locale: list[str] = []  # set from the settings once they are read; until then guessed


def env_locale() -> str:
    """``SIPAS_DEFAULT_LOCALE`` from the environment or ``.env``, without loading the
    settings (``--help`` must be quick); Vietnamese when neither says."""
    from flows.i18n import DEFAULT_LOCALE, normalise_locale

    value = os.environ.get("SIPAS_DEFAULT_LOCALE")
    if value is None:
        try:
            lines = Path(".env").read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        for line in lines:
            key, _sep, raw = line.partition("=")
            if key.strip().removeprefix("export ").strip().upper() == "SIPAS_DEFAULT_LOCALE":
                value = raw.split("#", 1)[0].strip().strip("'\"")
    return normalise_locale(value, DEFAULT_LOCALE)


def set_locale(locale: str) -> None:
    _locale[:] = [locale]


def cli_translator() -> Translator:
    """The translator of the CLI's texts: the deployment's default language."""
    from flows.i18n import translator

    if not _locale:
        _locale.append(env_locale())
    return translator(_locale[0])


def _(message: str) -> str:
    """``message`` in the CLI's language (marks it for extraction too)."""
    return cli_translator().gettext(message)


def clean_message(text: str) -> str:
    """A pydantic error message without pydantic's own prefix ("Value error, ...")."""
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.replace(prefix, "")
    return text


def role_word(role: str) -> str:
    """A person's role in the CLI's language."""
    words = {
        "official": _("official"),
        "leader": _("leader"),
        "admin": _("administrator"),
        "surveyor": _("surveyor"),
    }
    return words.get(role, role)


# --- running a command ----------------------------------------------------------------------


def run_async(settings: Settings, body) -> int:
    """Build the app, run ``body(app)``, close the app."""
    import asyncio

    from bot.core.app import App

    async def go() -> int:
        app = App(settings)
        try:
            return await body(app) or 0
        finally:
            await app.close()

    return asyncio.run(go())


# --- argument types -------------------------------------------------------------------------


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("not a whole number: {text}").format(text=text)
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(_("must be 0 or more"))
    return value


def date_arg(text: str) -> date:
    from flows.periods import PeriodError
    from flows.periods import parse as parse_period

    try:
        period = parse_period(text, date.today())
    except PeriodError:
        raise argparse.ArgumentTypeError(
            _("not a date: {text} (use dd/mm/yyyy or yyyy-mm-dd)").format(text=text)
        ) from None
    if period.kind != "day":
        raise argparse.ArgumentTypeError(_("not a single day: {text}").format(text=text))
    return period.start


# The options that name a file a command writes; ``check_outputs`` looks at each.
OUTPUT_OPTIONS = ("out", "qr", "poster", "chart")


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output file that cannot be written (no such folder, a folder, no
    permission) before the command changes anything, not after."""
    for name in OUTPUT_OPTIONS:
        path = getattr(args, name, None)
        if path is None:
            continue
        path = Path(path)
        folder = path.parent
        if path.is_dir():
            raise UsageError(_("cannot write {path}: it is a folder").format(path=path))
        if not folder.is_dir():
            raise UsageError(
                _("cannot write {path}: there is no folder {folder}").format(
                    path=path, folder=folder
                )
            )
        if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise UsageError(_("cannot write {path}: permission denied").format(path=path))


# --- choosing what a command is about -------------------------------------------------------


def resolve_period(app: App, text: str | None, default: Period | None = None) -> Period:
    from flows.periods import PeriodError, quarter_of
    from flows.periods import parse as parse_period

    today = app.now().astimezone(app.tz).date()
    if not text:
        return default or quarter_of(today)
    try:
        return parse_period(text, today)
    except PeriodError:
        raise UsageError(
            _("unknown period {text}: try 10/2023, Q4/2023, 2023 or 01/10/2023-31/10/2023").format(
                text=repr(text)
            )
        ) from None


async def resolve_unit(app: App, session, code: str | None):
    """The unit a ``--unit`` names: its code, the last parts of its code (``HAICHAU``)
    or its name (``Hải Châu``, ``phường hải châu``), as chat understands them; the top
    unit when none is given."""
    from storage import units

    if code:
        # Only a name needs the matcher (and its imports, ~15 ms a report).
        from sqlalchemy import select

        from flows.contract import UnitInfo
        from flows.units import find_units
        from storage.models import Unit

        unit = await units.by_code(session, code)
        if unit is not None:
            return unit
        rows = (await session.exec(select(Unit))).scalars().all()
        infos = [UnitInfo(u.id, u.code, u.name, u.kind, u.path, u.parent_id) for u in rows]
        _best, found = find_units(code, infos)
        if len(found) == 1:
            return await units.by_id(session, found[0].unit_id)
        if found:
            names = ", ".join(f"{u.code} ({u.name})" for u in found[:5])
            raise UsageError(
                _("{text} could be several units: {units}; give the code").format(
                    text=repr(code), units=names
                )
            )
        raise UsageError(_("unknown unit {text}").format(text=repr(code)))
    roots = await units.roots(session)
    if not roots:
        raise UsageError(
            _("the database has no units yet: run 'sipas-bot demo' or 'sipas-bot import units'")
        )
    return roots[0]


# --- output ------------------------------------------------------------------------------


def emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        out.write_text(text, encoding="utf-8")


def format_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=("table", "csv", "json", "xlsx"),
        default="table",
        help=_("xlsx: the whole workbook (figures, quotas, answers, feedback); needs --out"),
    )
    p.add_argument("--out", type=Path, help=_("write to this file instead of the screen"))


def need_out(args) -> None:
    if args.format == "xlsx" and args.out is None:
        raise UsageError(_("--format xlsx writes a binary workbook: give --out FILE.xlsx"))


async def write_workbook(app: App, session, unit, period: Period, out: Path) -> None:
    import asyncio

    from bot.render import workbook as export
    from flows.i18n import translator
    from flows.privacy import Privacy

    t = translator(app.settings.default_locale, app.settings.timezone)
    data = await export.gather(session, unit, period, app.tz, Privacy())
    hours = app.settings.feedback_target_hours
    xlsx = await asyncio.to_thread(export.build, data, t, Privacy(), app.now(), hours)
    await asyncio.to_thread(out.write_bytes, xlsx)


def day_arg(text: str):
    """An argparse type: one calendar day (dd/mm/yyyy or yyyy-mm-dd)."""
    from scheduler.recurrence import parse_date

    day = parse_date(text)
    if day is None:
        raise argparse.ArgumentTypeError(
            _("not a date: {text} (use dd/mm/yyyy or yyyy-mm-dd)").format(text=text)
        )
    return day


def local_today(app: App):
    """Today in the deployment's zone."""
    return app.now().astimezone(app.tz).date()
