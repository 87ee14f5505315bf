"""``ballots template|form``: the data-entry workbook and the printed questionnaire of
paper ballots (``import ballots FILE`` loads them: see bot/cli/imports.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import UsageError, _, resolve_unit, run_async
from flows.i18n import translator

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ballots", help=_("paper ballots: data-entry workbook, printed form"))
    bsub = p.add_subparsers(dest="ballots_command", required=True, metavar=_("ACTION"))
    t = bsub.add_parser("template", help=_("the XLSX workbook clerks type paper ballots into"))
    t.add_argument("--questionnaire", default="sipas-2023")
    t.add_argument("--unit", help=_("unit code: its subtree only, filled in on every row"))
    t.add_argument("--out", type=Path, required=True, help="FILE.xlsx")
    t.set_defaults(func=_template)
    f = bsub.add_parser("form", help=_("the paper questionnaire to print (A4 PDF)"))
    f.add_argument("--unit", required=True, help=_("unit code"))
    f.add_argument("--questionnaire", default="sipas-2023")
    f.add_argument("--out", type=Path, required=True, help="FILE.pdf")
    f.set_defaults(func=_form)


def _questionnaire(code: str):
    from flows import questionnaire as qn

    try:
        return qn.get(code)
    except KeyError:
        known = ", ".join(sorted(qn.catalogue()))
        raise UsageError(
            _("unknown questionnaire '{code}' (there is: {known})").format(code=code, known=known)
        ) from None


def _template(settings: Settings, args) -> int:
    from bot.render import ballot_template
    from storage import procedures, units

    q = _questionnaire(args.questionnaire)
    if args.out.suffix.lower() != ".xlsx":
        raise UsageError(_("--out must end in {suffix}").format(suffix=".xlsx"))

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        async with app.db.read() as session:
            root = await resolve_unit(app, session, args.unit) if args.unit else None
            rows = (
                await units.subtree(session, root)
                if root
                else [
                    u for r in await units.roots(session) for u in await units.subtree(session, r)
                ]
            )
            procs = await procedures.all_procedures(session)
        xlsx = await asyncio.to_thread(
            ballot_template.build,
            t,
            q,
            [(u.code, u.name) for u in rows],
            [(p.code, p.name) for p in procs],
            root.code if root else None,
        )
        await asyncio.to_thread(args.out.write_bytes, xlsx)
        print(
            t.gettext("Wrote {file}: one row per ballot, {n} questions ({q}).").format(
                file=args.out, n=len(q.items), q=q.code
            )
        )
        return 0

    return run_async(settings, body)


def _form(settings: Settings, args) -> int:
    from bot.render import ballot_form

    q = _questionnaire(args.questionnaire)
    if args.out.suffix.lower() != ".pdf":
        raise UsageError(_("--out must end in {suffix}").format(suffix=".pdf"))

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        async with app.db.read() as session:
            unit = await resolve_unit(app, session, args.unit)
        pdf = await asyncio.to_thread(ballot_form.build, t, q, unit.name)
        await asyncio.to_thread(args.out.write_bytes, pdf)
        print(
            t.gettext("Wrote {file}: the A4 questionnaire for {unit}.").format(
                file=args.out, unit=unit.name
            )
        )
        return 0

    return run_async(settings, body)


def import_ballots(settings: Settings, path: Path) -> int:
    """``import ballots FILE``: every bad cell on stderr and nothing loaded, or the count."""
    from bot.services.ballot_import import import_ballots as run_import
    from bot.services.ballots import BallotsFailed

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        _ = t.gettext

        def progress(done: int, total: int) -> None:
            text = _("{file}: {done} of {total} ballots stored").format(
                file=path.name, done=t.number(done), total=t.number(total)
            )
            print(text, file=sys.stderr)

        if sys.stderr.isatty():  # a bar (ballots, ballots/s, time left); lines when piped
            from bot.services.imports.progress import progress_for

            call, bar = None, progress_for(t, sys.stderr)
        else:
            call, bar = progress, None
        try:
            result = await run_import(app, path, call, bar=bar)
        except BallotsFailed as failed:
            for error in failed.errors[:200]:
                print(f"{path.name}: {error.describe(_)}", file=sys.stderr)
            if len(failed.errors) > 200:
                print(f"… (+{len(failed.errors) - 200})", file=sys.stderr)
            raise UsageError(
                _("{file}: {n} bad cell(s); nothing was loaded").format(
                    file=path.name, n=len(failed.errors)
                )
            ) from None
        except ValueError as bad:
            raise UsageError(str(bad)) from None
        print(
            _("Loaded {n} paper ballots ({q}) from {file}; {old} were loaded before.").format(
                n=t.number(result.loaded),
                q=result.questionnaire,
                file=path.name,
                old=t.number(result.already),
            )
        )
        return 0

    return run_async(settings, body)
