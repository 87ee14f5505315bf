"""``holiday add|remove|list``: days off and worked days that differ from the law's list."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.common import UsageError, _, day_arg, local_today, run_async

if TYPE_CHECKING:
    from bot.core.app import App


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "holiday", help=_("days off and worked days that differ from the law's list")
    )
    hsub = p.add_subparsers(dest="holiday_command", required=True, metavar=_("ACTION"))
    c = hsub.add_parser("add", help=_("make a day a day off (or, with --working, a working day)"))
    c.add_argument("day", type=day_arg, metavar=_("DAY"), help=_("the day (dd/mm/yyyy)"))
    c.add_argument("--name", default="", help=_("e.g. 'Nghỉ bù Tết'"))
    c.add_argument(
        "--working", action="store_true", help=_("a worked day (e.g. a swapped Saturday)")
    )
    c.set_defaults(func=_holiday_add)
    c = hsub.add_parser("remove", help=_("drop an override"))
    c.add_argument("day", type=day_arg, metavar=_("DAY"), help=_("the day (dd/mm/yyyy)"))
    c.set_defaults(func=_holiday_remove)
    c = hsub.add_parser("list", help=_("public holidays and overrides of a year"))
    c.add_argument("--year", type=int, help=_("default: this year"))
    c.set_defaults(func=_holiday_list)


def _holiday_add(settings, args) -> int:
    from flows.i18n import translator
    from storage import holiday_overrides as store

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        async with app.db.write() as session:
            await store.set_override(session, args.day, args.working, args.name, app.now())
        text = (
            t.gettext("{date} is a working day.")
            if args.working
            else t.gettext("{date} is a day off.")
        )
        print(text.format(date=t.date(args.day)))
        return 0

    return run_async(settings, body)


def _holiday_remove(settings, args) -> int:
    from storage import holiday_overrides as store

    async def body(app: App) -> int:
        async with app.db.write() as session:
            if not await store.remove_override(session, args.day):
                raise UsageError(_("no override on {date}").format(date=f"{args.day:%d/%m/%Y}"))
        return 0

    return run_async(settings, body)


def _holiday_list(settings, args) -> int:
    from flows.i18n import translator
    from scheduler.calendar import holiday_lines, load_calendar
    from storage import holiday_overrides as store

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        year = args.year or local_today(app).year
        async with app.db.read() as session:
            cal = await load_calendar(session)
            own = {o.day: o for o in await store.list_overrides(session, year)}
        print("\n".join(holiday_lines(cal, own, year, t)))
        return 0

    return run_async(settings, body)
