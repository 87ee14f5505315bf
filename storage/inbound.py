"""Inbound-event deduplication."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundEvent
from storage.sql import insert


async def record_event(session: AsyncSession, channel: str, event_id: str, now: datetime) -> bool:
    """Remember an inbound event; False when it was seen before (a redelivery)."""
    stmt = (
        insert(session, InboundEvent)
        .values(channel=channel, event_id=event_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["channel", "event_id"])
        .returning(InboundEvent.id)
    )
    return (await session.exec(stmt)).first() is not None
