"""The live rollup increments: what one completed (flagged, cleared) response adds, and
what new dossiers add.

``apply_response`` reads a response's counts at once and keeps them in the transaction;
they are written, summed per row and in key order, just before it commits
(``storage.sql.before_commit``). See ``storage.rollups`` for the tables and the rebuild.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import pg_driver
from storage.models import (
    Answer,
    Procedure,
    Response,
    RollupAnswer,
    RollupAnswerMonth,
    RollupChannel,
    RollupChannelMonth,
    RollupChannelYear,
    RollupDossier,
    RollupDossierMonth,
    RollupDossierYear,
    RollupResponse,
    RollupResponseMonth,
)
from storage.sql import before_commit, dialect
from storage.surveys import COMPLETED

LEVEL_COLUMNS = ("n1", "n2", "n3", "n4", "n5")


async def apply_response(
    session: AsyncSession, response_id: int, tz: ZoneInfo, sign: int = 1
) -> bool:
    """Add (``sign`` 1) or remove (-1) one completed response's counts; False if it does not
    count (not completed, or flagged while adding). The counts are read now and written
    when the transaction commits (``Database.write``), after everything else it does."""
    conn = await session.connection()
    rows = (await conn.execute(_RESPONSE_AND_ANSWERS, {"rid": response_id})).all()
    row = rows[0] if rows else None
    if row is None or row.status != COMPLETED or row.completed_at is None:
        return False
    if row.flagged_at is not None and sign > 0:
        return False  # flagged responses count nowhere (flags.py removes them first)
    day = row.completed_at.astimezone(tz).date()
    month = day.replace(day=1)
    # item_code is None on the one row of a response without satisfaction answers.
    answers = [(r.item_code, r.element_code, r.value) for r in rows if r.item_code is not None]
    pending = _pending(session)
    for name, period in (("answers", day), ("answer_months", month)):
        for item, element, value in answers:
            counts = pending[name].setdefault(
                (row.unit_id, period, item), [element, 0, 0, 0, 0, 0, 0]
            )
            counts[6 if value is None else value] += sign
    where = {
        "unit_id": row.unit_id,
        "field_id": row.field_id or 0,
        "channel": row.channel,
        "day": day,
        "month": month,
        "year": month.replace(month=1),
    }
    for name, rollup in _TABLES.items():
        if rollup.adds != ("responses",):
            continue  # the answer counts above; the dossier counts (add_dossiers)
        key = tuple(where[c] for c in rollup.key)
        pending[name][key] = pending[name].get(key, 0) + sign
    return True


async def add_dossiers(
    session: AsyncSession,
    dossiers: Iterable[tuple[int, int | None, datetime]],
    tz: ZoneInfo,
    fields: Mapping[int, int | None] | None = None,
) -> None:
    """Count just-inserted dossiers, each ``(unit id, procedure id, completed at)``, in the
    dossier rollups; written with the transaction's other increments, just before it
    commits. Every writer of dossiers calls this in the transaction that inserts them.
    ``fields`` (procedure id → field id) spares the read of the procedures' fields when
    the caller has them (the import reads every procedure before it starts)."""
    # Alike dossiers counted first (C-speed): an import's file repeats units, procedures
    # and times, so the zone's arithmetic below runs per distinct triple, not per row.
    counted = Counter(dossiers)
    if not counted:
        return
    if fields is None:
        # Read once per transaction, on the connection (the ORM's handling of a long IN
        # list cost more than the rest of the counting).
        fields = session.info.setdefault(_FIELDS_SEEN, {})
        procedures = sorted({p for _unit, p, _at in counted if p is not None} - fields.keys())
        conn = await session.connection()
        for start in range(0, len(procedures), 1000):
            found = await conn.execute(_FIELDS, {"ids": procedures[start : start + 1000]})
            fields.update(found.all())
    local: dict[datetime, date] = {}
    per_day: dict[tuple[int, int, date], int] = {}
    for (unit_id, procedure_id, completed_at), n in counted.items():
        day = local.get(completed_at)
        if day is None:
            at = completed_at if completed_at.tzinfo else completed_at.replace(tzinfo=UTC)
            day = local[completed_at] = at.astimezone(tz).date()  # stored times are UTC
        field = (fields.get(procedure_id) or 0) if procedure_id is not None else 0
        key = (unit_id, field, day)
        per_day[key] = per_day.get(key, 0) + n
    add_dossier_days(session, ((*key, n) for key, n in per_day.items()))


def add_dossier_days(session: AsyncSession, counts: Iterable[tuple[int, int, date, int]]) -> None:
    """Add dossiers counted per ``(unit id, field id, local day, how many)`` to the dossier
    rollups (day, month, year), written with the transaction's other increments."""
    pending = _pending(session)
    days, months, years = (pending[n] for n in ("dossier_days", "dossier_months", "dossier_years"))
    for unit_id, field, day, n in counts:
        for rows, period in (
            (days, day),
            (months, day.replace(day=1)),
            (years, date(day.year, 1, 1)),
        ):
            key = (unit_id, field, period)
            rows[key] = rows.get(key, 0) + n


