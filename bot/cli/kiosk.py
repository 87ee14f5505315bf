"""``kiosk add|list|revoke``: counter tablets and their one-time pairing links."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.common import UsageError, _, resolve_unit, run_async
from flows.i18n import translator

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kiosk", help=_("counter tablets: pair, list, revoke"))
    ksub = p.add_subparsers(dest="kiosk_command", required=True, metavar=_("ACTION"))
    a = ksub.add_parser("add", help=_("register a tablet; prints its one-time pairing link"))
    a.add_argument("--unit", required=True, help=_("unit code"))
    a.add_argument("--counter", help=_("the counter's name, e.g. 'Quầy 2'"))
    a.add_argument(
        "--procedures",
        default="",
        help=_("comma-separated procedure codes the tablet offers to pick from (optional)"),
    )
    a.set_defaults(func=_add)
    ksub.add_parser("list", help=_("every tablet and its status")).set_defaults(func=_list)
    r = ksub.add_parser("revoke", help=_("revoke a tablet: it stops showing the survey at once"))
    r.add_argument("id", type=int)
    r.set_defaults(func=_revoke)


def _add(settings: Settings, args) -> int:
    from bot.services import kiosk
    from storage import audit

    counter = (args.counter or "").strip() or None
    if counter and len(counter) > 255:
        raise UsageError(_("--counter: at most {n} characters").format(n=255))
    codes = [c.strip() for c in args.procedures.split(",") if c.strip()]

    async def body(app: App) -> int:
        _ = translator(settings.default_locale, settings.timezone).gettext
        async with app.db.write() as session:
            unit = await resolve_unit(app, session, args.unit)
            try:
                device_id, link = await kiosk.register(app, session, unit, counter, codes)
            except LookupError as missing:
                raise UsageError(_("unknown procedure {code}").format(code=missing)) from None
            await audit.log(session, "cli", "kiosk.added", target=str(device_id), at=app.now())
        where = unit.name + (f" – {counter}" if counter else "")
        print(_("Tablet #{id} registered for {where}.").format(id=device_id, where=where))
        print(
            _("Open this link once on the tablet, within {hours} hours, to pair it:").format(
                hours=settings.kiosk_pairing_hours
            )
        )
        print(link)
        return 0

    return run_async(settings, body)


def _list(settings: Settings, args) -> int:
    from storage import kiosks

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        _ = t.gettext
        async with app.db.read() as session:
            rows = await kiosks.list_devices(session)
        if not rows:
            print(_("No tablets yet: add one with 'sipas-bot kiosk add --unit CODE'."))
            return 0
        status = {"paired": _("paired"), "waiting": _("waiting"), "revoked": _("revoked")}
        print(
            "\t".join(
                [_("Id"), _("Unit"), _("Counter"), _("Status"), _("Last used"), _("Questionnaires")]
            )
        )
        for row in rows:
            seen = t.datetime(row.last_seen_at) if row.last_seen_at else "–"
            cells = [str(row.id), row.unit_code, row.counter or "–", status[row.status], seen]
            print("\t".join([*cells, t.number(row.responses)]))
        return 0

    return run_async(settings, body)


def _revoke(settings: Settings, args) -> int:
    from storage import audit, kiosks

    async def body(app: App) -> int:
        _ = translator(settings.default_locale, settings.timezone).gettext
        async with app.db.write() as session:
            done = await kiosks.revoke(session, args.id, app.now())
            if done:
                await audit.log(session, "cli", "kiosk.revoked", target=str(args.id), at=app.now())
        if not done:
            raise UsageError(_("no active tablet #{id}").format(id=args.id))
        print(_("Tablet #{id} revoked: it shows no survey any more.").format(id=args.id))
        return 0

    return run_async(settings, body)
