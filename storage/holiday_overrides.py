"""Holiday overrides: days off and worked days that differ from the law's list."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    HolidayOverride,
)
from storage.sql import insert


async def overrides(session: AsyncSession) -> dict[date, bool]:
    """Every override: day → working (True) or day off (False)."""
    rows = (await session.exec(select(HolidayOverride.day, HolidayOverride.working))).all()
    return {day: working for day, working in rows}


async def list_overrides(session: AsyncSession, year: int | None = None) -> list[HolidayOverride]:
    """The overrides (of one year), by day."""
    stmt = select(HolidayOverride).order_by(HolidayOverride.day)
    if year is not None:
        stmt = stmt.where(
            HolidayOverride.day >= date(year, 1, 1), HolidayOverride.day <= date(year, 12, 31)
        )
    return list((await session.exec(stmt)).scalars().all())


async def set_override(
    session: AsyncSession, day: date, working: bool, name: str, now: datetime
) -> None:
    """Make ``day`` a working day or a day off, whatever the holidays package says."""
    stmt = insert(session, HolidayOverride).values(
        day=day, working=working, name=name, created_at=now
    )
    await session.exec(
        stmt.on_conflict_do_update(
            index_elements=["day"],
            set_={"working": working, "name": name, "source": None, "created_at": now},
        )
    )


async def remove_override(session: AsyncSession, day: date) -> bool:
    """Drop the override of ``day``; False when there was none."""
    result = await session.exec(
        HolidayOverride.__table__.delete()
        .where(HolidayOverride.day == day)
        .returning(HolidayOverride.day)
    )
    return bool(result.all())
