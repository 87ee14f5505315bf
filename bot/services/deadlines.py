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
from bot.services.imports import (
    Code,
    Importer,
    RowError,
    RowModel,
    RowProblem,
    RowsRefused,
    Written,
    importer,
)
from flows.i18n import DEFAULT_LOCALE, N_, Problem, Translator, translator
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
    """``"10,5,1,0"`` → (10, 5, 1, 0); ``Problem`` (a ValueError) for anything else."""
    parts = [p for p in _SPLIT.split(text.strip()) if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise Problem(
            N_("reminder days are working days before the due date, like 10,5,1,0: '{text}'"),
            text=text,
        )
    values = tuple(sorted({int(p) for p in parts}, reverse=True))
    if values[0] > MAX_OFFSET:
        raise Problem(
            N_("a reminder more than {n} working days before the due date is not a reminder"),
            n=MAX_OFFSET,
        )
    return values


def split_list(text: str | None, *, spaces: bool = True) -> list[str]:
    """Items separated by commas, semicolons or bars, and by spaces when ``spaces``
    (unit codes have none; person names do)."""
    if not text:
        return []
    separator = r"[\s,;|]+" if spaces else r"[,;|]+"
    return [p.strip() for p in re.split(separator, text) if p.strip()]


async def _resolve_people(
    session: AsyncSession, refs: list[str], t: Translator
) -> tuple[list[int], list[str]]:
    _ = t.gettext
    found, errors = [], []
    rows = (
        await session.exec(
            select(Person.id, Person.name, Unit.code)
            .join(Unit, Unit.id == Person.unit_id)
            .where(Person.active.is_(True))
        )
    ).all()
    for ref in refs:
        name, _sep, unit = ref.lstrip("#").partition("@")
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
            errors.append(_("no active person '{name}'").format(name=ref))
        else:
            errors.append(
                _("{n} people are called '{name}': add @UNITCODE").format(n=len(matches), name=ref)
            )
    return found, errors


async def create(
    session: AsyncSession, spec: DeadlineSpec, today: date, t: Translator | None = None
) -> tuple[store.Deadline | None, list[str]]:
    """Check and store a deadline with its targets; (None, reasons in ``t``'s language,
    Vietnamese by default) when it is not valid."""
    errors, unit_ids, person_ids = await check_spec(session, spec, today, t)
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


async def check_spec(
    session: AsyncSession, spec: DeadlineSpec, today: date, t: Translator | None = None
) -> tuple[list[str], list[int], list[int]]:
    """What is wrong with ``spec`` (in ``t``'s language, Vietnamese by default), and the
    ids of its target units and people; reads only."""
    t = t or translator(DEFAULT_LOCALE)
    _ = t.gettext
    errors = []
    if not _CODE.match(spec.code):
        errors.append(
            _("code '{code}': up to 64 letters, digits, '.', '-' or '_'").format(code=spec.code)
        )
    elif await store.by_code(session, spec.code) is not None:
        errors.append(_("deadline '{code}' already exists").format(code=spec.code))
    if not spec.title.strip() or len(spec.title) > 255:
        errors.append(_("the title must have 1 to 255 characters"))
    if spec.note and len(spec.note) > NOTE_LIMIT:
        errors.append(_("the note is longer than {n} characters").format(n=t.number(NOTE_LIMIT)))
    if spec.schedule.kind == "once" and spec.schedule.due < today:  # type: ignore[operator]
        errors.append(
            _("the due date {date} is in the past").format(date=t.date(spec.schedule.due))
        )
    if spec.escalate_after < 0:
        errors.append(_("telling the leader after N working days overdue needs N of 0 or more"))
    units = {u.code.upper(): u for u in (await session.exec(select(Unit))).scalars()}
    unit_ids = []
    for code in spec.unit_codes:
        unit = units.get(code.upper())
        if unit is None:
            errors.append(_("unknown unit code '{code}'").format(code=code))
        else:
            unit_ids.append(unit.id)
    person_ids, problems = await _resolve_people(session, spec.people, t)
    errors += problems
    if not spec.unit_codes and not spec.people:
        errors.append(_("say who it is for: units (their officials) and/or people"))
    return errors, unit_ids, person_ids


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
        try:
            parse_schedule(value)
        except Problem as exc:  # reported with the line, in the user's language
            raise RowProblem(exc.message, **exc.fields) from None
        return value

    @field_validator("offsets")
    @classmethod
    def _offsets(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_offsets(value)
            except Problem as exc:
                raise RowProblem(exc.message, **exc.fields) from None
        return value

    @field_validator("starts_on")
    @classmethod
    def _starts(cls, value: str | None) -> str | None:
        if value is not None and parse_date(value) is None:
            raise RowProblem(N_("not a date (use dd/mm/yyyy or yyyy-mm-dd)"))
        return value


@importer
class DeadlineImporter(Importer):
    """``code,title,schedule[,units][,people][,offsets][,escalate_after][,overdue_daily]
    [,note][,starts_on]``; units and people separated by spaces, ``|`` or ``;``."""

    kind = "deadlines"
    label = N_("deadlines")
    Row = DeadlineRow

    async def prepare(self, session):
        self._today = self.app.now().astimezone(self.app.tz).date()
        self._seen: dict[str, int] = {}
        self._items: list[tuple[int, DeadlineSpec, bool]] = []  # (line, spec, existing?)

    async def check(self, session, rows):
        """Each row as ``create`` checks it; a code stored already is fine when the row
        says the same (a file imported again: reported as existing), else a problem."""
        errors: list[RowError] = []
        for line, row in rows:
            if row.code.upper() in self._seen:
                text = self._("'{value}' is also on line {first}").format(
                    value=row.code, first=self._seen[row.code.upper()]
                )
                errors.append(RowError(line, text, "code"))
                continue
            self._seen[row.code.upper()] = line
            spec = _spec(row)
            stored = await store.by_code(session, spec.code)
            if stored is not None and not await _same(session, stored, spec, self.t):
                text = self._("deadline '{code}' exists already with other details")
                errors.append(RowError(line, text.format(code=stored.code), "code"))
            elif stored is None:
                problems, _units, _people = await check_spec(session, spec, self._today, self.t)
                errors += [RowError(line, text) for text in problems]
            self._items.append((line, spec, stored is not None))
        return errors

    def plan(self):
        return [self._items] if self._items else []

    async def write(self, session, built):
        written = Written()
        for line, spec, existing in (item for chunk in built for item in chunk):
            if existing:
                written.existing += 1
                continue
            _deadline, problems = await create(session, spec, self._today, self.t)
            if problems:  # someone else added the code meanwhile
                raise RowsRefused([RowError(line, text) for text in problems])
            written.created += 1
        return written


def _spec(row: DeadlineRow) -> DeadlineSpec:
    return DeadlineSpec(
        code=row.code,
        title=row.title,
        schedule=parse_schedule(row.schedule),
        unit_codes=split_list(row.units),
        people=split_list(row.people, spaces=False),
        offsets=parse_offsets(row.offsets) if row.offsets else DEFAULT_OFFSETS,
        overdue_daily=row.overdue_daily is not False,
        escalate_after=DEFAULT_ESCALATE_AFTER if row.escalate_after is None else row.escalate_after,
        note=row.note,
        starts_on=parse_date(row.starts_on) if row.starts_on else None,
    )


async def _same(session: AsyncSession, d: store.Deadline, spec: DeadlineSpec, t) -> bool:
    """Whether ``spec`` says what the stored deadline ``d`` is (a file imported again)."""
    targets = (await store.targets(session, [d.id])).get(d.id, [])  # type: ignore[list-item]
    person_ids, problems = await _resolve_people(session, spec.people, t)
    return (
        not problems
        and d.title == spec.title.strip()
        and d.schedule == spec.schedule.canonical()
        and list(d.offsets) == list(spec.offsets)
        and d.overdue_daily == spec.overdue_daily
        and (d.escalate_after or 0) == spec.escalate_after
        and (d.note or None) == (spec.note or None)
        and spec.starts_on in (None, d.starts_on)
        and sorted(r.unit_code.upper() for r in targets if r.unit_code)
        == sorted({c.upper() for c in spec.unit_codes})
        and sorted(r.person_id for r in targets if r.person_id) == sorted(set(person_ids))
    )


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
