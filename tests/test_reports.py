"""Satisfaction and quota figures against hand computation, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from bot.render import report_text as reporting
from flows import report_text
from flows.i18n import translator
from flows.periods import month
from flows.privacy import Privacy
from storage import dossiers, flags, reports, rollups
from storage import quotas as quota_store
from storage.models import (
    Quota,
    QuotaField,
    Response,
    RollupAnswer,
    RollupResponse,
    RollupResponseMonth,
)
from tests.builders import Citizen, make_org, new_code


async def survey(app, unit, user, overall, elements=None, *, cancel=False, procedure=None):
    """One citizen's survey; ``elements`` None declines the optional questions."""
    citizen = Citizen(app, user)
    await citizen.say(await new_code(app, unit, procedure=procedure))
    await citizen.say(str(overall))
    if cancel:
        await citizen.say("/cancel")
        return
    if overall in (1, 2):
        await citizen.press_label("Chờ đợi lâu")
        await citizen.press_label("Không cần")
    if elements is None:
        await citizen.press_label("Không, kết thúc")
    else:
        await citizen.press_label("Có, tiếp tục")
        for value in elements:
            await citizen.say("bỏ qua" if value is None else str(value))
            if value in (1, 2) and overall not in (1, 2):
                await citizen.press_label("Chờ đợi lâu")
                await citizen.press_label("Không cần")
    await citizen.press_label("Bỏ qua")


@pytest.fixture
async def rated(app):
    org = await make_org(app)
    await survey(app, org.ward, "c1", 5, [4, 2, 5, None, 3])
    await survey(app, org.ward, "c2", 4)
    await survey(app, org.ward, "c3", 1, [5, 5, 1, 4, None])
    await survey(app, org.ward2, "c4", 3, [3, 4, 4, 5, 5])
    await survey(app, org.ward, "c5", 5, cancel=True)  # abandoned: never counts
    return org


def today(app) -> date:
    return app.now().astimezone(app.tz).date()


async def test_satisfaction_matches_hand_computation(app, rated):
    async with app.db.read() as session:
        report = await reports.satisfaction(session, rated.province, today(app), today(app), app.tz)
    total = report.total
    # Pooled over both wards: overall 5,4,1,3 → 2/4; E1 4,5,3 → 2/3; E2 2,5,4 → 2/3;
    # E3 5,1,4 → 2/3; E4 4,5 → 2/2 (one skip leaves the denominator); E5 3,5 → 1/2.
    assert total.respondents == 4
    assert total.overall_question == pytest.approx(0.5)
    assert total.elements == pytest.approx(
        {"E1": 2 / 3, "E2": 2 / 3, "E3": 2 / 3, "E4": 1.0, "E5": 0.5}
    )
    assert total.percent == pytest.approx((2 / 3 * 3 + 1.0 + 0.5) / 5)  # 70 %
    # 17 answers: c1 5,4,2,5,3 · c2 4 · c3 1,5,5,1,4 · c4 3,3,4,4,5,5
    assert total.distribution == {1: 2, 2: 1, 3: 3, 4: 5, 5: 6}
    assert total.mean == pytest.approx((2 + 2 + 9 + 20 + 30) / 17)

    by_code = {u.unit_code: u for u in report.units}
    ward1, ward2 = by_code["P.W1"], by_code["P.W2"]
    assert ward1.respondents == 3 and ward2.respondents == 1
    # Ward 1: E1 4,5 → 1; E2 2,5 → ½; E3 5,1 → ½; E4 4 → 1; E5 3 → 0; mean 60 %.
    assert ward1.elements == pytest.approx({"E1": 1, "E2": 0.5, "E3": 0.5, "E4": 1, "E5": 0})
    assert ward1.percent == pytest.approx(0.6)
    assert ward1.overall_question == pytest.approx(2 / 3)
    assert ward2.percent == pytest.approx(0.8) and ward2.overall_question == 0
    assert ward1.items["E4"].skipped == 1 and ward1.items["E4"].valid == 1

    data = json.loads(reporting.satisfaction_json(report))
    assert data["total"]["percent"] == 70.0
    assert data["total"]["elements"]["E1"] == 66.67
    assert [u["unit_code"] for u in data["units"]] == ["P.W1", "P.W2"]
    table = reporting.satisfaction_table(report, translator("vi"), month(2026, 11))
    assert "Chung: 70,0%" in table and "4 người trả lời" in table


