"""Running the Telegram channel: the bot client, start-up calls, long polling, the sender.

Webhook mode when ``SIPAS_PUBLIC_URL`` and ``SIPAS_TELEGRAM_WEBHOOK_SECRET`` are set
(``setWebhook`` with the secret on start; updates arrive at ``POST /webhooks/telegram``),
long polling otherwise (``deleteWebhook`` first, as Telegram refuses ``getUpdates`` while
a webhook is set). Either way an update is confirmed only after ``engine.handle``
committed it: polling moves its offset past an update only then, the webhook answers
200 only then. Redeliveries are recognised by the engine and change nothing.

The Bot API library (``SIPAS_TELEGRAM_LIBRARY``: python-telegram-bot or aiogram) is
reached only through the seam (``seam.py``); this module imports neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.channels.telegram.inbound import MalformedUpdate, to_incoming, update_id
from bot.channels.telegram.seam import TelegramClient, bot_id, load_client, redact
from bot.channels.telegram.transport import TelegramTransport
from bot.core import engine
from bot.core.app import App
from bot.core.outbox_sender import Limits, OutboxSender
from bot.core.settings import Settings
from flows.i18n import LOCALES, N_, translator

log = logging.getLogger(__name__)
T = TypeVar("T")

POLL_TIMEOUT = 25  # seconds a getUpdates call waits for news
MAX_UPDATE_FAILURES = 5  # then a poison update is skipped (logged) so others get through
COMMANDS = (
    ("start", N_("Start, or enter your survey code")),
    ("help", N_("What this bot can do")),
    ("lang", N_("Change language")),
    ("cancel", N_("Stop what you are doing")),
)

_clients: weakref.WeakKeyDictionary[App, TelegramClient] = weakref.WeakKeyDictionary()
_senders: weakref.WeakKeyDictionary[App, OutboxSender] = weakref.WeakKeyDictionary()


def client_for(app: App) -> TelegramClient:
    """The process's Bot API client for ``app``, on the library ``SIPAS_TELEGRAM_LIBRARY``
    names (requests go to ``SIPAS_TELEGRAM_API_BASE``)."""
    client = _clients.get(app)
    if client is None:
        settings = app.settings
        if settings.telegram_token is None:
            raise RuntimeError("SIPAS_TELEGRAM_TOKEN is not set")
        token = settings.telegram_token.get_secret_value()
        bot_id(token)  # a malformed token stops here, named
        client = load_client(settings.telegram_library, token, settings.telegram_api_base)
        _clients[app] = client
    return client


def limits(settings: Settings) -> Limits:
    """The sender's limits: ``SIPAS_TELEGRAM_RATE`` overall, ``…_CHAT_INTERVAL`` per chat."""
    return Limits(
        per_second=settings.telegram_rate, per_chat_interval=settings.telegram_chat_interval
    )


async def handle_update(
    app: App, update: dict[str, Any], *, webhook: bool = False
) -> dict[str, Any] | None:
    """Run one update (the Bot API's JSON) through the engine. ``MalformedUpdate`` when
    it is not an update.

    The replies are committed to the outbox; this process's sender, if it runs, is told
    to look at once. For a ``webhook`` delivery a button press's ``answerCallbackQuery``
    is not queued but returned, for the 200 to carry (``Incoming``); also for a delivery
    already processed, since Telegram delivers again only when it lost the first 200.
    """
    token = app.settings.telegram_token
    if token is None:
        raise RuntimeError("SIPAS_TELEGRAM_TOKEN is not set")
    incoming = to_incoming(update, bot_id(token.get_secret_value()), app.now())
    if incoming is None:
        return None
    rows = incoming.rows(answer_queued=not webhook)
    handled = await engine.handle(app, incoming.event, also=rows)
    sender = _senders.get(app)
    if handled and sender is not None:
        sender.wake()
    return incoming.answer if webhook else None


def services(app: App) -> list[tuple[str, Callable[[asyncio.Event], Awaitable[None]]]]:
    """The background work of the Telegram channel (none without a token)."""
    if not app.settings.telegram_token:
        return []

    async def telegram(stop: asyncio.Event) -> None:
        await run(app, stop)

    return [("telegram", telegram)]


async def run(app: App, stop: asyncio.Event) -> None:
    """Start-up calls, then the outbox sender and (without a webhook) long polling."""
    client = client_for(app)
    sender = _senders[app] = OutboxSender(app, TelegramTransport(client), limits(app.settings))
    # Rows held back by the per-chat interval are looked at again this often.
    idle = min(0.5, max(0.02, app.settings.telegram_chat_interval))
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(sender.run_forever(stop, idle=idle))
            group.create_task(_receive(app, client, stop))
    finally:
        await client.close()


