"""``serve`` and ``chat``: the long-running commands."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.common import _
from flows.i18n import LOCALES

if TYPE_CHECKING:
    from bot.core.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help=_("HTTP server, scheduler, outbox senders, Telegram polling"))
    p.set_defaults(func=_serve)

    p = sub.add_parser("chat", help=_("talk to the bot on the console (stdin/stdout)"))
    p.add_argument(
        "--user", default="console-user", help=_("the chat user id (default: console-user)")
    )
    p.add_argument("--locale", choices=LOCALES, help=_("language of a new conversation"))
    p.add_argument(
        "--files",
        type=_folder_arg,
        help=_("folder for the charts and workbooks the bot sends (default: this folder)"),
    )
    p.set_defaults(func=_chat)


def _folder_arg(text: str):
    from pathlib import Path

    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(_("no such folder: {path}").format(path=text))
    return path


def _serve(settings: Settings, args) -> int:
    from bot.server import serve

    return serve(settings)


def _chat(settings: Settings, args) -> int:
    from pathlib import Path

    from bot.channels import console
    from bot.core.app import App

    console.run(App(settings), args.user, args.locale, files=args.files or Path.cwd())
    return 0
