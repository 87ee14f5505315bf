"""Sending what the outbox holds, per channel: rate-limited, retrying, never losing a row.

A transport (Telegram, Zalo, console) turns one stored payload into API calls and says
how it went: ``Sent``, ``Retry`` (transient: network, 5xx, 429 with its wait) or ``Dead``
(permanent: the error is kept; ``unreachable`` marks the person's account). The sender
claims rows with a lease, so rows of a crashed sender go out after the lease ends; a row
is marked as soon as its call returns, which keeps the window for a double send (a crash
between the API's answer and that mark) as small as it can be.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from aiolimiter import AsyncLimiter

from bot.app import App
from storage import outbox, people
from storage.outbox import OutboxItem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    provider_message_id: str | None = None


@dataclass(frozen=True)
class Retry:
    error: str
    after: float | None = None  # seconds the server asked us to wait (429 retry_after)


@dataclass(frozen=True)
class Dead:
    error: str
    unreachable: bool = False  # the user blocked us / left: mark their account


Outcome = Sent | Retry | Dead


class Transport(Protocol):
    channel: str

    async def send(self, recipient: str, payload: dict[str, Any]) -> Outcome: ...


@dataclass(frozen=True)
class Limits:
    per_second: float = 30.0  # overall, this process
    per_chat_interval: float = 1.0  # seconds between two messages to one chat
    concurrency: int = 8
    batch: int = 50
    lease: float = 60.0
    max_attempts: int = 8
    backoff_base: float = 1.0
    backoff_max: float = 300.0


def backoff(attempt: int, limits: Limits) -> float:
    """Exponential backoff with ±50 % jitter for attempt 1, 2, 3…"""
    delay = min(limits.backoff_max, limits.backoff_base * 2 ** (attempt - 1))
    return delay * random.uniform(0.5, 1.5)


class OutboxSender:
    """Drains one channel's outbox through a transport."""

    def __init__(self, app: App, transport: Transport, limits: Limits | None = None) -> None:
        self.app = app
        self.transport = transport
        self.limits = limits or Limits()
        self._rate = AsyncLimiter(max(1.0, self.limits.per_second), 1.0)
        self._slots = asyncio.Semaphore(self.limits.concurrency)

    async def run_once(self, recipient: str | None = None) -> int:
        """Claim one batch of due messages and send them; returns how many were tried."""
        async with self.app.db.write() as session:
            items = await outbox.claim(
                session,
                self.transport.channel,
                self.app.now(),
                limit=self.limits.batch,
                lease=timedelta(seconds=self.limits.lease),
                recipient=recipient,
            )
        if items:
            await asyncio.gather(*(self._deliver(item) for item in items))
        return len(items)

    async def run_forever(self, stop: asyncio.Event, idle: float = 0.5) -> None:
        """Keep sending until ``stop`` is set; sleeps ``idle`` seconds when nothing is due."""
        while not stop.is_set():
            try:
                sent = await self.run_once()
            except Exception:  # a database hiccup must not kill the sender
                log.exception("outbox sender (%s) failed; retrying", self.transport.channel)
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), idle)

    async def _deliver(self, item: OutboxItem) -> None:
        async with self._slots:
            await self._rate.acquire()
            try:
                outcome = await self.transport.send(item.recipient, item.payload)
            except Exception as exc:  # a transport bug or an unexpected network error
                log.exception("send failed for outbox row %s", item.id)
                outcome = Retry(f"{type(exc).__name__}: {exc}")
        await self._record(item, outcome)

    async def _record(self, item: OutboxItem, outcome: Outcome) -> None:
        now = self.app.now()
        async with self.app.db.write() as session:
            if isinstance(outcome, Sent):
                await outbox.mark_sent(
                    session,
                    item,
                    now,
                    provider_message_id=outcome.provider_message_id,
                    spacing=timedelta(seconds=self.limits.per_chat_interval),
                )
            elif isinstance(outcome, Retry) and item.attempts < self.limits.max_attempts:
                wait = (
                    outcome.after
                    if outcome.after is not None
                    else backoff(item.attempts, self.limits)
                )
                await outbox.mark_retry(session, item, outcome.error, now + timedelta(seconds=wait))
            else:
                error = (
                    outcome.error if not isinstance(outcome, Retry) else f"gave up: {outcome.error}"
                )
                await outbox.mark_dead(session, item, error)
                if isinstance(outcome, Dead) and outcome.unreachable:
                    await people.mark_unreachable(
                        session, item.channel, error, now, channel_user_id=item.recipient
                    )
                log.warning("outbox row %s is dead: %s", item.id, error)
