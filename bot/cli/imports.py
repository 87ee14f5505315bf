"""``import KIND FILE.csv``: bulk loads (a bad file loads nothing)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import (
    UsageError,
    run_async,
)
from flows.i18n import translator

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    from bot.services import deadlines  # noqa: F401  (registers the deadlines importer)
    from bot.services.imports import IMPORTERS

    p = sub.add_parser("import", help="bulk load from CSV (a bad file loads nothing)")
    p.add_argument("kind", choices=sorted([*IMPORTERS, "ballots"]))  # ballots: .xlsx too
    p.add_argument("file", type=Path)
    p.set_defaults(func=_import)


def _import(settings: Settings, args) -> int:
    from bot.services.imports import ImportFailed, import_csv, print_progress

    if not args.file.is_file():
        raise UsageError(f"no such file: {args.file}")
    if args.kind == "ballots":  # paper ballots, XLSX or CSV: bot/services/ballots.py
        from bot.cli.ballots import import_ballots

        return import_ballots(settings, args.file)

    async def body(app: App) -> int:
        _ = translator(settings.default_locale, settings.timezone).gettext
        try:
            result = await import_csv(app, args.kind, args.file, progress=print_progress)
        except ImportFailed as failed:
            for error in failed.errors[:200]:
                print(f"{args.file.name}: {error}", file=sys.stderr)
            more = len(failed.errors) - 200
            if more > 0:
                print(f"… and {more} more", file=sys.stderr)
            raise UsageError(
                _("{file}: {n} bad row(s); nothing was loaded").format(
                    file=args.file.name, n=len(failed.errors)
                )
            ) from None
        for line in result.output:
            print(line)
        print(
            _("Loaded {n} {kind} from {file}.").format(
                n=result.loaded, kind=result.kind, file=args.file.name
            )
        )
        return 0

    return run_async(settings, body)
