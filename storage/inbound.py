"""Inbound-event deduplication."""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundEvent
from storage.sql import dialect, dialect_insert

_T = InboundEvent.__table__


def _record_statement(session: AsyncSession):
    return record_event_statement(dialect(session))


@functools.cache  # this runs on every event
def record_event_statement(dialect_name: str):
    """``record_event``'s INSERT for one dialect (bound: channel, event_id, now; returns
    the new row's id, none for a redelivery); also run by storage/step_direct.py."""
    return (
        dialect_insert(dialect_name, _T)
        .values(
            channel=bindparam("channel", type_=_T.c.channel.type),
            event_id=bindparam("event_id", type_=_T.c.event_id.type),
            received_at=bindparam("now", type_=_T.c.received_at.type),
        )
        .on_conflict_do_nothing(index_elements=["channel", "event_id"])
        .returning(_T.c.id)
    )


async def record_event(session: AsyncSession, channel: str, event_id: str, now: datetime) -> bool:
    """Remember an inbound event; False when it was seen before (a redelivery)."""
    conn = await session.connection()
    params = {"channel": channel, "event_id": event_id, "now": now}
    return (await conn.execute(_record_statement(session), params)).first() is not None
