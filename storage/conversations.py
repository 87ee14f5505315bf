"""Conversation state rows: one per chat user and channel, locked while a step runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Conversation
from storage.sql import for_update, insert


@dataclass(frozen=True)
class ConversationRow:
    id: int
    data: dict[str, Any]
    updated_at: datetime | None  # None for a conversation created just now


async def lock(
    session: AsyncSession, channel: str, user_hash: str, now: datetime
) -> ConversationRow:
    """Load (creating if needed) and lock a user's conversation for this transaction.

    On PostgreSQL the row lock serialises two events of one user; on SQLite the write
    transaction already does.
    """
    created = (
        await session.exec(
            insert(session, Conversation)
            .values(channel=channel, user_hash=user_hash, data={}, created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["channel", "user_hash"])
            .returning(Conversation.id)
        )
    ).first()
    stmt = select(Conversation.id, Conversation.data, Conversation.updated_at).where(
        Conversation.channel == channel, Conversation.user_hash == user_hash
    )
    row = (await session.exec(for_update(session, stmt))).one()
    return ConversationRow(row.id, dict(row.data or {}), None if created else row.updated_at)


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
