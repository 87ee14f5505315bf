"""A plain chat step below the ORM: read the conversation, then one guarded write.

Most updates are a citizen pressing the next answer: the step reads the user's state,
records an answer, saves the new state and queues the replies. Through a session that
was BEGIN, a statement locking the conversation, the step, a statement writing, COMMIT:
four round trips on PostgreSQL, a dozen SQLAlchemy statements on SQLite, and the
conversation's row lock held across the step's Python. Here such a step is

1. ``read``: one autocommit SELECT of the conversation (its state as stored, its
   ``updated_at``), whether the event was seen and whether a staff member is behind
   the account; no lock, no transaction left open;
2. the flow step, with no database (storage is never touched in between);
3. ``write``: the new state *only if the conversation is still as read* (``updated_at``
   and the stored text of its state), then the event's dedupe row, the answers and the
   outbox rows. On PostgreSQL one statement in autocommit (data-modifying CTEs, each
   part depending on the one before, so it all happens or none of it); on SQLite one
   short ``BEGIN IMMEDIATE`` transaction on the connection of storage/outbox_direct.py,
   rolled back unless the conversation and the dedupe row say go.

Every guarantee of the locked path holds. The write commits before the webhook's 200.
A redelivery is recognised (by ``read``, or by the dedupe row's conflict in ``write``).
Two steps of one user never both apply: the second's guard sees the first's state, its
write does nothing and the engine runs it again on the locked path. A guard that
passes means the state is the one the step was computed from, and a step is a
function of the state, the event and the time, so the result is the one a locked step
would have produced. Anything else (a new user, a staff member, a step whose effects
need the database or a transaction, a reply with a dedupe key, another driver) is left
to the locked path (``None`` / ``CHANGED``), which stays the reference:
tests/test_step_direct.py runs the same steps both ways and compares every row.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, Text, bindparam, cast, exists, select
from sqlalchemy.engine import make_url

from storage import inbound, outbox, outbox_direct, people, steps, surveys
from storage.db import CONNECT_TIMEOUT, Database
from storage.models import Conversation, InboundEvent, Outbox
from storage.outbox import NewMessage
from storage.outbox_direct import COMMAND_TIMEOUT, Statement, Unavailable
from storage.surveys import NewAnswer
from storage.types import UTCDateTime

CONNECTIONS = 4  # PostgreSQL connections of this path (each is held for one statement)
# Both statements find their rows by unique keys: a plan made once serves every value,
# and planning the write's CTEs afresh each time cost more than running them.
APPLICATION_NAME = "sipas-steps"  # how pg_stat_activity names this path's connections
_SETTINGS = {"plan_cache_mode": "force_generic_plan", "application_name": APPLICATION_NAME}

_UTC = UTCDateTime()
_CONV, _EVENTS = Conversation.__table__, InboundEvent.__table__


class Outcome(enum.Enum):
    """What ``write`` did."""

    DONE = "done"  # committed
    DUPLICATE = "duplicate"  # the event was processed before: nothing changed
    CHANGED = "changed"  # the conversation moved since it was read: nothing changed


@dataclass(frozen=True)
class Seen:
    """A conversation as ``read`` found it: its state and what the guard compares."""

    conversation_id: int
    data: dict[str, Any]
    updated_at: datetime
    stored: str  # the state's text as stored (the guard compares it)


def _read_statement():
    channel = bindparam("channel", type_=_CONV.c.channel.type)
    seen = exists().where(
        _EVENTS.c.channel == channel,
        _EVENTS.c.event_id == bindparam("event_id", type_=_EVENTS.c.event_id.type),
    )
    return select(
        _CONV.c.id,
        cast(_CONV.c.data, Text),
        _CONV.c.updated_at,
        seen,
        people.PERSON_FOR.exists(),
    ).where(
        _CONV.c.channel == channel,
        _CONV.c.user_hash == bindparam("user_hash", type_=_CONV.c.user_hash.type),
    )


class DirectSteps:
    """``read`` and ``write`` for one database (module doc)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._read = Statement(_read_statement(), db.engine.sync_engine.dialect)

    async def read(self, channel: str, event_id: str, user_hash: str) -> Seen | bool | None:
        """The user's conversation; ``False`` when the event was seen before; None when
        this path does not serve the user (no saved state yet, or a staff member).
        ``Unavailable`` when the database did not answer."""
        args = self._read.args(channel=channel, event_id=event_id, user_hash=user_hash)
        row = await self._fetch_read(args)
        if row is None:
            return None  # a user never seen: the locked path creates the conversation
        cid, stored, updated_at, seen, staff = row
        if seen:
            return False
        data = json.loads(stored) if stored else None
        if staff or not data or updated_at is None:
            return None
        if isinstance(updated_at, str):  # SQLite keeps naive UTC text
            updated_at = datetime.fromisoformat(updated_at).replace(tzinfo=UTC)
        return Seen(cid, data, updated_at, stored)

    async def write(
        self,
        seen: Seen,
        channel: str,
        event_id: str,
        data: dict[str, Any],
        messages: Sequence[NewMessage],
        answers: Sequence[NewAnswer],
        now: datetime,
    ) -> Outcome:
        """Store the step if the conversation is still as ``seen`` (module doc); the
        messages must carry no dedupe key and no item be answered twice."""
        raise NotImplementedError  # pragma: no cover - per dialect

    async def _fetch_read(self, args: tuple):  # pragma: no cover - per dialect
        raise NotImplementedError

    async def close(self) -> None:
        """Close this path's own connections."""


