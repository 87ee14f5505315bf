"""Set-wise reads and writes for bulk imports: one statement for many rows.

Each function takes rows as dicts of column values and runs one ``executemany`` (or a
few multi-row statements) on the session's connection, bypassing the ORM's unit of
work. They do not commit: callers write one chunk per short transaction.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Person,
    Procedure,
    ProcedureField,
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


_PLAIN = frozenset((str, int, float, bool, bytes, type(None)))


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).strftime(_SQLITE_TIME)


def _as_bound(rows: Sequence[tuple], *, sqlite: bool) -> list[tuple]:
    """Rows with their values as SQLAlchemy binds them (SQLite: datetimes as naive-UTC
    text, dicts and lists as JSON text; PostgreSQL: dicts and lists as JSON text), column
    by column: a column of plain values is left as it is, a column of times is converted
    once per distinct time (a chunk repeats the same few)."""
    columns = list(zip(*rows, strict=True))
    changed = False
    for n, column in enumerate(columns):
        kinds = set(map(type, column))
        if kinds <= _PLAIN:
            continue
        changed = True
        if sqlite and kinds <= {datetime, type(None)}:
            texts = {v: (None if v is None else _sqlite_time(v)) for v in set(column)}
            columns[n] = tuple(map(texts.__getitem__, column))
        else:
            columns[n] = tuple(_sqlite_value(v) if sqlite else _pg_value(v) for v in column)
    return list(zip(*columns, strict=True)) if changed else list(rows)


def _sqlite_value(value: Any) -> Any:
    kind = type(value)
    if kind is datetime:
        return _sqlite_time(value)
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
        records = _as_bound(rows, sqlite=False)
        await driver.copy_records_to_table(name, records=records, columns=list(columns))
        return
    sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    await driver.executemany(sql, _as_bound(rows, sqlite=True))
