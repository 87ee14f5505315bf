"""Office hours: when staff may be messaged (working days, between two times of day).

Apart from ``scheduler.calendar`` so that reading the settings (which check
``SIPAS_OFFICE_HOURS``) does not load the holidays package, the swap-day file and the
override table: a report command has no use for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from flows.i18n import N_, Problem

if TYPE_CHECKING:
    from scheduler.calendar import WorkCalendar

_HOURS = re.compile(r"^\s*(\d{1,2})[:h](\d{2})\s*[-–]\s*(\d{1,2})[:h](\d{2})\s*$")


@dataclass(frozen=True)
class OfficeHours:
    """When staff may be messaged: working days between ``start`` and ``end`` local time.

    Outside these hours (nights, weekends, holidays) reminders wait for the next
    working morning.
    """

    start: time = time(7, 30)
    end: time = time(17, 0)

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        """``"07:30-17:00"`` → OfficeHours; ValueError for anything else."""
        match = _HOURS.match(text)
        if not match:
            raise Problem(N_("office hours must look like 07:30-17:00, not '{text}'"), text=text)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise Problem(N_("not a time of day in '{text}'"), text=text)
        hours = cls(time(h1, m1), time(h2, m2))
        if hours.end <= hours.start:
            raise Problem(N_("office hours must end after they start: '{text}'"), text=text)
        return hours

    def is_open(self, moment: datetime, calendar: WorkCalendar, tz: ZoneInfo) -> bool:
        """Whether ``moment`` is within office hours on a working day."""
        local = moment.astimezone(tz)
        return calendar.is_working_day(local.date()) and self.start <= local.time() < self.end

    def opening(self, day: date, tz: ZoneInfo) -> datetime:
        """The (UTC) moment the office opens on local ``day``."""
        return datetime.combine(day, self.start, tz).astimezone(ZoneInfo("UTC"))

    def next_open(self, moment: datetime, calendar: WorkCalendar, tz: ZoneInfo) -> datetime:
        """``moment`` if the office is open then, else the next opening (UTC)."""
        if self.is_open(moment, calendar, tz):
            return moment
        local = moment.astimezone(tz)
        day = local.date()
        if not (calendar.is_working_day(day) and local.time() < self.start):
            day = calendar.next_working_day(day, include=False)
        return self.opening(day, tz)

    def later(
        self, moment: datetime, calendar: WorkCalendar, tz: ZoneInfo, delay: timedelta
    ) -> datetime:
        """``moment + delay`` if the office is still open then, else the next opening
        after it: "later today, or the next working morning"."""
        target = moment + delay
        if self.is_open(moment, calendar, tz) and self.is_open(target, calendar, tz):
            same_day = target.astimezone(tz).date() == moment.astimezone(tz).date()
            if same_day:
                return target
        return self.next_open(target, calendar, tz)
