"""Reporting periods as people type them, in Vietnamese or English.

``10/2023``, ``T10/2023``, ``tháng 10/2023`` · ``Q4/2023``, ``quý 4/2023``, ``quý IV 2023`` ·
``H1/2024`` · ``2023``, ``năm 2023`` · ``tháng này``, ``tháng trước``, ``quý này``,
``quý trước``, ``năm nay``, ``năm trước``, ``hôm nay``, ``hôm qua``, ``tuần này``,
``tuần trước`` (and their English words) · ``tháng 10``, ``quý 4`` without a year (the
latest one that has begun) · ``6 tháng đầu năm 2024``, ``6 tháng cuối năm`` ·
a day ``15/10/2023`` or ``2023-10-15`` · a range of two days joined by ``-``, ``–``,
``..`` or ``đến``/``to``, optionally after ``từ``/``from``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from flows.i18n import Translator
from flows.text import fold

_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    kind: str  # day | month | quarter | half | year | range

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a period cannot end before it starts")

    def contains(self, day: date) -> bool:
        """Whether ``day`` falls within the period."""
        return self.start <= day <= self.end


class PeriodError(ValueError):
    """Text that is not a period we understand."""


def month(year: int, m: int) -> Period:
    """Month ``m`` of ``year``."""
    return Period(date(year, m, 1), date(year, m, calendar.monthrange(year, m)[1]), "month")


def quarter(year: int, q: int) -> Period:
    """Quarter ``q`` (1–4) of ``year``."""
    first = 3 * (q - 1) + 1
    return Period(date(year, first, 1), month(year, first + 2).end, "quarter")


def half(year: int, h: int) -> Period:
    """Half ``h`` (1 or 2) of ``year``."""
    return Period(date(year, 6 * (h - 1) + 1, 1), month(year, 6 * h).end, "half")


def year_period(year: int) -> Period:
    """The whole of ``year``."""
    return Period(date(year, 1, 1), date(year, 12, 31), "year")


def quarter_of(day: date) -> Period:
    """The quarter ``day`` falls in."""
    return quarter(day.year, (day.month - 1) // 3 + 1)


def infer(start: date, end: date) -> Period:
    """The period from ``start`` to ``end``, named as a month, quarter… when it is one."""
    for candidate in (
        month(start.year, start.month),
        quarter_of(start),
        half(start.year, 1 if start.month <= 6 else 2),
        year_period(start.year),
    ):
        if (candidate.start, candidate.end) == (start, end):
            return candidate
    return Period(start, end, "day" if start == end else "range")


def _relative(text: str, today: date) -> Period | None:
    if text in ("hom nay", "today"):
        return Period(today, today, "day")
    if text in ("hom qua", "yesterday"):
        yesterday = today - timedelta(days=1)
        return Period(yesterday, yesterday, "day")
    if text in ("tuan nay", "this week"):
        monday = today - timedelta(days=today.weekday())
        return Period(monday, monday + timedelta(days=6), "range")
    if text in ("tuan truoc", "last week"):
        monday = today - timedelta(days=today.weekday() + 7)
        return Period(monday, monday + timedelta(days=6), "range")
    if text in ("thang nay", "this month"):
        return month(today.year, today.month)
    if text in ("thang truoc", "last month"):
        prev = today.replace(day=1) - timedelta(days=1)
        return month(prev.year, prev.month)
    if text in ("quy nay", "this quarter"):
        return quarter_of(today)
    if text in ("quy truoc", "last quarter"):
        return quarter_of(quarter_of(today).start - timedelta(days=1))
    if text in ("nam nay", "this year"):
        return year_period(today.year)
    if text in ("nam truoc", "nam ngoai", "last year"):
        return year_period(today.year - 1)
    return None


_DAY = r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})|(\d{4})-(\d{1,2})-(\d{1,2})"
_DAY_RE = re.compile(rf"^(?:{_DAY})$")
_RANGE_RE = re.compile(rf"^(?P<a>{_DAY})\s*(?:-|–|\.\.|den|to)\s*(?P<b>{_DAY})$")
_MONTH_RE = re.compile(r"^(?:thang|t|month)?\s*(\d{1,2})\s*[/\-\s]\s*(\d{4})$")
_ISO_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER_RE = re.compile(r"^(?:quy|q|quarter)\s*([1-4]|iv|iii|ii|i)\s*[/\-\s]?\s*(\d{4})$")
_HALF_RE = re.compile(r"^(?:h|6 thang\s*)([12])?\s*[/\-\s]?\s*(\d{4})$")
_YEAR_RE = re.compile(r"^(?:nam|year)?\s*(\d{4})$")
# Without a year: the latest such month or quarter that has begun.
_BARE_MONTH_RE = re.compile(r"^(?:thang|t|month)\s*(\d{1,2})$")
_BARE_QUARTER_RE = re.compile(r"^(?:quy|q|quarter)\s*([1-4]|iv|iii|ii|i)$")
_HALF_WORDS_RE = re.compile(r"^6 thang (dau|cuoi) nam\s*(\d{4})?$")


def _day(text: str) -> date:
    m = _DAY_RE.match(text.strip())
    if not m:
        raise PeriodError(text)
    g = m.groups()
    d, mo, y = (g[0], g[1], g[2]) if g[0] else (g[5], g[4], g[3])
    try:
        return date(int(y), int(mo), int(d))
    except ValueError:
        raise PeriodError(text) from None


def parse(text: str, today: date) -> Period:
    """The period ``text`` names; ``PeriodError`` when it names none."""
    t = fold(text)
    if not t:
        raise PeriodError(text)
    relative = _relative(t, today)
    if relative:
        return relative
    t = re.sub(r"^(?:tu|from)\s+", "", t)
    try:
        if m := _BARE_MONTH_RE.match(t):
            m_no = int(m.group(1))
            return month(today.year if m_no <= today.month else today.year - 1, m_no)
        if m := _BARE_QUARTER_RE.match(t):
            q_no = _ROMAN.get(m.group(1)) or int(m.group(1))
            latest = quarter(today.year, q_no)
            return latest if latest.start <= today else quarter(today.year - 1, q_no)
        if m := _HALF_WORDS_RE.match(t):
            return half(int(m.group(2) or today.year), 1 if m.group(1) == "dau" else 2)
        if m := _RANGE_RE.match(t):
            return Period(_day(m.group("a")), _day(m.group("b")), "range")
        if _DAY_RE.match(t):
            day = _day(t)
            return Period(day, day, "day")
        if m := _QUARTER_RE.match(t):
            q = m.group(1)
            return quarter(int(m.group(2)), _ROMAN.get(q) or int(q))
        if m := _HALF_RE.match(t):
            return half(int(m.group(2)), int(m.group(1) or 1))
        if m := _ISO_MONTH_RE.match(t):
            return month(int(m.group(1)), int(m.group(2)))
        if m := _MONTH_RE.match(t):
            return month(int(m.group(2)), int(m.group(1)))
        if m := _YEAR_RE.match(t):
            return year_period(int(m.group(1)))
    except ValueError:  # month 13, end before start…
        raise PeriodError(text) from None
    raise PeriodError(text)


def describe(period: Period, t: Translator) -> str:
    """``tháng 10/2023``, ``quý IV/2023``, ``năm 2023``, ``01/10/2023 – 15/10/2023``."""
    _ = t.gettext
    y = period.start.year
    if period.kind == "month":
        return _("month {month}/{year}").format(month=period.start.month, year=y)
    if period.kind == "quarter":
        roman = ("I", "II", "III", "IV")[(period.start.month - 1) // 3]
        return _("quarter {quarter}/{year}").format(quarter=roman, year=y)
    if period.kind == "half":
        if period.start.month == 1:
            return _("first half of {year}").format(year=y)
        return _("second half of {year}").format(year=y)
    if period.kind == "year":
        return _("year {year}").format(year=y)
    if period.start == period.end:
        return t.date(period.start)
    return f"{t.date(period.start)} – {t.date(period.end)}"
