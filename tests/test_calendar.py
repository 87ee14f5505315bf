"""Working days, office hours and recurrence, checked against the calendar by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.calendar import WorkCalendar
from scheduler.office_hours import OfficeHours
from scheduler.recurrence import ScheduleError, parse_schedule, template

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


def test_vietnam_loaded_alone_is_the_registry_s_calendar():
    """The calendar is loaded from the package's Vietnam module alone (start-up time); it
    must be the very calendar the package's registry gives, names and working days."""
    import holidays

    from scheduler import calendar

    alone = calendar._vietnam_class()
    assert alone is not None, "the package's layout changed: the slow registry path is in use"
    ours, registry = alone(language="vi"), holidays.country_holidays("VN", language="vi")
    for year in (2025, 2026, 2027, 2028):
        ours.get(date(year, 1, 1)), registry.get(date(year, 1, 1))  # expand the years
    assert dict(ours) == dict(registry) and len(ours) > 40
    day = date(2026, 1, 1)
    while day < date(2029, 1, 1):
        assert ours.is_working_day(day) == registry.is_working_day(day), day
        day += timedelta(days=1)


def test_offsets_skip_tet_2027():
    # Tết Đinh Mùi: Thu 4/2 – Wed 10/2/2027 off (with the weekend inside it).
    cal = WorkCalendar()
    due = date(2027, 2, 12)  # Friday after Tết
    assert [cal.reminder_day(due, k) for k in (10, 5, 1, 0)] == [
        date(2027, 1, 22),
        date(2027, 1, 29),
        date(2027, 2, 11),
        date(2027, 2, 12),
    ]
    assert not any(cal.is_working_day(date(2027, 2, d)) for d in range(4, 11))
    assert cal.working_days_left(date(2027, 2, 3), due) == 2  # 11/2 and 12/2
    assert cal.working_days_left(date(2027, 2, 16), due) == -2  # 15/2 and 16/2 overdue


def test_swap_days_from_the_package_and_from_overrides():
    cal = WorkCalendar()
    # 2026: Saturday 22/8 is worked in exchange for Monday 31/8 (before Quốc khánh 1–2/9).
    assert cal.is_working_day(date(2026, 8, 22)) and not cal.is_working_day(date(2026, 8, 31))
    due = date(2026, 9, 3)
    assert cal.reminder_day(due, 1) == date(2026, 8, 28)
    assert cal.reminder_day(due, 6) == date(2026, 8, 22)  # the worked Saturday counts

    # A province's own swap: Wednesday 3/2/2027 off, Saturday 20/2/2027 worked instead.
    swapped = WorkCalendar({date(2027, 2, 3): False, date(2027, 2, 20): True})
    assert swapped.reminder_day(date(2027, 2, 12), 5) == date(2027, 1, 28)
    assert swapped.reminder_day(date(2027, 2, 22), 1) == date(2027, 2, 20)
    assert WorkCalendar().reminder_day(date(2027, 2, 22), 1) == date(2027, 2, 19)


def test_on_the_day_of_a_weekend_deadline_means_the_friday_before():
    cal = WorkCalendar()
    due = date(2026, 12, 20)  # a Sunday
    assert cal.reminder_day(due, 0) == date(2026, 12, 18)
    assert cal.working_days_left(date(2026, 12, 18), due) == 0
    assert cal.working_days_left(date(2026, 12, 21), due) == -1


def test_office_hours_wait_for_the_next_working_morning():
    cal, hours = WorkCalendar(), OfficeHours()
    assert not hours.is_open(local(2027, 1, 22, 7, 29), cal, TZ)
    assert hours.is_open(local(2027, 1, 22, 7, 30), cal, TZ)
    assert not hours.is_open(local(2027, 1, 22, 17, 0), cal, TZ)
    # The evening before Tết (Wednesday 3/2/2027) → Thursday 11/2, the first day back.
    eve = local(2027, 2, 3, 18, 0)
    assert hours.next_open(eve, cal, TZ) == local(2027, 2, 11, 7, 30).astimezone(UTC)
    # "Later": two hours on if the office is still open then, else the next morning.
    assert hours.later(local(2027, 1, 22, 9, 0), cal, TZ, timedelta(hours=2)) == local(
        2027, 1, 22, 11, 0
    )
    assert hours.later(local(2027, 1, 22, 16, 0), cal, TZ, timedelta(hours=2)) == local(
        2027, 1, 25, 7, 30
    )
    assert OfficeHours.parse("8h00-16h30") == OfficeHours(time(8), time(16, 30))
    for bad in ("17:00-07:00", "25:00-26:00", "morning"):
        with pytest.raises(ValueError):
            OfficeHours.parse(bad)


