"""Office hours for follow-up targets and quota pace: working days, 07:30–17:00.

Which days are working days is the caller's calendar: any object with
``is_working_day(day)``, in practice the reminders' ``scheduler.calendar.WorkCalendar``
(public holidays, the shipped swap days and the overrides), so feedback handling time
and reminders count the same days. Without one, Monday to Friday.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

OPENS = time(7, 30)
CLOSES = time(17, 0)


class Calendar(Protocol):
    """What these functions need of a working-day calendar."""

    def is_working_day(self, day: date) -> bool:
        """Whether public offices work on ``day``."""
        ...


class Weekdays:
    """Monday to Friday, nothing else (the fallback when no calendar is given)."""

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is Monday to Friday."""
        return day.weekday() < 5


WEEKDAYS = Weekdays()


def is_working_day(day: date, calendar: Calendar | None = None) -> bool:
    """Whether ``day`` is a working day on ``calendar`` (Monday to Friday without one)."""
    return (calendar or WEEKDAYS).is_working_day(day)


def working_hours_between(
    start: datetime, end: datetime, tz: ZoneInfo, calendar: Calendar | None = None
) -> float:
    """Office hours on working days elapsed from ``start`` to ``end`` (0 when end is
    not later)."""
    if end <= start:
        return 0.0
    cal = calendar or WEEKDAYS
    lo, hi = start.astimezone(tz), end.astimezone(tz)
    seconds = 0.0
    day = lo.date()
    while day <= hi.date():
        if cal.is_working_day(day):
            opens = max(datetime.combine(day, OPENS, tz), lo)
            closes = min(datetime.combine(day, CLOSES, tz), hi)
            if closes > opens:
                seconds += (closes - opens).total_seconds()
        day += timedelta(days=1)
    return seconds / 3600


def working_days_left(today: date, last: date, calendar: Calendar | None = None) -> int:
    """Working days from ``today`` to ``last``, both included (0 when last < today)."""
    if last < today:
        return 0
    cal = calendar or WEEKDAYS
    return sum(
        1 for i in range((last - today).days + 1) if cal.is_working_day(today + timedelta(days=i))
    )
