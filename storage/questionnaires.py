"""Questionnaire versions in the database, so a response always knows what it answered."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Questionnaire
from storage.sql import insert


async def ensure(
    session: AsyncSession, code: str, version: int, title: str, definition: dict[str, Any]
) -> int:
    """The id of questionnaire ``code`` at ``version``, storing the definition if new."""
    await session.exec(
        insert(session, Questionnaire)
        .values(code=code, version=version, title=title, definition=definition)
        .on_conflict_do_nothing(index_elements=["code", "version"])
    )
    stmt = select(Questionnaire.id).where(
        Questionnaire.code == code, Questionnaire.version == version
    )
    return (await session.exec(stmt)).scalar_one()
