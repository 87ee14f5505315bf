"""Deadlines: creating them (command line, CSV rows and the demo alike), describing
their schedules, and the ``deadlines`` CSV importer.

A deadline is created the same way from the command line, a CSV row and the demo
(``create``), so each checks the same things: a unique code, a readable schedule, no
one-off date in the past, known units and people, at least one target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from pydantic import Field, field_validator
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.app import App
from bot.services.imports import Code, Importer, RowError, RowModel, importer
from flows.i18n import N_, Translator
from scheduler.recurrence import Schedule, parse_date, parse_schedule, template
from storage import deadlines as store
from storage.models import Person, Unit

DEFAULT_OFFSETS = (10, 5, 1, 0)


DEFAULT_ESCALATE_AFTER = 2  # working days overdue; 0 means never


MAX_OFFSET = 60


_SPLIT = re.compile(r"[\s,;|]+")


_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


NOTE_LIMIT = 1000  # shown in every reminder: a line or two, not a document


@dataclass
class DeadlineSpec:
    """A deadline as an admin describes it, before it is checked against the database."""

    code: str
    title: str
    schedule: Schedule
    unit_codes: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)  # person ids, names, or "Name@UNIT"
    offsets: tuple[int, ...] = DEFAULT_OFFSETS
    overdue_daily: bool = True
    escalate_after: int = DEFAULT_ESCALATE_AFTER
    note: str | None = None
    starts_on: date | None = None


def parse_offsets(text: str) -> tuple[int, ...]:
    """``"10,5,1,0"`` → (10, 5, 1, 0); ValueError for anything else."""
    parts = [p for p in _SPLIT.split(text.strip()) if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise ValueError(f"offsets are working days before the due date, like 10,5,1,0: {text!r}")
    values = tuple(sorted({int(p) for p in parts}, reverse=True))
    if values[0] > MAX_OFFSET:
        raise ValueError(f"an offset of more than {MAX_OFFSET} working days is not a reminder")
    return values


def split_list(text: str | None, *, spaces: bool = True) -> list[str]:
    """Items separated by commas, semicolons or bars, and by spaces when ``spaces``
    (unit codes have none; person names do)."""
    if not text:
        return []
    separator = r"[\s,;|]+" if spaces else r"[,;|]+"
    return [p.strip() for p in re.split(separator, text) if p.strip()]


async def _resolve_people(session: AsyncSession, refs: list[str]) -> tuple[list[int], list[str]]:
    found, errors = [], []
    rows = (
        await session.exec(
            select(Person.id, Person.name, Unit.code)
            .join(Unit, Unit.id == Person.unit_id)
            .where(Person.active.is_(True))
        )
    ).all()
    for ref in refs:
        name, _, unit = ref.lstrip("#").partition("@")
        if name.isdigit():
            matches = [r.id for r in rows if r.id == int(name)]
        else:
            matches = [
                r.id
                for r in rows
                if r.name.casefold() == name.strip().casefold()
                and (not unit or r.code.upper() == unit.strip().upper())
            ]
        if len(matches) == 1:
            found.append(matches[0])
        elif not matches:
            errors.append(f"no active person {ref!r}")
        else:
            errors.append(f"{len(matches)} people are called {ref!r}: add @UNITCODE")
    return found, errors


async def create(
    session: AsyncSession, spec: DeadlineSpec, today: date
) -> tuple[store.Deadline | None, list[str]]:
    """Check and store a deadline with its targets; (None, reasons) when it is not valid."""
    errors = []
    if not _CODE.match(spec.code):
        errors.append(f"code {spec.code!r}: up to 64 letters, digits, '.', '-' or '_'")
    elif await store.by_code(session, spec.code) is not None:
        errors.append(f"deadline {spec.code!r} already exists")
    if not spec.title.strip() or len(spec.title) > 255:
        errors.append("the title must have 1 to 255 characters")
    if spec.note and len(spec.note) > NOTE_LIMIT:
        errors.append(f"the note is longer than {NOTE_LIMIT} characters")
    if spec.schedule.kind == "once" and spec.schedule.due < today:  # type: ignore[operator]
        errors.append(f"the due date {spec.schedule.due:%d/%m/%Y} is in the past")
    if spec.escalate_after < 0:
        errors.append("escalate_after must be 0 (never) or more")
    units = {u.code.upper(): u for u in (await session.exec(select(Unit))).scalars()}
    unit_ids = []
    for code in spec.unit_codes:
        unit = units.get(code.upper())
        if unit is None:
            errors.append(f"unknown unit {code!r}")
        else:
            unit_ids.append(unit.id)
    person_ids, problems = await _resolve_people(session, spec.people)
    errors += problems
    if not spec.unit_codes and not spec.people:
        errors.append("say who it is for: units (their officials) and/or people")
    if errors:
        return None, errors
    deadline = await store.create_deadline(
        session,
        code=spec.code,
        title=spec.title.strip(),
        schedule=spec.schedule.canonical(),
        starts_on=spec.starts_on or today,
        offsets=list(spec.offsets),
        overdue_daily=spec.overdue_daily,
        escalate_after=spec.escalate_after or None,
        note=spec.note,
    )
    await store.add_targets(session, deadline.id, unit_ids=unit_ids, person_ids=person_ids)
    return deadline, []


def template_specs(
    name: str, prefix: str, shift_days: int, base: DeadlineSpec
) -> list[DeadlineSpec]:
    """The deadlines of a built-in template, with ``base``'s targets and reminder settings."""
    return [
        DeadlineSpec(
            code=f"{prefix}-{item.suffix}",
            title=item.title,
            schedule=item.schedule,
            unit_codes=base.unit_codes,
            people=base.people,
            offsets=base.offsets,
            overdue_daily=base.overdue_daily,
            escalate_after=base.escalate_after,
            note=base.note or item.note,
            starts_on=base.starts_on,
        )
        for item in template(name, shift_days)
    ]