class _SQLite(DirectSteps):
    def __init__(self, db: Database, runner: outbox_direct.SQLiteDirect) -> None:
        super().__init__(db)
        self._runner = runner
        dialect = db.engine.sync_engine.dialect
        self._guard, self._event, self._answer, self._queue = (
            Statement(s, dialect) for s in _sqlite_writes()
        )

    async def _fetch_read(self, args: tuple):
        return await self._runner.read(self._read.sql, args)

    async def write(self, seen, channel, event_id, data, messages, answers, now) -> Outcome:
        guard = self._guard.args(
            cid=seen.conversation_id, old_at=seen.updated_at, old=seen.stored, data=data, now=now
        )
        event = self._event.args(channel=channel, event_id=event_id, now=now)
        given = [
            self._answer.args(
                key=a.key,
                item=a.item_code,
                element=a.element_code,
                scale=a.scale,
                value=a.value,
                at=a.at,
            )
            for a in answers
        ]
        queued = [
            self._queue.args(
                channel=m.channel,
                recipient=m.recipient,
                payload=m.payload,
                not_before=m.not_before or now,
                now=now,
            )
            for m in messages
        ]

        def step(conn) -> Outcome:
            if conn.execute(self._guard.sql, guard).rowcount != 1:
                raise outbox_direct.Rollback(Outcome.CHANGED)
            if not conn.execute(self._event.sql, event).fetchall():  # RETURNING id: new
                raise outbox_direct.Rollback(Outcome.DUPLICATE)
            if given:
                conn.executemany(self._answer.sql, given)
            if queued:
                conn.executemany(self._queue.sql, queued)
            return Outcome.DONE

        outcome = await self._runner.transaction(step)
        if outcome is Outcome.DONE:
            self.db.committed_short()
        return outcome


def _sqlite_writes():
    """The guarded UPDATE and the three INSERTs of ``write`` on SQLite: the statements of
    ``conversations.save`` (with the guard added), ``inbound.record_event``,
    ``surveys.record_answer`` and ``outbox.enqueue``."""
    rows = Outbox.__table__
    now = bindparam("now", type_=_CONV.c.updated_at.type)
    guard = (
        _CONV.update()
        .where(
            _CONV.c.id == bindparam("cid", type_=Integer()),
            _CONV.c.updated_at == bindparam("old_at", type_=_CONV.c.updated_at.type),
            cast(_CONV.c.data, Text) == bindparam("old", type_=Text()),
        )
        .values(data=bindparam("data", type_=_CONV.c.data.type), updated_at=now)
    )
    event = inbound.record_event_statement("sqlite")
    answer = surveys.record_answer_statement("sqlite")
    queue = rows.insert().values(  # bound by name, as this path runs it (no dedupe key)
        channel=bindparam("channel", type_=rows.c.channel.type),
        recipient=bindparam("recipient", type_=rows.c.recipient.type),
        payload=bindparam("payload", type_=rows.c.payload.type),
        status=outbox.PENDING,
        attempts=0,
        not_before=bindparam("not_before", type_=rows.c.not_before.type),
        created_at=bindparam("now", type_=rows.c.created_at.type),
    )
    return guard, event, answer, queue


