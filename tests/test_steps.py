"""``steps.finish`` stores a step's answers exactly as ``surveys.record_answer`` does, and
the step's statements on asyncpg fail the way SQLAlchemy's own do.

On PostgreSQL the answers go into the step's one hand-written statement (storage/steps.py);
these tests run the same answers both ways, in the same order and transactions, and
compare every stored column (on SQLite both ways are the same code, which keeps the
expectation honest there too).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from bot.core import engine
from flows import questionnaire as qn
from storage import pg_driver, steps, surveys
from storage.models import Answer, Conversation, Outbox, Response
from storage.outbox import NewMessage
from storage.surveys import NewAnswer
from tests.builders import event, make_org, terminate_backends

# Each round is one step's answers: (item, element, value, scale). The third overwrites
# "overall" (the citizen went back), the second skips E1, the fourth answers E3 twice in
# one step (the statement's ON CONFLICT can touch a row once: finish falls back).
ROUNDS = [
    [("overall", "overall", 2, qn.SATISFACTION)],
    [("E1", "E1", None, qn.SATISFACTION), ("E2", "E2", 5, qn.SATISFACTION)],
    [("overall", "overall", 4, qn.SATISFACTION), ("Q9", "E5", 1, "agreement")],
    [("E3", "E3", 1, qn.SATISFACTION), ("E3", "E3", 3, qn.SATISFACTION)],
]


async def _stored(session, key: str) -> list[tuple]:
    a = Answer
    rows = await session.exec(
        select(a.item_code, a.element_code, a.scale, a.value, a.answered_at)
        .join(Response, Response.id == Answer.response_id)
        .where(Response.key == key)
        .order_by(Answer.item_code)
    )
    return [tuple(r) for r in rows.all()]


async def test_a_steps_answers_are_stored_as_record_answer_stores_them(app, clock):
    org = await make_org(app)
    q = qn.get("sipas-2023")
    now = clock()
    async with app.db.write() as session:
        qid = await app.questionnaire_id(session, q.code, q.version)
        for key in ("folded", "direct"):
            await surveys.start_response(
                session,
                key=key,
                unit_id=org.ward.id,
                questionnaire_id=qid,
                channel="test",
                respondent_hash=f"user-{key}",
                started_at=now,
            )
        start = await steps.begin(session, "test", "event-0", "user-folded", now)
    assert start is not None

    for n, round_ in enumerate(ROUNDS, start=1):
        at = now + timedelta(minutes=n)
        async with app.db.write() as session:
            answers = [NewAnswer("folded", i, e, v, at, s) for i, e, v, s in round_]
            reply = NewMessage("test", "user-folded", {"text": f"Câu {n + 1}"})
            await steps.finish(session, start.conversation.id, {"i": n}, [reply], at, answers)
            for i, e, v, s in round_:
                await surveys.record_answer(session, "direct", i, e, v, at, s)

    async with app.db.read() as session:
        folded, direct = await _stored(session, "folded"), await _stored(session, "direct")
        conversation = await session.get(Conversation, start.conversation.id)
        texts = (await session.exec(select(Outbox.payload).order_by(Outbox.id))).scalars().all()
    assert folded == direct
    last = now + timedelta(minutes=len(ROUNDS))
    assert {item: value for item, _e, _s, value, _at in folded} == {
        "overall": 4,
        "E1": None,
        "E2": 5,
        "E3": 3,
        "Q9": 1,
    }
    assert ("Q9", "E5", "agreement", 1, now + timedelta(minutes=3)) in folded
    assert conversation.data == {"i": len(ROUNDS)} and conversation.updated_at == last
    assert [t["text"] for t in texts] == [f"Câu {n + 1}" for n in range(1, len(ROUNDS) + 1)]


async def test_an_answer_to_an_unknown_response_stores_nothing_and_breaks_nothing(app, clock):
    """Both ways join on the response key: a key with no response (a stale state) writes
    no answer, while the state and the reply are still stored."""
    now = clock()
    async with app.db.write() as session:
        start = await steps.begin(session, "test", "event-0", "user-1", now)
        answers = [NewAnswer("no-such-response", "overall", "overall", 5, now)]
        reply = NewMessage("test", "user-1", {"text": "Câu 2"})
        await steps.finish(session, start.conversation.id, {"i": 1}, [reply], now, answers)
    async with app.db.read() as session:
        assert (await session.exec(select(Answer))).scalars().all() == []
        assert (await session.get(Conversation, start.conversation.id)).data == {"i": 1}
        assert len((await session.exec(select(Outbox))).scalars().all()) == 1


async def test_a_lost_connection_fails_one_step_and_the_next_gets_a_fresh_one(app, db_url):
    """A database restart kills every pooled connection. There is no pre-ping, so the
    first step to use one fails (the channel redelivers it); the step's statements run on
    asyncpg directly, and their error must still go through SQLAlchemy's handling: the
    database error counted, the whole pool invalidated, so the very next step works
    rather than meeting the next dead connection."""
    if app.db.dialect != "postgresql":
        pytest.skip("PostgreSQL only")

    async def hold() -> None:
        async with app.db.write(short=True) as session:
            await pg_driver.run(session, "fetchrow", "SELECT pg_sleep(0.2)", [])

    await asyncio.gather(*(hold() for _ in range(4)))  # four pooled connections
    assert app.db.engine.pool.checkedin() >= 4
    errors: list[BaseException] = []
    app.db.error_listeners.append(errors.append)
    killed = terminate_backends(db_url)
    assert killed >= 4

    with pytest.raises(DBAPIError):
        await engine.handle(app, event("citizen-1", text="xin chào", event_id="e-1"))
    assert len(errors) == 1
    for n in range(2, 5):  # the redelivery and the next ones, each on a fresh connection
        assert await engine.handle(app, event("citizen-1", text="xin chào", event_id=f"e-{n}"))


async def test_a_naive_answer_time_is_refused_both_ways(app, clock):
    """A datetime without a zone is a bug about which zone was meant: the models refuse
    it, and so does the one statement (which bypasses them)."""
    now = clock()
    async with app.db.write() as session:
        start = await steps.begin(session, "test", "event-0", "user-1", now)
    answers = [NewAnswer("any", "overall", "overall", 5, now.replace(tzinfo=None))]
    with pytest.raises(Exception, match="naive datetime"):
        async with app.db.write() as session:
            await steps.finish(session, start.conversation.id, {"i": 1}, [], now, answers)
