"""The outbox: ordering per recipient, leases, retries, dedupe keys, concurrent claimers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.core.app import App
from bot.core.outbox_sender import Dead, Limits, OutboxSender, Retry, Sent
from storage import outbox, outbox_direct
from storage.models import Outbox, PersonChannel
from storage.outbox import NewMessage
from tests.builders import Citizen, make_org, new_registration

LEASE = timedelta(seconds=30)


async def enqueue(app: App, *messages: NewMessage) -> int:
    async with app.db.write() as session:
        return await outbox.enqueue(session, list(messages), app.now())


async def claim(app: App, channel: str = "test", limit: int = 10):
    async with app.db.write() as session:
        return await outbox.claim(session, channel, app.now(), limit=limit, lease=LEASE)


async def test_only_the_oldest_message_of_each_recipient_is_claimable(app):
    await enqueue(
        app, *[NewMessage("test", r, {"text": f"{r}{i}"}) for i in range(3) for r in "ab"]
    )
    first = await claim(app)
    assert [(i.recipient, i.payload["text"]) for i in first] == [("a", "a0"), ("b", "b0")]
    assert await claim(app) == []  # a1 waits until a0 is done
    async with app.db.write() as session:
        await outbox.mark_sent(session, first[0], app.now())
        await outbox.mark_dead(session, first[1], "blocked")
    assert [i.payload["text"] for i in await claim(app)] == ["a1", "b1"]


async def test_an_expired_lease_makes_the_row_claimable_again(app, clock):
    await enqueue(app, NewMessage("test", "a", {"text": "hi"}))
    (item,) = await claim(app)
    assert await claim(app) == []
    clock.advance(seconds=31)  # the sender died holding it
    (again,) = await claim(app)
    assert again.id == item.id and again.attempts == 2


async def test_retry_waits_and_per_chat_spacing_delays_the_next_message(app, clock):
    await enqueue(
        app, NewMessage("test", "a", {"text": "1"}), NewMessage("test", "a", {"text": "2"})
    )
    (item,) = await claim(app)
    async with app.db.write() as session:
        await outbox.mark_retry(session, item, "HTTP 502", app.now() + timedelta(seconds=10))
    assert await claim(app) == []
    clock.advance(seconds=10)
    (item,) = await claim(app)
    async with app.db.write() as session:
        await outbox.mark_sent(session, item, app.now(), spacing=timedelta(seconds=1))
    assert await claim(app) == []  # "2" waits one second after "1"
    clock.advance(seconds=1)
    assert [i.payload["text"] for i in await claim(app)] == ["2"]


async def test_dedupe_key_makes_enqueue_idempotent(app):
    msg = NewMessage("test", "a", {"text": "reminder"}, dedupe_key="reminder:7")
    assert await enqueue(app, msg) == 1
    assert await enqueue(app, msg) == 0
    async with app.db.read() as session:
        assert len((await session.exec(select(Outbox))).all()) == 1


class ScriptedTransport:
    """Answers each send with the next scripted outcome; records what it was asked."""

    channel = "test"

    def __init__(self, *outcomes) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, str]] = []

    async def send(self, recipient, payload):
        self.calls.append((recipient, payload["text"]))
        outcome = self.outcomes.pop(0) if self.outcomes else Sent("ok")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


async def test_sender_retries_transient_errors_and_gives_up_on_permanent_ones(app, clock):
    limits = Limits(per_chat_interval=0, max_attempts=3)
    transport = ScriptedTransport(Retry("HTTP 500"), ConnectionError("reset"), Sent("m1"))
    sender = OutboxSender(app, transport, limits)
    await enqueue(app, NewMessage("test", "a", {"text": "hello"}))
    for _ in range(3):
        await sender.run_once()
        clock.advance(minutes=10)
    assert transport.calls == [("a", "hello")] * 3
    async with app.db.read() as session:
        row = (await session.exec(select(Outbox))).scalars().one()
    assert (row.status, row.provider_message_id, row.attempts) == ("sent", "m1", 3)

    await enqueue(app, NewMessage("test", "b", {"text": "x"}))
    transport.outcomes = [Retry("HTTP 500")] * 5
    for _ in range(5):
        await sender.run_once()
        clock.advance(minutes=10)
    async with app.db.read() as session:
        row = (await session.exec(select(Outbox).where(Outbox.recipient == "b"))).scalars().one()
    assert row.status == "dead" and row.last_error == "gave up: HTTP 500" and row.attempts == 3


async def test_a_blocked_user_is_a_dead_letter_and_marks_the_account(app):
    org = await make_org(app)
    code = await new_registration(app, org.ward, "official")
    await Citizen(app, "42", channel="test").say(code)
    transport = ScriptedTransport(Dead("Forbidden: bot was blocked by the user", unreachable=True))
    await OutboxSender(app, transport, Limits(per_chat_interval=0)).run_once()
    async with app.db.read() as session:
        row = (await session.exec(select(Outbox))).scalars().one()
        link = (await session.exec(select(PersonChannel))).scalars().one()
    assert row.status == "dead" and "blocked" in row.last_error
    assert link.unreachable_at is not None and "blocked" in link.unreachable_reason


async def test_concurrent_claimers_never_take_the_same_row(app):
    await enqueue(app, *[NewMessage("test", f"r{i}", {"text": str(i)}) for i in range(200)])

    async def worker() -> list[int]:
        taken = []
        while batch := await claim(app, limit=7):
            taken += [i.id for i in batch]
        return taken

    results = await asyncio.gather(*(worker() for _ in range(6)))
    ids = [i for r in results for i in r]
    assert len(ids) == 200 and len(set(ids)) == 200


async def test_a_row_whose_sender_died_during_the_call_is_never_sent_again(app, clock):
    await enqueue(
        app, NewMessage("test", "a", {"text": "1"}), NewMessage("test", "a", {"text": "2"})
    )
    (item,) = await claim(app)
    async with app.db.write() as session:
        assert await outbox.start_sending(session, item, app.now(), LEASE)
    clock.advance(seconds=31)  # the sender died after starting the call: outcome unknown
    (nxt,) = await claim(app)
    assert nxt.payload["text"] == "2"  # the chat's next message is no longer held back
    async with app.db.read() as session:
        row = await session.get(Outbox, item.id)
    assert row.status == "dead" and row.last_error == outbox.UNKNOWN and row.attempts == 1


async def test_a_claim_taken_over_after_its_lease_cannot_start_sending(app, clock):
    await enqueue(app, NewMessage("test", "a", {"text": "hi"}))
    (first,) = await claim(app)
    clock.advance(seconds=31)  # the first sender stalled past its lease
    (second,) = await claim(app)
    async with app.db.write() as session:
        assert not await outbox.start_sending(session, first, app.now(), LEASE)
        assert await outbox.start_sending(session, second, app.now(), LEASE)


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "orm"])
async def test_an_outcome_is_recorded_once_the_database_answers_again(app, monkeypatch, direct):
    from sqlalchemy.exc import OperationalError

    transport = ScriptedTransport(Sent("m1"))
    limits = Limits(per_chat_interval=0, record_retry_max=0.01)
    sender = OutboxSender(app, transport, limits, direct=direct)
    await enqueue(app, NewMessage("test", "a", {"text": "hello"}))
    # The database is away for the first three tries to record the delivery.
    if direct:  # storage/outbox_direct.py, what the sender uses on SQLite and asyncpg
        assert sender._direct is not None
        target, name = type(sender._direct), "mark_sent_many"
        error: Exception = outbox_direct.Unavailable("ConnectionRefusedError")
    else:
        target, name = outbox, "mark_sent"
        error = OperationalError("UPDATE outbox", {}, ConnectionRefusedError())
    real, failures = getattr(target, name), []

    async def flaky(*args, **kwargs):
        if len(failures) < 3:
            failures.append(1)
            raise error
        return await real(*args, **kwargs)

    monkeypatch.setattr(target, name, flaky)
    await sender.run_once()
    assert transport.calls == [("a", "hello")] and len(failures) == 3
    async with app.db.read() as session:
        row = (await session.exec(select(Outbox))).scalars().one()
    assert (row.status, row.provider_message_id, row.attempts) == ("sent", "m1", 1)


async def test_the_pacer_never_lets_more_than_its_rate_start_in_a_guarded_window():
    from bot.core.outbox_sender import Pacer

    pacer = Pacer(rate=100, guard=0.05)
    slots = asyncio.Semaphore(8)  # as the sender: a few calls in flight at once
    starts: list[float] = []

    async def one(n: int) -> None:
        async with slots:
            await pacer.wait()
            await asyncio.sleep(0.001 * (n % 7))  # uneven work between slot and call
            pacer.done(calling=n >= 3)  # the first three give their slot up
            if n >= 3:
                starts.append(pacer._starts[-1])

    await asyncio.gather(*(one(n) for n in range(250)))
    starts.sort()
    assert min(b - a for a, b in zip(starts, starts[100:], strict=False)) >= 1.05
