"""ZNS in the running bot: the outbox transport of channel ``zns``, the rating poller,
the daily upkeep, and the fallback of officials' reminders to ZNS.

Sending one row: the number is read (encrypted) from ``zns_phone``; the template's
parameters are read (cached) and the row's ``template_data`` checked against them, so
a wrong one is refused before a paid send; one of the day's ``SIPAS_ZNS_DAILY_CAP``
messages is taken; then Zalo is called. Once Zalo accepted it, the citizen's number is
erased (unless another message still waits for it). Rows that cannot go today (cap,
Zalo's quota, a template not approved) wait as dead letters and are queued again the
next day; a number without Zalo is suppressed. No number is ever logged: Zalo's error
texts are cleaned of digit runs before they are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from bot.channels.zalo import facts
from bot.channels.zalo.adapter import ZaloChannel, open_channel
from bot.channels.zalo.client import ZaloError, ZaloOAClient
from bot.channels.zalo.zns import TemplateInfo, ZnsClient
from bot.core import metrics
from bot.core.app import App
from bot.core.outbox_sender import (
    Dead,
    Limits,
    OutboxSender,
    Outcome,
    Pacer,
    Retry,
    Sent,
    Transport,
)
from bot.services import zns as zns_service
from bot.services import zns_ratings
from bot.services.intake import next_send_time
from flows.officials import DONE, TASK_PREFIX
from storage import credentials, people
from storage import zns as store

log = logging.getLogger(__name__)

TEMPLATE_TTL = 600.0  # seconds a template's parameters are trusted
POLL_STATE = "zns-ratings"  # credential row remembering how far the rating list was read
POLL_OVERLAP = timedelta(minutes=10)  # re-read this much (duplicates are dropped)
FIRST_POLL = timedelta(days=1)
WINDOW_GUARD = 0.1  # seconds added to the pacing window: arrivals at Zalo jitter
_DIGITS = re.compile(r"\d[\d .]{7,}\d")


def scrub(text: str) -> str:
    """``text`` without anything that could be a phone number."""
    return _DIGITS.sub("…", text)


@dataclass
class ZnsTransport:
    """Sends ``zns`` outbox rows (the ``Transport`` protocol)."""

    app: App
    client: ZnsClient
    channel: str = store.CHANNEL
    _templates: dict[str, tuple[float, TemplateInfo]] = field(default_factory=dict)
    _cap_logged: date | None = None
    _pacer: Pacer | None = None

    def __post_init__(self) -> None:
        # Paced here, right before the call: the database work of a send (the number,
        # the day's slot) takes varying time, and pacing only the outbox's claims let
        # calls bunch up behind it.
        self._pacer = Pacer(self.app.settings.zns_rate, WINDOW_GUARD)

    async def send(self, recipient: str, payload: dict[str, Any]) -> Outcome:
        template_id = str(payload.get("template_id") or "")
        data = payload.get("template_data")
        tracking = str(payload.get("tracking_id") or "")
        if not template_id or not isinstance(data, dict) or not tracking:
            return Dead("zns: the message lacks its template, data or tracking id")
        data = {str(k): str(v) for k, v in data.items()}
        day = self.app.now().astimezone(self.app.tz).date()
        try:
            info = await self._template(template_id)
        except ZaloError as exc:
            return await self._failed(exc, recipient, day)
        except httpx.HTTPError as exc:
            return Retry(f"zns {type(exc).__name__} reading the template")
        if not info.approved:
            text = f"template {template_id} is not approved (state {info.status or '?'})"
            return self._wait("template", day, text)
        problems = info.problems(data)
        if problems:
            # The data will not fit tomorrow either: a plain dead letter, never queued
            # again by the daily upkeep (unlike the cap, quota and template waits).
            return Dead(scrub("zns: refused before sending: " + "; ".join(problems)))
        cap = self.app.settings.zns_daily_cap
        async with self.app.db.write() as session:
            encrypted = await store.phone_enc(session, recipient)
            phone = self.app.keys.decrypt(encrypted) if encrypted else None
            taken = phone is not None and await store.reserve(session, day, cap)
        if phone is None:
            return Dead("zns: no phone number is stored for this message (erased or unreadable)")
        if not taken:
            if self._cap_logged != day:
                self._cap_logged = day
                log.warning(
                    "ZNS daily cap of %d messages reached for %s: later messages wait as "
                    "dead letters until tomorrow (SIPAS_ZNS_DAILY_CAP)",
                    cap,
                    day.isoformat(),
                )
            return self._wait("cap", day, f"the daily cap of {cap} ZNS messages is reached")
        assert self._pacer is not None
        await self._pacer.wait()
        self._pacer.done(calling=True)
        try:
            sent = await self.client.send_template(phone, template_id, data, tracking)
        except ZaloError as exc:
            await self._release(day)
            return await self._failed(exc, recipient, day)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            await self._release(day)  # never reached Zalo
            return Retry(f"zns {type(exc).__name__}")
        except httpx.HTTPError as exc:  # may have reached Zalo: the slot stays taken
            return Retry(f"zns {type(exc).__name__}")
        async with self.app.db.write() as session:
            await store.erase_if_done(session, recipient)
        metrics.ZNS_SENT.labels(template_id).inc()
        metrics.ZNS_SPEND.labels(template_id).inc(self.app.settings.zns_price_vnd)
        return Sent(sent.msg_id)

    async def _template(self, template_id: str) -> TemplateInfo:
        cached = self._templates.get(template_id)
        if cached and time.monotonic() - cached[0] < TEMPLATE_TTL:
            return cached[1]
        info = await self.client.template_info(template_id)
        self._templates[template_id] = (time.monotonic(), info)
        return info

    async def _release(self, day: date) -> None:
        async with self.app.db.write() as session:
            await store.release(session, day)

    def _wait(self, reason: str, day: date, text: str) -> Dead:
        return Dead(store.wait_error(reason, day, scrub(text)), kind="wait")

    async def _failed(self, exc: ZaloError, recipient: str, day: date) -> Outcome:
        kind = facts.classify_zns(exc.code, exc.http_status, exc.message)
        text = scrub(str(exc))
        if kind is facts.ZnsKind.TOKEN:
            log.error("Zalo refuses our tokens for ZNS (%s)", text)
            return Retry(text, after=300.0)
        if kind is facts.ZnsKind.RETRY:
            return Retry(text)
        if kind is facts.ZnsKind.QUOTA:
            return self._wait("quota", day, text)
        if kind is facts.ZnsKind.TEMPLATE:
            self._templates.clear()
            return self._wait("template", day, text)
        async with self.app.db.write() as session:
            if kind is facts.ZnsKind.NO_ZALO:
                await store.suppress(session, recipient, text, self.app.now())
            await store.erase_if_done(session, recipient)
        return Dead(text, kind=kind.value)


# --- the fallback of officials' reminders ----------------------------------------------------


@dataclass
class ZnsFallback:
    """Wraps the Zalo transport: a reminder Zalo refuses because the official is outside
    its messaging window goes by the ZNS reminder template to their phone instead."""

    app: App
    inner: Transport
    channel: str = "zalo"

    async def send(self, recipient: str, payload: dict[str, Any]) -> Outcome:
        outcome = await self.inner.send(recipient, payload)
        if not (isinstance(outcome, Dead) and outcome.kind == facts.ErrorKind.WINDOW.value):
            return outcome
        assignment_id = assignment_of(payload)
        if assignment_id is None:
            return outcome
        async with self.app.db.write() as session:
            user_hash = self.app.keys.user_hash("zalo", recipient)
            person = await people.person_for(session, "zalo", user_hash)
            queued = person is not None and await zns_service.queue_reminder(
                self.app, session, person.id, assignment_id, self.app.now()
            )
        if not queued:
            return outcome
        # Not marked unreachable: the next reminder tries Zalo first again.
        return Dead(outcome.error + " (sent by ZNS instead)", kind=outcome.kind)


def assignment_of(payload: dict[str, Any]) -> int | None:
    """The assignment a reminder's buttons answer (its "done" button), if any."""
    for button in payload.get("buttons") or []:
        parts = str(button.get("payload") or "").split(":")
        if len(parts) == 3 and f"{parts[0]}:" == TASK_PREFIX and parts[1] == DONE:
            return int(parts[2]) if parts[2].isdigit() else None
    return None


