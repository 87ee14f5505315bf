"""``db prune``, ``db backup FILE``, ``db check FILE``, ``db restore FILE`` (registered by
bot/cli/db.py under ``db``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import UsageError, _, run_async
from flows.i18n import translator

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.settings import Settings


def register(dbsub: argparse._SubParsersAction) -> None:
    dbsub.add_parser(
        "prune", help=_("remove old dedupe keys, old sent messages, undelivered web replies")
    ).set_defaults(func=_prune)
    for name, text, func in (
        ("backup", _("a consistent copy of the database, also while serving"), _backup),
        ("check", _("read a backup through and show what it holds"), _check),
        ("restore", _("replace the database with a backup (stop the server first)"), _restore),
    ):
        c = dbsub.add_parser(name, help=text)
        c.add_argument("file", type=Path, metavar=_("FILE"))
        c.set_defaults(func=func)


def _t(settings: Settings):
    return translator(settings.default_locale, settings.timezone).gettext


def _prune(settings: Settings, args) -> int:
    from bot.services import upkeep

    async def body(app: App) -> int:
        _ = _t(settings)
        done = await upkeep.prune(app)
        print(
            _(
                "Removed {inbound} dedupe keys (older than {days_in} days), {sent} sent "
                "messages (older than {days_sent} days), {web} undelivered web-chat replies."
            ).format(
                inbound=done.inbound,
                days_in=settings.retention_inbound_days,
                sent=done.sent,
                days_sent=settings.retention_sent_days,
                web=done.web,
            )
        )
        return 0

    return run_async(settings, body)


def _keep_key(settings: Settings) -> str:
    _ = _t(settings)
    where = (
        _("the SIPAS_SECRET_KEY setting")
        if settings.secret_key
        else str(settings.data_dir / "secret.key")
    )
    return _(
        "Keep it together with {where}, and as secret: without the key the stored Zalo "
        "tokens cannot be read and chats cannot be matched to their conversations."
    ).format(where=where)


def _backup(settings: Settings, args) -> int:
    import asyncio

    from storage import backup

    async def body(app: App) -> int:
        _ = _t(settings)
        try:
            await asyncio.to_thread(backup.backup, app.db, args.file)
            info = await asyncio.to_thread(backup.check, app.db, args.file)
        except backup.BackupError as exc:
            raise UsageError(_(exc.message).format(**exc.fields)) from None
        print(_("Backup written to {file}.").format(file=args.file))
        _print_counts(settings, info)
        print(_keep_key(settings))
        return 0

    return run_async(settings, body)


def _print_counts(settings: Settings, info) -> None:
    _ = _t(settings)
    if info.revision:
        print(_("Schema revision: {revision}").format(revision=info.revision))
    known = {t: n for t, n in info.counts.items() if n >= 0}
    if known:
        print(", ".join(f"{table}: {n}" for table, n in known.items()))


def _check(settings: Settings, args) -> int:
    import asyncio

    from storage import backup

    async def body(app: App) -> int:
        _ = _t(settings)
        try:
            info = await asyncio.to_thread(backup.check, app.db, args.file)
        except backup.BackupError as exc:
            raise UsageError(_(exc.message).format(**exc.fields)) from None
        print(_("{file} is a readable backup.").format(file=args.file))
        _print_counts(settings, info)
        return 0

    return run_async(settings, body)


def _restore(settings: Settings, args) -> int:
    import asyncio

    from storage import backup, instances

    async def body(app: App) -> int:
        _ = _t(settings)
        if await instances.any_alive(app.db):
            raise UsageError(_("a server is running on this database: stop it first"))
        await app.db.dispose()  # no connection of ours is open while the file changes
        try:
            await asyncio.to_thread(backup.restore, app.db, args.file)
        except backup.BackupError as exc:
            raise UsageError(_(exc.message).format(**exc.fields)) from None
        print(
            _("Database restored from {file}. Run 'sipas-bot db upgrade' before serving.").format(
                file=args.file
            )
        )
        print(_keep_key(settings))
        return 0

    return run_async(settings, body)
