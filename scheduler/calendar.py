"""Working days and office hours (quiet hours are everything outside them).

Public offices work Monday to Friday. Public holidays come from the ``holidays``
package (Tết, Giỗ Tổ, 30/4, 1/5, Quốc khánh…, with the swap days it knows about); the
government decides further swap days each year, so an override list (``holiday``
overrides in the database) can turn any day into a day off or a working day. The swaps
known when a release is made ship in ``known_days.yaml`` (with their source) and are
written into that list by ``sipas-bot db upgrade``; days set by hand win over them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import holidays
import yaml
from sqlalchemy import delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.holiday_overrides import overrides
from storage.models import HolidayOverride
from storage.sql import insert

KNOWN_DAYS = Path(__file__).with_name("known_days.yaml")
# Years for which a rule of the data file (24/11 as a working day) is written out.
_RULE_YEARS = range(2026, 2041)

# A loop bound, not a rule: no stretch of days off is anywhere near this long.
_MAX_SCAN = 366


@functools.cache
def _vietnam() -> holidays.HolidayBase:
    # One shared, lazily expanded table (years are added as they are looked up).
    country = _vietnam_class()
    if country is not None:
        return country(language="vi")
    return holidays.country_holidays("VN", language="vi")


def _vietnam_class() -> type[holidays.HolidayBase] | None:
    """The package's Vietnam calendar class, loaded from its own module alone.

    ``country_holidays`` imports ``holidays.countries``, whose ``__init__`` imports all
    250 countries: about 0.1 s of every command's start-up. The Vietnam module itself
    only needs the package's calendars and helpers. Should the package be laid out
    differently one day, this gives None and the registry is used (the test
    ``test_vietnam_loaded_alone_is_the_registry_s_calendar`` compares the two)."""
    import importlib.util

    path = Path(holidays.__file__).parent / "countries" / "vietnam.py"
    try:
        spec = importlib.util.spec_from_file_location("holidays.countries.vietnam", path)
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.Vietnam
    except Exception:  # any surprise in the package's layout: use its registry
        return None


class WorkCalendar:
    """Which local days are working days: the law's calendar plus the overrides.

    ``overrides`` maps a day to True (a working day, e.g. a Saturday worked in exchange
    for a bridge day) or False (a day off).
    """

    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        self.overrides = dict(overrides or {})
        self._holidays = _vietnam()

    def is_working_day(self, day: date) -> bool:
        """Whether public offices work on ``day``."""
        if day in self.overrides:
            return self.overrides[day]
        return self._holidays.is_working_day(day)

    def holiday_name(self, day: date) -> str | None:
        """The Vietnamese name of the public holiday on ``day``, if it is one."""
        return self._holidays.get(day)

    def next_working_day(self, day: date, *, include: bool = True) -> date:
        """``day`` itself when it is a working day (and ``include``), else the next one."""
        current = day if include else day + timedelta(days=1)
        for _ in range(_MAX_SCAN):
            if self.is_working_day(current):
                return current
            current += timedelta(days=1)
        raise ValueError(f"no working day within a year after {day}")

    def previous_working_day(self, day: date, *, include: bool = True) -> date:
        """``day`` itself when it is a working day (and ``include``), else the one before."""
        current = day if include else day - timedelta(days=1)
        for _ in range(_MAX_SCAN):
            if self.is_working_day(current):
                return current
            current -= timedelta(days=1)
        raise ValueError(f"no working day within a year before {day}")

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day`` (before it when ``n`` is negative);
        ``day`` itself when ``n`` is 0."""
        current = day
        step = 1 if n > 0 else -1
        for _ in range(abs(n)):
            current = (
                self.next_working_day(current, include=False)
                if step > 0
                else self.previous_working_day(current, include=False)
            )
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie in ``(start, end]`` (negative when end < start)."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(
            1
            for offset in range(1, (end - start).days + 1)
            if self.is_working_day(start + timedelta(days=offset))
        )

    def working_days_left(self, today: date, due: date) -> int:
        """Working days from ``today`` to ``due``: > 0 before it, 0 on it (or on the last
        working day before a due date that is a day off), < 0 once it is overdue."""
        if today <= due:
            return self.working_days_between(today, due)
        return -self.working_days_between(due, today)

    def reminder_day(self, due: date, working_days_before: int) -> date:
        """The day of a reminder ``working_days_before`` working days before ``due``.

        0 is the due date itself, or the last working day before it when the due date
        is a day off (reminding someone on Monday of a Sunday deadline is too late).
        """
        if working_days_before <= 0:
            return self.previous_working_day(due)
        return self.add_working_days(due, -working_days_before)


