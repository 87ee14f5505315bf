"""The dossier rollups (0015): completed dossiers per unit, field and local day, month and
year, the denominator of a quota's surveyed share. Dossiers are only ever added; every
writer (the intake API, the import) counts what it inserts with the transaction's other
increments (``storage.rollup_increments.add_dossiers``); ``rebuild_dossiers`` counts them
all again.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import func, literal_column, select
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
