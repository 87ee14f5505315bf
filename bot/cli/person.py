"""``person add``: officials, leaders, admins and surveyors, with their registration codes."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.common import UsageError, _, cli_translator, resolve_unit, role_word, run_async
from flows.i18n import LOCALES

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("person", help=_("officials, leaders and admins"))
    psub = p.add_subparsers(dest="person_command", required=True, metavar=_("ACTION"))
    c = psub.add_parser("add", help=_("add a person; prints their registration code"))
    c.add_argument("--name", required=True, help=_("their full name"))
    c.add_argument("--unit", required=True, help=_("unit code or name"))
    c.add_argument(
        "--role",
        required=True,
        choices=("official", "leader", "admin", "surveyor"),
        help=_("official, leader, admin or surveyor"),
    )
    c.add_argument(
        "--locale", choices=LOCALES, default=None, help=_("their language (default: the bot's)")
    )
    c.add_argument(
        "--phone",
        help=_("mobile number for ZNS reminders when Zalo refuses a chat message (kept encrypted)"),
    )
    c.set_defaults(func=_person_add)


def _person_add(settings: Settings, args) -> int:
    from bot.services import invites
    from flows.phone import PhoneError, normalise_phone
    from flows.text import format_code

    if not args.name.strip():
        raise UsageError(_("--name must not be empty"))
    try:
        phone = normalise_phone(args.phone) if args.phone else None
    except PhoneError as exc:
        raise UsageError("--phone: " + exc.text(cli_translator())) from None

    async def body(app: App) -> int:
        async with app.db.write() as session:
            unit = await resolve_unit(app, session, args.unit)
            pid, code = await invites.issue_registration(
                app,
                session,
                name=args.name.strip(),
                role=args.role,
                unit=unit,
                locale=args.locale or settings.default_locale,
            )
            if phone:
                from bot.services.zns import set_official_phone

                await set_official_phone(app, session, pid, phone)
        print(
            _("Added {name} ({role}) to {unit}.").format(
                name=args.name.strip(), role=role_word(args.role), unit=unit.name
            )
        )
        print(_("Registration code: {code}").format(code=format_code(code)))
        print(
            _(
                "They send /start {code} (or just the code) to the bot on Telegram or Zalo "
                "within 14 days."
            ).format(code=code)
        )
        return 0

    return run_async(settings, body)