_FIELDS = select(Procedure.id, Procedure.field_id).where(
    Procedure.id.in_(bindparam("ids", expanding=True))
)


# The response and its satisfaction answers in one statement (a row per answer; one row
# with no answer when it has none): this runs on every completed survey.
_RESPONSE_AND_ANSWERS = (
    select(
        Response.unit_id,
        Response.completed_at,
        Response.status,
        Response.flagged_at,
        Response.channel,
        Procedure.field_id,
        Answer.item_code,
        Answer.element_code,
        Answer.value,
    )
    .outerjoin(Procedure, Procedure.id == Response.procedure_id)
    .outerjoin(Answer, (Answer.response_id == Response.id) & (Answer.scale == "satisfaction"))
    .where(Response.id == bindparam("rid"))
)


# The increments are kept until the transaction is about to commit (``storage.sql.
# before_commit``) and written then, summed per row, in key order. On PostgreSQL an
# upsert holds its row's lock until the commit, and every completion at a unit on one
# day updates the same rows: written early, the lock was held across the rest of the
# step (the follow-up checks, the state, the outbox), and concurrent completions at a
# busy unit queued behind each other for seconds. Increments commute, so writing them
# last changes no figure; the SELECTs above still see the response as it was then.
_PENDING = "sipas_rollup_increments"
_FIELDS_SEEN = "sipas_procedure_fields"  # procedure id → field id, for this transaction


def _pending(session: AsyncSession) -> dict[str, dict]:
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = {name: {} for name in _TABLES}
        before_commit(session, _PENDING, _write_increments)
    return pending


