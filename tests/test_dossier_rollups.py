"""Quotas count completed dossiers from their rollups (migration 0015), which every writer
of dossiers keeps: the intake API's ``dossiers.add`` and the import's ``insert_dossiers``.

The counts are checked against a count by hand of the same dossiers, on local days of
Asia/Ho_Chi_Minh (a dossier completed at 23:59 local on 31/12 belongs to that year, one
at 00:00 to the next), over periods made of whole years, whole months and single days;
and a rebuild from the raw rows gives the same rollup rows the increments wrote.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from storage import bulk_dossiers, dossiers, rollups
from storage import quotas as quota_store
from storage.models import (
    ProcedureField,
    Quota,
    QuotaField,
    RollupDossier,
    RollupDossierMonth,
    RollupDossierYear,
)
from tests.builders import make_org

# (unit: "w1" or "w2", with the procedure or none, completed at UTC)
DOSSIERS = [
    ("w1", True, datetime(2026, 12, 31, 16, 59, 59, tzinfo=UTC)),  # 31/12/2026 23:59 local
    ("w1", True, datetime(2026, 12, 31, 17, 0, tzinfo=UTC)),  # 01/01/2027 00:00 local
    ("w1", False, datetime(2026, 3, 31, 17, 30, tzinfo=UTC)),  # 01/04/2026 local
    ("w2", True, datetime(2026, 11, 14, 18, 0, tzinfo=UTC)),  # 15/11/2026 01:00 local
    ("w2", True, datetime(2026, 11, 14, 16, 0, tzinfo=UTC)),  # 14/11/2026 23:00 local
    ("w2", False, datetime(2027, 1, 10, 9, 0, tzinfo=UTC)),  # 10/01/2027
    ("w1", True, datetime(2027, 1, 10, 17, 0, tzinfo=UTC)),  # 11/01/2027 local
    ("w1", True, datetime(2026, 7, 1, 2, 0, tzinfo=UTC)),  # 01/07/2026
]
PERIODS = [
    (date(2026, 1, 1), date(2026, 12, 31)),  # a whole year
    (date(2026, 10, 1), date(2026, 12, 31)),  # a quarter: whole months
    (date(2026, 11, 15), date(2027, 1, 10)),  # days, a whole month, days
    (date(2026, 4, 1), date(2026, 4, 1)),  # one day
]


def local_day(at: datetime, tz) -> date:
    return at.astimezone(tz).date()


async def add_dossiers(app, org) -> None:
    """The first half through the intake API's path, the rest through the import's."""
    units = {"w1": org.ward.id, "w2": org.ward2.id}
    rows = []
    async with app.db.write() as session:
        for n, (unit, with_procedure, at) in enumerate(DOSSIERS):
            procedure = org.procedure.id if with_procedure else None
            if n < len(DOSSIERS) // 2:
                await dossiers.add(
                    session,
                    receipt_code=f"API-{n}",
                    unit_id=units[unit],
                    procedure_id=procedure,
                    completed_at=at,
                    now=app.now(),
                    tz=app.tz,
                )
            else:
                rows.append((f"IMP-{n}", units[unit], procedure, at, None, None, app.now()))
        _ids, taken = await bulk_dossiers.insert_dossiers(session, rows, app.tz)
        assert taken == []


async def add_quotas(app, org) -> dict[int, tuple]:
    """A quota per period for the province, for ward 1, and for the province limited to
    the procedure's field; returns {quota id: (unit key, period, limited)}."""
    made = {}
    async with app.db.write() as session:
        other = ProcedureField(code="XD", name="Xây dựng")
        session.add(other)
        await session.flush()
        for first, last in PERIODS:
            for key, unit, limited in (
                ("province", org.province, False),
                ("w1", org.ward, False),
                ("province", org.province, True),
            ):
                quota = Quota(unit_id=unit.id, period_start=first, period_end=last, target_count=9)
                session.add(quota)
                await session.flush()
                if limited:
                    session.add(QuotaField(quota_id=quota.id, field_id=org.procedure.field_id))
                made[quota.id] = (key, (first, last), limited)
    return made


def by_hand(app, key: str, period: tuple[date, date], limited: bool) -> int:
    first, last = period
    return sum(
        1
        for unit, with_procedure, at in DOSSIERS
        if (key == "province" or unit == key)
        and first <= local_day(at, app.tz) <= last
        and (with_procedure or not limited)
    )


async def rollup_rows(app) -> list:
    """Each dossier rollup's rows as (unit id, period, field id, dossiers), sorted."""
    async with app.db.read() as session:
        found = []
        for table, period in (
            (RollupDossier, "day"),
            (RollupDossierMonth, "month"),
            (RollupDossierYear, "year"),
        ):
            rows = (await session.exec(select(table))).scalars().all()
            found.append(
                sorted((r.unit_id, getattr(r, period), r.field_id, r.dossiers) for r in rows)
            )
        return found


async def test_quota_dossier_counts_are_those_counted_by_hand(app):
    assert str(app.tz) == "Asia/Ho_Chi_Minh"
    org = await make_org(app)
    await add_dossiers(app, org)
    made = await add_quotas(app, org)
    async with app.db.read() as session:
        progress = await quota_store.quota_progress(
            session, org.province, date(2026, 1, 1), date(2027, 12, 31), app.tz
        )
    counted = {q.quota_id: q.dossiers for q in progress}
    expected = {qid: by_hand(app, *spec) for qid, spec in made.items()}
    assert counted == expected
    assert sorted(set(expected.values())) == [0, 1, 2, 3, 4, 5]  # the cases differ


async def test_a_rebuild_gives_the_rows_the_increments_wrote(app):
    org = await make_org(app)
    await add_dossiers(app, org)
    written = await rollup_rows(app)
    assert all(written)  # day, month and year rows
    async with app.db.write() as session:
        for table in (RollupDossier, RollupDossierMonth, RollupDossierYear):
            await session.exec(delete(table))
    async with app.db.write() as session:
        assert await rollups.missing(session)  # what `sipas-bot db upgrade` checks
        await rollups.rebuild(session, app.tz)
    async with app.db.write() as session:
        assert not await rollups.missing(session)
    assert await rollup_rows(app) == written


async def test_a_zone_whose_offset_changes_counts_the_same_days(app):
    """Europe/Berlin has summer time: SQLite cannot shift by one offset there, so an
    import's batch is counted in Python instead (PostgreSQL converts in SQL)."""
    berlin = ZoneInfo("Europe/Berlin")
    org = await make_org(app)
    times = [
        datetime(2026, 3, 28, 23, 30, tzinfo=UTC),  # 29/03 00:30 CET
        datetime(2026, 7, 1, 22, 30, tzinfo=UTC),  # 02/07 00:30 CEST
        datetime(2026, 7, 1, 21, 30, tzinfo=UTC),  # 01/07 23:30 CEST
    ]
    rows = [(f"B-{n}", org.ward.id, None, at, None, None, app.now()) for n, at in enumerate(times)]
    async with app.db.write() as session:
        _ids, taken = await bulk_dossiers.insert_dossiers(session, rows, berlin)
        assert taken == []
    days = (await rollup_rows(app))[0]
    assert sorted((d, n) for _unit, d, _field, n in days) == [
        (date(2026, 3, 29), 1),
        (date(2026, 7, 1), 1),
        (date(2026, 7, 2), 1),
    ]
