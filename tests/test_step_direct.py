"""The direct path of a press (storage/step_direct.py) stores what the locked path
stores, and keeps its guarantees when steps race: on both databases.

The locked path is the reference: the same survey is run both ways, step by step at
the same clock, and every stored row is compared. The races are forced, not hoped for:
a step is held between its read and its write while another one runs to the end.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.core import engine, metrics
from storage import step_direct
from storage.models import Answer, Conversation, InboundEvent, Outbox, Response
from tests.builders import Citizen, event, make_org, new_code, terminate_backends

# A dissatisfied first answer (its reason, no call back, go on), an answer taken back,
# a skipped item, and the comment skipped at the end.
SCRIPT = ["a:0:1", "r:wait", "c:n", "o:y", "a:1:4", "a:2:b", "a:1:5", "a:2:s", "a:3:2"]
SCRIPT += ["a:4:3", "a:5:5", "m:s"]


def _count(path: str) -> float:
    return metrics.STEP_PATH.labels(path)._value.get()


@pytest.fixture
def locked_for(monkeypatch):
    """Users whose steps must take the locked path (the reference)."""
    users: set[str] = set()

    async def handle_direct(app, ev, also):
        if ev.user_id in users:
            return None
        return await real_direct(app, ev, also)

    real_direct = engine._handle_direct
    monkeypatch.setattr(engine, "_handle_direct", handle_direct)
    return users


async def _rows(app, user: str) -> dict:
    """Everything stored about ``user``'s survey, as comparable values."""
    async with app.db.read() as session:
        user_hash = app.keys.user_hash("test", user)
        mine = (
            (await session.exec(select(Response).where(Response.respondent_hash == user_hash)))
            .scalars()
            .all()
        )
        conv = (
            await session.exec(select(Conversation).where(Conversation.user_hash == user_hash))
        ).scalar_one()
        answers = []
        for r in mine:
            answers += (
                await session.exec(
                    select(
                        Answer.item_code,
                        Answer.element_code,
                        Answer.scale,
                        Answer.value,
                        Answer.answered_at,
                    )
                    .where(Answer.response_id == r.id)
                    .order_by(Answer.item_code)
                )
            ).all()
        outbox = (
            await session.exec(
                select(Outbox.payload, Outbox.status, Outbox.not_before, Outbox.created_at)
                .where(Outbox.recipient == user)
                .order_by(Outbox.id)
            )
        ).all()
    state = dict(conv.data)
    state.pop("data", None)  # holds the response key, which differs per citizen
    return {
        "answers": [tuple(a) for a in answers],
        "responses": [(r.status, r.started_at, r.completed_at, r.channel) for r in mine],
        "state": state,
        "updated_at": conv.updated_at,
        "outbox": [tuple(o) for o in outbox],
    }


async def test_a_survey_is_stored_as_the_locked_path_stores_it(app, clock, locked_for):
    org = await make_org(app)
    direct, locked = Citizen(app, "citizen-direct"), Citizen(app, "citizen-locked")
    locked_for.add(locked.user)
    codes = [await new_code(app, org.ward, procedure=org.procedure) for _ in range(2)]
    replies = {}
    for citizen, code in zip((direct, locked), codes, strict=True):
        replies[citizen.user] = await citizen.say(f"/start {code}")
    before = _count("direct")
    for payload in SCRIPT:
        clock.advance(seconds=7)
        for citizen in (direct, locked):
            offered = [b["payload"] for m in replies[citizen.user] for b in m.get("buttons", [])]
            assert payload in offered
            replies[citizen.user] = await citizen.press(payload)
    assert replies[direct.user] == replies[locked.user]
    assert _count("direct") - before >= 7  # mid-survey presses (not the completing one)

    a, b = await _rows(app, direct.user), await _rows(app, locked.user)
    assert a == b
    assert [status for status, *_ in a["responses"]] == ["completed"]
    assert len(a["answers"]) >= 6


