"""``holiday add|remove|list``: days off and worked days that differ from the law's list."""

from __future__ import annotations

import argparse
from datetime import date
from typing import TYPE_CHECKING

from bot.cli.common import (
    UsageError,
    run_async,
)
from flows.i18n import translator

if TYPE_CHECKING:
    from bot.core.app import App

from scheduler.calendar import holiday_lines, load_calendar
from scheduler.recurrence import parse_date
from storage import holiday_overrides as holiday_store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("holiday", help="days off and worked days that differ from the law's list")
    hsub = p.add_subparsers(dest="holiday_command", required=True, metavar="ACTION")
    c = hsub.add_parser("add", help="make a day a day off (or, with --working, a working day)")
    c.add_argument("day", type=_day_arg)
    c.add_argument("--name", default="", help="e.g. 'Nghỉ bù Tết'")
    c.add_argument("--working", action="store_true", help="a worked day (e.g. a swapped Saturday)")
    c.set_defaults(func=_holiday_add)
    c = hsub.add_parser("remove", help="drop an override")
    c.add_argument("day", type=_day_arg)
    c.set_defaults(func=_holiday_remove)
    c = hsub.add_parser("list", help="public holidays and overrides of a year")
    c.add_argument("--year", type=int, help="default: this year")
    c.set_defaults(func=_holiday_list)


def _day_arg(text: str) -> date:
    day = parse_date(text)
    if day is None:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use dd/mm/yyyy or yyyy-mm-dd)")
    return day


def _today(app: App) -> date:
    return app.now().astimezone(app.tz).date()


def _holiday_add(settings, args) -> int:
    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        async with app.db.write() as session:
            await holiday_store.set_override(session, args.day, args.working, args.name, app.now())
        text = (
            t.gettext("{date} is a working day.")
            if args.working
            else t.gettext("{date} is a day off.")
        )
        print(text.format(date=t.date(args.day)))
        return 0

    return run_async(settings, body)


def _holiday_remove(settings, args) -> int:
    async def body(app: App) -> int:
        async with app.db.write() as session:
            if not await holiday_store.remove_override(session, args.day):
                raise UsageError(f"no override on {args.day:%d/%m/%Y}")
        return 0

    return run_async(settings, body)


def _holiday_list(settings, args) -> int:
    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        year = args.year or _today(app).year
        async with app.db.read() as session:
            cal = await load_calendar(session)
            own = {o.day: o for o in await holiday_store.list_overrides(session, year)}
        print("\n".join(holiday_lines(cal, own, year, t)))
        return 0

    return run_async(settings, body)