def test_recurring_occurrences_cross_the_year_boundary():
    start, lo, hi = date(2026, 11, 25), date(2026, 11, 1), date(2027, 3, 31)
    assert parse_schedule("monthly 20").occurrences(start, lo, hi) == [
        date(2026, 12, 20),
        date(2027, 1, 20),
        date(2027, 2, 20),
        date(2027, 3, 20),
    ]
    assert parse_schedule("hằng quý ngày 20").occurrences(start, lo, hi) == [
        date(2026, 12, 20),
        date(2027, 3, 20),
    ]
    assert parse_schedule("yearly 20/12").occurrences(start, lo, date(2028, 1, 1)) == [
        date(2026, 12, 20),
        date(2027, 12, 20),
    ]
    # The 31st means the month's last day, February included.
    assert parse_schedule("monthly 31").occurrences(start, lo, hi)[:4] == [
        date(2026, 11, 30),
        date(2026, 12, 31),
        date(2027, 1, 31),
        date(2027, 2, 28),
    ]
    fridays = parse_schedule("RRULE:FREQ=WEEKLY;BYDAY=FR")
    assert fridays.occurrences(start, date(2026, 12, 24), date(2027, 1, 9)) == [
        date(2026, 12, 25),
        date(2027, 1, 1),
        date(2027, 1, 8),
    ]
    assert fridays.next_due(start, date(2026, 12, 26)) == date(2027, 1, 1)
    once = parse_schedule("20/12/2026")
    assert once.canonical() == "once 2026-12-20"
    assert parse_schedule(once.canonical()) == once
    assert once.occurrences(start, date(2027, 1, 1), hi) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "monthly 0",
        "quarterly 32",
        "yearly 29/2",
        "yearly 31/4",
        "weekly",
        "RRULE:FREQ=HOURLY",
        "RRULE:FREQ=SOMETIMES",
        "32/12/2026",
    ],
)
def test_bad_schedules_are_refused(text):
    with pytest.raises(ScheduleError):
        parse_schedule(text)


def test_cchc_template_shifted_by_a_province():
    items = template("cchc-quarterly", -5)
    assert [(i.suffix, i.schedule.canonical()) for i in items] == [
        ("Q1", "yearly 15/3"),
        ("H1", "yearly 15/6"),
        ("Q3", "yearly 15/9"),
        ("Y", "yearly 15/12"),
    ]
    assert [i.schedule.canonical() for i in template("cchc-quarterly")] == [
        "yearly 20/3",
        "yearly 20/6",
        "yearly 20/9",
        "yearly 20/12",
    ]
    with pytest.raises(ScheduleError):
        template("cchc-quarterly", 90)


# --- the swaps shipped with the code, and the same calendar for feedback hours ----------------


def test_the_known_2026_swaps_ship_with_their_source():
    from scheduler.calendar import known_days

    days = {d.day: d for d in known_days()}
    assert days[date(2026, 1, 2)].working is False  # Friday off
    assert days[date(2026, 1, 10)].working is True  # Saturday worked
    assert all("12729/VPCP-KGVX" in days[d].source for d in (date(2026, 1, 2), date(2026, 1, 10)))
    # The package alone does not know them: that is why they ship.
    bare = WorkCalendar()
    assert bare.is_working_day(date(2026, 1, 2)) and not bare.is_working_day(date(2026, 1, 10))
    cal = WorkCalendar({d.day: d.working for d in days.values()})
    assert not cal.is_working_day(date(2026, 1, 2)) and cal.is_working_day(date(2026, 1, 10))


