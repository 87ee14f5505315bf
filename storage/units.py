"""The unit tree: creation with materialised paths, lookups, subtrees."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Unit


async def create_unit(
    session: AsyncSession,
    code: str,
    name: str,
    kind: str,
    parent: Unit | None = None,
    *,
    questionnaire_code: str = "quick",
    legacy: bool = False,
) -> Unit:
    """Add a unit under ``parent`` (None for a root) and give it its path."""
    unit = Unit(
        code=code,
        name=name,
        kind=kind,
        parent_id=parent.id if parent else None,
        questionnaire_code=questionnaire_code,
        legacy=legacy,
    )
    session.add(unit)
    await session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    await session.exec(update(Unit).where(Unit.id == unit.id).values(path=unit.path))
    return unit


async def by_code(session: AsyncSession, code: str) -> Unit | None:
    """The unit with this code (exact, case-insensitive)."""
    stmt = select(Unit).where(Unit.code == code)
    unit = (await session.exec(stmt)).scalars().first()
    if unit is None:
        stmt = select(Unit).where(func.upper(Unit.code) == code.upper())
        unit = (await session.exec(stmt)).scalars().first()
    return unit


async def by_id(session: AsyncSession, unit_id: int) -> Unit | None:
    """The unit with this id."""
    return await session.get(Unit, unit_id)


async def subtree(session: AsyncSession, root: Unit) -> list[Unit]:
    """``root`` and every unit below it, in path order."""
    stmt = select(Unit).where(Unit.path.startswith(root.path)).order_by(Unit.path)
    return list((await session.exec(stmt)).scalars().all())


async def roots(session: AsyncSession) -> list[Unit]:
    """The top-level units (provinces)."""
    stmt = select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.code)
    return list((await session.exec(stmt)).scalars().all())


def is_within(unit: Unit, ancestor: Unit) -> bool:
    """Whether ``unit`` is ``ancestor`` or below it."""
    return unit.path.startswith(ancestor.path)
