"""When a deadline falls due: one-off dates, monthly, quarterly, yearly, or an RRULE.

A schedule is stored as short canonical text (``once 2026-12-20``, ``monthly 20``,
``quarterly 20``, ``yearly 20/12``, ``rrule FREQ=…``) so the database stays readable and
one parser serves the command line, CSV import and planning. Typed input is forgiving:
``20/12/2026``, ``hằng quý 20``, ``hàng năm ngày 20/12``, ``RRULE:FREQ=MONTHLY;…``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrulestr

from flows.i18n import N_, Problem
from flows.text import fold

QUARTER_END_MONTHS = (3, 6, 9, 12)
_ALLOWED_FREQS = (YEARLY, MONTHLY, WEEKLY, DAILY)
_WORDS = {
    "once": "once",
    "monthly": "monthly",
    "hang thang": "monthly",
    "quarterly": "quarterly",
    "hang quy": "quarterly",
    "yearly": "yearly",
    "annually": "yearly",
    "hang nam": "yearly",
}
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DM = re.compile(r"^(\d{1,2})/(\d{1,2})$")


class ScheduleError(Problem):
    """A schedule we cannot read, with a reason fit to show the user (``text(t)``)."""


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule. ``day``/``month`` for the simple kinds, ``rule`` for RRULEs."""

    kind: str
    due: date | None = None
    day: int | None = None
    month: int | None = None
    rule: str | None = None

    def canonical(self) -> str:
        """The text stored in the database (parses back to the same schedule)."""
        if self.kind == "once":
            return f"once {self.due.isoformat()}"  # type: ignore[union-attr]
        if self.kind in ("monthly", "quarterly"):
            return f"{self.kind} {self.day}"
        if self.kind == "yearly":
            return f"yearly {self.day}/{self.month}"
        return f"rrule {self.rule}"

    def rrule_text(self) -> str | None:
        """The schedule as an RRULE (None for a one-off date)."""
        if self.kind == "once":
            return None
        if self.kind == "rrule":
            return self.rule
        day = _monthday(self.day)  # type: ignore[arg-type]
        if self.kind == "monthly":
            return f"FREQ=MONTHLY;{day}"
        if self.kind == "quarterly":
            months = ",".join(str(m) for m in QUARTER_END_MONTHS)
            return f"FREQ=YEARLY;BYMONTH={months};{day}"
        return f"FREQ=YEARLY;BYMONTH={self.month};BYMONTHDAY={self.day}"

    def occurrences(self, starts_on: date, lo: date, hi: date) -> list[date]:
        """Due dates in ``[lo, hi]`` (never before ``starts_on``), in order."""
        lo = max(lo, starts_on)
        if hi < lo:
            return []
        if self.kind == "once":
            return [self.due] if lo <= self.due <= hi else []  # type: ignore[operator]
        rule = rrulestr(self.rrule_text(), dtstart=datetime.combine(starts_on, datetime.min.time()))
        start = datetime.combine(lo, datetime.min.time())
        end = datetime.combine(hi, datetime.min.time())
        return [d.date() for d in rule.between(start, end, inc=True)]

    def next_due(self, starts_on: date, after: date) -> date | None:
        """The first due date on or after ``after`` (None when there is none)."""
        if self.kind == "once":
            return self.due if self.due >= max(after, starts_on) else None  # type: ignore[operator]
        rule = rrulestr(self.rrule_text(), dtstart=datetime.combine(starts_on, datetime.min.time()))
        found = rule.after(datetime.combine(max(after, starts_on), datetime.min.time()), inc=True)
        return found.date() if found else None


def _monthday(day: int) -> str:
    # "the 30th" in February means its last day, not "skip February".
    if day <= 28:
        return f"BYMONTHDAY={day}"
    days = ",".join(str(d) for d in range(28, day + 1))
    return f"BYMONTHDAY={days};BYSETPOS=-1"


def parse_date(text: str) -> date | None:
    """``20/12/2026`` or ``2026-12-20`` → date; None when it is not one (or not real)."""
    text = text.strip()
    try:
        if m := _ISO.match(text):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _DMY.match(text):
            return date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        return None
    return None