def describe_schedule(t: Translator, schedule: Schedule) -> str:
    """``quarterly 20`` → "hằng quý, ngày 20 các tháng 3, 6, 9, 12"."""
    _ = t.gettext
    if schedule.kind == "once":
        return _("once, {date}").format(date=t.date(schedule.due))  # type: ignore[arg-type]
    if schedule.kind == "monthly":
        return _("monthly, day {day}").format(day=schedule.day)
    if schedule.kind == "quarterly":
        return _("quarterly, day {day} of March, June, September, December").format(
            day=schedule.day
        )
    if schedule.kind == "yearly":
        return _("yearly, {day}/{month}").format(day=schedule.day, month=schedule.month)
    return f"RRULE {schedule.rule}"


def describe_offsets(t: Translator, offsets: list[int], overdue_daily: bool) -> str:
    """ "10, 5, 1 working days before, on the day, then daily while overdue"."""
    _ = t.gettext
    parts = []
    before = [str(k) for k in offsets if k > 0]
    if before:
        parts.append(_("{days} working days before").format(days=", ".join(before)))
    if 0 in offsets:
        parts.append(_("on the day"))
    if overdue_daily:
        parts.append(_("then every working day while overdue"))
    return "; ".join(parts) or _("no reminders")


class DeadlineRow(RowModel):
    code: str = Code
    title: str = Field(min_length=1, max_length=255)
    schedule: str
    units: str | None = None
    people: str | None = None
    offsets: str | None = None
    escalate_after: int | None = Field(default=None, ge=0, le=60)
    overdue_daily: bool | None = None  # empty: true
    note: str | None = Field(default=None, max_length=NOTE_LIMIT)
    starts_on: str | None = None

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        parse_schedule(value)  # ScheduleError is a ValueError: reported with the line
        return value

    @field_validator("offsets")
    @classmethod
    def _offsets(cls, value: str | None) -> str | None:
        if value is not None:
            parse_offsets(value)
        return value

    @field_validator("starts_on")
    @classmethod
    def _starts(cls, value: str | None) -> str | None:
        if value is not None and parse_date(value) is None:
            raise ValueError("not a date (use dd/mm/yyyy or yyyy-mm-dd)")
        return value


@importer
class DeadlineImporter(Importer):
    """``code,title,schedule[,units][,people][,offsets][,escalate_after][,overdue_daily]
    [,note][,starts_on]``; units and people separated by spaces, ``|`` or ``;``."""

    kind = "deadlines"
    label = N_("deadlines")
    Row = DeadlineRow

    async def load(self, app, session, rows):
        errors: list[RowError] = []
        today = app.now().astimezone(app.tz).date()
        seen: dict[str, int] = {}
        for line, row in rows:
            if row.code.upper() in seen:
                errors.append(
                    RowError(line, f"code '{row.code}' is also on line {seen[row.code.upper()]}")
                )
                continue
            seen[row.code.upper()] = line
            spec = DeadlineSpec(
                code=row.code,
                title=row.title,
                schedule=parse_schedule(row.schedule),
                unit_codes=split_list(row.units),
                people=split_list(row.people, spaces=False),
                offsets=parse_offsets(row.offsets) if row.offsets else DEFAULT_OFFSETS,
                overdue_daily=row.overdue_daily is not False,
                escalate_after=(
                    DEFAULT_ESCALATE_AFTER if row.escalate_after is None else row.escalate_after
                ),
                note=row.note,
                starts_on=parse_date(row.starts_on) if row.starts_on else None,
            )
            _deadline, problems = await create(session, spec, today)
            errors += [RowError(line, problem) for problem in problems]
        return errors, []


async def load_demo(app: App, session: AsyncSession, unit_code: str) -> int:
    """The demo's deadlines for the officials under ``unit_code``: the ministry's CCHC
    reports (the province asks for them five days early) and this year's self-assessment."""
    today = app.now().astimezone(app.tz).date()
    base = DeadlineSpec("CCHC", "", Schedule("once"), unit_codes=[unit_code])
    specs = template_specs("cchc-quarterly", "CCHC", -5, base)
    closing = date(today.year, 11, 30)
    if closing < today:
        closing = date(today.year + 1, 11, 30)
    specs.append(
        DeadlineSpec(
            code=f"TDG-{closing.year}",
            title=f"Hoàn thành tự đánh giá, chấm điểm Chỉ số CCHC năm {closing.year}",
            schedule=Schedule("once", due=closing),
            unit_codes=[unit_code],
            note="Phần mềm chấm điểm đóng vào ngày hạn.",
        )
    )
    for spec in specs:
        _deadline, errors = await create(session, spec, today)
        if errors:
            raise ValueError("; ".join(errors))
    return len(specs)
