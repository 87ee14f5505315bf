"""The outbox seen by operations: rows of dead processes, dead letters, depth figures.

Complements storage/outbox.py (the senders' side). Dead letters are shown and sent
again only on a person's word (``sipas-bot outbox list`` / ``outbox resend``); a row whose
outcome is unknown (its sender died during the API call) is never resent by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Outbox, OutboxTally
from storage.outbox import CLAIMED, DEAD, PENDING, SENDING, UNKNOWN, _open


async def claim_owners(session: AsyncSession) -> set[str]:
    """The processes that hold claimed or sending rows now."""
    stmt = (
        select(Outbox.claimed_by)
        .where(_open(Outbox.status), Outbox.status.in_((CLAIMED, SENDING)))
        .where(Outbox.claimed_by.is_not(None))
        .distinct()
    )
    return {r[0] for r in (await session.exec(stmt)).all()}


async def release_owners(session: AsyncSession, owners: set[str], now: datetime) -> tuple[int, int]:
    """Free the rows of processes that are gone: claimed rows are due again at once;
    rows they were sending are settled as dead, outcome unknown (never sent again).
    Returns (released, settled)."""
    if not owners:
        return 0, 0
    mine = (_open(Outbox.status), Outbox.claimed_by.in_(sorted(owners)))
    released = await session.exec(
        update(Outbox)
        .where(*mine, Outbox.status == CLAIMED)
        .values(status=PENDING, claimed_until=None, claimed_by=None, not_before=now)
        .returning(Outbox.id)
    )
    settled = await session.exec(
        update(Outbox)
        .where(*mine, Outbox.status == SENDING)
        .values(status=DEAD, claimed_until=None, claimed_by=None, last_error=UNKNOWN)
        .returning(Outbox.id)
    )
    return len(released.all()), len(settled.all())


@dataclass(frozen=True)
class Row:
    """One outbox row as an operator sees it."""

    id: int
    channel: str
    status: str
    attempts: int
    created_at: datetime
    last_error: str | None
    kind: str  # what the payload is: text, buttons, attachment, calls

    @property
    def unknown(self) -> bool:
        """Whether its outcome is unknown (it may have reached the chat)."""
        return self.last_error == UNKNOWN


def _kind(payload: dict[str, Any]) -> str:
    for key in ("attachment", "calls", "buttons"):
        if payload.get(key):
            return key
    return "text"


async def rows(session: AsyncSession, *, dead: bool, channel: str | None, limit: int) -> list[Row]:
    """Rows still to send, or dead letters (``dead``), newest first.

    Recipients and texts are not shown: they are personal data; the id is enough to act.
    """
    stmt = select(Outbox)
    stmt = stmt.where(Outbox.status == DEAD) if dead else stmt.where(_open(Outbox.status))
    if channel:
        stmt = stmt.where(Outbox.channel == channel)
    stmt = stmt.order_by(Outbox.id.desc()).limit(limit)
    found = (await session.exec(stmt)).scalars().all()
    return [
        Row(r.id, r.channel, r.status, r.attempts, r.created_at, r.last_error, _kind(r.payload))
        for r in found
    ]


async def resend(
    session: AsyncSession, ids: list[int], now: datetime, *, unknown_too: bool
) -> tuple[list[int], list[int], list[int]]:
    """Put dead rows back to be sent now; returns (queued, unknown outcome kept, not dead).

    A row whose outcome is unknown is queued only with ``unknown_too`` (a person checked
    that the chat did not get it). When any id is not a dead row, nothing is changed.
    """
    found = (
        await session.exec(
            select(Outbox.id, Outbox.status, Outbox.last_error).where(Outbox.id.in_(ids))
        )
    ).all()
    by_id = {r.id: r for r in found}
    queued, kept, refused = [], [], []
    for row_id in ids:
        row = by_id.get(row_id)
        if row is None or row.status != DEAD:
            refused.append(row_id)
        elif row.last_error == UNKNOWN and not unknown_too:
            kept.append(row_id)
        else:
            queued.append(row_id)
    if queued and not refused:
        await session.exec(
            update(Outbox)
            .where(Outbox.id.in_(queued), Outbox.status == DEAD)
            .values(
                status=PENDING,
                attempts=0,
                not_before=now,
                claimed_until=None,
                claimed_by=None,
                last_error=None,
            )
        )
    return queued, kept, refused


async def depth(session: AsyncSession) -> dict[tuple[str, str], int]:
    """Rows still to send, per (channel, status) (the partial indexes make it cheap)."""
    stmt = (
        select(Outbox.channel, Outbox.status, func.count())
        .where(_open(Outbox.status))
        .group_by(Outbox.channel, Outbox.status)
    )
    counted = {(c, s): n for c, s, n in (await session.exec(stmt)).all()}
    return counted


async def dead_letters(session: AsyncSession) -> dict[str, int]:
    """Dead rows per channel."""
    stmt = (
        select(Outbox.channel, func.count()).where(Outbox.status == DEAD).group_by(Outbox.channel)
    )
    return {c: n for c, n in (await session.exec(stmt)).all()}


async def pruned_sent(session: AsyncSession) -> dict[str, int]:
    """Sent rows removed by retention, per channel (their count is all that is kept)."""
    stmt = select(OutboxTally.channel, func.sum(OutboxTally.sent)).group_by(OutboxTally.channel)
    return {c: int(n) for c, n in (await session.exec(stmt)).all()}
