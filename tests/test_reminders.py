"""Reminders end to end through the real engine and database, with a clock moved by hand:
working days, quiet hours, one-tap answers from two channels, escalation, quota
nudges, idempotent passes, concurrent dispatchers and crashes."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select

import bot.services.notify
from bot.core.app import App
from bot.services.deadlines import DeadlineSpec, create
from bot.services.reminders import dispatch_pass, plan_pass, run_due
from flows import questionnaire as qn
from scheduler.calendar import WorkCalendar
from scheduler.recurrence import parse_schedule
from storage import deadlines as store
from storage import holiday_overrides as holiday_store
from storage import people, rollups
from storage.models import Assignment, Outbox, Person, Quota, Reminder, Response
from tests.builders import Citizen, make_org, new_registration

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
BUTTONS = ["Đã xong", "Nhắc lại sau", "Không phải việc của tôi"]


def at(clock, *when: int) -> None:
    """Set the clock to a local (Hà Nội) time."""
    clock.now = datetime(*when, tzinfo=TZ).astimezone(UTC)


async def add_deadline(app, code: str, schedule: str, **kw) -> int:
    spec = DeadlineSpec(code, f"Báo cáo {code}", parse_schedule(schedule), **kw)
    async with app.db.write() as session:
        deadline, errors = await create(session, spec, app.now().astimezone(TZ).date())
    assert not errors, errors
    return deadline.id


async def register(app, unit, role: str, name: str, channel: str, user: str) -> Citizen:
    """A staff member who linked their chat account by sending their registration code."""
    person = Citizen(app, user, channel=channel)
    await person.say(await new_registration(app, unit, role, name))
    await person.inbox()  # the welcome
    return person


async def staff(app):
    org = await make_org(app)
    team = {
        "an": await register(app, org.ward, "official", "Nguyễn Văn An", "telegram", "tg-an"),
        "binh": await register(app, org.ward, "official", "Trần Thị Bình", "zalo", "za-binh"),
        "cuong": await register(app, org.ward2, "official", "Lê Văn Cường", "telegram", "tg-cuong"),
        "lan": await register(app, org.ward, "leader", "Phạm Thị Lan", "telegram", "tg-lan"),
        "hoa": await register(app, org.province, "admin", "Đỗ Thị Hoa", "zalo", "za-hoa"),
    }
    return org, team


async def payload(person: Citizen, title: str, label: str) -> str:
    """The payload of ``label`` on the latest reminder this person got about ``title``."""
    for message in reversed(await person.all_messages()):
        if title in message["text"] and message.get("buttons"):
            return next(b["payload"] for b in message["buttons"] if b["label"] == label)
    raise AssertionError(f"no reminder about {title!r}")


async def press(person: Citizen, title: str, label: str) -> list[dict]:
    """Press ``label`` on the latest reminder this person got about ``title``."""
    return await person.press(await payload(person, title, label))


async def outbox_count(app) -> int:
    async with app.db.read() as session:
        return (await session.exec(select(func.count()).select_from(Outbox))).scalar_one()


async def statuses(app, model, *columns):
    async with app.db.read() as session:
        return (await session.exec(select(*columns).order_by(model.id))).all()


# --- working days and quiet hours ---------------------------------------------------------


async def test_reminders_fall_on_working_days_around_tet_and_passes_are_idempotent(app, clock):
    at(clock, 2027, 1, 20, 8, 0)
    _org, team = await staff(app)
    await add_deadline(app, "BC", "12/02/2027", unit_codes=["P.W1"])
    got: dict[date, list[dict]] = {}
    day = date(2027, 1, 20)
    while day <= date(2027, 2, 16):
        at(clock, day.year, day.month, day.day, 8, 0)
        await run_due(app)
        before = await outbox_count(app)
        again = await run_due(app)  # the same instant again: nothing new
        assert (again.plan.reminders, again.dispatch.sent, again.nudges) == (0, 0, 0)
        assert await outbox_count(app) == before
        if messages := await team["an"].inbox():
            got[day] = messages
        day += timedelta(days=1)

    # 10, 5 and 1 working days before (Tết 4–10/2 does not count), the day, then overdue.
    assert list(got) == [
        date(2027, 1, 22),
        date(2027, 1, 29),
        date(2027, 2, 11),
        date(2027, 2, 12),
        date(2027, 2, 15),
        date(2027, 2, 16),
    ]
    assert all(len(m) == 1 for m in got.values())
    texts = [m[0]["text"] for m in got.values()]
    assert texts[0].startswith("Nhắc việc: Báo cáo BC\nHạn 12/02/2027, còn 10 ngày làm việc.")
    assert "còn 5 ngày làm việc" in texts[1] and "còn 1 ngày làm việc" in texts[2]
    assert texts[3].startswith("Hôm nay là hạn: Báo cáo BC\nHạn chót là hôm nay (12/02/2027).")
    assert texts[4].startswith("Quá hạn: Báo cáo BC\nQuá hạn 1 ngày làm việc (hạn 12/02/2027).")
    assert [b["label"] for b in got[date(2027, 1, 22)][0]["buttons"]] == BUTTONS
    # Bình, also in the ward, got the same six; the other ward's official none.
    assert len(await team["binh"].inbox()) == 6 and await team["cuong"].inbox() == []


async def test_a_swap_day_from_the_override_list_is_a_working_day(app, clock):
    at(clock, 2027, 2, 15, 9, 0)
    _org, team = await staff(app)
    async with app.db.write() as session:
        await holiday_store.set_override(session, date(2027, 2, 20), True, "Làm bù", app.now())
    await add_deadline(app, "SWAP", "22/02/2027", unit_codes=["P.W1"], offsets=(1,))
    at(clock, 2027, 2, 19, 9, 0)  # Friday: not the day any more
    await run_due(app)
    assert await team["an"].inbox() == []
    at(clock, 2027, 2, 20, 9, 0)  # the worked Saturday
    await run_due(app)
    [message] = await team["an"].inbox()
    assert "Hạn 22/02/2027, còn 1 ngày làm việc." in message["text"]


async def test_quiet_hours_hold_reminders_until_the_next_working_morning(app, clock):
    at(clock, 2027, 1, 22, 18, 30)  # Friday evening
    _org, team = await staff(app)
    # Due Monday: its "5 and 1 days before" are already past, so it is reminded at once…
    await add_deadline(app, "LATE", "25/01/2027", unit_codes=["P.W1"], offsets=(5, 1, 0))
    for when in ((2027, 1, 22, 18, 30), (2027, 1, 23, 10, 0), (2027, 1, 25, 7, 29)):
        at(clock, *when)  # …but not in the evening, at the weekend, or before 07:30
        result = await run_due(app)
        assert result.dispatch.sent == 0 and await team["an"].inbox() == []
    at(clock, 2027, 1, 25, 7, 30)
    await run_due(app)
    [message] = await team["an"].inbox()  # Friday's catch-up and Monday's: one message
    assert message["text"].startswith("Hôm nay là hạn: Báo cáo LATE")
    rows = await statuses(app, Reminder, Reminder.person_id, Reminder.status, Reminder.reason)
    done_with = [r for r in rows if r.status != "pending"]
    assert sorted((r.status, r.reason) for r in done_with) == [
        ("cancelled", "superseded"),
        ("cancelled", "superseded"),
        ("sent", None),
        ("sent", None),
    ]  # An and Bình: one sent, one superseded each


async def test_recurring_deadline_across_the_year_boundary(app, clock):
    at(clock, 2026, 12, 1, 8, 0)
    _org, team = await staff(app)
    await add_deadline(app, "THANG", "monthly 20", unit_codes=["P.W2"], offsets=(1, 0))
    days = []
    day = date(2026, 12, 1)
    while day <= date(2027, 1, 22):
        at(clock, day.year, day.month, day.day, 9, 0)
        await run_due(app)
        for message in await team["cuong"].inbox():
            days.append((day, message["text"].split("\n")[1]))
            if day == date(2026, 12, 18):
                await press(team["cuong"], "THANG", "Đã xong")
        day += timedelta(days=1)
    # 20/12/2026 is a Sunday: the day before and "the day" are both Friday 18/12, one
    # message; done then, so no overdue ones. January: Tuesday 19 and Wednesday 20.
    assert [d for d, _text in days if d.month == 12] == [date(2026, 12, 18)]
    assert (
        days[0][1] == "Hạn 20/12/2026 là ngày nghỉ: hôm nay là ngày làm việc cuối cùng trước hạn."
    )
    assert [d for d, _text in days if d.year == 2027] == [
        date(2027, 1, 19),
        date(2027, 1, 20),
        date(2027, 1, 21),
        date(2027, 1, 22),
    ]
    assert days[-1][1] == "Quá hạn 2 ngày làm việc (hạn 20/01/2027)."


async def test_a_disabled_deadline_is_quiet_until_enabled_again(app, clock):
    at(clock, 2027, 3, 1, 6, 0)
    _org, team = await staff(app)
    deadline_id = await add_deadline(app, "TAT", "02/03/2027", unit_codes=["P.W1"], offsets=(1,))
    await plan_pass(app)
    async with app.db.write() as session:
        assert await store.set_active(session, deadline_id, False, app.now()) == 2
    at(clock, 2027, 3, 1, 8, 0)
    await run_due(app)
    assert await team["an"].inbox() == []
    async with app.db.write() as session:
        assert await store.set_active(session, deadline_id, True, app.now()) == 2
    await run_due(app)
    [message] = await team["an"].inbox()
    assert message["text"].startswith("Nhắc việc: Báo cáo TAT")


# --- answers in one tap, from either channel ------------------------------------------------


async def test_done_snooze_and_not_mine_from_telegram_and_zalo(app, clock):
    at(clock, 2027, 3, 1, 8, 0)  # Monday
    _org, team = await staff(app)
    an_tg = team["an"]
    async with app.db.read() as session:
        an_id = (
            await session.exec(select(Person.id).where(Person.name == "Nguyễn Văn An"))
        ).scalar_one()
    at(clock, 2027, 3, 1, 8, 5)  # An links Zalo too: now the channel used last
    async with app.db.write() as session:
        await people.link_channel(
            session, an_id, "zalo", "za-an", app.keys.user_hash("zalo", "za-an"), app.now()
        )
    an_za = Citizen(app, "za-an", channel="zalo")
    for code in ("A", "B", "C"):
        await add_deadline(app, code, "03/03/2027", people=["Nguyễn Văn An"], offsets=(1, 0))

    at(clock, 2027, 3, 2, 8, 0)
    await run_due(app)
    assert len(await an_za.inbox()) == 3 and await an_tg.inbox() == []

    at(clock, 2027, 3, 2, 8, 10)
    [reply] = await press(an_za, "Báo cáo A", "Đã xong")
    assert (
        reply["text"]
        == "Đã ghi nhận: Báo cáo A đã hoàn thành (02/03/2027 08:10). Xin cảm ơn Ông/Bà!"
    )
    at(clock, 2027, 3, 2, 9, 0)
    [listing] = await an_tg.say("/tasks")
    assert listing["text"].splitlines()[:3] == [
        "Việc đang chờ Ông/Bà (2):",
        "1. Báo cáo B – hạn 03/03/2027, còn 1 ngày làm việc",
        "2. Báo cáo C – hạn 03/03/2027, còn 1 ngày làm việc",
    ]

    at(clock, 2027, 3, 3, 8, 0)  # due day: Telegram is the channel used last now
    await run_due(app)
    assert len(await an_tg.inbox()) == 2 and await an_za.inbox() == []
    at(clock, 2027, 3, 3, 9, 0)
    [reply] = await press(an_tg, "Báo cáo B", "Nhắc lại sau")
    assert reply["text"] == "Vâng, tôi sẽ nhắc lại Ông/Bà hôm nay lúc 11:00."
    at(clock, 2027, 3, 3, 9, 5)  # Tuesday's Zalo message still works for C
    [reply] = await press(an_za, "Báo cáo C", "Không phải việc của tôi")
    assert "không phải việc của Ông/Bà" in reply["text"]
    await run_due(app)  # the admin is told by the next pass (in office hours)
    [alert] = await team["hoa"].inbox()
    assert alert["text"].startswith(
        "Nguyễn Văn An (Phường Một) báo việc sau không phải việc của mình: "
        "Báo cáo C (hạn 03/03/2027)."
    )
    # A button pressed twice, or on the other channel, changes nothing.
    [again] = await an_tg.press(await payload(an_za, "Báo cáo A", "Đã xong"))
    assert again["text"] == "Ông/Bà đã báo hoàn thành việc này: Báo cáo A."
    # Someone else's button does nothing for them.
    [foreign] = await team["binh"].press(await payload(an_za, "Báo cáo B", "Đã xong"))
    assert foreign["text"] == "Nút này không còn hiệu lực."

    at(clock, 2027, 3, 3, 10, 0)
    assert (await run_due(app)).dispatch.sent == 0  # B is snoozed until 11:00
    at(clock, 2027, 3, 3, 11, 0)
    await run_due(app)
    [snoozed] = await an_za.inbox()  # Zalo was used last (the "not mine" press)
    assert snoozed["text"].startswith("Hôm nay là hạn: Báo cáo B")

    # An chooses Telegram for good; the next reminder goes there although Zalo was last.
    at(clock, 2027, 3, 3, 15, 0)
    [choice] = await an_tg.say("/channel")
    assert "Nhắc việc đang được gửi qua Telegram, kênh Ông/Bà dùng gần nhất." in choice["text"]
    await an_tg.press_label("Luôn gửi qua kênh này (Telegram)")
    await an_za.say("/tasks")
    at(clock, 2027, 3, 4, 8, 0)
    await run_due(app)
    [overdue] = [m for m in await an_tg.inbox() if "Quá hạn" in m["text"]]
    assert overdue["text"].startswith("Quá hạn: Báo cáo B")

    rows = await statuses(
        app, Assignment, Assignment.status, Assignment.answered_channel, Assignment.answered_at
    )
    assert [(r.status, r.answered_channel) for r in rows] == [
        ("done", "zalo"),
        ("pending", None),
        ("not_mine", "zalo"),
    ]
    assert rows[0].answered_at == datetime(2027, 3, 2, 1, 10, tzinfo=UTC)


async def test_snooze_in_the_afternoon_waits_for_the_next_working_morning(app, clock):
    at(clock, 2027, 4, 29, 8, 0)  # Thursday; Friday 30/4 is a holiday, then the weekend
    _org, team = await staff(app)
    await add_deadline(app, "LE", "05/05/2027", unit_codes=["P.W1"], offsets=(5,))
    await run_due(app)
    [first] = await team["an"].inbox()  # 5 working days before was Monday 26/4: catch up
    assert "còn 2 ngày làm việc" in first["text"]
    at(clock, 2027, 4, 29, 16, 0)
    [reply] = await press(team["an"], "Báo cáo LE", "Nhắc lại sau")
    # 1/5 is Saturday (Labour Day), 3/5 its day off in lieu: Tuesday 4/5 at 07:30.
    assert reply["text"] == "Vâng, tôi sẽ nhắc lại Ông/Bà lúc 07:30 ngày 04/05/2027."
    [listing] = await team["an"].say("/tasks")
    assert "(sẽ nhắc lại lúc 07:30 ngày 04/05/2027)" in listing["text"]
    at(clock, 2027, 5, 3, 9, 0)
    await run_due(app)
    assert await team["an"].inbox() == []
    at(clock, 2027, 5, 4, 7, 30)
    await run_due(app)
    [message] = await team["an"].inbox()
    assert "Báo cáo LE" in message["text"] and "còn 1 ngày làm việc" in message["text"]


async def test_done_by_command_and_wrong_roles(app, clock):
    at(clock, 2027, 3, 1, 8, 0)
    _org, team = await staff(app)
    await add_deadline(app, "X", "10/03/2027", unit_codes=["P.W1"])
    await add_deadline(app, "Y", "12/03/2027", unit_codes=["P.W1"])
    await run_due(app)
    # Both were added after their first reminder day: one catch-up digest lists them.
    [digest] = await team["an"].inbox()
    assert "Báo cáo X" in digest["text"] and "Báo cáo Y" in digest["text"]
    [reply] = await team["an"].say("/done 7")
    assert reply["text"] == "Không có việc số 7. Gửi /tasks để xem danh sách."
    [choose] = await team["an"].say("/done")
    assert [b["label"] for b in choose["buttons"]] == ["Báo cáo X (10/03)", "Báo cáo Y (12/03)"]
    [reply] = await team["an"].say("/done 2")
    assert reply["text"].startswith("Đã ghi nhận: Báo cáo Y đã hoàn thành")
    [reply] = await team["an"].say("/tasks")
    assert "Báo cáo Y" not in reply["text"] and "Báo cáo X" in reply["text"]
    citizen = Citizen(app, "someone", channel="zalo")
    [refused] = await citizen.say("/tasks")
    assert "chỉ dành cho cán bộ" in refused["text"]
    [refused] = await team["an"].say("/deadlines")  # leaders and admins only
    assert "chỉ dành cho cán bộ" in refused["text"]
    [stale] = await citizen.press("t:d:1")
    assert stale["text"] == "Nút này không còn hiệu lực."


# --- escalation ---------------------------------------------------------------------------


async def test_leader_gets_the_list_of_who_has_not_answered(app, clock):
    at(clock, 2027, 3, 1, 8, 0)
    _org, team = await staff(app)
    await add_deadline(app, "QUY", "03/03/2027", unit_codes=["P"], offsets=(0,), escalate_after=2)
    day = date(2027, 3, 1)
    leaders: dict[date, list[str]] = {}
    while day <= date(2027, 3, 9):
        at(clock, day.year, day.month, day.day, 8, 0)
        await run_due(app)
        if day == date(2027, 3, 3):
            await press(team["an"], "Báo cáo QUY", "Đã xong")
        for who in ("lan", "hoa"):
            for message in await team[who].inbox():
                leaders.setdefault(day, []).append(f"{who}: {message['text']}")
        day += timedelta(days=1)
    # Two working days overdue is Friday 5/3; once per leader.
    assert list(leaders) == [date(2027, 3, 5)]
    lan, hoa = sorted(leaders[date(2027, 3, 5)])[1], sorted(leaders[date(2027, 3, 5)])[0]
    assert lan == (
        "lan: Báo cáo QUY (hạn 03/03/2027) đã quá hạn 2 ngày làm việc.\n"
        "Chưa trả lời (1/2):\n"
        "• Trần Thị Bình – Phường Một\n"
        "Đã xong: 1/2."
    )
    # Phường Hai has no leader: the province's admin answers for it.
    assert hoa.startswith("hoa: Báo cáo QUY (hạn 03/03/2027) đã quá hạn 2 ngày làm việc.")
    assert "• Lê Văn Cường – Phường Hai" in hoa and "Trần Thị Bình" not in hoa

    at(clock, 2027, 3, 9, 9, 0)
    [overview] = await team["lan"].say("/deadlines")
    assert "• Báo cáo QUY – hạn 03/03/2027: 1/2 đã xong" in overview["text"]
    assert "chưa trả lời: Trần Thị Bình" in overview["text"]


async def test_escalation_is_dropped_when_everyone_answered_in_time(app, clock):
    at(clock, 2027, 3, 1, 8, 0)
    _org, team = await staff(app)
    await add_deadline(app, "OK", "03/03/2027", unit_codes=["P.W1"], offsets=(0,), escalate_after=1)
    at(clock, 2027, 3, 3, 8, 0)
    await run_due(app)
    at(clock, 2027, 3, 4, 6, 0)  # escalation planned for 07:30, both answer before
    await plan_pass(app)
    await press(team["an"], "Báo cáo OK", "Đã xong")
    await press(team["binh"], "Báo cáo OK", "Không phải việc của tôi")
    at(clock, 2027, 3, 4, 8, 0)
    await run_due(app)
    assert await team["lan"].inbox() == []
    reasons = await statuses(app, Reminder, Reminder.kind, Reminder.status, Reminder.reason)
    assert ("escalation", "cancelled", "answered") in [tuple(r) for r in reasons]


# --- quota pace ------------------------------------------------------------------------------


async def add_responses(app, unit, n: int, when: datetime) -> None:
    async with app.db.write() as session:
        qid = await app.questionnaire_id(session, "quick", qn.get("quick").version)
        await session.exec(
            insert(Response),
            params=[
                {
                    "key": f"r{unit.id}-{i:05d}",
                    "unit_id": unit.id,
                    "questionnaire_id": qid,
                    "channel": "zalo",
                    "respondent_hash": f"h{unit.id}-{i}",
                    "status": "completed",
                    "started_at": when,
                    "completed_at": when,
                }
                for i in range(n)
            ],
        )
        await rollups.rebuild(session, app.tz)  # bulk inserts bypass the rollup increments


async def test_quota_behind_pace_nudges_officials_once_a_working_day(app, clock):
    at(clock, 2026, 12, 18, 8, 0)  # Friday: 10 working days left in the quarter
    org, team = await staff(app)
    async with app.db.write() as session:
        for unit in (org.ward, org.ward2):
            session.add(
                Quota(
                    unit_id=unit.id,
                    period_start=date(2026, 10, 1),
                    period_end=date(2026, 12, 31),
                    target_count=300,
                    label="Chỉ tiêu quý IV",
                )
            )
    await add_responses(app, org.ward, 249, datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    await add_responses(app, org.ward2, 280, datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    cal = WorkCalendar()
    assert cal.working_days_between(date(2026, 12, 17), date(2026, 12, 31)) == 10
    assert cal.working_days_between(date(2026, 9, 30), date(2026, 12, 31)) == 65

    result = await run_due(app)
    assert result.nudges == 2  # An and Bình; Phường Hai (280 > 253.8) is on pace
    [nudge] = await team["an"].inbox()
    assert nudge["text"] == (
        "Chỉ tiêu khảo sát đang chậm tiến độ:\n"
        "• Chỉ tiêu quý IV – Phường Một: 249/300 phiếu (83,0%). "
        "Còn 10 ngày làm việc đến 31/12/2026: cần khoảng 6 phiếu mỗi ngày.\n"
        "Đề nghị mời người dân đánh giá bằng mã khảo sát in trên giấy biên nhận."
    )
    assert len(await team["binh"].inbox()) == 1 and await team["cuong"].inbox() == []
    at(clock, 2026, 12, 18, 15, 0)
    assert (await run_due(app)).nudges == 0  # once a day
    at(clock, 2026, 12, 19, 9, 0)
    assert (await run_due(app)).nudges == 0  # Saturday
    at(clock, 2026, 12, 21, 6, 0)  # Monday's 06:00 plan: nothing before the office opens
    assert (await run_due(app)).nudges == 0
    at(clock, 2026, 12, 21, 7, 30)
    assert (await run_due(app)).nudges == 2
    [monday] = await team["an"].inbox()
    assert "Còn 9 ngày làm việc đến 31/12/2026: cần khoảng 6 phiếu mỗi ngày." in monday["text"]


# --- durability and concurrency -------------------------------------------------------------


async def many_officials(app, unit, n: int) -> None:
    """``n`` officials of ``unit``, each linked to a console account."""
    async with app.db.write() as session:
        for i in range(n):
            person = await people.create_person(
                session,
                name=f"Cán bộ {i:03d}",
                role="official",
                unit_id=unit.id,
                registration_code_hash=f"hash-{i}",
                registration_expires_at=app.now(),
            )
            await people.link_channel(session, person.id, "console", f"c{i}", f"uh{i}", app.now())


async def reminder_messages(app) -> list[str]:
    async with app.db.read() as session:
        rows = (await session.exec(select(Outbox.dedupe_key).order_by(Outbox.id))).all()
    return [r[0] for r in rows if r[0] and r[0].startswith("reminder:")]


async def test_two_dispatchers_at_once_send_each_reminder_once(db_url, settings, clock):
    at(clock, 2027, 3, 1, 8, 0)
    first = App(settings, clock=clock)
    second = App(settings, clock=clock)
    try:
        org = await make_org(first)
        await many_officials(first, org.ward, 120)
        await add_deadline(first, "CUNG", "02/03/2027", unit_codes=["P.W1"], offsets=(1,))

        # Two planners at once write each row once…
        await asyncio.gather(plan_pass(first), plan_pass(second))
        async with first.db.read() as session:
            rows = (await session.exec(select(func.count()).select_from(Reminder))).scalar_one()
        assert rows == 120
        # …and two dispatchers at once take disjoint batches.
        one, two = await asyncio.gather(
            dispatch_pass(first, batch=7), dispatch_pass(second, batch=7)
        )
        assert set(one.claimed).isdisjoint(two.claimed)
        assert len(one.claimed) + len(two.claimed) == 120
        assert one.sent + two.sent == 120
        keys = await reminder_messages(first)
        assert len(keys) == 120 == len(set(keys))
        if first.db.is_postgres:  # both really worked, side by side
            assert one.claimed and two.claimed
    finally:
        await first.close()
        await second.close()


async def test_a_crash_between_planning_and_dispatch_loses_nothing(settings, clock, monkeypatch):
    at(clock, 2027, 3, 1, 8, 0)
    app = App(settings, clock=clock)
    org = await make_org(app)
    await many_officials(app, org.ward, 5)
    await add_deadline(app, "BEN", "02/03/2027", unit_codes=["P.W1"], offsets=(1, 0))
    await plan_pass(app)  # committed; then the process "dies" mid-dispatch
    calls = 0
    real = bot.services.notify.notify_people

    async def dies_in_the_second_batch(*args, **kw):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("power cut")
        return await real(*args, **kw)

    monkeypatch.setattr(bot.services.notify, "notify_people", dies_in_the_second_batch)
    with pytest.raises(ConnectionError):
        await dispatch_pass(app, batch=2)
    await app.close()
    monkeypatch.setattr(bot.services.notify, "notify_people", real)

    restarted = App(settings, clock=clock)
    try:
        # The first batch committed with its outbox rows; the failed one left nothing.
        assert len(await reminder_messages(restarted)) == 2
        rows = await statuses(restarted, Reminder, Reminder.status)
        assert sorted(r.status for r in rows) == ["pending"] * 8 + ["sent"] * 2
        result = await run_due(restarted)
        assert result.dispatch.sent == 3
        keys = await reminder_messages(restarted)
        assert len(keys) == 5 == len(set(keys))  # each of today's five once
        assert (await run_due(restarted)).dispatch.sent == 0
    finally:
        await restarted.close()


async def test_serve_runs_the_reminder_clock(db_url, tmp_path, clock):
    from bot.server import background_services
    from tests.conftest import make_settings

    at(clock, 2027, 3, 1, 8, 0)
    app = App(make_settings(db_url, tmp_path / "data", reminder_tick_seconds=0.1), clock=clock)
    try:
        _org, team = await staff(app)
        await add_deadline(app, "TICK", "02/03/2027", unit_codes=["P.W1"], offsets=(1,))
        services = dict(background_services(app))
        stop = asyncio.Event()
        task = asyncio.create_task(services["reminders"](stop))
        try:
            for _ in range(100):  # planned at start, dispatched by the tick: within seconds
                if await reminder_messages(app):
                    break
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)
        [message] = await team["an"].inbox()
        assert message["text"].startswith("Nhắc việc: Báo cáo TICK")
    finally:
        await app.close()