def parse_schedule(text: str) -> Schedule:
    """A schedule from what an admin typed; ``ScheduleError`` says what is wrong."""
    raw = text.strip()
    if not raw:
        raise ScheduleError(N_("the schedule is empty"))
    upper = raw.upper()
    if upper.startswith(("RRULE:", "FREQ=", "RRULE ")):
        rule = raw.split(":", 1)[1] if upper.startswith("RRULE:") else raw
        if upper.startswith("RRULE "):
            rule = raw[6:]
        return _rrule(rule.strip())
    due = parse_date(raw)
    if due is not None:
        return Schedule("once", due=due)
    folded = fold(raw).replace("ngay ", "").replace(" ngay", "")
    for word, kind in sorted(_WORDS.items(), key=lambda w: -len(w[0])):
        if folded.startswith(word + " "):
            rest = folded[len(word) :].strip()
            return _simple(kind, rest, raw)
    raise ScheduleError(
        N_(
            "cannot read the schedule '{text}': use a date (20/12/2026), 'monthly 20', "
            "'quarterly 20', 'yearly 20/12' or an RRULE"
        ),
        text=raw,
    )


def _simple(kind: str, rest: str, raw: str) -> Schedule:
    if kind == "once":
        due = parse_date(rest)
        if due is None:
            raise ScheduleError(N_("no date in '{text}' (use dd/mm/yyyy)"), text=raw)
        return Schedule("once", due=due)
    if kind in ("monthly", "quarterly"):
        if not rest.isdigit() or not 1 <= int(rest) <= 31:
            if kind == "monthly":
                message = N_("a monthly schedule needs a day of the month (1–31), not '{day}'")
            else:
                message = N_("a quarterly schedule needs a day of the month (1–31), not '{day}'")
            raise ScheduleError(message, day=rest)
        return Schedule(kind, day=int(rest))
    m = _DM.match(rest)
    if not m:
        raise ScheduleError(
            N_("a yearly schedule needs a day/month such as 20/12, not '{day}'"), day=rest
        )
    day, month = int(m[1]), int(m[2])
    try:
        date(2025, month, day)  # a common year: 29/2 would skip three years in four
    except ValueError:
        raise ScheduleError(
            N_("{day}/{month} is not a day of every year"), day=day, month=month
        ) from None
    return Schedule("yearly", day=day, month=month)


def _rrule(rule: str) -> Schedule:
    try:
        parsed = rrulestr(rule, dtstart=datetime(2025, 1, 1))
    except (ValueError, TypeError):
        raise ScheduleError(N_("'{rule}' is not a valid RRULE"), rule=rule) from None
    if parsed._freq not in _ALLOWED_FREQS:  # a reminder per hour is never a deadline
        raise ScheduleError(N_("an RRULE deadline repeats at most daily (FREQ=DAILY or slower)"))
    if "DTSTART" in rule.upper():
        raise ScheduleError(N_("leave DTSTART out of the RRULE: the deadline's start date is used"))
    return Schedule("rrule", rule=rule.upper())


@dataclass(frozen=True)
class TemplateItem:
    """One deadline a template creates."""

    suffix: str  # appended to the code prefix: CCHC-Q1
    title: str
    schedule: Schedule
    note: str


# The ministry's periodic CCHC reports (due the 20th of the period's last month) and
# their data windows (Nghị định 09/2019). Titles are data, in Vietnamese, like every
# deadline title an admin types.
_CCHC = (
    ("Q1", "Báo cáo công tác cải cách hành chính quý I", 3, "Kỳ số liệu: 15/12 năm trước – 14/3."),
    (
        "H1",
        "Báo cáo công tác cải cách hành chính 6 tháng đầu năm",
        6,
        "Kỳ số liệu: 15/12 năm trước – 14/6.",
    ),
    ("Q3", "Báo cáo công tác cải cách hành chính quý III", 9, "Kỳ số liệu: 15/6 – 14/9."),
    ("Y", "Báo cáo công tác cải cách hành chính năm", 12, "Kỳ số liệu: 15/12 năm trước – 14/12."),
)
TEMPLATES = {"cchc-quarterly": "CCHC reports: Quý I 20/3, 6 tháng 20/6, Quý III 20/9, Năm 20/12"}
MAX_SHIFT = 60


def template(name: str, shift_days: int = 0) -> list[TemplateItem]:
    """The deadlines of a built-in template, due ``shift_days`` calendar days earlier
    (negative) or later than the ministry's dates."""
    if name not in TEMPLATES:
        raise ScheduleError(
            N_("unknown template '{name}' (there is: {names})"),
            name=name,
            names=", ".join(sorted(TEMPLATES)),
        )
    if abs(shift_days) > MAX_SHIFT:
        raise ScheduleError(N_("--shift-days must be between -{n} and {n}"), n=MAX_SHIFT)
    items = []
    for suffix, title, month, note in _CCHC:
        due = date(2025, month, 20) + timedelta(days=shift_days)
        items.append(
            TemplateItem(suffix, title, Schedule("yearly", day=due.day, month=due.month), note)
        )
    return items
