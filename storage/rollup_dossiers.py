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
from storage.rollup_increments import add_dossiers
from storage.rollup_periods import local_day, month_of, year_of
from storage.sql import dialect, insert


async def count_dossiers(session: AsyncSession, ids: Sequence[int], tz: ZoneInfo) -> None:
    """Add the dossiers with these ids, inserted in this transaction, to the dossier
    rollups: counted by the database, one statement per rollup (an import's batch adds a
    row per unit, field and day; counting them in Python cost as much as the import).
    A zone whose offset changed goes through ``add_dossiers``."""
    if not ids:
        return
    ids = sorted(ids)
    params: dict = {"ids": ids}
    if dialect(session) == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        chosen = Dossier.id == func.any(bindparam("ids", type_=ARRAY(Integer)))
    elif ids[-1] - ids[0] + 1 == len(ids):
        # The import numbers its rows on SQLite (storage.bulk_dossiers): a range, which
        # SQLite walks on the primary key; a list of a thousand ids was a statement to
        # parse afresh three times a batch.
        chosen = Dossier.id.between(bindparam("lo"), bindparam("hi"))
        params = {"lo": ids[0], "hi": ids[-1]}
    else:
        chosen = Dossier.id.in_(bindparam("ids", expanding=True))
    day = local_day(session, tz, Dossier.completed_at)
    conn = await session.connection()
    if day is None:
        stmt = select(Dossier.unit_id, Dossier.procedure_id, Dossier.completed_at).where(chosen)
        await add_dossiers(session, (await conn.execute(stmt, params)).all(), tz)
        return
    field = func.coalesce(Procedure.field_id, literal_column("0"))
    for table, period, column in (
        (RollupDossier, day, "day"),
        (RollupDossierMonth, month_of(session, day), "month"),
        (RollupDossierYear, year_of(session, day), "year"),
    ):
        counted = (
            select(Dossier.unit_id, field, period, func.count())
            .outerjoin(Procedure, Procedure.id == Dossier.procedure_id)
            .where(chosen)
            .group_by(Dossier.unit_id, field, period)
        )
        stmt = insert(session, table).from_select(
            ["unit_id", "field_id", column, "dossiers"], counted
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["unit_id", "field_id", column],
            set_={"dossiers": table.__table__.c.dossiers + stmt.excluded.dossiers},
        )
        await conn.execute(stmt, params)


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
