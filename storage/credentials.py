"""Channel credentials that change at run time (Zalo's refreshed token pair).

A refresh token works once, so whoever refreshes must hold the row: ``lock`` creates
the row if it is missing (so there is always something to lock) and takes it with
``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the write transaction already
excludes every other writer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Credential
from storage.sql import for_update, insert


async def get(session: AsyncSession, name: str) -> dict[str, Any] | None:
    """The stored data of credential ``name`` (None when there is none), without locking."""
    row = (await session.exec(select(Credential.data).where(Credential.name == name))).first()
    return dict(row[0]) if row else None


async def lock(session: AsyncSession, name: str, now: datetime) -> dict[str, Any]:
    """Lock credential ``name`` for the rest of the transaction and return its data.

    A missing row is created empty first (two creators do not collide), so concurrent
    callers always queue on the same row and the second one reads what the first stored.
    """
    await session.exec(
        insert(session, Credential)
        .values(name=name, data={}, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    stmt = for_update(session, select(Credential.data).where(Credential.name == name))
    return dict((await session.exec(stmt)).one()[0])


async def put(session: AsyncSession, name: str, data: dict[str, Any], now: datetime) -> None:
    """Replace the data of credential ``name`` (locked with ``lock`` in this transaction)."""
    await session.exec(
        update(Credential).where(Credential.name == name).values(data=data, updated_at=now)
    )
