"""Conversation state rows: one per chat user and channel, locked while a step runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Conversation
from storage.sql import built_once, insert

# The two statements of every event, built once (per dialect) with bound parameters and
# run on the session's connection: building them and going through the ORM cost more
# than the database did. Table-level statements: no ORM objects to synchronise.
_T = Conversation.__table__
_SAVE = (
    update(_T)
    .where(_T.c.id == bindparam("cid"))
    .values(
        data=bindparam("data", type_=_T.c.data.type),
        updated_at=bindparam("now", type_=_T.c.updated_at.type),
    )
)


@built_once
def _lock_statement(session: AsyncSession):
    now = bindparam("now", type_=_T.c.created_at.type)
    stmt = insert(session, _T).values(
        channel=bindparam("channel", type_=_T.c.channel.type),
        user_hash=bindparam("user_hash", type_=_T.c.user_hash.type),
        data=bindparam("data", type_=_T.c.data.type),
        created_at=now,
        updated_at=now,
    )
    return stmt.on_conflict_do_update(
        index_elements=["channel", "user_hash"],
        set_={"updated_at": _T.c.updated_at},  # unchanged; returned as it was
    ).returning(_T.c.id, _T.c.data, _T.c.updated_at)


@dataclass(frozen=True)
class ConversationRow:
    id: int
    data: dict[str, Any]
    updated_at: datetime | None  # None for a conversation created just now

    @classmethod
    def loaded(cls, cid: int, data: dict | None, updated_at: datetime | None) -> ConversationRow:
        """The row as the lock statement returned it. A conversation is new until its
        first state is saved (saved state is never empty)."""
        data = dict(data or {})
        return cls(cid, data, updated_at if data else None)


async def lock(
    session: AsyncSession, channel: str, user_hash: str, now: datetime
) -> ConversationRow:
    """Load (creating if needed) and lock a user's conversation for this transaction.

    One statement: an upsert whose no-op update takes the row lock on PostgreSQL (like
    SELECT … FOR UPDATE), so two events of one user never run their steps at once; on
    SQLite the write transaction already serialises them.
    """
    conn = await session.connection()
    params = {"channel": channel, "user_hash": user_hash, "data": {}, "now": now}
    row = (await conn.execute(_lock_statement(session), params)).one()
    return ConversationRow.loaded(row.id, row.data, row.updated_at)


async def save(
    session: AsyncSession, conversation_id: int, data: dict[str, Any], now: datetime
) -> None:
    """Store a conversation's new state."""
    conn = await session.connection()
    await conn.execute(_SAVE, {"cid": conversation_id, "data": data, "now": now})


async def peek(session: AsyncSession, channel: str, user_hash: str) -> dict[str, Any] | None:
    """A user's stored state, read without locking (None for a user never seen)."""
    stmt = select(Conversation.data).where(
        Conversation.channel == channel, Conversation.user_hash == user_hash
    )
    data = (await session.exec(stmt)).scalar_one_or_none()
    return None if data is None else dict(data)
