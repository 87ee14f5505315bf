"""Completed dossiers reported by a one-stop shop, and the survey invite of each."""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, text, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Dossier, SurveyInvite
from storage.rollup_increments import add_dossiers
from storage.sql import dialect, insert


async def add(
    session: AsyncSession,
    *,
    receipt_code: str,
    unit_id: int,
    procedure_id: int | None,
    completed_at: datetime,
    now: datetime,
    tz: ZoneInfo,
) -> Dossier | None:
    """Insert a dossier, counted in the dossier rollups by local day of ``tz``; None when
    its receipt code exists already.

    A single statement (``ON CONFLICT DO NOTHING``), so two concurrent requests for one
    receipt never both create it: on PostgreSQL the second waits for the first to commit.
    """
    stmt = (
        insert(session, Dossier)
        .values(
            receipt_code=receipt_code,
            unit_id=unit_id,
            procedure_id=procedure_id,
            completed_at=completed_at,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["receipt_code"])
        .returning(Dossier.id)
    )
    new_id = (await session.exec(stmt)).scalar_one_or_none()
    if new_id is None:
        return None
    await add_dossiers(session, [(unit_id, procedure_id, completed_at)], tz)
    return await session.get(Dossier, new_id)


async def by_receipt(session: AsyncSession, receipt_code: str) -> Dossier | None:
    """The dossier with this receipt code (exact match)."""
    stmt = select(Dossier).where(Dossier.receipt_code == receipt_code)
    return (await session.exec(stmt)).scalars().first()


async def invite_of(session: AsyncSession, dossier_id: int) -> SurveyInvite | None:
    """The first survey invite issued for a dossier."""
    stmt = (
        select(SurveyInvite)
        .where(SurveyInvite.dossier_id == dossier_id)
        .order_by(SurveyInvite.id)
        .limit(1)
    )
    return (await session.exec(stmt)).scalars().first()


async def lock_citizen(session: AsyncSession, citizen_hash: str) -> None:
    """Serialise decisions about one citizen until the transaction ends.

    PostgreSQL: a transaction-scoped advisory lock keyed by the pseudonym, so two
    dossiers of one citizen arriving at once cannot both pass the "invited recently"
    check. SQLite has one writer, which serialises them already.
    """
    if dialect(session) != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(citizen_hash.encode()).digest()[:8], "big", signed=True)
    await session.exec(text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=key))


async def invited_since(session: AsyncSession, citizen_hash: str, since: datetime) -> bool:
    """Whether the citizen was sent (or is due) an invitation at or after ``since``."""
    stmt = (
        select(Dossier.id)
        .where(Dossier.citizen_hash == citizen_hash, Dossier.invited_at >= since)
        .limit(1)
    )
    return (await session.exec(stmt)).first() is not None


async def set_citizen(
    session: AsyncSession, dossier_id: int, citizen_hash: str, invited_at: datetime | None
) -> None:
    """Record whose dossier it is and when their invitation goes out (None: not sent)."""
    await session.exec(
        update(Dossier)
        .where(Dossier.id == dossier_id)
        .values(citizen_hash=citizen_hash, invited_at=invited_at)
    )
