"""Reports and quotas read whole years, whole months and loose days from three kinds of
rollup (storage.rollup_periods): every split must give the figures the day rollups alone
give, and the month and year rollups kept by the live increments must equal a rebuild."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select, text

from storage import flags, reports, rollup_periods, rollups
from storage import quotas as quota_store
from storage.models import (
    Quota,
    QuotaField,
    Response,
    RollupAnswer,
    RollupAnswerMonth,
    RollupChannel,
    RollupChannelMonth,
    RollupChannelYear,
    RollupResponse,
    RollupResponseMonth,
)
from tests.builders import make_org
from tests.test_reports import survey

# (day, ward 1 or 2, overall, the optional answers or None, with the procedure's field)
SURVEYS = [
    ((2026, 12, 31), 1, 5, [4, 2, 5, None, 3], True),
    ((2027, 1, 1), 2, 1, None, False),
    ((2027, 1, 31), 1, 3, [3, 4, 4, 5, 5], True),
    ((2027, 2, 1), 1, 4, None, False),
    ((2027, 2, 15), 2, 2, [5, None, 1, 4, 4], True),
    ((2027, 12, 31), 1, 5, None, True),
    ((2028, 1, 1), 2, 4, [2, 3, 4, 5, 1], False),
]

PERIODS = [
    (date(2026, 12, 31), date(2027, 12, 31)),  # a loose day, then the year 2027
    (date(2027, 1, 1), date(2027, 12, 31)),  # exactly one year
    (date(2026, 12, 1), date(2028, 1, 31)),  # a month, a year, a month
    (date(2026, 12, 31), date(2028, 1, 1)),  # a loose day, a year, a loose day
    (date(2027, 1, 31), date(2027, 2, 15)),  # loose days only
    (date(2027, 2, 1), date(2027, 12, 31)),  # whole months, no whole year
    (date(2027, 1, 15), date(2027, 12, 20)),  # loose days around whole months
    (date(2026, 1, 1), date(2028, 12, 31)),  # three years
]


async def surveys_around_year_ends(app, clock):
    org = await make_org(app)
    for n, ((y, m, d), ward, overall, elements, with_field) in enumerate(SURVEYS):
        clock.now = datetime(y, m, d, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội, the same day
        unit = org.ward if ward == 1 else org.ward2
        procedure = org.procedure if with_field else None
        await survey(app, unit, f"y{n}", overall, elements, procedure=procedure)
    return org


def report_figures(report) -> tuple:
    def of(s):
        items = {
            code: (i.element_code, dict(sorted(i.counts.items())), i.skipped)
            for code, i in sorted(s.items.items())
        }
        return (s.unit_code, s.respondents, dict(sorted(s.channels.items())), items)

    return of(report.total), [of(u) for u in report.units]


def day_rollups_only(monkeypatch) -> None:
    """Have reports and quotas read every period from the day rollups alone."""
    monkeypatch.setattr(
        reports, "answer_rollup_parts", lambda a, b: [(RollupAnswer, RollupAnswer.day, a, b)]
    )
    days = lambda a, b: [(RollupChannel, RollupChannel.day, a, b)]  # noqa: E731
    monkeypatch.setattr(reports, "channel_rollup_parts", days)
    monkeypatch.setattr(quota_store, "channel_rollup_parts", days)


async def read_all(app, org) -> tuple[list, list]:
    figures, progress = [], []
    async with app.db.read() as session:
        for first, last in PERIODS:
            report = await reports.satisfaction(session, org.province, first, last, app.tz)
            figures.append(report_figures(report))
        rows = await quota_store.quota_progress(
            session, org.province, date(2026, 1, 1), date(2028, 12, 31), app.tz
        )
        progress = [(q.quota_id, q.collected, q.channels, q.dossiers) for q in rows]
    return figures, progress


async def test_years_months_and_days_give_the_figures_of_the_day_rollups(app, clock, monkeypatch):
    org = await surveys_around_year_ends(app, clock)
    async with app.db.write() as session:
        for n, (first, last) in enumerate(PERIODS):
            for unit in (org.province, org.ward, org.ward2):
                session.add(
                    Quota(unit_id=unit.id, period_start=first, period_end=last, target_count=n)
                )
        limited = Quota(
            unit_id=org.province.id,
            period_start=PERIODS[0][0],
            period_end=PERIODS[0][1],
            target_count=99,
        )
        session.add(limited)
        await session.flush()
        session.add(QuotaField(quota_id=limited.id, field_id=org.procedure.field_id))
    # Whole years and months are read from their own rollups here.
    tables = [t for t, *_ in rollup_periods.channel_rollup_parts(*PERIODS[2])]
    assert tables == [RollupChannelYear, RollupChannelMonth, RollupChannelMonth]
    tables = [t for t, *_ in rollup_periods.answer_rollup_parts(*PERIODS[6])]
    assert tables == [RollupAnswerMonth, RollupAnswer, RollupAnswer]

    mixed = await read_all(app, org)
    day_rollups_only(monkeypatch)
    assert await read_all(app, org) == mixed

    figures, progress = mixed
    respondents = [total[1] for total, _units in figures]
    assert respondents == [6, 5, 7, 7, 3, 3, 3, 7]
    assert figures[3][0][3]["E1"] == ("E1", {2: 1, 3: 1, 4: 1, 5: 1}, 0)
    collected = {quota_id: n for quota_id, n, _channels, _dossiers in progress}
    assert sorted(collected.values())[-1] == 7 and collected[limited.id] == 4


async def test_month_and_year_rollups_kept_by_increments_equal_a_rebuild(app, clock):
    await surveys_around_year_ends(app, clock)
    async with app.db.read() as session:
        ids = (await session.exec(select(Response.id).order_by(Response.id))).scalars().all()
    async with app.db.write() as session:  # flagged, one of them counted again
        await flags.flag_responses(session, ids[1:3], "test", clock.now, app.tz)
        await flags.clear_flags(session, ids[1:2], app.tz)

    tables = (
        RollupAnswer,
        RollupAnswerMonth,
        RollupResponse,
        RollupResponseMonth,
        RollupChannel,
        RollupChannelMonth,
        RollupChannelYear,
    )

    async def snapshot() -> dict[str, list]:
        counts = {"n1", "n2", "n3", "n4", "n5", "skipped", "responses"}
        found = {}
        async with app.db.read() as session:
            for table in tables:
                columns = list(table.__table__.columns)
                rows = (await session.exec(select(*columns))).all()
                # Rows that went back to zero are harmless; compare what counts.
                at = [i for i, c in enumerate(columns) if c.name in counts]
                found[table.__tablename__] = sorted(tuple(r) for r in rows if any(r[i] for i in at))
        return found

    incremental = await snapshot()
    async with app.db.write() as session:
        await rollups.rebuild(session, app.tz)
    assert await snapshot() == incremental
    years = incremental["rollup_channel_year"]
    assert sum(r[-1] for r in years) == len(SURVEYS) - 1  # one still flagged
    assert {r[1] for r in years} == {date(2026, 1, 1), date(2027, 1, 1), date(2028, 1, 1)}
    assert {r[1] for r in incremental["rollup_answer_month"]} == {
        date(2026, 12, 1),
        date(2027, 1, 1),
        date(2027, 2, 1),
        date(2027, 12, 1),
        date(2028, 1, 1),
    }


async def test_quota_counts_are_planned_for_their_values(app):
    """On PostgreSQL the first statement of /quota sets ``plan_cache_mode`` for the rest
    of its transaction (storage.sql.planning_later_queries_for_their_values)."""
    org = await make_org(app)
    day = date(2026, 11, 24)
    async with app.db.write() as session:
        session.add(Quota(unit_id=org.ward.id, period_start=day, period_end=day, target_count=1))
    async with app.db.read() as session:
        (quota,) = await quota_store.quota_progress(session, org.province, day, day, app.tz)
        if app.db.is_postgres:
            mode = (await session.exec(text("SHOW plan_cache_mode"))).scalar_one()
            assert mode == "force_custom_plan"
    assert quota.collected == 0
    if app.db.is_postgres:
        async with app.db.read() as session:  # for that transaction only
            assert (await session.exec(text("SHOW plan_cache_mode"))).scalar_one() == "auto"