def with_zns_fallback(app: App, transport: Transport) -> Transport:
    """The Zalo transport, with the ZNS fallback when ZNS reminders are configured."""
    return ZnsFallback(app, transport) if app.settings.zns_reminders else transport


# --- channel, polling, upkeep ------------------------------------------------------------------


@dataclass
class ZnsChannel:
    zalo: ZaloChannel
    client: ZnsClient
    transport: ZnsTransport


@contextlib.asynccontextmanager
async def open_zns(app: App) -> AsyncIterator[ZnsChannel]:
    """The ZNS client on the OA's token pair and connection pool."""
    async with open_channel(app) as channel:
        oa = ZaloOAClient(channel.tokens, app.settings.zns_api_base, channel.http)
        client = ZnsClient(oa, development=app.settings.zns_development)
        yield ZnsChannel(channel, client, ZnsTransport(app, client))


def limits(app: App) -> Limits:
    """The outbox's limits for ZNS: claims run ahead of the transport's own pacing (which
    holds the rate); one message per number at a time, no per-chat spacing."""
    return Limits(per_second=app.settings.zns_rate * 2, per_chat_interval=0.0)


async def sync_ratings(
    app: App, client: ZnsClient, since: datetime | None = None
) -> zns_ratings.Ingested:
    """Read the rating list since ``since`` (default: where the last read ended, with an
    overlap) and count what is new."""
    template = app.settings.zns_rating_template
    if not template:
        return zns_ratings.Ingested()
    now = app.now()
    if since is None:
        async with app.db.read() as session:
            state = await credentials.get(session, POLL_STATE) or {}
        last = state.get("until")
        since = datetime.fromisoformat(last) - POLL_OVERLAP if last else now - FIRST_POLL
    found = await client.ratings(template, since, now)
    result = await zns_ratings.ingest(app, found, "poll")
    async with app.db.write() as session:
        await credentials.lock(session, POLL_STATE, now)
        await credentials.put(session, POLL_STATE, {"until": now.isoformat()}, now)
    return result


