"""Working days, office hours and recurrence, checked against the calendar by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.calendar import OfficeHours, WorkCalendar
from scheduler.recurrence import ScheduleError, parse_schedule, template

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


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