async def test_flagged_responses_are_left_out_until_cleared(app, rated):
    async with app.db.read() as session:
        c3 = (
            await session.exec(
                select(Response.id).where(
                    Response.respondent_hash == app.keys.user_hash("test", "c3")
                )
            )
        ).scalar_one()
    async with app.db.write() as session:
        assert await flags.flag_responses(session, [c3], "stuffing", app.now(), app.tz) == [c3]
        assert await flags.flag_responses(session, [c3], "again", app.now(), app.tz) == []
    async with app.db.read() as session:
        report = await reports.satisfaction(session, rated.ward, today(app), today(app), app.tz)
    assert report.total.respondents == 2
    assert report.total.overall_question == 1.0  # c1 5 and c2 4
    async with app.db.write() as session:
        assert await flags.clear_flags(session, [c3], app.tz) == [c3]
    async with app.db.read() as session:
        report = await reports.satisfaction(session, rated.ward, today(app), today(app), app.tz)
    assert report.total.respondents == 3 and report.total.overall_question == pytest.approx(2 / 3)


async def test_rollups_kept_by_increments_equal_a_rebuild_from_raw_answers(app, rated):
    async with app.db.read() as session:
        ids = (await session.exec(select(Response.id).order_by(Response.id))).scalars().all()
    async with app.db.write() as session:
        await flags.flag_responses(session, ids[:2], "test", app.now(), app.tz)
        await flags.clear_flags(session, ids[:1], app.tz)

    async def snapshot():
        answer_columns = (
            RollupAnswer.unit_id,
            RollupAnswer.day,
            RollupAnswer.item_code,
            RollupAnswer.n1,
            RollupAnswer.n2,
            RollupAnswer.n3,
            RollupAnswer.n4,
            RollupAnswer.n5,
            RollupAnswer.skipped,
        )
        response_columns = (
            RollupResponse.unit_id,
            RollupResponse.day,
            RollupResponse.field_id,
            RollupResponse.responses,
        )
        month_columns = (
            RollupResponseMonth.unit_id,
            RollupResponseMonth.month,
            RollupResponseMonth.field_id,
            RollupResponseMonth.responses,
        )
        async with app.db.read() as session:
            answers = sorted(tuple(r) for r in (await session.exec(select(*answer_columns))).all())
            responses = sorted(
                tuple(r) for r in (await session.exec(select(*response_columns))).all()
            )
            months = sorted(tuple(r) for r in (await session.exec(select(*month_columns))).all())
        # Rows that went back to zero are harmless; compare what counts.
        return (
            [a for a in answers if any(a[3:])],
            [r for r in responses if r[3]],
            [m for m in months if m[3]],
        )

    incremental = await snapshot()
    async with app.db.write() as session:
        await rollups.rebuild(session, app.tz)
    assert await snapshot() == incremental
    assert incremental[1] and sum(r[3] for r in incremental[1]) == 3  # 4 completed, 1 flagged
    assert sum(m[3] for m in incremental[2]) == 3