def test_the_status_of_24_11_is_one_line_of_the_data_file(tmp_path):
    from scheduler.calendar import KNOWN_DAYS, known_days

    text = KNOWN_DAYS.read_text(encoding="utf-8")
    assert text.count("culture_day_24_11: day_off") == 1  # the line to change
    assert date(2026, 11, 24) not in {d.day for d in known_days()}
    assert not WorkCalendar().is_working_day(date(2026, 11, 24))  # the package: a day off
    changed = tmp_path / "known_days.yaml"
    changed.write_text(text.replace("culture_day_24_11: day_off", "culture_day_24_11: working"))
    days = {d.day: d for d in known_days(changed)}
    assert days[date(2026, 11, 24)].working and days[date(2027, 11, 24)].working
    assert date(2029, 11, 24) not in days  # a Saturday: nothing to override
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("culture_day_24_11: day_off", "culture_day_24_11: maybe"))
    with pytest.raises(ValueError, match="culture_day_24_11"):
        known_days(broken)


async def test_shipped_days_are_applied_on_top_of_the_package_and_hand_set_days_win(db_url):
    from datetime import UTC, datetime

    from scheduler.calendar import apply_known_days, load_calendar
    from storage import holiday_overrides as store
    from storage.db import Database

    db = Database(db_url)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        async with db.write() as session:
            await store.set_override(session, date(2026, 1, 10), False, "Giữ nghỉ", now)
            assert await apply_known_days(session, now) == 1  # 10/1 is set by hand
            assert await apply_known_days(session, now) == 1  # again: nothing doubles
        async with db.read() as session:
            cal = await load_calendar(session)
            rows = {o.day: o for o in await store.list_overrides(session, 2026)}
        assert not cal.is_working_day(date(2026, 1, 2))  # shipped
        assert not cal.is_working_day(date(2026, 1, 10))  # the hand-set day won
        assert rows[date(2026, 1, 2)].source.startswith("Công văn 12729/VPCP-KGVX")
        assert rows[date(2026, 1, 10)].source is None
    finally:
        await db.dispose()


def test_feedback_hours_count_on_the_reminders_calendar():
    from datetime import datetime

    from flows.office_hours import working_days_left, working_hours_between
    from scheduler.calendar import known_days

    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    cal = WorkCalendar({d.day: d.working for d in known_days()})
    # Opened Wednesday 31/12/2025 at 16:00, handled Monday 5/1/2026 at 08:30.
    start = datetime(2025, 12, 31, 16, 0, tzinfo=tz)
    end = datetime(2026, 1, 5, 8, 30, tzinfo=tz)
    # Weekdays only: 1 h on 31/12 + 9.5 h on 1/1 + 9.5 h on 2/1 + 1 h on 5/1.
    assert working_hours_between(start, end, tz) == pytest.approx(21.0)
    # The calendar: 1/1 is Tết Dương lịch and 2/1 the swapped day off.
    assert working_hours_between(start, end, tz, cal) == pytest.approx(2.0)
    # Saturday 10/1/2026 is worked; Tết 2026 (16–20/2) is not.
    assert working_days_left(date(2026, 1, 10), date(2026, 1, 10), cal) == 1
    assert working_days_left(date(2026, 2, 16), date(2026, 2, 22), cal) == 0


def test_holiday_list_shows_the_shipped_swaps_with_their_source(tmp_path):
    from tests.test_cli import runner

    sipas = runner(tmp_path)
    upgrade = sipas("db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert "2 ngày đang áp dụng" in upgrade.stdout
    assert sipas("holiday", "add", "2026-03-02", "--name", "Nghỉ riêng").returncode == 0
    listing = sipas("holiday", "list", "--year", "2026").stdout
    lines = {line[:10]: line for line in listing.splitlines()}
    assert "ngày nghỉ" in lines["02/01/2026"] and "12729/VPCP-KGVX" in lines["02/01/2026"]
    assert "ngày làm việc" in lines["10/01/2026"]
    assert lines["02/03/2026"].endswith("Nghỉ riêng *")
    assert "ngày nghỉ" in lines["24/11/2026"] and "Ngày Văn hóa Việt Nam" in lines["24/11/2026"]
    assert "[…]" in listing and "* " in listing