# One statement, every part depending on the one before: the state saved only if the
# conversation is as read, the dedupe row only if it was saved, the answers and the
# outbox rows (storage/steps.py's, the same as the locked path writes) only if the
# dedupe row is new. A duplicate whose state and time equal the one read (possible only
# with a frozen clock) saves that same state again and nothing else.
_NEW_EVENT = "WHERE EXISTS (SELECT FROM event)"
_WRITE_POSTGRES = f"""
WITH saved AS (
    UPDATE conversation SET data = $1::json, updated_at = $2
    WHERE id = $3 AND updated_at = $14 AND data::text = $15
    RETURNING id
),
event AS (
    INSERT INTO inbound_event (channel, event_id, received_at)
    SELECT $16, $17, $2 FROM saved
    ON CONFLICT (channel, event_id) DO NOTHING
    RETURNING id
),
answered AS ({steps.answers_sql(_NEW_EVENT)}),
queued AS ({steps.outbox_sql(_NEW_EVENT)})
SELECT (SELECT count(*) FROM saved), (SELECT count(*) FROM event)
"""


class _Postgres(DirectSteps):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._dsn = make_url(db.url).set(drivername="postgresql").render_as_string(False)
        dialect = db.engine.sync_engine.dialect
        self._utc = functools.partial(_UTC.process_bind_param, dialect=dialect)
        # Last in, first out: a quiet server keeps using one warm connection, and the
        # others open only when steps overlap. None is a free slot with no connection.
        self._idle: asyncio.LifoQueue = asyncio.LifoQueue()
        for _ in range(CONNECTIONS):
            self._idle.put_nowait(None)

    async def _run(self, method: str, sql: str, args: Sequence[Any]):
        import asyncpg

        conn = await self._idle.get()
        try:
            if conn is None or conn.is_closed():
                conn = await asyncpg.connect(
                    self._dsn,
                    timeout=CONNECT_TIMEOUT,
                    command_timeout=COMMAND_TIMEOUT,
                    server_settings=_SETTINGS,
                )
            return await getattr(conn, method)(sql, *args)
        except Exception as exc:  # asyncpg's errors have no one base class
            conn = _terminated(conn)
            for listener in self.db.error_listeners:
                listener(exc)
            raise Unavailable(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:  # cancelled mid-statement: the connection's state is unknown
            conn = _terminated(conn)
            raise
        finally:
            self._idle.put_nowait(conn)

    async def _fetch_read(self, args: tuple):
        return await self._run("fetchrow", self._read.sql, args)

    async def write(self, seen, channel, event_id, data, messages, answers, now) -> Outcome:
        first = steps.postgres_params(self._utc, data, now, seen.conversation_id, messages, answers)
        params = (*first, seen.updated_at, seen.stored, channel, event_id)
        saved, new = await self._run("fetchrow", _WRITE_POSTGRES, params)
        if not saved:
            return Outcome.CHANGED
        return Outcome.DONE if new else Outcome.DUPLICATE

    async def close(self) -> None:
        while not self._idle.empty():
            conn = self._idle.get_nowait()
            if conn is not None and not conn.is_closed():
                await conn.close()
        for _ in range(CONNECTIONS):
            self._idle.put_nowait(None)


def _terminated(conn: Any) -> None:
    if conn is not None and not conn.is_closed():
        conn.terminate()
    return None


_direct: weakref.WeakKeyDictionary[Database, DirectSteps | None] = weakref.WeakKeyDictionary()


def for_database(db: Database) -> DirectSteps | None:
    """This path for ``db`` (one per database object, closed with it); None where it
    does not run (another driver, in-memory SQLite): every step takes the locked path."""
    if db not in _direct:
        direct: DirectSteps | None = None
        sender = outbox_direct.for_database(db)
        if isinstance(sender, outbox_direct.SQLiteDirect):
            direct = _SQLite(db, sender)
        elif sender is not None and db.is_postgres:
            direct = _Postgres(db)
            db.on_dispose(direct.close)
        _direct[db] = direct
    return _direct[db]
