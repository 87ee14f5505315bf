"""``import KIND FILE.csv``: bulk loads (a bad file loads nothing)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import UsageError, _, run_async

if TYPE_CHECKING:
    from bot.core.settings import Settings

# The importers' kinds (``bot.services.imports.IMPORTERS``), listed here so that
# ``--help`` need not import the services; a test keeps the two the same.
KINDS = ("deadlines", "dossiers", "people", "procedures", "units")
NICENESS = 10  # as bot.services.imports.NICENESS (not imported: it is heavy)
CHOICES = (*KINDS, "ballots")  # ballots: XLSX too, read by bot/services/ballots.py


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
        choices=CHOICES,
        metavar=_("KIND"),
        help=_("what the file holds: {kinds}").format(kinds=", ".join(CHOICES)),
    )
    p.add_argument(
        "file",
        type=Path,
        metavar=_("FILE"),
        help=_("the CSV file (UTF-8, a header line first), or XLSX for ballots"),
    )
    p.set_defaults(func=_import)


def _import(settings: Settings, args) -> int:
    if not args.file.is_file():
        raise UsageError(_("no such file: {path}").format(path=args.file))
    if hasattr(os, "nice"):
        # An import is background work: it yields the CPU to ``serve``, from before the
        # imports below (a second of CPU on a small server) to its end.
        os.nice(NICENESS)
    if args.kind == "ballots":  # paper ballots, XLSX or CSV: bot/services/ballot_import.py
        from bot.cli.ballots import import_ballots

        return import_ballots(settings, args.file)
    from bot.services import deadlines  # noqa: F401  (registers the deadlines importer)
    from bot.services.imports import cli_import

    return run_async(settings, lambda app: cli_import(app, args.kind, args.file, background=False))
