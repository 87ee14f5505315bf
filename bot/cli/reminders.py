"""``reminders run-due``: one planning-and-dispatch pass."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

from bot.cli.common import _, run_async

if TYPE_CHECKING:
    from bot.core.app import App


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reminders", help=_("reminder planning and dispatch"))
    rsub = p.add_subparsers(dest="reminders_command", required=True, metavar=_("ACTION"))
    c = rsub.add_parser("run-due", help=_("one planning-and-dispatch pass (idempotent)"))
    c.add_argument(
        "--now",
        type=_moment_arg,
        help=_("as of this moment (ISO 8601; local time when no offset is given)"),
    )
    c.set_defaults(func=_run_due)


def _moment_arg(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("not an ISO 8601 time: {text} (e.g. 2027-03-09T08:00+07:00)").format(text=text)
        ) from None


def _run_due(settings, args) -> int:
    from bot.services.reminders import run_due

    moment = args.now
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.tz)

    async def body(app: App) -> int:
        result = await run_due(app, moment)
        print(
            _(
                "New reminders planned: {planned}. Sent: {sent}, cancelled: {cancelled}, "
                "undeliverable: {skipped}. Quota nudges: {nudges}."
            ).format(
                planned=result.plan.reminders,
                sent=result.dispatch.sent,
                cancelled=result.dispatch.cancelled,
                skipped=result.dispatch.skipped,
                nudges=result.nudges,
            )
        )
        return 0

    return run_async(settings, body)
