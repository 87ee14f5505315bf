"""What every chat step does first and last: dedupe the event, lock the user's
conversation and find the staff member behind the account (``begin``); store the new
state and queue the replies (``finish``).

On PostgreSQL each is one statement (data-modifying CTEs): a step is a handful of small
statements, and there each is a round trip whose cost, in both processes, is most of
what the statement costs. On SQLite statements are calls in this thread
(storage/sqlite_inline.py), so they stay the functions of their modules.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, exists, select, true
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import conversations, inbound, outbox, people, pg_driver, surveys
from storage.conversations import ConversationRow
from storage.models import Conversation, InboundEvent
from storage.outbox import NewMessage
from storage.people import PersonRow
from storage.pg_driver import DriverStatement
from storage.sql import dialect
from storage.surveys import NewAnswer
from storage.types import UTCDateTime

_UTC = UTCDateTime()  # its bind step: naive datetimes refused, as the models do


@dataclass(frozen=True)
class StepStart:
    """A new event's conversation (locked for this transaction) and person."""

    conversation: ConversationRow
    person: PersonRow | None


async def begin(
    session: AsyncSession, channel: str, event_id: str, user_hash: str, now: datetime
) -> StepStart | None:
    """Record the event, lock (creating if needed) the user's conversation and look up the
    person linked to the account; None when the event was seen before (a redelivery).

    Same effect as ``inbound.record_event``, ``conversations.lock`` and
    ``people.person_for`` one after the other, except that on PostgreSQL a redelivery also
    locks its conversation until the transaction ends (it changes nothing there).
    """
    if dialect(session) != "postgresql":
        if not await inbound.record_event(session, channel, event_id, now):
            return None
        conversation = await conversations.lock(session, channel, user_hash, now)
        return StepStart(conversation, await people.person_for(session, channel, user_hash))
    params = {"channel": channel, "event_id": event_id, "user_hash": user_hash, "now": now}
    row = await _BEGIN_POSTGRES.fetchrow(session, {**params, "data": {}})
    if not row["new"]:
        return None
    conversation = ConversationRow.loaded(row["conversation_id"], row["data"], row["updated_at"])
    person = None
    if row["id"] is not None:  # the person's columns, named as people.PERSON_FOR names them
        person = PersonRow(**{f: row[f] for f in PersonRow.__dataclass_fields__})
    return StepStart(conversation, person)


def _begin_postgres():
    """The three statements as one: ``WITH event AS (INSERT … ON CONFLICT DO NOTHING),
    conversation AS (INSERT … ON CONFLICT DO UPDATE) SELECT …, person``."""
    from sqlalchemy.dialects.postgresql import insert

    events, convs = InboundEvent.__table__, Conversation.__table__
    now = bindparam("now", type_=events.c.received_at.type)
    channel = bindparam("channel", type_=events.c.channel.type)
    event = (
        insert(events)
        .values(
            channel=channel,
            event_id=bindparam("event_id", type_=events.c.event_id.type),
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["channel", "event_id"])
        .returning(events.c.id)
        .cte("new_event")
    )
    upsert = insert(convs).values(
        channel=channel,
        user_hash=bindparam("user_hash", type_=convs.c.user_hash.type),
        data=bindparam("data", type_=convs.c.data.type),
        created_at=now,
        updated_at=now,
    )
    conversation = (
        upsert.on_conflict_do_update(
            index_elements=["channel", "user_hash"],
            set_={"updated_at": convs.c.updated_at},  # unchanged: the no-op takes the lock
        )
        .returning(convs.c.id, convs.c.data, convs.c.updated_at)
        .cte("locked")
    )
    person = people.PERSON_FOR.subquery("who")
    return select(
        exists(select(event.c.id)).label("new"),
        conversation.c.id.label("conversation_id"),
        conversation.c.data,
        conversation.c.updated_at,
        *person.c,
    ).select_from(conversation.outerjoin(person, true()))


_BEGIN_POSTGRES = DriverStatement(_begin_postgres)


