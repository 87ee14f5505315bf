"""Administrative procedures: lookups for pickers (tablets, surveyors, paper ballots)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Procedure


@dataclass(frozen=True)
class ProcedureRow:
    id: int
    code: str
    name: str


async def by_code(session: AsyncSession, code: str) -> int | None:
    """The id of the procedure with this code (exact, then case-insensitive)."""
    found = (
        await session.exec(select(Procedure.id).where(Procedure.code == code))
    ).scalar_one_or_none()
    if found is None:
        stmt = select(Procedure.id).where(func.upper(Procedure.code) == code.upper())
        found = (await session.exec(stmt)).scalars().first()
    return found


async def all_procedures(session: AsyncSession) -> list[ProcedureRow]:
    """Every procedure, by name."""
    stmt = select(Procedure.id, Procedure.code, Procedure.name).order_by(
        Procedure.name, Procedure.id
    )
    return [ProcedureRow(*row) for row in (await session.exec(stmt)).all()]
