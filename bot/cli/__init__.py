"""``sipas-bot`` (same as ``python -m bot``): the command line of the README.

One module per command group; each has ``register(subparsers)``. A group's heavy imports
happen inside its commands, so ``--help`` and a short report start quickly.

Exit codes: 0 success, 1 runtime error, 2 bad usage or bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from bot.cli.common import UsageError

log = logging.getLogger("sipas")

# The command groups, in the order ``--help`` lists them.
GROUPS = (
    "serve",
    "db",
    "demo",
    "invite",
    "person",
    "report",
    "imports",
    "deadline",
    "reminders",
    "holiday",
    "zalo",
    "kiosk",
    "ballots",
    "outbox",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sipas-bot",
        description="SIPAS survey and reminder bot for Zalo OA, Telegram and the web.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        importlib.import_module(f"bot.cli.{group}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    from pydantic import ValidationError

    from bot.core.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "SIPAS_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        print(f"sipas-bot: {name}: {first['msg']}", file=sys.stderr)
        return 2
    try:
        return args.func(settings, args) or 0
    except UsageError as exc:
        print(f"sipas-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.debug("command failed", exc_info=True)
        print(f"sipas-bot: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