async def upkeep(app: App) -> tuple[int, int]:
    """Queue again what waited for another day, give up on what waited too long, erase
    numbers nothing waits for; returns (queued again, numbers erased)."""
    now = app.now()
    s = app.settings
    async with app.db.write() as session:
        await store.expire_waiting(session, now - timedelta(days=s.invite_ttl_days))
        again = await store.requeue_waiting(
            session,
            now.astimezone(app.tz).date(),
            next_send_time(now, app.tz, s.invite_window),
        )
        erased = await store.purge(session)
    if again:
        log.info("ZNS: %d messages that waited for another day are queued again", again)
    return again, erased


def services(app: App) -> list[tuple[str, Any]]:
    """``serve``: the ZNS sender, and the rating poller with the daily upkeep."""
    if not app.settings.zns_sends:
        return []

    async def run(stop: asyncio.Event) -> None:
        async with open_zns(app) as zns:
            sender = OutboxSender(app, zns.transport, limits(app))
            await asyncio.gather(sender.run_forever(stop), _poll(app, zns.client, stop))

    return [("zns", run)]


async def _poll(app: App, client: ZnsClient, stop: asyncio.Event) -> None:
    interval = app.settings.zns_poll_minutes * 60.0
    while not stop.is_set():
        try:
            await upkeep(app)
            result = await sync_ratings(app, client)
            if result.counted or result.kept:
                log.info("ZNS ratings: %d counted, %d kept", result.counted, result.kept)
        except Exception:  # the next round tries again
            log.exception("ZNS rating poll failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
