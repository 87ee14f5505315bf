"""``sipas-bot`` (same as ``python -m bot``): the command line of the README.

One module per command group; each has ``register(subparsers)``. A group's heavy imports
happen inside its commands, so ``--help`` and a short report start quickly. Every text
is in the deployment's language (``SIPAS_DEFAULT_LOCALE``), argparse's own words too.

Exit codes: 0 success, 1 runtime error, 2 bad usage or bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator

from bot.cli.common import (
    UsageError,
    _,
    check_outputs,
    clean_message,
    cli_translator,
    set_locale,
)

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
        description=_("SIPAS survey and reminder bot for Zalo OA, Telegram and the web."),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=_("log debug messages"))
    sub = parser.add_subparsers(dest="command", required=True, metavar=_("COMMAND"))
    for group in GROUPS:
        importlib.import_module(f"bot.cli.{group}").register(sub)
    return parser


@contextlib.contextmanager
def argparse_words() -> Iterator[None]:
    """argparse's own words ("usage:", "options", its error messages) in the CLI's
    language while the parser is built and used (their translations are listed in
    ``bot.cli.words``)."""
    t = cli_translator()
    saved = argparse._, argparse.ngettext
    argparse._, argparse.ngettext = t.gettext, t.ngettext
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved


def main(argv: list[str] | None = None) -> int:
    with argparse_words():
        parser = build_parser()
        args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request's URL at INFO (and at DEBUG its headers): a line per call
    # on the Zalo and ZNS clients' paths, and a URL may hold a token. Never, verbose or not.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not args.verbose:
        # Libraries that narrate their work at INFO (Alembic's migrations, fontTools
        # subsetting the ballot form's fonts: a hundred lines) say only what goes wrong.
        for chatty in ("alembic", "fontTools"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
    from pydantic import ValidationError

    from bot.core.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "SIPAS_" + str(first["loc"][0]).upper() if first["loc"] else _("settings")
        print(f"sipas-bot: {name}: {settings_problem(first)}", file=sys.stderr)
        return 2
    set_locale(settings.default_locale)
    try:
        check_outputs(args)
        return args.func(settings, args) or 0
    except UsageError as exc:
        print(f"sipas-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``sipas-bot holiday list | head``): stop quietly, and keep
        # Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        log.debug("command failed", exc_info=True)
        problem = schema_problem(settings, exc)
        if problem is not None:
            print(f"sipas-bot: {problem}", file=sys.stderr)
            return 1
        print(f"sipas-bot: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def settings_problem(problem: dict) -> str:
    """What is wrong with a setting, in the user's language (not pydantic's English)."""
    from bot.services.imports.framework import problem_text
    from flows.i18n import Problem

    error = (problem.get("ctx") or {}).get("error")
    if isinstance(error, Problem):
        return error.text(cli_translator())
    return clean_message(problem_text(cli_translator(), problem))


def schema_problem(settings, exc: BaseException) -> str | None:
    """What to tell the operator when a command failed on a database whose schema is
    missing or old (``db upgrade`` was not run); None for any other failure."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    if not isinstance(exc, OperationalError | ProgrammingError):
        return None
    current, head = database_revision(settings)
    if current == head or current is False:
        return None
    if current is None:
        return _("the database has not been set up yet: run 'sipas-bot db upgrade' first")
    return _(
        "the database is at revision {current}, this version needs {head}: "
        "run 'sipas-bot db upgrade' first"
    ).format(current=current, head=head)


def database_revision(settings) -> tuple[str | bool | None, str]:
    """(the database's revision, None before the first migration or False when it cannot
    be read; the code's newest revision)."""
    import asyncio

    from storage.db import Database
    from storage.revision import current_revision, head_revision

    async def read() -> str | bool | None:
        db = Database(settings.database_url)
        try:
            return await current_revision(db)
        except Exception:
            return False
        finally:
            await db.dispose()

    return asyncio.run(read()), head_revision()