async def finish(
    session: AsyncSession,
    conversation_id: int,
    data: dict,
    messages: list[NewMessage],
    now: datetime,
    answers: Sequence[NewAnswer] = (),
) -> None:
    """Store the step's last ``answers``, the conversation's new state and queue
    ``messages``: the same as ``surveys.record_answer`` for each answer, then
    ``conversations.save`` and ``outbox.enqueue``; on PostgreSQL one statement (when no
    message carries a dedupe key, as a step's replies do not, and no item is answered
    twice)."""
    if (
        dialect(session) != "postgresql"
        or any(m.dedupe_key for m in messages)
        or len({a.item_code for a in answers}) < len(answers)  # ON CONFLICT: once a row
    ):
        for a in answers:
            await surveys.record_answer(
                session, a.key, a.item_code, a.element_code, a.value, a.at, a.scale
            )
        await conversations.save(session, conversation_id, data, now)
        await outbox.enqueue(session, messages, now)
        return
    utc = functools.partial(_UTC.process_bind_param, dialect=session.bind.dialect)
    params = postgres_params(utc, data, now, conversation_id, messages, answers)
    await pg_driver.run(session, "execute", _FINISH_POSTGRES, params)


def postgres_params(
    utc: Callable[[datetime], datetime],
    data: dict,
    now: datetime,
    conversation_id: int,
    messages: Sequence[NewMessage],
    answers: Sequence[NewAnswer],
) -> tuple:
    """$1–$13 of the step's hand-written statements (``finish`` here, ``write`` in
    storage/step_direct.py): the state, the time, the conversation, the outbox rows'
    arrays ($4–$7) and the answers' arrays ($8–$13). ``utc`` is the UTC bind step."""
    return (
        json.dumps(data),
        utc(now),
        conversation_id,
        [m.channel for m in messages],
        [m.recipient for m in messages],
        [json.dumps(m.payload) for m in messages],
        [utc(m.not_before or now) for m in messages],
        [a.key for a in answers],
        [a.item_code for a in answers],
        [a.element_code for a in answers],
        [a.scale for a in answers],
        [a.value for a in answers],
        [utc(a.at) for a in answers],
    )


# Written out rather than built: SQLAlchemy's array binds would cost more than the
# statement. JSON as SQLAlchemy's JSON type writes it (json.dumps); the outbox row as
# outbox.enqueue writes it, the answer as surveys.record_answer does (tests/test_steps.py
# compares them). A data-modifying CTE runs whether or not it is referenced; the
# answers' response was inserted by an earlier statement, so the join sees it.
def answers_sql(condition: str = "") -> str:
    """The INSERT of the answers of ``postgres_params`` ($8–$13), rows only where
    ``condition`` (a WHERE clause, or nothing) holds."""
    return f"""
    INSERT INTO answer (response_id, item_code, element_code, scale, value, answered_at)
    SELECT response.id, a.item_code, a.element_code, a.scale, a.value, a.answered_at
    FROM unnest($8::varchar[], $9::varchar[], $10::varchar[], $11::varchar[], $12::int[],
        $13::timestamptz[]) AS a(key, item_code, element_code, scale, value, answered_at)
    JOIN response ON response.key = a.key
    {condition}
    ON CONFLICT (response_id, item_code)
    DO UPDATE SET value = excluded.value, answered_at = excluded.answered_at
"""


def outbox_sql(condition: str = "") -> str:
    """The INSERT of the outbox rows of ``postgres_params`` ($4–$7, created at $2), rows
    only where ``condition`` (a WHERE clause, or nothing) holds."""
    return f"""
    INSERT INTO outbox (channel, recipient, payload, status, attempts, not_before, created_at)
    SELECT m.channel, m.recipient, m.payload::json, '{outbox.PENDING}', 0, m.not_before, $2
    FROM unnest($4::varchar[], $5::varchar[], $6::text[], $7::timestamptz[])
        AS m(channel, recipient, payload, not_before)
    {condition}
"""


_FINISH_POSTGRES = f"""
WITH saved AS (UPDATE conversation SET data = $1::json, updated_at = $2 WHERE id = $3),
answered AS ({answers_sql()})
{outbox_sql()}
"""
