"""``db upgrade``, ``db rebuild-rollups``, ``db prune``, ``db backup``/``check``/``restore``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.common import _, run_async

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help=_("database"))
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar=_("ACTION"))
    dbsub.add_parser("upgrade", help=_("apply migrations")).set_defaults(func=_db_upgrade)
    dbsub.add_parser(
        "rebuild-rollups", help=_("recompute the report rollups from the raw answers")
    ).set_defaults(func=_db_rebuild_rollups)
    from bot.cli import db_ops

    db_ops.register(dbsub)


def _db_upgrade(settings: Settings, args) -> int:
    from scheduler.calendar import apply_known_days
    from storage import rollups
    from storage.migrate import current_revision, upgrade

    async def body(app: App) -> int:
        await upgrade(app.db)
        print(
            _("database at revision {revision} ({dialect})").format(
                revision=await current_revision(app.db), dialect=app.db.dialect
            )
        )
        async with app.db.write() as session:
            if await rollups.missing(session):  # data from before the rollups existed
                answers, responses = await rollups.rebuild(session, app.tz)
                _print_rebuilt(answers, responses)
            known = await apply_known_days(session, app.now())
        print(_("Holiday swaps shipped with sipas-bot: {n} in force.").format(n=known))
        return 0

    return run_async(settings, body)


def _db_rebuild_rollups(settings: Settings, args) -> int:
    from storage import rollups

    async def body(app: App) -> int:
        async with app.db.write() as session:
            answers, responses = await rollups.rebuild(session, app.tz)
        _print_rebuilt(answers, responses)
        return 0

    return run_async(settings, body)


def _print_rebuilt(answers: int, responses: int) -> None:
    print(
        _("report rollups rebuilt: {answers} answer rows, {responses} response rows").format(
            answers=answers, responses=responses
        )
    )