async def test_period_bounds_are_local_days(app, clock):
    org = await make_org(app)
    # 23:59 on 31/10 in Hà Nội is 16:59 UTC; 00:01 on 1/11 is 17:01 UTC on 31/10.
    clock.now = datetime(2023, 10, 31, 16, 59, tzinfo=UTC)
    await survey(app, org.ward, "late-october", 5)
    clock.now = datetime(2023, 10, 31, 17, 1, tzinfo=UTC)
    await survey(app, org.ward, "early-november", 1)
    october = month(2023, 10)
    november = month(2023, 11)
    async with app.db.read() as session:
        oct_report = await reports.satisfaction(
            session, org.ward, october.start, october.end, app.tz
        )
        nov_report = await reports.satisfaction(
            session, org.ward, november.start, november.end, app.tz
        )
    assert oct_report.total.respondents == 1 and oct_report.total.overall_question == 1.0
    assert nov_report.total.respondents == 1 and nov_report.total.overall_question == 0.0


async def test_quota_progress_counts_subtree_fields_and_dossier_share(app, rated):
    day = today(app)
    async with app.db.write() as session:
        session.add(
            Quota(
                unit_id=rated.ward.id,
                period_start=day.replace(day=1),
                period_end=day,
                target_count=300,
                label="tháng",
            )
        )
        province_quota = Quota(
            unit_id=rated.province.id,
            period_start=day,
            period_end=day,
            target_count=4,
            target_ratio=0.15,
        )
        session.add(province_quota)
        other_field = Quota(
            unit_id=rated.province.id, period_start=day, period_end=day, target_count=10
        )
        session.add(other_field)
        await session.flush()
        from storage.models import ProcedureField

        empty = ProcedureField(code="XD", name="Xây dựng")
        session.add(empty)
        await session.flush()
        session.add(QuotaField(quota_id=other_field.id, field_id=empty.id))
        # Limited to the field the surveyed procedure belongs to: everything counts.
        same_field = Quota(
            unit_id=rated.province.id, period_start=day, period_end=day, target_count=7
        )
        session.add(same_field)
        await session.flush()
        session.add(QuotaField(quota_id=same_field.id, field_id=rated.procedure.field_id))
        for i in range(20):
            await dossiers.add(
                session,
                receipt_code=f"R{i}",
                unit_id=rated.ward.id,
                procedure_id=rated.procedure.id,
                completed_at=app.now(),
                now=app.now(),
                tz=app.tz,
            )
    async with app.db.read() as session:
        rows = await quota_store.quota_progress(session, rated.province, day, day, app.tz)
    by_target = {q.target_count: q for q in rows}
    assert (by_target[300].collected, by_target[300].remaining) == (3, 297)
    province = by_target[4]
    assert province.collected == 4 and province.percent == 1.0 and province.remaining == 0
    assert province.dossiers == 20 and province.surveyed_share == pytest.approx(0.2)
    assert by_target[10].collected == 0 and by_target[10].fields == ["Xây dựng"]
    assert by_target[10].dossiers == 0
    # The ratings came from codes without a procedure, so no field: none count here.
    assert (by_target[7].collected, by_target[7].dossiers) == (0, 20)

    line = report_text.quota_count(by_target[300], translator("vi"))
    assert line == "3/300 phiếu (1,0%), còn thiếu 297"
    share = report_text.dossier_share(province, translator("vi"))
    assert share == "khảo sát 20,0% số hồ sơ (chỉ tiêu 15,0%)"


async def test_quota_limited_to_a_field_counts_only_that_field(app):
    org = await make_org(app)
    await survey(app, org.ward, "f1", 5, procedure=org.procedure)
    await survey(app, org.ward, "f2", 4, procedure=org.procedure)
    await survey(app, org.ward, "n1", 3)  # a code without a procedure: no field
    day = today(app)
    async with app.db.write() as session:
        limited = Quota(unit_id=org.province.id, period_start=day, period_end=day, target_count=7)
        whole = Quota(unit_id=org.province.id, period_start=day, period_end=day, target_count=8)
        session.add_all([limited, whole])
        await session.flush()
        session.add(QuotaField(quota_id=limited.id, field_id=org.procedure.field_id))
    async with app.db.read() as session:
        rows = await quota_store.quota_progress(session, org.province, day, day, app.tz)
    by_target = {q.target_count: q.collected for q in rows}
    assert by_target == {7: 2, 8: 3}


