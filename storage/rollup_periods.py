"""Which rollup rows cover a period of local days: whole calendar years from the year
rollups, whole months from the month rollups, the days around them from the day rollups.

A year's report then sums 12 month rows per unit and item instead of 365 day rows, and a
year's quota one row per unit and channel; each day of the period is counted exactly
once, in the coarsest rollup whose period lies wholly inside it.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func, literal_column
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    RollupAnswer,
    RollupAnswerMonth,
    RollupChannel,
    RollupChannelMonth,
    RollupChannelYear,
    RollupDossier,
    RollupDossierMonth,
    RollupDossierYear,
)
from storage.sql import dialect

# (table, its period column, the length of that period), finest first.
ANSWER_ROLLUPS = (
    (RollupAnswer, RollupAnswer.day, "day"),
    (RollupAnswerMonth, RollupAnswerMonth.month, "month"),
)
CHANNEL_ROLLUPS = (
    (RollupChannel, RollupChannel.day, "day"),
    (RollupChannelMonth, RollupChannelMonth.month, "month"),
    (RollupChannelYear, RollupChannelYear.year, "year"),
)


DOSSIER_ROLLUPS = (
    (RollupDossier, RollupDossier.day, "day"),
    (RollupDossierMonth, RollupDossierMonth.month, "month"),
    (RollupDossierYear, RollupDossierYear.year, "year"),
)


def answer_rollup_parts(first: date, last: date) -> list:
    """(table, period column, from, to) of the answer rollups covering ``first``–``last``
    (whole months, then days; the day rollup alone for an empty period)."""
    return rollup_parts(first, last, ANSWER_ROLLUPS) or [(*ANSWER_ROLLUPS[0][:2], first, last)]


def channel_rollup_parts(first: date, last: date) -> list:
    """(table, period column, from, to) of the per-channel response rollups covering local
    days ``first``–``last`` (whole years, whole months, then days)."""
    return rollup_parts(first, last, CHANNEL_ROLLUPS) or [(*CHANNEL_ROLLUPS[0][:2], first, last)]


def dossier_rollup_parts(first: date, last: date) -> list:
    """(table, period column, from, to) of the dossier rollups covering local days
    ``first``–``last`` (whole years, whole months, then days)."""
    return rollup_parts(first, last, DOSSIER_ROLLUPS) or [(*DOSSIER_ROLLUPS[0][:2], first, last)]


def rollup_parts(first: date, last: date, rollups) -> list:
    """(table, period column, from, to) for each non-empty part of ``first``–``last``:
    the coarsest of ``rollups`` (finest first) for its whole periods, the finer ones for
    the days before and after them. ``from`` and ``to`` are the first days of periods."""
    if first > last:
        return []
    *finer, (table, column, length) = rollups
    if not finer:  # days
        return [(table, column, first, last)]
    whole = whole_months(first, last) if length == "month" else whole_years(first, last)
    if whole is None:
        return rollup_parts(first, last, finer)
    lo, hi = whole
    after = next_month(hi) if length == "month" else hi.replace(year=hi.year + 1)
    return [
        (table, column, lo, hi),
        *rollup_parts(first, lo - timedelta(days=1), finer),
        *rollup_parts(after, last, finer),
    ]


def whole_months(first: date, last: date) -> tuple[date, date] | None:
    """First days of the first and last calendar months lying wholly in ``first``–``last``."""
    lo = first if first.day == 1 else next_month(first)
    hi = last.replace(day=1)
    if next_month(last) - timedelta(days=1) != last:  # last's month is not whole
        hi = (hi - timedelta(days=1)).replace(day=1)
    return (lo, hi) if lo <= hi else None


def whole_years(first: date, last: date) -> tuple[date, date] | None:
    """1 January of the first and last calendar years lying wholly in ``first``–``last``."""
    lo = date(first.year if (first.month, first.day) == (1, 1) else first.year + 1, 1, 1)
    hi = date(last.year if (last.month, last.day) == (12, 31) else last.year - 1, 1, 1)
    return (lo, hi) if lo <= hi else None


def next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


# --- the same periods in SQL, for the rebuilds -------------------------------------------


def month_of(session: AsyncSession, day):
    """A SQL expression for the first day of ``day``'s month (literals inline: PostgreSQL
    must see the same expression in SELECT and GROUP BY)."""
    if dialect(session) == "postgresql":
        return cast(func.date_trunc(literal_column("'month'"), day), Date)
    return func.date(day, literal_column("'start of month'"))


def year_of(session: AsyncSession, day):
    """A SQL expression for 1 January of ``day``'s year (literals inline, as ``month_of``)."""
    if dialect(session) == "postgresql":
        return cast(func.date_trunc(literal_column("'year'"), day), Date)
    return func.date(day, literal_column("'start of year'"))


def local_day(session: AsyncSession, tz: ZoneInfo, column):
    """A SQL expression for the local day of ``column`` (a UTC time: a response's or a
    dossier's ``completed_at``), or None when SQLite cannot express it (a zone whose UTC
    offset changed over time)."""
    if dialect(session) == "postgresql":
        return func.date(func.timezone(tz.key, column))
    minutes = _fixed_offset_minutes(tz)
    return None if minutes is None else func.date(column, f"{minutes:+d} minutes")


@functools.cache
def _fixed_offset_minutes(tz: ZoneInfo) -> int | None:
    """``tz``'s UTC offset in minutes if it never changed (1990–2040), else None."""
    offsets = {
        tz.utcoffset(datetime(year, month, 1)) for year in range(1990, 2040) for month in (1, 7)
    }
    return int(next(iter(offsets)).total_seconds() // 60) if len(offsets) == 1 else None


def as_date(value) -> date:
    """A date as the driver returns it (SQLite's ``date()`` gives ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))
