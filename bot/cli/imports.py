"""``import KIND FILE.csv``: bulk loads (a bad file loads nothing)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import UsageError, _, clean_message, run_async

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.settings import Settings

# The importers' kinds (``bot.services.imports.IMPORTERS``), listed here so that
# ``--help`` need not import the services; a test keeps the two the same.
KINDS = ("deadlines", "dossiers", "people", "procedures", "units")


def kind_word(kind: str) -> str:
    """What an import kind loads, in the CLI's language ("2 đơn vị")."""
    words = {
        "deadlines": _("deadlines"),
        "dossiers": _("dossiers"),
        "people": _("people"),
        "procedures": _("procedures"),
        "units": _("units"),
        "ballots": _("paper ballots"),
    }
    return words.get(kind, kind)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help=_("bulk load from CSV (a bad file loads nothing)"))
    p.add_argument(
        "kind",
        choices=KINDS,
        metavar=_("KIND"),
        help=_("what the file holds: {kinds}").format(kinds=", ".join(KINDS)),
    )
    p.add_argument(
        "file",
        type=Path,
        metavar=_("FILE"),
        help=_("the CSV file (UTF-8, a header line first)"),
    )
    p.set_defaults(func=_import)


def _import(settings: Settings, args) -> int:
    from bot.services import deadlines  # noqa: F401  (registers the deadlines importer)
    from bot.services.imports import ImportFailed, import_csv, print_progress

    if not args.file.is_file():
        raise UsageError(_("no such file: {path}").format(path=args.file))

    async def body(app: App) -> int:
        try:
            result = await import_csv(app, args.kind, args.file, progress=print_progress)
        except ImportFailed as failed:
            for error in failed.errors[:200]:
                print(f"{args.file.name}: {_row_error(error)}", file=sys.stderr)
            more = len(failed.errors) - 200
            if more > 0:
                print(_("… and {n} more errors").format(n=more), file=sys.stderr)
            raise UsageError(
                _("{file}: {n} bad row(s); nothing was loaded").format(
                    file=args.file.name, n=len(failed.errors)
                )
            ) from None
        for line in result.output:
            print(line)
        print(
            _("Loaded {n} {kind} from {file}.").format(
                n=result.loaded, kind=kind_word(result.kind), file=args.file.name
            )
        )
        return 0

    return run_async(settings, body)


def _row_error(error) -> str:
    line, message = getattr(error, "line", None), getattr(error, "message", None)
    if line is None or message is None:
        return clean_message(str(error))
    where = _("line {n}").format(n=line) if line else _("file")
    return f"{where}: {clean_message(message)}"