async def surveys_around_month_ends(app, clock):
    """One completed survey on each of 31/1, 1/2, 15/2, 1/3, 31/3 and 1/4/2027."""
    org = await make_org(app)
    days = [(2027, 1, 31), (2027, 2, 1), (2027, 2, 15), (2027, 3, 1), (2027, 3, 31), (2027, 4, 1)]
    for n, (y, m, d) in enumerate(days):
        clock.now = datetime(y, m, d, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội, the same day
        await survey(app, org.ward, f"m{n}", 5)
    return org


async def test_quota_periods_mixing_whole_months_and_loose_days(app, clock):
    """Whole months are read from the month rollups, the days around them from the day
    rollups: every split must count each response exactly once."""
    org = await surveys_around_month_ends(app, clock)
    periods = {
        1: (date(2027, 1, 31), date(2027, 3, 31)),  # a loose day, then February and March
        2: (date(2027, 2, 2), date(2027, 3, 1)),  # no whole month
        3: (date(2027, 1, 1), date(2027, 4, 30)),  # four whole months
        4: (date(2027, 2, 1), date(2027, 2, 28)),  # exactly one month
        5: (date(2027, 3, 1), date(2027, 4, 1)),  # March, then a loose day
    }
    async with app.db.write() as session:
        for target, (first, last) in periods.items():
            session.add(
                Quota(unit_id=org.ward.id, period_start=first, period_end=last, target_count=target)
            )
    async with app.db.read() as session:
        rows = await quota_store.quota_progress(
            session, org.province, date(2027, 1, 1), date(2027, 12, 31), app.tz
        )
    assert {q.target_count: q.collected for q in rows} == {1: 5, 2: 2, 3: 6, 4: 2, 5: 3}


async def test_report_respondents_over_whole_months_and_loose_days(app, clock):
    """The report's respondents and channels come from the month rollups for whole
    months and the day rollups around them: each response counted exactly once."""
    org = await surveys_around_month_ends(app, clock)
    periods = {
        (date(2027, 1, 31), date(2027, 3, 31)): 5,  # a loose day, then February and March
        (date(2027, 2, 2), date(2027, 3, 1)): 2,  # no whole month
        (date(2027, 1, 1), date(2027, 4, 30)): 6,  # four whole months
        (date(2027, 3, 1), date(2027, 4, 1)): 3,  # March, then a loose day
    }
    for (first, last), expected in periods.items():
        async with app.db.read() as session:
            report = await reports.satisfaction(session, org.province, first, last, app.tz)
        assert report.total.respondents == expected, (first, last)
        assert sum(report.total.channels.values()) == expected


async def test_empty_period(app):
    org = await make_org(app)
    async with app.db.read() as session:
        report = await reports.satisfaction(
            session, org.province, date(2020, 1, 1), date(2020, 1, 31), app.tz
        )
    assert report.total.respondents == 0 and report.total.percent is None and report.units == []
    assert "Chưa có phiếu" in reporting.satisfaction_table(report, translator("vi"), month(2020, 1))


async def test_rollup_days_follow_the_zone_even_with_daylight_saving(app, clock):
    """SQLite has no time zones: for a zone whose offset changes, days are worked out in
    Python; PostgreSQL does it in SQL. Both must agree with a hand computation."""
    from zoneinfo import ZoneInfo

    org = await make_org(app)
    clock.now = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 00:30 on 29/3 in Berlin (CET)
    await survey(app, org.ward, "before-dst", 5)
    clock.now = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)  # 00:30 on 2/7 in Berlin (CEST)
    await survey(app, org.ward, "after-dst", 4)
    async with app.db.read() as session:
        _answers, responses = await rollups.raw_counts(session, ZoneInfo("Europe/Berlin"))
    assert sorted((r["day"], r["responses"]) for r in responses) == [
        (date(2026, 3, 29), 1),
        (date(2026, 7, 2), 1),
    ]