async def test_a_redelivered_press_changes_nothing(app, clock):
    org = await make_org(app)
    citizen = Citizen(app)
    replies = await citizen.say(f"/start {await new_code(app, org.ward)}")
    press = event(citizen.user, payload=replies[-1]["buttons"][0]["payload"])
    assert await engine.handle(app, press) is True
    stored = await _rows(app, citizen.user)
    before = _count("direct")
    clock.advance(seconds=5)
    assert await engine.handle(app, press) is False
    assert _count("direct") == before + 1  # recognised by the direct path's read
    assert await _rows(app, citizen.user) == stored


async def _hold_between_read_and_write(monkeypatch, app, meanwhile):
    """Make the next direct write wait until ``meanwhile()`` has run to its end."""
    direct = step_direct.for_database(app.db)
    real_write = type(direct).write
    held = {"done": False}

    async def write(self, *args, **kwargs):
        if not held["done"]:
            held["done"] = True
            await meanwhile()
        return await real_write(self, *args, **kwargs)

    monkeypatch.setattr(type(direct), "write", write)


async def test_two_presses_of_one_user_at_once_apply_one_after_the_other(
    app, clock, monkeypatch, locked_for
):
    """The first press is read and stepped, then the second runs to its end, then the
    first writes: its guard sees the conversation moved, and it runs again on the locked
    path, after the second. The result is that of the two in that order (compared with
    a second citizen pressing them in that order)."""
    org = await make_org(app)
    racing, reference = Citizen(app, "citizen-racing"), Citizen(app, "citizen-reference")
    locked_for.add(reference.user)
    firsts = {}
    for citizen in (racing, reference):
        replies = await citizen.say(f"/start {await new_code(app, org.ward)}")
        firsts[citizen.user] = [b["payload"] for b in replies[-1]["buttons"]]
    first, second = firsts[racing.user][0], firsts[racing.user][-1]
    assert first != second and firsts[reference.user] == firsts[racing.user]
    clock.advance(seconds=3)

    second_event = event(racing.user, payload=second)

    async def meanwhile() -> None:
        assert await engine.handle(app, second_event) is True

    await _hold_between_read_and_write(monkeypatch, app, meanwhile)
    locked_before = _count("locked")
    assert await engine.handle(app, event(racing.user, payload=first)) is True
    assert _count("locked") == locked_before + 1  # the first, run again under the lock

    for payload in (second, first):  # the reference, in the order the race resolved to
        await reference.press(payload)
    a, b = await _rows(app, racing.user), await _rows(app, reference.user)
    assert a == b


async def test_a_redelivery_racing_its_first_delivery_is_applied_once(app, clock, monkeypatch):
    org = await make_org(app)
    citizen = Citizen(app)
    replies = await citizen.say(f"/start {await new_code(app, org.ward)}")
    press = event(citizen.user, payload=replies[-1]["buttons"][0]["payload"])
    results = []

    async def meanwhile() -> None:
        results.append(await engine.handle(app, press))

    await _hold_between_read_and_write(monkeypatch, app, meanwhile)
    results.append(await engine.handle(app, press))
    assert results == [True, False]
    async with app.db.read() as session:
        events = await session.exec(
            select(func.count())
            .select_from(InboundEvent)
            .where(InboundEvent.event_id == press.event_id)
        )
        assert events.scalar_one() == 1
    assert len(await citizen.inbox()) == 1  # the next question, once


async def test_a_write_for_an_event_already_recorded_stores_no_reply(app, clock):
    """The guard passes (same state, same time: a frozen clock) but the dedupe row
    exists: no answer and no outbox row; the conversation keeps its state."""
    org = await make_org(app)
    citizen = Citizen(app)
    await citizen.say(f"/start {await new_code(app, org.ward)}")
    direct = step_direct.for_database(app.db)
    user_hash = app.keys.user_hash("test", citizen.user)
    seen = await direct.read("test", "already", user_hash)
    assert isinstance(seen, step_direct.Seen)
    async with app.db.write() as session:
        session.add(InboundEvent(channel="test", event_id="already", received_at=clock()))
    outcome = await direct.write(seen, "test", "already", seen.data, [], [], seen.updated_at)
    assert outcome is step_direct.Outcome.DUPLICATE
    assert await direct.read("test", "already", user_hash) is False
    async with app.db.read() as session:
        conv = (
            await session.exec(select(Conversation).where(Conversation.user_hash == user_hash))
        ).scalar_one()
    assert conv.data == seen.data and conv.updated_at == seen.updated_at


