"""What every command group shares: errors, argument types, running a body against the
app, choosing a unit and a period.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from flows.i18n import translator
from flows.periods import Period, PeriodError, quarter_of
from flows.periods import parse as parse_period

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.settings import Settings


class UsageError(Exception):
    """Bad usage or bad input: reported on one line, exit code 2."""


def run_async(settings: Settings, body) -> int:
    """Build the app, run ``body(app)``, close the app."""

    from bot.core.app import App

    async def go() -> int:
        app = App(settings)
        try:
            return await body(app) or 0
        finally:
            await app.close()

    return asyncio.run(go())


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def date_arg(text: str) -> date:
    try:
        period = parse_period(text, date.today())
    except PeriodError:
        raise argparse.ArgumentTypeError(
            f"not a date: {text!r} (use dd/mm/yyyy or yyyy-mm-dd)"
        ) from None
    if period.kind != "day":
        raise argparse.ArgumentTypeError(f"not a single day: {text!r}")
    return period.start


def resolve_period(app: App, text: str | None, default: Period | None = None) -> Period:
    today = app.now().astimezone(app.tz).date()
    if not text:
        return default or quarter_of(today)
    try:
        return parse_period(text, today)
    except PeriodError:
        raise UsageError(
            f"unknown period {text!r}: try 10/2023, Q4/2023, 2023 or 01/10/2023-31/10/2023"
        ) from None


async def resolve_unit(app: App, session, code: str | None):
    from storage import units

    if code:
        unit = await units.by_code(session, code)
        if unit is None:
            raise UsageError(f"unknown unit {code!r}")
        return unit
    roots = await units.roots(session)
    if not roots:
        raise UsageError(
            "the database has no units yet: run 'sipas-bot demo' or 'sipas-bot import units'"
        )
    return roots[0]


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
        help="xlsx: the whole workbook (figures, quotas, answers, feedback); needs --out",
    )
    p.add_argument("--out", type=Path, help="write to this file instead of stdout")


def need_out(args) -> None:
    if args.format == "xlsx" and args.out is None:
        raise UsageError("--format xlsx writes a binary workbook: give --out FILE.xlsx")


async def write_workbook(app: App, session, unit, period: Period, out: Path) -> None:
    from bot.render import workbook as export
    from flows.privacy import Privacy

    t = translator(app.settings.default_locale, app.settings.timezone)
    data = await export.gather(session, unit, period, app.tz, Privacy())
    hours = app.settings.feedback_target_hours
    xlsx = await asyncio.to_thread(export.build, data, t, Privacy(), app.now(), hours)
    await asyncio.to_thread(out.write_bytes, xlsx)
