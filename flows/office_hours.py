"""Office hours for follow-up targets and quota pace: Monday to Friday, 07:30–17:00.

Weekdays only: public holidays and swap days are not known here. The reminders'
working-day calendar (scheduler/) knows them; the two should become one.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

OPENS = time(7, 30)
CLOSES = time(17, 0)


def is_working_day(day: date) -> bool:
    """Monday to Friday."""
    return day.weekday() < 5


def working_hours_between(start: datetime, end: datetime, tz: ZoneInfo) -> float:
    """Office hours elapsed from ``start`` to ``end`` (0 when end is not later)."""
    if end <= start:
        return 0.0
    lo, hi = start.astimezone(tz), end.astimezone(tz)
    seconds = 0.0
    day = lo.date()
    while day <= hi.date():
        if is_working_day(day):
            opens = max(datetime.combine(day, OPENS, tz), lo)
            closes = min(datetime.combine(day, CLOSES, tz), hi)
            if closes > opens:
                seconds += (closes - opens).total_seconds()
        day += timedelta(days=1)
    return seconds / 3600


def working_days_left(today: date, last: date) -> int:
    """Working days from ``today`` to ``last``, both included (0 when last < today)."""
    if last < today:
        return 0
    days = (last - today).days + 1
    full_weeks, rest = divmod(days, 7)
    return full_weeks * 5 + sum(
        1 for i in range(rest) if is_working_day(today + timedelta(days=full_weeks * 7 + i))
    )
