"""Retention: what is pruned, by age, one small batch per transaction.

- ``inbound_event`` rows (the dedupe keys) older than the retention window: a channel
  redelivers within hours (Telegram a day at most), so the window only has to be longer
  than that, and longer than the window in which signed Zalo events are accepted;
- sent outbox rows older than N days; their count per day and channel is added to
  ``outbox_tally`` in the same transaction, so the figures survive;
- web-chat replies never delivered: the page delivers a session's replies when it is
  viewed, so a pending web row older than the session cookie's life can never be shown.

Each function does one batch (``limit`` rows at most) and returns how many rows it
removed: the caller commits and calls again, so the single SQLite writer is never held
for long and webhooks go on between two batches. The age tests use indexed columns
(``received_at``; ``status, not_before`` of ``ix_outbox_due``).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundEvent, Outbox, OutboxTally
from storage.outbox import PENDING, SENT
from storage.sql import insert


async def prune_inbound(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` dedupe keys received before ``before``."""
    oldest = (
        select(InboundEvent.id)
        .where(InboundEvent.received_at < before)
        .order_by(InboundEvent.received_at)
        .limit(limit)
    )
    ids = [r[0] for r in (await session.exec(oldest)).all()]
    if ids:
        await session.exec(delete(InboundEvent).where(InboundEvent.id.in_(ids)))
    return len(ids)


async def prune_sent(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` sent outbox rows last due before ``before``, counting them
    into ``outbox_tally`` (``not_before`` is when the row was last tried: the send time)."""
    oldest = (
        select(Outbox.id, Outbox.channel, Outbox.not_before)
        .where(Outbox.status == SENT, Outbox.not_before < before)
        .order_by(Outbox.not_before)
        .limit(limit)
    )
    found = (await session.exec(oldest)).all()
    if not found:
        return 0
    await session.exec(delete(Outbox).where(Outbox.id.in_([r.id for r in found])))
    tally = Counter((r.not_before.date(), r.channel) for r in found)
    for (day, channel), n in sorted(tally.items()):
        stmt = insert(session, OutboxTally).values(day=day, channel=channel, sent=n)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day", "channel"], set_={"sent": OutboxTally.sent + n}
        )
        await session.exec(stmt)
    return len(found)


async def expire_web(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` web-chat replies still waiting since before ``before``."""
    oldest = (
        select(Outbox.id)
        .where(Outbox.status == PENDING, Outbox.not_before < before, Outbox.channel == "web")
        .order_by(Outbox.not_before)
        .limit(limit)
    )
    ids = [r[0] for r in (await session.exec(oldest)).all()]
    if ids:
        await session.exec(delete(Outbox).where(Outbox.id.in_(ids)))
    return len(ids)
