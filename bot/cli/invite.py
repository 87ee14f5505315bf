"""``invite create``: one-time and counter survey codes, QR codes and posters."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import UsageError, _, resolve_unit, run_async

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("invite", help=_("survey codes"))
    isub = p.add_subparsers(dest="invite_command", required=True, metavar=_("ACTION"))
    c = isub.add_parser("create", help=_("create a one-time survey code"))
    c.add_argument("--unit", required=True, help=_("unit code or name"))
    c.add_argument("--dossier", help=_("receipt code of a completed dossier"))
    c.add_argument("--procedure", help=_("procedure code"))
    c.add_argument("--counter", action="store_true", help=_("a reusable counter code instead"))
    c.add_argument("--qr", type=Path, help=_("write a QR code PNG of the survey link here"))
    c.add_argument(
        "--poster",
        type=Path,
        help=_("with --counter: write an A4 counter poster (.png or .pdf)"),
    )
    c.set_defaults(func=_invite_create)


def _invite_create(settings: Settings, args) -> int:
    from sqlalchemy import select

    from bot.render.qr import qr_png
    from bot.services import invites
    from storage.models import Dossier, Procedure

    if args.counter and args.dossier:
        raise UsageError(_("--counter and --dossier exclude each other"))
    if args.poster and not args.counter:
        raise UsageError(_("--poster is for counter codes: add --counter"))
    if args.poster and args.poster.suffix.lower() not in (".png", ".pdf"):
        raise UsageError(_("--poster must end in .png or .pdf"))

    from flows.i18n import translator

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        async with app.db.write() as session:
            unit = await resolve_unit(app, session, args.unit)
            procedure = dossier = None
            if args.procedure:
                procedure = (
                    (await session.exec(select(Procedure).where(Procedure.code == args.procedure)))
                    .scalars()
                    .first()
                )
                if procedure is None:
                    raise UsageError(
                        _("unknown procedure {code}").format(code=repr(args.procedure))
                    )
            if args.dossier:
                dossier = (
                    (
                        await session.exec(
                            select(Dossier).where(Dossier.receipt_code == args.dossier)
                        )
                    )
                    .scalars()
                    .first()
                )
                if dossier is None:
                    raise UsageError(_("unknown dossier {code}").format(code=repr(args.dossier)))
                if dossier.unit_id != unit.id:
                    raise UsageError(
                        _("dossier {code} belongs to another unit").format(code=repr(args.dossier))
                    )
            issued = await invites.issue_invite(
                app,
                session,
                unit,
                kind="counter" if args.counter else "dossier",
                dossier=dossier,
                procedure=procedure,
            )
        code = issued.code
        print(_("Survey code: {code}").format(code=issued.printable))
        print(_("Unit: {unit}").format(unit=unit.name))
        if issued.expires_at_iso:
            from datetime import datetime

            print(
                _("Valid until: {date}").format(
                    date=t.date(datetime.fromisoformat(issued.expires_at_iso))
                )
            )
        tg = invites.telegram_link(app, code)
        print(
            _("Telegram: {link}").format(
                link=tg or _("send /start {code} to the bot").format(code=code)
            )
        )
        print(_("Zalo: {instruction}").format(instruction=invites.zalo_instruction(code)))
        print(_("Web: {link}").format(link=invites.web_link(app, code)))
        if args.qr:
            args.qr.write_bytes(qr_png(invites.survey_link(app, code)))
            print(_("QR code written to {path}").format(path=args.qr))
        if args.poster:
            from bot.render.poster import counter_poster

            fmt = args.poster.suffix.lower().lstrip(".")
            link = invites.survey_link(app, code)
            args.poster.write_bytes(counter_poster(unit.name, link, code, t, fmt))
            print(_("Poster written to {path}").format(path=args.poster))
        return 0

    return run_async(settings, body)
