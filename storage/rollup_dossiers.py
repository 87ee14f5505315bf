"""The dossier rollups (0015): completed dossiers per unit, field and local day, month and
year, the denominator of a quota's surveyed share. Dossiers are only ever added: an
import's batch is counted by the database (``count_dossiers``), one dossier from the
intake API in Python with the transaction's other increments
(``storage.rollup_increments.add_dossiers``); ``rebuild_dossiers`` counts them all again.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, bindparam, func, literal_column, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Dossier,
    Procedure,
    RollupDossier,
    RollupDossierMonth,
    RollupDossierYear,
)
from storage.rollup_increments import add_dossier_days, add_dossiers
from storage.rollup_periods import as_date, local_day, month_of, year_of
from storage.sql import before_commit, dialect

_NEW = "sipas_new_dossiers"


async def count_dossiers(session: AsyncSession, ids: Sequence[int], tz: ZoneInfo) -> None:
    """Add the dossiers with these ids, inserted in this transaction, to the dossier
    rollups. Counted by the database when the transaction commits
    (``storage.sql.before_commit``), every batch of it at once: one statement per rollup
    (counting in Python cost as much as the import, and counting each of an import's
    small batches as it came cost it a third of its speed). A zone whose offset changed
    is counted at once through ``add_dossiers``."""
    if not ids:
        return
    if local_day(session, tz, Dossier.completed_at) is None:
        conn = await session.connection()
        stmt = select(Dossier.unit_id, Dossier.procedure_id, Dossier.completed_at)
        ordered = sorted(ids)
        for start in range(0, len(ordered), 5000):
            part = stmt.where(Dossier.id.in_(ordered[start : start + 5000]))
            await add_dossiers(session, (await conn.execute(part)).all(), tz)
        return
    new = session.info.get(_NEW)
    if new is None:
        new = session.info[_NEW] = []

        async def count(s: AsyncSession) -> None:
            await _count(s, sorted(s.info.pop(_NEW, [])), tz)

        before_commit(session, _NEW, count)
    new.extend(ids)


async def _count(session: AsyncSession, ids: list[int], tz: ZoneInfo) -> None:
    """Count the dossiers ``ids`` (sorted) per unit, field and local day in the database
    (one pass), and add those counts to the day, month and year rollups with the
    transaction's other increments (``add_dossier_days``)."""
    if not ids:
        return
    if dialect(session) == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        parts = [(Dossier.id == func.any(bindparam("ids", type_=ARRAY(Integer))), {"ids": ids})]
    elif ids[-1] - ids[0] + 1 == len(ids):
        # The import numbers its rows on SQLite (storage.bulk_dossiers): a range, which
        # SQLite walks on the primary key.
        parts = [
            (Dossier.id.between(bindparam("lo"), bindparam("hi")), {"lo": ids[0], "hi": ids[-1]})
        ]
    else:
        chosen = Dossier.id.in_(bindparam("ids", expanding=True))
        parts = [(chosen, {"ids": ids[i : i + 5000]}) for i in range(0, len(ids), 5000)]
    day = local_day(session, tz, Dossier.completed_at)
    field = func.coalesce(Procedure.field_id, literal_column("0"))
    conn = await session.connection()
    for chosen, params in parts:
        counted = (
            select(Dossier.unit_id, field, day, func.count())
            .outerjoin(Procedure, Procedure.id == Dossier.procedure_id)
            .where(chosen)
            .group_by(Dossier.unit_id, field, day)
        )
        rows = (await conn.execute(counted, params)).all()
        add_dossier_days(session, ((u, f, as_date(d), n) for u, f, d, n in rows))


async def rebuild_dossiers(session: AsyncSession, tz: ZoneInfo) -> None:
    """Count every dossier again (the tables emptied first): by day in SQL when the zone's
    offset never changed, months and years from the days; else through ``add_dossiers``."""
    day = local_day(session, tz, Dossier.completed_at)
    if day is None:
        rows = await session.exec(
            select(Dossier.unit_id, Dossier.procedure_id, Dossier.completed_at)
        )
        await add_dossiers(session, rows.all(), tz)
        return
    field = func.coalesce(Procedure.field_id, literal_column("0"))
    days = (
        select(Dossier.unit_id, day, field, func.count())
        .outerjoin(Procedure, Procedure.id == Dossier.procedure_id)
        .group_by(Dossier.unit_id, day, field)
    )
    columns = ["unit_id", "day", "field_id", "dossiers"]
    await session.exec(RollupDossier.__table__.insert().from_select(columns, days))
    for table, period, of in (
        (RollupDossierMonth, "month", month_of),
        (RollupDossierYear, "year", year_of),
    ):
        start = of(session, RollupDossier.day)
        await session.exec(
            table.__table__.insert().from_select(
                ["unit_id", period, "field_id", "dossiers"],
                select(
                    RollupDossier.unit_id,
                    start,
                    RollupDossier.field_id,
                    func.sum(RollupDossier.dossiers),
                ).group_by(RollupDossier.unit_id, start, RollupDossier.field_id),
            )
        )
