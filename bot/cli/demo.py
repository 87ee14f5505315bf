"""``demo``: demo units, procedures, quotas, officials and responses."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.common import UsageError, _, non_negative, role_word, run_async

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help=_("load demo units, procedures, quotas, officials and responses")
    )
    p.add_argument(
        "--responses",
        type=non_negative,
        default=200,
        help=_("recent synthetic responses (default 200)"),
    )
    p.add_argument(
        "--if-empty", action="store_true", help=_("do nothing when the database has data")
    )
    p.set_defaults(func=_demo)


def _demo(settings: Settings, args) -> int:
    from bot.services import demo
    from bot.services.invites import web_link
    from flows.text import format_code

    async def body(app: App) -> int:
        async with app.db.write() as session:
            if not await demo.is_empty(session):
                if args.if_empty:
                    print(_("The database already has data; demo data not loaded."))
                    fresh = await demo.fresh_code(app, session)
                    if fresh is not None:
                        print(
                            _(
                                "A fresh demo survey code: {code}. Try it in the browser: {link}"
                            ).format(code=fresh.printable, link=web_link(app, fresh.code))
                        )
                    return 0
                raise UsageError(
                    _("the database already has data; demo data goes into an empty database")
                )
            summary = await demo.load(app, session, responses=args.responses)
        print(
            _("Demo data loaded: {units} units, {responses} responses.").format(
                units=summary.units, responses=summary.responses
            )
        )
        print(_("Counter codes (reusable, one rating per person per day):"))
        for inv in summary.counter_codes:
            print(f"  {format_code(inv.code)}  {inv.unit_name}")
        print(_("Single-use dossier codes:"))
        for inv in summary.dossier_codes:
            print(f"  {format_code(inv.code)}  {inv.unit_name}")
        print(_("Registration codes for staff (send to the bot within 14 days):"))
        for name, role, unit_code, code in summary.registrations:
            print(f"  {format_code(code)}  {name} ({role_word(role)}, {unit_code})")
        if summary.dossier_codes:
            link = web_link(app, summary.dossier_codes[0].code)
            print(_("Try a survey in the browser: {link}").format(link=link))
        if summary.kiosk_link:
            print(_("Pair a counter tablet (open once): {link}").format(link=summary.kiosk_link))
        return 0

    return run_async(settings, body)