async def _receive(app: App, client: TelegramClient, stop: asyncio.Event) -> None:
    settings = app.settings
    url = settings.telegram_webhook_url

    async def start_receiving() -> bool:
        if url is None:  # Telegram refuses getUpdates while a webhook is set
            return await client.delete_webhook()
        secret = settings.telegram_webhook_secret.get_secret_value()  # type: ignore[union-attr]
        return await client.set_webhook(url, secret)

    me = await _until_done(stop, client, "getMe", client.get_me)  # proves the token works
    if me is not None:
        _check_username(settings, me.username)
    what = "deleteWebhook" if url is None else "setWebhook"
    await _until_done(stop, client, what, start_receiving)
    await _until_done(
        stop, client, "setMyCommands", lambda: set_commands(client, settings.default_locale)
    )
    if stop.is_set():  # the start-up calls only give up when we are stopped
        return
    if url is not None:
        log.info("Telegram webhook set to %s", url)
    else:
        log.info("Telegram long polling started")
        await poll(app, client, stop)


def _check_username(settings: Settings, actual: str) -> None:
    configured = (settings.telegram_bot_username or "").lstrip("@")
    if not configured:
        log.warning(
            "SIPAS_TELEGRAM_BOT_USERNAME is not set: survey codes get no Telegram link "
            "(this bot is @%s)",
            actual,
        )
    elif configured.lower() != actual.lower():
        log.warning(
            "SIPAS_TELEGRAM_BOT_USERNAME is %s but the token belongs to @%s: "
            "Telegram links on receipts would open the wrong bot",
            configured,
            actual,
        )


async def set_commands(client: TelegramClient, default_locale: str) -> None:
    """The command menu in Vietnamese and English (and the default language for others)."""
    for code in (*LOCALES, None):
        _ = translator(code or default_locale).gettext
        await client.set_my_commands([(name, _(text)) for name, text in COMMANDS], code)


async def poll(app: App, client: TelegramClient, stop: asyncio.Event) -> None:
    """Long polling until ``stop``: each update is confirmed only after it was committed."""
    offset: int | None = None
    fetch_errors = 0
    stuck_id, stuck_tries = None, 0  # an update whose processing keeps failing
    while not stop.is_set():
        try:
            updates = await _unless_stopped(stop, client.get_updates(offset, POLL_TIMEOUT))
        except _Stopped:
            return
        except Exception as exc:
            fetch_errors += 1
            error = redact(str(exc), client.token)
            log.warning("Telegram getUpdates failed (%s): %s", type(exc).__name__, error)
            await _sleep(stop, _backoff(fetch_errors))
            continue
        fetch_errors = 0
        for update in updates:
            try:
                uid = update_id(update)
            except MalformedUpdate:  # cannot be confirmed on its own: the next one will
                log.error("Telegram sent something that is not an update; skipped")
                continue
            try:
                await handle_update(app, update)
            except MalformedUpdate as exc:
                log.error("Telegram update %s skipped: %s", uid, exc)
            except Exception:
                stuck_tries = stuck_tries + 1 if stuck_id == uid else 1
                stuck_id = uid
                log.exception("Telegram update %s failed (try %d)", stuck_id, stuck_tries)
                if stuck_tries < MAX_UPDATE_FAILURES:
                    await _sleep(stop, _backoff(stuck_tries))
                    break  # fetched again, from this update on
                log.error("Telegram update %s skipped after %d tries", stuck_id, stuck_tries)
            offset = uid + 1


class _Stopped(Exception):
    pass


async def _unless_stopped(stop: asyncio.Event, call: Awaitable):
    """Await ``call``, abandoning it when ``stop`` is set (an unconfirmed batch comes again)."""
    task = asyncio.ensure_future(call)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise _Stopped
    return task.result()


async def _until_done(
    stop: asyncio.Event, client: TelegramClient, what: str, call: Callable[[], Awaitable[T]]
) -> T | None:
    """Retry a start-up call with backoff until it succeeds (None: we were stopped)."""
    attempt = 0
    while not stop.is_set():
        try:
            return await call()
        except Exception as exc:
            attempt += 1
            error = redact(str(exc), client.token)
            log.warning("Telegram %s failed (%s): %s; retrying", what, type(exc).__name__, error)
            await _sleep(stop, _backoff(attempt))
    return None


def _backoff(attempt: int) -> float:
    return min(60.0, 0.5 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
