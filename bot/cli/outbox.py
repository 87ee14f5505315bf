"""``outbox list`` and ``outbox resend``: dead letters, seen and sent again by a person.

Nothing is resent by itself: a dead row waits for someone to look at its error and
decide. A row whose outcome is unknown (the sender stopped during the API call, so the
chat may have it) is resent only with ``--unknown-ok``, once the person checked.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.common import UsageError, _, run_async
from flows.i18n import translator

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.settings import Settings

CHANNELS = ("telegram", "zalo", "zns", "web", "console")


def _row_id(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(_("not an outbox row id: '{text}'").format(text=text))
    return int(text)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("outbox", help=_("outbound messages: dead letters"))
    osub = p.add_subparsers(dest="outbox_command", required=True, metavar=_("ACTION"))
    c = osub.add_parser("list", help=_("rows still to send, or dead letters with --dead"))
    c.add_argument("--dead", action="store_true", help=_("dead letters (newest first)"))
    c.add_argument("--channel", choices=CHANNELS, help=_("only this channel"))
    c.add_argument("--limit", type=_row_id, default=50, help=_("at most this many (default 50)"))
    c.set_defaults(func=_list)
    c = osub.add_parser("resend", help=_("send dead letters again, after checking them"))
    c.add_argument("ids", nargs="+", type=_row_id, metavar="ID", help=_("outbox row ids"))
    c.add_argument(
        "--unknown-ok",
        action="store_true",
        help=_("also rows whose outcome is unknown (the chat may have them already)"),
    )
    c.set_defaults(func=_resend)


def _list(settings: Settings, args) -> int:
    from storage import outbox_admin

    async def body(app: App) -> int:
        _ = translator(settings.default_locale, settings.timezone).gettext
        async with app.db.read() as session:
            rows = await outbox_admin.rows(
                session, dead=args.dead, channel=args.channel, limit=args.limit
            )
        if not rows:
            print(_("No dead letters.") if args.dead else _("Nothing waiting to be sent."))
            return 0
        tz = app.tz
        for r in rows:
            when = r.created_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
            line = f"{r.id:>8}  {r.channel:<8}  {r.status:<8}  {r.kind:<10}  {when}  ×{r.attempts}"
            if r.last_error:
                line += "  " + (_("outcome unknown") if r.unknown else r.last_error[:120])
            print(line)
        if args.dead:
            print(
                _(
                    "Send again with 'sipas-bot outbox resend ID…' once the cause is fixed; "
                    "rows whose outcome is unknown may have reached the chat."
                )
            )
        return 0

    return run_async(settings, body)


def _resend(settings: Settings, args) -> int:
    from storage import outbox_admin

    async def body(app: App) -> int:
        _ = translator(settings.default_locale, settings.timezone).gettext
        async with app.db.write() as session:
            queued, kept, refused = await outbox_admin.resend(
                session, list(dict.fromkeys(args.ids)), app.now(), unknown_too=args.unknown_ok
            )
        if refused:
            ids = ", ".join(map(str, refused))
            raise UsageError(
                _("not dead letters (or no such rows): {ids}; nothing was changed").format(ids=ids)
            )
        if queued:
            ids = ", ".join(map(str, queued))
            print(_("Queued again: {ids}. A running server sends them shortly.").format(ids=ids))
        if kept:
            ids = ", ".join(map(str, kept))
            print(
                _(
                    "Not resent: {ids}: their outcome is unknown, the chat may have them. "
                    "Check, then add --unknown-ok."
                ).format(ids=ids)
            )
        return 0 if queued or not kept else 1

    return run_async(settings, body)
