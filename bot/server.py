"""``sipas-bot serve``: the HTTP server plus the background work of one process.

Background services (outbox senders, the scheduler, Telegram polling) start with the
server and stop with it; each is an ``async def run(stop: asyncio.Event)``. What only
one channel needs is imported only when that channel is on.

The API docs (``/docs``, ``/redoc``) use the Swagger UI and ReDoc files of the
``fastapi-offline`` package, served from here: they work without internet.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import uvicorn
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from bot.channels.zalo import service as zalo
from bot.core.app import App
from bot.core.settings import Settings
from bot.http import (
    api_reports,
    dossiers,
    health,
    home,
    kiosk,
    limits,
    metrics,
    qr,
    task_links,
    telegram_webhook,
    web_chat,
)
from bot.services import invites, reminders, upkeep
from flows.i18n import translator
from storage.instances import InstanceLock
from storage.revision import current_revision, head_revision

log = logging.getLogger(__name__)
Service = Callable[[asyncio.Event], Awaitable[None]]


def background_services(app: App) -> list[tuple[str, Service]]:
    """The long-running tasks this configuration needs."""
    services: list[tuple[str, Service]] = []
    services += zalo.services(app)
    if app.settings.zns_sends:
        from bot.channels.zalo import zns_service

        services += zns_service.services(app)
    if app.settings.telegram_token:  # the Bot API library loads only when Telegram is on
        from bot.channels.telegram import service as telegram_service

        services += telegram_service.services(app)
    services += reminders.services(app)
    services += upkeep.services(app)
    return services


def create_app(app: App, *, run_background: bool = True) -> FastAPI:
    """The ASGI application; ``run_background=False`` for tests that drive work by hand."""

    @contextlib.asynccontextmanager
    async def lifespan(_api: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = []
        lock = InstanceLock(app.db, app.instance_id)
        if run_background:
            await lock.hold()  # before any claim: rows of this process are known as ours
            try:
                await upkeep.release_gone(app)
            except Exception:  # their lease ends anyway
                log.exception("could not release the rows of stopped processes")
            for name, service in background_services(app):
                tasks.append(asyncio.create_task(service(stop), name=name))
                log.info("started %s", name)
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                try:
                    await asyncio.wait_for(task, 10)
                except (TimeoutError, asyncio.CancelledError):
                    task.cancel()
                except Exception:
                    log.exception("service %s failed while stopping", task.get_name())
            await lock.release()

    api = FastAPIOffline(
        title="SIPAS survey bot",
        version="0.1.0",
        description="Integration API of the SIPAS survey and reminder bot.",
        lifespan=lifespan,
    )
    api.state.sipas = app
    limits.install(api)
    api.include_router(home.router)
    api.include_router(health.router)
    api.include_router(telegram_webhook.router)
    api.include_router(dossiers.router)
    api.include_router(qr.router)
    api.include_router(web_chat.router)
    api.include_router(kiosk.router)
    if app.settings.zalo_receives:
        from bot.http import zalo_webhook

        api.include_router(zalo_webhook.router)
    api.include_router(api_reports.router)
    api.include_router(task_links.router)
    if app.settings.metrics_enabled:
        api.include_router(metrics.router)
    return api


async def _schema_ready(app: App, _) -> bool:
    """A database never migrated is set up here; one at an older revision is left to
    ``sipas-bot db upgrade`` (after a backup), and serving does not start."""
    from storage.migrate import upgrade

    current, head = await current_revision(app.db), head_revision()
    if current == head:
        return True
    if current is None:
        await upgrade(app.db)
        print(_("New database: set up at revision {revision}.").format(revision=head), flush=True)
        return True
    print(
        "sipas-bot: "
        + _(
            "the database is at revision {current}, this version needs {head}: "
            "run 'sipas-bot db upgrade' first"
        ).format(current=current, head=head),
        file=sys.stderr,
    )
    return False


def _freeze_startup_objects() -> None:
    # What start-up made (modules, tables, compiled statements, catalogues: some 180,000
    # objects) lives as long as the process; a full collection scanned it all anyway, for
    # 120-180 ms with the event loop stopped, every few seconds under load, and those
    # were the slowest webhooks. gc.freeze() leaves it out; what comes later is
    # collected as usual.
    gc.collect()
    gc.freeze()


def serve(settings: Settings) -> int:
    """Run until interrupted; 1 when the database is not migrated."""
    return _run(_serve(settings))


def _run(main):
    # uvloop when installed (it is a dependency on Linux and macOS): the loop is ours,
    # created here, so uvicorn's own loop choice never applies.
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


async def _serve(settings: Settings) -> int:
    app = App(settings)
    _ = translator(settings.default_locale, settings.timezone).gettext
    try:
        if not await _schema_ready(app, _):
            return 1
        api = create_app(app)
        base = f"http://{settings.http_host}:{settings.http_port}"
        print(
            _("SIPAS bot: {base}/  (health: {base}/healthz, API docs: {base}/docs)").format(
                base=base
            )
        )
        print(_("Web chat: {base}/chat").format(base=invites.base_url(app)))
        if not settings.telegram_token and not settings.zalo_oa_secret:
            print(
                _(
                    "No channel credentials set: try the bot in the web chat above, or on the "
                    "console with 'make chat'."
                )
            )
        config = uvicorn.Config(
            api,
            host=settings.http_host,
            port=settings.http_port,
            log_level="info",
            access_log=False,
        )
        _freeze_startup_objects()
        await uvicorn.Server(config).serve()
        return 0
    finally:
        await app.close()
