"""Inbound-event deduplication."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundEvent
from storage.sql import dialect, insert

_T = InboundEvent.__table__
_RECORD: dict[str, object] = {}  # per dialect, built once: this runs on every event


async def record_event(session: AsyncSession, channel: str, event_id: str, now: datetime) -> bool:
    """Remember an inbound event; False when it was seen before (a redelivery)."""
    name = dialect(session)
    stmt = _RECORD.get(name)
    if stmt is None:
        stmt = _RECORD[name] = (
            insert(session, _T)
            .values(
                channel=bindparam("channel", type_=_T.c.channel.type),
                event_id=bindparam("event_id", type_=_T.c.event_id.type),
                received_at=bindparam("now", type_=_T.c.received_at.type),
            )
            .on_conflict_do_nothing(index_elements=["channel", "event_id"])
            .returning(_T.c.id)
        )
    conn = await session.connection()
    params = {"channel": channel, "event_id": event_id, "now": now}
    return (await conn.execute(stmt, params)).first() is not None