async def _write_increments(session: AsyncSession) -> None:
    """Write the transaction's summed rollup increments, each table's rows in key order:
    on PostgreSQL in one statement, on SQLite one statement run per table."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    rows = {name: _rows(name, counts) for name, counts in pending.items()}
    if not any(rows.values()):
        return
    conn = await session.connection()
    if dialect(session) == "postgresql":
        # One round trip instead of seven. Each upsert takes its rows' locks until the
        # commit, and every completion at a unit on a day wants the same rows: the fewer
        # round trips between the first lock and the commit, the shorter the queue.
        arrays = [
            [row[i] for row in rows[name]]
            for name, table in _TABLES.items()
            for i in range(len(table.columns))
        ]
        # On asyncpg directly: SQLAlchemy's handling of seventy array parameters cost
        # more than the statement (storage/pg_driver.py: errors still go through it).
        await pg_driver.run(session, "execute", _pg_upsert_all(), arrays)
        return
    for name in _TABLES:
        if rows[name]:
            # One statement run for each row (executemany) on the driver: an import's
            # chunk adds a row per unit, field and day to three tables, and SQLAlchemy's
            # handling of each row's parameters cost more than SQLite's upsert.
            dated = [tuple(_sqlite(v) for v in row) for row in rows[name]]
            await conn.exec_driver_sql(_sqlite_upsert(name), dated)


def _sqlite(value: Any) -> Any:
    # Dates as SQLAlchemy stores them on SQLite (ISO text).
    return value.isoformat() if isinstance(value, date) else value


def _rows(name: str, counts: dict) -> list[tuple]:
    """The pending increments of one table as rows (tuples in ``_Rollup.columns``
    order), in key order; rows that add nothing left out."""
    if len(_TABLES[name].adds) == 1:  # a count of responses or of dossiers
        return [(*key, n) for key, n in sorted(counts.items()) if n]
    # (unit, period, item), then the element and the levels' counts
    return [(*key, *levels) for key, levels in sorted(counts.items()) if any(levels[1:])]


@dataclass(frozen=True)
class _Rollup:
    """A rollup table the live increments add to: its key columns, the columns an
    increment adds to, and every column an increment row carries."""

    model: Any
    key: tuple[str, ...]
    adds: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        rest = tuple(c.name for c in self.model.__table__.c if c.name not in self.key)
        return (*self.key, *(c for c in rest if c not in self.adds), *self.adds)


_COUNTS = (*LEVEL_COLUMNS, "skipped")
# The live increments lock their rows table by table in this order, and rows in key
# order (on PostgreSQL with the same statement every time), so two completions never wait
# on each other crosswise.
_TABLES = {
    # The answer counts, by (unit, item) and day or month.
    "answers": _Rollup(RollupAnswer, ("unit_id", "day", "item_code"), _COUNTS),
    "answer_months": _Rollup(RollupAnswerMonth, ("unit_id", "month", "item_code"), _COUNTS),
    # The response counts, by (unit, field[, channel]) and day, month or year.
    "days": _Rollup(RollupResponse, ("unit_id", "field_id", "day"), ("responses",)),
    "months": _Rollup(RollupResponseMonth, ("unit_id", "field_id", "month"), ("responses",)),
    "channel_days": _Rollup(
        RollupChannel, ("unit_id", "field_id", "channel", "day"), ("responses",)
    ),
    "channel_months": _Rollup(
        RollupChannelMonth, ("unit_id", "field_id", "channel", "month"), ("responses",)
    ),
    "channel_years": _Rollup(
        RollupChannelYear, ("unit_id", "field_id", "channel", "year"), ("responses",)
    ),
    # Completed dossiers, by (unit, field) and day, month or year.
    "dossier_days": _Rollup(RollupDossier, ("unit_id", "field_id", "day"), ("dossiers",)),
    "dossier_months": _Rollup(RollupDossierMonth, ("unit_id", "field_id", "month"), ("dossiers",)),
    "dossier_years": _Rollup(RollupDossierYear, ("unit_id", "field_id", "year"), ("dossiers",)),
}


@functools.cache
def _sqlite_upsert(name: str) -> str:
    """The upsert of one row of rollup ``name`` on SQLite (``?`` in ``columns`` order)."""
    rollup = _TABLES[name]
    table = rollup.model.__table__.name
    adds = ", ".join(f"{c} = {c} + excluded.{c}" for c in rollup.adds)
    return (
        f"INSERT INTO {table} ({', '.join(rollup.columns)}) "
        f"VALUES ({', '.join('?' * len(rollup.columns))}) "
        f"ON CONFLICT ({', '.join(rollup.key)}) DO UPDATE SET {adds}"
    )


@functools.cache
def _pg_upsert_all() -> str:
    """Every table's upsert in one PostgreSQL statement: data-modifying CTEs, each
    inserting the rows of one set of arrays (``unnest``, one array per column, in the
    order of ``_TABLES`` and of ``_Rollup.columns``). Fixed text: prepared once."""
    from sqlalchemy.dialects import postgresql

    pg = postgresql.dialect()
    ctes, n = [], 0
    for index, rollup in enumerate(_TABLES.values()):
        table = rollup.model.__table__
        arrays = []
        for column in rollup.columns:
            n += 1
            arrays.append(f"${n}::{table.c[column].type.compile(pg)}[]")
        adds = ", ".join(f"{c} = t.{c} + excluded.{c}" for c in rollup.adds)
        ctes.append(
            f"u{index} AS (INSERT INTO {table.name} AS t ({', '.join(rollup.columns)}) "
            f"SELECT * FROM unnest({', '.join(arrays)}) "
            f"ON CONFLICT ({', '.join(rollup.key)}) DO UPDATE SET {adds})"
        )
    return f"WITH {', '.join(ctes)} SELECT 1"


def forget_pending(session: AsyncSession) -> None:
    """Drop the increments not yet written (a rebuild counts everything again)."""
    session.info.pop(_PENDING, None)
