"""Conversation state rows: one per chat user and channel, locked while a step runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Conversation
from storage.sql import insert


@dataclass(frozen=True)
class ConversationRow:
    id: int
    data: dict[str, Any]
    updated_at: datetime | None  # None for a conversation created just now


async def lock(
    session: AsyncSession, channel: str, user_hash: str, now: datetime
) -> ConversationRow:
    """Load (creating if needed) and lock a user's conversation for this transaction.

    One statement: an upsert whose no-op update takes the row lock on PostgreSQL (like
    SELECT … FOR UPDATE), so two events of one user never run their steps at once; on
    SQLite the write transaction already serialises them.
    """
    stmt = insert(session, Conversation).values(
        channel=channel, user_hash=user_hash, data={}, created_at=now, updated_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["channel", "user_hash"],
        set_={"updated_at": Conversation.updated_at},  # unchanged; returned as it was
    ).returning(Conversation.id, Conversation.data, Conversation.updated_at)
    row = (await session.exec(stmt)).one()
    data = dict(row.data or {})
    # A conversation is new until its first state is saved (saved state is never empty).
    return ConversationRow(row.id, data, row.updated_at if data else None)


async def save(
    session: AsyncSession, conversation_id: int, data: dict[str, Any], now: datetime
) -> None:
    """Store a conversation's new state."""
    await session.exec(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(data=data, updated_at=now)
    )


async def peek(session: AsyncSession, channel: str, user_hash: str) -> dict[str, Any] | None:
    """A user's stored state, read without locking (None for a user never seen)."""
    stmt = select(Conversation.data).where(
        Conversation.channel == channel, Conversation.user_hash == user_hash
    )
    data = (await session.exec(stmt)).scalar_one_or_none()
    return None if data is None else dict(data)