async def load_calendar(session: AsyncSession) -> WorkCalendar:
    """The calendar with the overrides stored in the database."""
    return WorkCalendar(await overrides(session))


# --- the swaps that ship with the code ------------------------------------------------------


@dataclass(frozen=True)
class KnownDay:
    """A day the data file sets: off (``working`` False) or worked, and why."""

    day: date
    working: bool
    name: str
    source: str


def known_days(path: Path = KNOWN_DAYS) -> list[KnownDay]:
    """The days of ``known_days.yaml``, the 24/11 rule written out per year; ValueError
    for a malformed file."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, when built with it
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
    days: dict[date, KnownDay] = {}
    for entry in raw.get("days") or ():
        day = entry["day"]
        if not isinstance(day, date) or not isinstance(entry.get("working"), bool):
            raise ValueError(f"{path.name}: each day needs a date and working: true/false")
        if day in days:
            raise ValueError(f"{path.name}: {day} is listed twice")
        days[day] = KnownDay(day, entry["working"], str(entry["name"]), str(entry["source"]))
    rule = raw.get("culture_day_24_11", "day_off")
    if rule not in ("day_off", "working"):
        raise ValueError(f"{path.name}: culture_day_24_11 must be day_off or working")
    if rule == "working":
        for year in _RULE_YEARS:
            day = date(year, 11, 24)
            if day.weekday() < 5 and day not in days:
                name = "Ngày Văn hóa Việt Nam (ngày làm việc)"
                days[day] = KnownDay(day, True, name, str(raw.get("culture_day_source", "")))
    return sorted(days.values(), key=lambda d: d.day)


async def apply_known_days(session: AsyncSession, now: datetime, path: Path = KNOWN_DAYS) -> int:
    """Write the shipped days into the overrides, marked with their source, replacing
    the shipped days written before; a day set by hand is left as it is. Returns how
    many shipped days are in force."""
    days = known_days(path)
    manual = set(
        (
            await session.exec(select(HolidayOverride.day).where(HolidayOverride.source.is_(None)))
        ).scalars()
    )
    await session.exec(delete(HolidayOverride).where(HolidayOverride.source.is_not(None)))
    rows = [
        {"day": d.day, "working": d.working, "name": d.name, "source": d.source, "created_at": now}
        for d in days
        if d.day not in manual
    ]
    if rows:
        await session.exec(insert(session, HolidayOverride).values(rows))
    return len(rows)


def holiday_lines(cal: WorkCalendar, own: Mapping[date, Any], year: int, t: Any) -> list[str]:
    """``holiday list``: the year's public holidays and overrides, one line each, with
    where an override comes from (set by hand, or shipped with its source)."""
    _ = t.gettext
    days = {d for d in cal.overrides if d.year == year}
    first = date(year, 1, 1)
    days |= {
        first + timedelta(days=n)
        for n in range((date(year, 12, 31) - first).days + 1)
        if cal.holiday_name(first + timedelta(days=n))
    }
    lines = []
    for day in sorted(days):
        override = own.get(day)
        name = (override.name if override and override.name else None) or (
            cal.holiday_name(day) or ""
        )
        kind = _("working day") if cal.is_working_day(day) else _("day off")
        if override is not None and getattr(override, "source", None):
            name += f" [{override.source}]"
        elif override is not None:
            name += " *"
        lines.append(f"{t.date(day)}  {kind:<14} {name}")
    if any(getattr(o, "source", None) is None for o in own.values()):
        lines.append(_("* set with 'sipas-bot holiday add'"))
    if any(getattr(o, "source", None) for o in own.values()):
        lines.append(_("[…] a known swap shipped with sipas-bot, with its source"))
    return lines
