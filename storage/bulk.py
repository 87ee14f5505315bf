"""Set-wise reads and writes for bulk imports: one statement for many rows.

Each function takes rows as dicts of column values and runs one ``executemany`` (or a
few multi-row statements) on the session's connection, bypassing the ORM's unit of
work. They do not commit: callers write one chunk per short transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Dossier,
    Person,
    Procedure,
    ProcedureField,
    SurveyInvite,
    Unit,
)
from storage.sql import dialect, insert

IN_BATCH = 500  # values per ``IN (…)`` list: well under SQLite's parameter limit


def _table(model: Any):
    return getattr(model, "__table__", model)


async def insert_rows(session: AsyncSession, model: Any, rows: Sequence[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``model``'s table."""
    if not rows:
        return
    conn = await session.connection()
    await conn.execute(insert(session, _table(model)), list(rows))


async def insert_new(
    session: AsyncSession, model: Any, rows: Sequence[dict], key: str
) -> dict[Any, int]:
    """Insert the rows whose unique ``key`` column is not taken yet; returns
    ``{key value: new id}`` for the rows inserted (a clash is skipped, not an error)."""
    if not rows:
        return {}
    table = _table(model)
    stmt = (
        insert(session, table)
        .on_conflict_do_nothing(index_elements=[key])
        .returning(table.c[key], table.c.id)
    )
    conn = await session.connection()
    result = await conn.execute(stmt, list(rows))
    return {row[0]: row[1] for row in result.all()}


async def set_unit_paths(session: AsyncSession, paths: dict[int, str]) -> None:
    """Give units their materialised paths (``{unit id: path}``)."""
    if not paths:
        return
    table = Unit.__table__
    stmt = (
        update(table)
        .where(table.c.id == bindparam("uid"))
        .values(path=bindparam("upath"))
        .execution_options(synchronize_session=False)
    )
    conn = await session.connection()
    await conn.execute(stmt, [{"uid": k, "upath": v} for k, v in paths.items()])


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), IN_BATCH):
        yield values[start : start + IN_BATCH]


async def all_units(session: AsyncSession) -> list[Any]:
    """Every unit as (id, code, name, kind, parent_id, path, questionnaire_code, legacy)."""
    t = Unit.__table__.c
    stmt = select(t.id, t.code, t.name, t.kind, t.parent_id, t.path, t.questionnaire_code, t.legacy)
    return list((await session.exec(stmt)).all())


async def all_procedures(session: AsyncSession) -> tuple[list[Any], list[Any]]:
    """Every field as (id, code, name) and every procedure as (id, code, name, field_id)."""
    f = ProcedureField.__table__.c
    p = Procedure.__table__.c
    fields = (await session.exec(select(f.id, f.code, f.name))).all()
    procedures = (await session.exec(select(p.id, p.code, p.name, p.field_id))).all()
    return list(fields), list(procedures)


async def all_people(session: AsyncSession) -> list[Any]:
    """Every person as (name, unit_id, role)."""
    t = Person.__table__.c
    return list((await session.exec(select(t.name, t.unit_id, t.role))).all())


async def dossiers_by_receipt(session: AsyncSession, receipts: Sequence[str]) -> dict[str, Any]:
    """The dossiers with these receipt codes: ``{receipt: (id, unit_id, procedure_id,
    completed_at, citizen_hash, invited_at)}``."""
    t = Dossier.__table__.c
    found: dict[str, Any] = {}
    for part in _chunks(list(receipts)):
        stmt = select(
            t.receipt_code,
            t.id,
            t.unit_id,
            t.procedure_id,
            t.completed_at,
            t.citizen_hash,
            t.invited_at,
        ).where(t.receipt_code.in_(part))
        for row in (await session.exec(stmt)).all():
            found[row[0]] = row[1:]
    return found


async def first_invites(session: AsyncSession, dossier_ids: Sequence[int]) -> dict[int, Any]:
    """The first survey invite of each dossier: ``{dossier id: (code_hash, code_enc,
    expires_at)}``."""
    t = SurveyInvite.__table__.c
    found: dict[int, Any] = {}
    for part in _chunks(list(dossier_ids)):
        stmt = (
            select(t.dossier_id, t.code_hash, t.code_enc, t.expires_at)
            .where(t.dossier_id.in_(part))
            .order_by(t.id)
        )
        for row in (await session.exec(stmt)).all():
            found.setdefault(row[0], row[1:])
    return found


async def lock_citizens(session: AsyncSession, citizen_hashes: Iterable[str]) -> None:
    """PostgreSQL: take the per-citizen advisory locks of ``storage.dossiers.lock_citizen``
    for many citizens, in key order (two imports never wait on each other in a circle).
    SQLite has one writer already."""
    if dialect(session) != "postgresql":
        return
    keys = sorted(
        {
            int.from_bytes(hashlib.sha256(h.encode()).digest()[:8], "big", signed=True)
            for h in citizen_hashes
        }
    )
    if keys:
        stmt = text(
            "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k"
        ).bindparams(keys=keys)
        await session.exec(stmt)


async def invited_since(
    session: AsyncSession, citizen_hashes: Sequence[str], since: datetime
) -> set[str]:
    """Those of the citizens who were sent (or are due) an invitation at or after ``since``."""
    t = Dossier.__table__.c
    found: set[str] = set()
    for part in _chunks(list(citizen_hashes)):
        stmt = (
            select(t.citizen_hash)
            .where(t.citizen_hash.in_(part), t.invited_at >= since)
            .distinct()
        )
        found |= {row[0] for row in (await session.exec(stmt)).all()}
    return found

