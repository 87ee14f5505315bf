"""Set-wise reads and writes of the dossier import (``bot.services.imports.dossiers``):
receipts known, replays' invites, citizens' locks and cooldowns, the dossiers' insert.
Like ``storage.bulk``, on the session's connection, without committing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.bulk import _as_bound, _chunks, _driver
from storage.models import Dossier, SurveyInvite
from storage.rollup_increments import add_dossiers
from storage.sql import dialect


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


async def known_receipts(session: AsyncSession, receipts: Sequence[str]) -> set[str]:
    """Which of these receipt codes are registered: one driver query per 5,000 (the
    usual answer, for a new file, is none; ``dossiers_by_receipt`` then reads only the
    ones found)."""
    driver = await _driver(session)
    found: set[str] = set()
    values = list(receipts)
    for start in range(0, len(values), 5000):
        part = values[start : start + 5000]
        if dialect(session) == "postgresql":
            rows = await driver.fetch(
                "SELECT receipt_code FROM dossier WHERE receipt_code = ANY($1::varchar[])", part
            )
            found.update(r[0] for r in rows)
            continue
        marks = ",".join("?" * len(part))
        sql = f"SELECT receipt_code FROM dossier WHERE receipt_code IN ({marks})"
        async with driver.execute(sql, part) as cursor:
            found.update(r[0] for r in await cursor.fetchall())
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


_PG_INVITED_SINCE = (
    "SELECT DISTINCT citizen_hash FROM dossier "
    "WHERE citizen_hash = ANY($1::varchar[]) AND invited_at >= $2"
)


async def invited_since(
    session: AsyncSession, citizen_hashes: Sequence[str], since: datetime
) -> set[str]:
    """Those of the citizens who were sent (or are due) an invitation at or after ``since``
    (PostgreSQL: one driver query for them all)."""
    if dialect(session) == "postgresql":
        driver = await _driver(session)
        rows = await driver.fetch(_PG_INVITED_SINCE, list(citizen_hashes), since)
        return {r[0] for r in rows}
    t = Dossier.__table__.c
    found: set[str] = set()
    for part in _chunks(list(citizen_hashes)):
        stmt = (
            select(t.citizen_hash).where(t.citizen_hash.in_(part), t.invited_at >= since).distinct()
        )
        found |= {row[0] for row in (await session.exec(stmt)).all()}
    return found


DOSSIER_COLUMNS = (
    "receipt_code",
    "unit_id",
    "procedure_id",
    "completed_at",
    "citizen_hash",
    "invited_at",
    "created_at",
)
_PG_DOSSIERS = (
    "INSERT INTO dossier (" + ", ".join(DOSSIER_COLUMNS) + ") "
    "SELECT * FROM unnest($1::varchar[], $2::int[], $3::int[], $4::timestamptz[], "
    "$5::varchar[], $6::timestamptz[], $7::timestamptz[]) "
    "ON CONFLICT (receipt_code) DO NOTHING RETURNING receipt_code, id"
)


async def insert_dossiers(
    session: AsyncSession,
    rows: Sequence[tuple],
    tz: ZoneInfo,
    fields: Mapping[int, int | None] | None = None,
) -> tuple[dict[str, int], list[str]]:
    """Insert dossiers (tuples in ``DOSSIER_COLUMNS`` order), counted in the dossier
    rollups by local day of ``tz`` (``fields``: procedure id → field id, when the caller
    has them); returns ``({receipt: id}, receipts another writer registered first)``.
    When the second list is not empty the caller must roll back: the first may then be
    incomplete (and the counts are not)."""
    if not rows:
        return {}, []
    created, taken = await _insert(session, rows)
    if not taken:
        await add_dossiers(session, ((row[1], row[2], row[3]) for row in rows), tz, fields)
    return created, taken


async def _insert(session: AsyncSession, rows: Sequence[tuple]) -> tuple[dict[str, int], list[str]]:
    driver = await _driver(session)
    if dialect(session) == "postgresql":
        return await _insert_dossiers_postgres(driver, rows)
    # SQLite: this transaction holds the only write lock, so no one else inserts now:
    # refuse receipts taken meanwhile, then number the rows after the highest id.
    receipts = [row[0] for row in rows]
    taken: list[str] = []
    for start in range(0, len(receipts), 5000):
        part = receipts[start : start + 5000]
        sql = (
            f"SELECT receipt_code FROM dossier WHERE receipt_code IN ({','.join('?' * len(part))})"
        )
        async with driver.execute(sql, list(part)) as cursor:
            taken += [r[0] for r in await cursor.fetchall()]
    if taken:
        return {}, taken
    async with driver.execute("SELECT coalesce(max(id), 0) FROM dossier") as cursor:
        first = (await cursor.fetchone())[0] + 1
    sql = f"INSERT INTO dossier (id, {', '.join(DOSSIER_COLUMNS)}) VALUES (?{', ?' * 7})"
    values = _as_bound(rows, sqlite=True)
    await driver.executemany(sql, [(first + i, *row) for i, row in enumerate(values)])
    return {receipt: first + i for i, receipt in enumerate(receipts)}, []


_PG_IDS = "SELECT nextval(pg_get_serial_sequence('dossier', 'id')) FROM generate_series(1, $1)"


async def _insert_dossiers_postgres(driver: Any, rows: Sequence[tuple]) -> tuple[dict, list]:
    """PostgreSQL: the ids drawn from the sequence, then ``COPY`` (a fifth less of the
    server's time than ``INSERT … ON CONFLICT``) in a savepoint; when a receipt is taken
    (another writer registered it meanwhile) the savepoint is rolled back and the rows go
    through ``INSERT … ON CONFLICT DO NOTHING``, which says which."""
    import asyncpg

    ids = [r[0] for r in await driver.fetch(_PG_IDS, len(rows))]
    await driver.execute("SAVEPOINT sipas_dossiers")
    try:
        await driver.copy_records_to_table(
            "dossier",
            records=[(i, *row) for i, row in zip(ids, rows, strict=True)],
            columns=["id", *DOSSIER_COLUMNS],
        )
    except asyncpg.UniqueViolationError:
        await driver.execute("ROLLBACK TO SAVEPOINT sipas_dossiers")
        columns = [list(c) for c in zip(*rows, strict=True)]
        created = {r[0]: r[1] for r in await driver.fetch(_PG_DOSSIERS, *columns)}
        return created, [row[0] for row in rows if row[0] not in created]
    await driver.execute("RELEASE SAVEPOINT sipas_dossiers")
    return {row[0]: i for i, row in zip(ids, rows, strict=True)}, []
