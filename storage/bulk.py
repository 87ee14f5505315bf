"""Set-wise reads and writes for bulk imports: one statement for many rows.

Each function takes rows as dicts of column values and runs one ``executemany`` (or a
few multi-row statements) on the session's connection, bypassing the ORM's unit of
work. They do not commit: callers write one chunk per short transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
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


async def person_ids(session: AsyncSession, keys: list[tuple[str, int, str]]) -> list[int]:
    """The newest person id of each (name, unit_id, role), in the order given."""
    t = Person.__table__.c
    out = []
    for name, unit_id, role in keys:
        stmt = (
            select(t.id)
            .where(t.name == name, t.unit_id == unit_id, t.role == role)
            .order_by(t.id.desc())
            .limit(1)
        )
        out.append((await session.exec(stmt)).scalar_one())
    return out


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


async def invited_since(
    session: AsyncSession, citizen_hashes: Sequence[str], since: datetime
) -> set[str]:
    """Those of the citizens who were sent (or are due) an invitation at or after ``since``."""
    t = Dossier.__table__.c
    found: set[str] = set()
    for part in _chunks(list(citizen_hashes)):
        stmt = (
            select(t.citizen_hash).where(t.citizen_hash.in_(part), t.invited_at >= since).distinct()
        )
        found |= {row[0] for row in (await session.exec(stmt)).all()}
    return found


async def tune_for_bulk(session: AsyncSession) -> None:
    """SQLite, once per connection: a page cache large enough for the indexes a bulk
    load touches at random (the default 2 MB makes each insert into a large unique index
    a page read), and no checkpoint at commit: ``checkpoint`` runs it after the write
    lock is released, so the lock is held for the inserts only."""
    if dialect(session) != "sqlite":
        return
    conn = await session.connection()
    if not conn.info.get("sipas_bulk"):
        await conn.exec_driver_sql("PRAGMA cache_size = -65536")  # 64 MB
        await conn.exec_driver_sql("PRAGMA wal_autocheckpoint = 0")
        conn.info["sipas_bulk"] = True


def start_checkpoint(engine: Any) -> asyncio.Future | None:
    """SQLite: the ``PASSIVE`` checkpoint of ``checkpoint`` on a connection of its own in
    a worker thread, begun now: the caller keeps the CPU meanwhile (the copy is file
    I/O) and awaits the future before its next transaction. None on PostgreSQL (or an
    in-memory database)."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        return None

    def run() -> None:
        conn = sqlite3.connect(path, timeout=10)
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    return asyncio.get_running_loop().run_in_executor(None, run)


async def checkpoint(engine: Any) -> None:
    """SQLite: copy the write-ahead log into the database file without blocking writers
    (``PASSIVE``), outside any transaction. Nothing on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as conn:
        await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


# --- the driver's own fast paths ---------------------------------------------------------
# SQLAlchemy's executemany costs ~20 µs a row in Python (type processing, parameter
# dicts); the drivers take ready tuples: SQLite ``executemany`` loops in C, PostgreSQL
# ``COPY`` streams binary rows. Values must then be what SQLAlchemy would have bound:
# on SQLite, naive-UTC datetime text as ``UTCDateTime`` stores it and JSON text.

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DATETIME storage format


class _SqliteValues:
    """Python values as SQLAlchemy binds them on SQLite (times memoised: a chunk repeats
    the same few)."""

    def __init__(self) -> None:
        self.times: dict[datetime, str] = {}

    def __call__(self, value: Any) -> Any:
        kind = type(value)
        if kind is datetime:
            text = self.times.get(value)
            if text is None:
                text = value.astimezone(UTC).replace(tzinfo=None).strftime(_SQLITE_TIME)
                self.times[value] = text
            return text
        if kind is dict or kind is list:
            return json.dumps(value)
        return value


def _pg_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict | list) else value


async def _driver(session: AsyncSession) -> Any:
    """The driver connection of the session's transaction (begun, so writes join it)."""
    conn = await session.connection()
    if dialect(session) == "postgresql":
        await conn.exec_driver_sql("SELECT 1")  # asyncpg's adapter begins on first use
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def copy_rows(
    session: AsyncSession, model: Any, columns: Sequence[str], rows: Sequence[tuple]
) -> None:
    """Insert rows (tuples in ``columns`` order) through the driver: SQLite
    ``executemany``, PostgreSQL ``COPY``. No conflict handling: for rows known new."""
    if not rows:
        return
    name = _table(model).name
    driver = await _driver(session)
    if dialect(session) == "postgresql":
        records = [tuple(_pg_value(v) for v in row) for row in rows]
        await driver.copy_records_to_table(name, records=records, columns=list(columns))
        return
    sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    value = _SqliteValues()
    await driver.executemany(sql, [tuple(map(value, row)) for row in rows])


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
    session: AsyncSession, rows: Sequence[tuple]
) -> tuple[dict[str, int], list[str]]:
    """Insert dossiers (tuples in ``DOSSIER_COLUMNS`` order); returns ``({receipt: id},
    receipts another writer registered first)``. When the second list is not empty the
    caller must roll back: the first may then be incomplete."""
    if not rows:
        return {}, []
    driver = await _driver(session)
    if dialect(session) == "postgresql":
        columns = [list(c) for c in zip(*rows, strict=True)]
        created = {r[0]: r[1] for r in await driver.fetch(_PG_DOSSIERS, *columns)}
        return created, [row[0] for row in rows if row[0] not in created]
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
    value = _SqliteValues()
    await driver.executemany(sql, [(first + i, *map(value, row)) for i, row in enumerate(rows)])
    return {receipt: first + i for i, receipt in enumerate(receipts)}, []
