"""Flagging suspect responses (stuffing): kept and visible, left out of the figures.

Always flag and clear through these functions: they keep the report rollups in step.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import rollups
from storage.models import Response


async def flag_responses(
    session: AsyncSession, response_ids: list[int], reason: str, at: datetime, tz: ZoneInfo
) -> list[int]:
    """Flag responses not flagged yet; returns the ids that changed."""
    changed = (
        (
            await session.exec(
                update(Response)
                .where(Response.id.in_(response_ids), Response.flagged_at.is_(None))
                .values(flagged_at=at, flag_reason=reason[:255])
                .returning(Response.id)
            )
        )
        .scalars()
        .all()
    )
    for response_id in sorted(changed):
        await rollups.apply_response(session, response_id, tz, sign=-1)
    return sorted(changed)


async def clear_flags(session: AsyncSession, response_ids: list[int], tz: ZoneInfo) -> list[int]:
    """Clear the flag of flagged responses (they count again); returns the ids that changed."""
    changed = (
        (
            await session.exec(
                update(Response)
                .where(Response.id.in_(response_ids), Response.flagged_at.is_not(None))
                .values(flagged_at=None, flag_reason=None)
                .returning(Response.id)
            )
        )
        .scalars()
        .all()
    )
    for response_id in sorted(changed):
        await rollups.apply_response(session, response_id, tz, sign=1)
    return sorted(changed)
