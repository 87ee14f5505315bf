"""``serve`` and ``chat``: the long-running commands."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from flows.i18n import LOCALES

if TYPE_CHECKING:
    from bot.core.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="HTTP server, scheduler, outbox senders, Telegram polling")
    p.set_defaults(func=_serve)

    p = sub.add_parser("chat", help="talk to the bot on the console (stdin/stdout)")
    p.add_argument(
        "--user", default="console-user", help="the chat user id (default: console-user)"
    )
    p.add_argument("--locale", choices=LOCALES, help="language of a new conversation")
    p.set_defaults(func=_chat)


def _serve(settings: Settings, args) -> int:
    from bot.server import serve

    return serve(settings)


def _chat(settings: Settings, args) -> int:
    from bot.channels import console
    from bot.core.app import App

    console.run(App(settings), args.user, args.locale)
    return 0
