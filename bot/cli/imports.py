"""``import KIND FILE.csv``: bulk loads (a bad file loads nothing)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import (
    UsageError,
    run_async,
)

if TYPE_CHECKING:
    from bot.core.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    from bot.services import deadlines  # noqa: F401  (registers the deadlines importer)
    from bot.services.imports import IMPORTERS

    p = sub.add_parser("import", help="bulk load from CSV (a bad file loads nothing)")
    p.add_argument("kind", choices=sorted([*IMPORTERS, "ballots"]))  # ballots: .xlsx too
    p.add_argument("file", type=Path)
    p.set_defaults(func=_import)


def _import(settings: Settings, args) -> int:
    from bot.services.imports import cli_import

    if not args.file.is_file():
        raise UsageError(f"no such file: {args.file}")
    if args.kind == "ballots":  # paper ballots, XLSX or CSV: bot/services/ballots.py
        from bot.cli.ballots import import_ballots

        return import_ballots(settings, args.file)

    return run_async(settings, lambda app: cli_import(app, args.kind, args.file))