async def test_users_the_direct_path_does_not_serve_take_the_locked_path(app):
    """A user never seen, and a press whose step needs the database or a transaction."""
    direct = step_direct.for_database(app.db)
    assert await direct.read("test", "e-1", app.keys.user_hash("test", "nobody")) is None
    locked = _count("locked")
    assert await engine.handle(app, event("nobody", payload="a:0:5")) is True
    assert _count("locked") == locked + 1


async def test_with_direct_steps_off_every_press_takes_the_locked_path(db_url, tmp_path, clock):
    """``SIPAS_DIRECT_STEPS=false``: the reference path for every step."""
    from bot.core.app import App
    from tests.conftest import make_settings

    app = App(make_settings(db_url, tmp_path / "data", direct_steps=False), clock=clock)
    try:
        org = await make_org(app)
        citizen = Citizen(app)
        await citizen.say(f"/start {await new_code(app, org.ward)}")
        direct, locked = _count("direct"), _count("locked")
        for payload in ("a:0:4", "o:y", "a:1:5"):
            assert await citizen.press(payload)
        assert (_count("direct"), _count("locked")) == (direct, locked + 3)
    finally:
        await app.close()


async def test_a_lost_connection_of_the_direct_path_is_not_a_lost_press(app, db_url):
    """PostgreSQL restarts under the path's own connections: the press still goes
    through (on the locked path), the error is counted, and the next press gets a new
    connection."""
    if app.db.dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    org = await make_org(app)
    citizen = Citizen(app)
    await citizen.say(f"/start {await new_code(app, org.ward)}")
    await citizen.press("a:0:4")  # on the direct path: its connection is open
    errors: list[BaseException] = []
    app.db.error_listeners.append(errors.append)
    assert terminate_backends(db_url, step_direct.APPLICATION_NAME) >= 1
    direct, locked = _count("direct"), _count("locked")
    replies = await citizen.press("o:y")
    assert [b["payload"] for b in replies[-1]["buttons"]][:1] == ["a:1:1"]
    # The dead connection failed the read (counted; the locked path took the press), or
    # asyncpg had already seen it close and a new one served the press directly.
    if errors:
        assert (_count("direct"), _count("locked")) == (direct, locked + 1)
    else:
        assert (_count("direct"), _count("locked")) == (direct + 1, locked)
        direct += 1
    replies = await citizen.press("a:1:5")
    assert [b["payload"] for b in replies[-1]["buttons"]][:1] == ["a:2:1"]
    assert _count("direct") == direct + 1  # a new connection


async def test_steps_of_many_citizens_at_once_all_complete(app):
    """Thirty-two citizens at one ward, at once, each to the end of the survey."""
    org = await make_org(app)
    citizens = [Citizen(app, f"citizen-{n}") for n in range(32)]
    codes = [await new_code(app, org.ward) for _ in citizens]

    async def survey(citizen: Citizen, code: str) -> None:
        replies = await citizen.say(f"/start {code}")
        for _ in range(20):
            buttons = [b for m in replies for b in m.get("buttons", [])]
            if not buttons:
                return
            replies = await citizen.press(buttons[0]["payload"])

    await asyncio.gather(*(survey(c, code) for c, code in zip(citizens, codes, strict=True)))
    async with app.db.read() as session:
        done = await session.exec(
            select(func.count()).select_from(Response).where(Response.status == "completed")
        )
        assert done.scalar_one() == len(citizens)
