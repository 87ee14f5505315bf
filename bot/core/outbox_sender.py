"""Sending what the outbox holds, per channel: rate-limited, retrying, never losing a row.

A transport (Telegram, Zalo, console) turns one stored payload into API calls and says
how it went: ``Sent``, ``Retry`` (transient: network, 5xx, 429 with its wait) or ``Dead``
(permanent: the error is kept; ``unreachable`` marks the person's account). The sender
claims rows with a lease, so rows of a crashed sender go out after the lease ends.

At most once: each row is marked ``sending`` (committed) just before its API call and
its outcome is recorded as soon as the call returns. A row whose sender died between the
two is never sent again (storage/outbox.py settles it as dead, outcome unknown): no
provider here takes an idempotency key, so a second call could show the message twice.
When the database fails while an outcome is being recorded, the outcome is kept in
memory and recorded once the database answers again; it is never "retried" by sending.
The mark and plain deliveries go through storage/outbox_direct.py (the same statements
below the ORM, on a connection of their own; same commits) where the driver allows.

Pacing: calls start on a grid of ``1/per_second``, and never more than ``per_second``
in any window of ``1 + window_guard`` seconds (see ``Pacer``): the guard covers the
jitter between our start times and the server's arrival times, which a limit counted
over a sliding second at the server (Telegram's 30/s) would otherwise turn into 429s.
A ``Retry`` with a wait (429) also pauses this sender's claims for that long: such
limits are usually the whole bot's, not one chat's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.core import metrics
from bot.core.app import App
from bot.core.pacer import Pacer
from storage import outbox, outbox_direct, people
from storage.outbox import OutboxItem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    provider_message_id: str | None = None
    # False for calls that put no new message in the chat (answering a button press,
    # editing a message): they do not delay the chat's next message.
    spaced: bool = True
    # A message sent in parts (a long text): what is still to send. The row keeps its
    # place at the head of the chat's queue with this payload, so no part goes twice.
    rest: dict[str, Any] | None = None


@dataclass(frozen=True)
class Retry:
    error: str
    after: float | None = None  # seconds the server asked us to wait (429 retry_after)
    # For the metrics: the server said "too many" (default: whenever it asked for a wait).
    rate_limited: bool | None = None


@dataclass(frozen=True)
class Dead:
    error: str
    unreachable: bool = False  # the user blocked us / left: mark their account
    kind: str | None = None  # the transport's name for the failure (for wrappers)


Outcome = Sent | Retry | Dead


class Transport(Protocol):
    channel: str

    async def send(self, recipient: str, payload: dict[str, Any]) -> Outcome: ...


@dataclass(frozen=True)
class Limits:
    per_second: float = 30.0  # overall, this process, evenly spaced (no bursts)
    per_chat_interval: float = 1.0  # seconds between two messages to one chat
    concurrency: int = 8
    batch: int = 50
    lease: float = 60.0
    max_attempts: int = 8
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    window_guard: float = 0.03  # seconds added to the one-second window (see module doc)
    record_retry_max: float = 5.0  # longest wait between tries to record an outcome
    record_every: float = 0.25  # seconds outcomes may wait to be written together


def backoff(attempt: int, limits: Limits) -> float:
    """Exponential backoff with ±50 % jitter for attempt 1, 2, 3…"""
    delay = min(limits.backoff_max, limits.backoff_base * 2 ** (attempt - 1))
    return delay * random.uniform(0.5, 1.5)


# What a database that is briefly away raises (asyncpg and connection errors arrive
# wrapped in DBAPIError; a full pool raises the pool's TimeoutError).
DB_DOWN = (DBAPIError, PoolTimeout, OSError, TimeoutError)


class OutboxSender:
    """Drains one channel's outbox through a transport."""

    def __init__(
        self, app: App, transport: Transport, limits: Limits | None = None, *, direct: bool = True
    ) -> None:
        self.app = app
        self.transport = transport
        self.limits = limits or Limits()
        # The hot statements below the ORM (storage/outbox_direct.py); False: the ORM only.
        self._direct = outbox_direct.for_database(app.db) if direct else None
        self._pacer = Pacer(self.limits.per_second, self.limits.window_guard)
        self._slots = asyncio.Semaphore(self.limits.concurrency)
        self._paused_until = 0.0  # loop time; set when the server asks us to wait (429)
        self._wake = asyncio.Event()
        self._waiting = 0  # rows handed to _deliver whose call has not started
        self._unrecorded: list[tuple[OutboxItem, Outcome, datetime]] = []  # outcomes to write
        self._flushing: asyncio.Future | None = None  # the write they will go in
        self._flush_now = asyncio.Event()

    async def run_once(self, recipient: str | None = None) -> int:
        """Claim one batch of due messages and send them; returns how many were tried."""
        items = await self._claim(self.limits.batch, recipient)
        if items:
            await asyncio.gather(*(self._deliver(item) for item in items))
        return len(items)

    async def _claim(self, limit: int, recipient: str | None = None) -> list[OutboxItem]:
        lease, owner = timedelta(seconds=self.limits.lease), self.app.instance_id
        if self._direct is not None and recipient is None:
            channel = self.transport.channel
            now = self.app.now()
            return await self._direct.claim(channel, now, limit=limit, lease=lease, owner=owner)
        async with self.app.db.write() as session:
            return await outbox.claim(
                session,
                self.transport.channel,
                self.app.now(),
                limit=limit,
                lease=lease,
                recipient=recipient,
                owner=owner,
            )

    async def run_forever(self, stop: asyncio.Event, idle: float = 0.5) -> None:
        """Keep sending until ``stop`` is set; sleeps ``idle`` seconds when nothing is due.

        Claims overlap with sending: the next batch is claimed once half of the current
        one has gone, so the pacer never waits for a claim (or for the last answers of
        a batch) between two batches. Rows in flight stay claimed, so a chat's next
        message is not claimable before its previous one is done.
        """
        loop = asyncio.get_running_loop()
        flying: set[asyncio.Task] = set()
        half, room = self.limits.batch // 2, asyncio.Event()  # room: at most half in flight

        def landed(task: asyncio.Task) -> None:
            flying.discard(task)
            if len(flying) <= half:
                room.set()

        try:
            while not stop.is_set():
                pause = self._paused_until - loop.time()
                if pause > 0:  # a 429 usually means the whole bot is throttled: wait it out
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), pause)
                    continue
                if len(flying) > half:  # (one event: asyncio.wait cost O(tasks) per message)
                    room.clear()
                    await room.wait()
                    continue
                self._wake.clear()
                try:
                    items = await self._claim(self.limits.batch - len(flying))
                except Exception:  # a database hiccup must not kill the sender
                    log.exception("outbox sender (%s) failed; retrying", self.transport.channel)
                    items = []
                for item in items:
                    task = asyncio.create_task(self._deliver_logged(item))
                    flying.add(task)
                    task.add_done_callback(landed)
                if not items:
                    waits = [asyncio.ensure_future(e.wait()) for e in (stop, self._wake)]
                    await asyncio.wait(
                        [*waits, *flying], timeout=idle, return_when=asyncio.FIRST_COMPLETED
                    )
                    for waiting in waits:
                        waiting.cancel()
        finally:
            # Rows already claimed are sent (or their outcome recorded) before stopping.
            if flying:
                await asyncio.gather(*flying, return_exceptions=True)

    def wake(self) -> None:
        """New rows were queued in this process: look now rather than after the idle sleep."""
        self._wake.set()

    async def _deliver_logged(self, item: OutboxItem) -> None:
        try:
            await self._deliver(item)
        except Exception:  # a bug; the row stays as it is and its lease runs out
            log.exception("outbox row %s: delivery failed", item.id)

    async def _deliver(self, item: OutboxItem) -> None:
        self._waiting += 1  # rows waiting for their call: outcomes are batched meanwhile
        waiting = True
        try:
            async with self._slots:
                await self._pacer.wait()
                calling = False
                try:
                    calling = await self._start(item)
                finally:
                    self._pacer.done(calling=calling)
                    self._waiting -= 1
                    waiting = False
                if not calling:
                    return
                try:
                    outcome = await self.transport.send(item.recipient, item.payload)
                except Exception as exc:  # a transport bug or an unexpected network error
                    log.exception("send failed for outbox row %s", item.id)
                    outcome = Retry(f"{type(exc).__name__}: {exc}")
        finally:
            if waiting:  # cancelled before its turn
                self._waiting -= 1
        await self._record(item, outcome)

    async def _start(self, item: OutboxItem) -> bool:
        """Mark the row ``sending``; False (do not send) when the claim is lost or the
        database is away (the row stays claimed and is claimed again after its lease)."""
        lease = timedelta(seconds=self.limits.lease)
        try:
            if self._direct is not None:
                if await self._direct.start_sending(item, self.app.now(), lease):
                    return True
            else:
                async with self.app.db.write() as session:
                    if await outbox.start_sending(session, item, self.app.now(), lease):
                        return True
        except DB_DOWN as exc:
            log.warning("outbox row %s not sent, database unavailable: %s", item.id, exc)
            return False
        log.warning("outbox row %s not sent: its claim was taken over", item.id)
        return False

    async def _record(self, item: OutboxItem, outcome: Outcome) -> None:
        """Record the outcome, waiting for the database as long as it takes: the call
        was made, so giving up here would leave the row to be settled as unknown.

        Outcomes are written together, one transaction for all that arrived within
        ``record_every`` seconds (at once when no other row is waiting for its call):
        a transaction per message cost more CPU than the call itself.
        """
        if isinstance(outcome, Retry) and outcome.after is not None:
            loop = asyncio.get_running_loop()  # the server asked us to wait: stop claiming
            self._paused_until = max(self._paused_until, loop.time() + outcome.after)
        self._unrecorded.append((item, outcome, self.app.now()))
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush())
        flushing = self._flushing
        if self._waiting == 0:
            self._flush_now.set()
        await asyncio.shield(flushing)

    async def _flush(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flush_now.wait(), self.limits.record_every)
        self._flush_now.clear()
        batch, self._unrecorded, self._flushing = self._unrecorded, [], None
        wait = 0.2
        while True:
            try:
                await self._write_outcomes(batch)
                return
            except DB_DOWN as exc:
                log.warning(
                    "outbox rows %s: outcome not recorded yet (%s), trying again in %.1f s",
                    ", ".join(str(item.id) for item, _, _ in batch),
                    type(exc).__name__,
                    wait,
                )
                await asyncio.sleep(wait)
                wait = min(wait * 2, self.limits.record_retry_max)

    async def _write_outcomes(self, batch: list[tuple[OutboxItem, Outcome, datetime]]) -> None:
        dead: list[tuple[OutboxItem, str]] = []
        plain = [(i, o, at) for i, o, at in batch if isinstance(o, Sent) and o.rest is None]
        if self._direct is not None and len(plain) == len(batch):  # the usual batch
            await self._direct.mark_sent_many([self._delivery(*sent) for sent in plain])
        else:
            async with self.app.db.write() as session:
                for item, outcome, at in batch:  # each as of when its call returned
                    error = await self._write_outcome(session, item, outcome, at)
                    if error is not None:
                        dead.append((item, error))
        for item, error in dead:
            log.warning("outbox row %s is dead: %s", item.id, error)
        for _item, outcome, _at in batch:
            self._count(outcome)

    def _delivery(self, item: OutboxItem, sent: Sent, at: datetime) -> outbox_direct.Delivery:
        spacing = timedelta(seconds=self.limits.per_chat_interval if sent.spaced else 0.0)
        return outbox_direct.Delivery(item, at, sent.provider_message_id, spacing)

    def _count(self, outcome: Outcome) -> None:
        """The metrics of one recorded outcome."""
        channel = self.transport.channel
        if isinstance(outcome, Sent):
            metrics.SENDS.labels(channel, "sent").inc()
        elif isinstance(outcome, Retry):
            metrics.SENDS.labels(channel, "retry").inc()
            limited = outcome.rate_limited
            if limited or (limited is None and outcome.after is not None):
                metrics.RATE_LIMITED.labels(channel).inc()
        else:
            metrics.SENDS.labels(channel, "dead").inc()

    async def _write_outcome(
        self, session: Any, item: OutboxItem, outcome: Outcome, now: datetime
    ) -> str | None:
        """One outcome, in the batch's transaction; the error when the row is now dead."""
        if isinstance(outcome, Sent):
            interval = self.limits.per_chat_interval if outcome.spaced else 0.0
            spacing = timedelta(seconds=interval)
            if outcome.rest is not None:
                await outbox.mark_partly_sent(
                    session,
                    item,
                    outcome.rest,
                    now + spacing,
                    provider_message_id=outcome.provider_message_id,
                )
            else:
                await outbox.mark_sent(
                    session,
                    item,
                    now,
                    provider_message_id=outcome.provider_message_id,
                    spacing=spacing,
                )
            return None
        if isinstance(outcome, Retry) and item.attempts < self.limits.max_attempts:
            wait = (
                outcome.after if outcome.after is not None else backoff(item.attempts, self.limits)
            )
            await outbox.mark_retry(session, item, outcome.error, now + timedelta(seconds=wait))
            return None
        error = outcome.error if not isinstance(outcome, Retry) else f"gave up: {outcome.error}"
        await outbox.mark_dead(session, item, error)
        if isinstance(outcome, Dead) and outcome.unreachable:
            await people.mark_unreachable(
                session, item.channel, error, now, channel_user_id=item.recipient
            )
        return error