async def test_responses_per_channel_in_reports_and_quotas(app, rated):
    from sqlalchemy import update

    from storage.models import RollupChannel, RollupChannelMonth

    async def channel_rows():
        async with app.db.read() as session:
            rows = []
            for table in (RollupChannel, RollupChannelMonth):
                columns = [c for c in table.__table__.columns]
                found = (await session.exec(select(*columns))).all()
                rows.append(sorted(tuple(r) for r in found if r[-1]))
            return rows

    incremental = await channel_rows()
    async with app.db.write() as session:
        await rollups.rebuild(session, app.tz)
    assert await channel_rows() == incremental  # kept by increments = rebuilt from raw

    # Two of the four completed responses came by Zalo and on paper.
    async with app.db.write() as session:
        ids = (
            (
                await session.exec(
                    select(Response.id).where(Response.status == "completed").order_by(Response.id)
                )
            )
            .scalars()
            .all()
        )
        await session.exec(update(Response).where(Response.id == ids[0]).values(channel="zalo"))
        await session.exec(update(Response).where(Response.id == ids[3]).values(channel="paper"))
        await rollups.rebuild(session, app.tz)
        day = today(app)
        session.add(Quota(unit_id=rated.province.id, period_start=day, period_end=day,
                          target_count=10))  # fmt: skip
    async with app.db.read() as session:
        report = await reports.satisfaction(session, rated.province, day, day, app.tz)
        quotas = await quota_store.quota_progress(session, rated.province, day, day, app.tz)
    assert report.total.channels == {"zalo": 1, "paper": 1, "test": 2}
    assert sum(report.total.channels.values()) == report.total.respondents == 4
    assert sum(sum(u.channels.values()) for u in report.units) == 4
    (quota,) = quotas
    assert quota.collected == 4 and quota.channels == report.total.channels  # all count

    t = translator("vi")
    text = report_text.satisfaction_text(report, t, month(day.year, day.month), Privacy())
    assert "Theo kênh: Zalo 1 · phiếu giấy 1 · test 2" in text  # present ones, in order
    quota_lines = report_text.quota_text(quotas, t, "Tỉnh", month(day.year, day.month), day)
    assert "Theo kênh: Zalo 1 · phiếu giấy 1 · test 2" in quota_lines
    assert reporting.quota_data(quotas)[0]["channels"] == {"zalo": 1, "paper": 1, "test": 2}
    data = reporting.satisfaction_data(report)
    assert data["total"]["channels"] == {"zalo": 1, "paper": 1, "test": 2}
    assert "web" not in data["total"]["channels"]  # only channels present


def test_every_channel_has_a_translated_label():
    vi = translator("vi")
    for channel in report_text.CHANNEL_LABELS:
        assert report_text.channel_label(channel, vi) != ""
    assert report_text.channel_label("kiosk", vi) == "máy tính bảng tại quầy"
    assert report_text.channel_label("new-channel", vi) == "new-channel"


async def test_a_long_unit_name_is_cut_with_an_ellipsis_in_the_table(app, rated):
    from sqlalchemy import update

    from storage.models import Unit

    long = "Bộ phận tiếp nhận và trả kết quả giải quyết thủ tục hành chính của phường Một"
    async with app.db.write() as session:
        await session.exec(update(Unit).where(Unit.id == rated.ward.id).values(name=long))
    day = today(app)
    async with app.db.read() as session:
        report = await reports.satisfaction(session, rated.province, day, day, app.tz)
    text = reporting.satisfaction_table(report, translator("vi"), month(day.year, day.month))
    (line,) = [line for line in text.splitlines() if line.startswith("  Bộ phận")]
    cut = line.split("  ")[1]
    assert cut.endswith("…") and len(cut) == 40 and long.startswith(cut[:-1])
