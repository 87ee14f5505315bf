"""Managing deadlines: ``deadline add|list|disable|enable``, ``reminders run-due``,
``holiday add|remove|list``, the ``deadlines`` CSV importer, and the demo deadlines.

A deadline is created the same way from the command line, a CSV row and the demo
(``create``), so each checks the same things: a unique code, a readable schedule, no
one-off date in the past, known units and people, at least one target.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import Field, field_validator
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cli import EXTENSIONS, UsageError, run_async
from bot.core.app import App
from bot.services.imports import Code, Importer, RowError, RowModel, importer
from flows.i18n import N_, Translator, translator
from scheduler.calendar import load_calendar
from scheduler.recurrence import (
    TEMPLATES,
    Schedule,
    ScheduleError,
    parse_date,
    parse_schedule,
    template,
)
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


# --- describing ---------------------------------------------------------------------------


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


# --- command line ---------------------------------------------------------------------------


def _schedule_arg(text: str) -> Schedule:
    try:
        return parse_schedule(text)
    except ScheduleError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _offsets_arg(text: str) -> tuple[int, ...]:
    try:
        return parse_offsets(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _day_arg(text: str) -> date:
    day = parse_date(text)
    if day is None:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use dd/mm/yyyy or yyyy-mm-dd)")
    return day


def _moment_arg(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (e.g. 2027-03-09T08:00+07:00)"
        ) from None


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``deadline``, ``reminders`` and ``holiday`` (bot.cli EXTENSIONS)."""
    p = sub.add_parser("deadline", help="deadlines staff are reminded of")
    dsub = p.add_subparsers(dest="deadline_command", required=True, metavar="ACTION")
    c = dsub.add_parser("add", help="add a deadline, or a template's deadlines")
    c.add_argument("--code", help="short unique code (with --template: the prefix, default CCHC)")
    c.add_argument("--title")
    c.add_argument(
        "--schedule",
        type=_schedule_arg,
        help="20/12/2026 (once), 'monthly 20', 'quarterly 20', 'yearly 20/12' or an RRULE",
    )
    c.add_argument("--template", choices=sorted(TEMPLATES), help="; ".join(TEMPLATES.values()))
    c.add_argument(
        "--shift-days", type=int, default=0, help="with --template: move every due date (-5)"
    )
    c.add_argument("--units", help="unit codes: their officials and those of units below")
    c.add_argument("--people", help="person ids or names (Name@UNIT when names repeat)")
    c.add_argument(
        "--offsets",
        type=_offsets_arg,
        default=DEFAULT_OFFSETS,
        help="working days before the due date to remind (default 10,5,1,0)",
    )
    c.add_argument("--no-overdue", action="store_true", help="no daily reminders when overdue")
    c.add_argument(
        "--escalate-after",
        type=int,
        default=DEFAULT_ESCALATE_AFTER,
        help="tell the unit's leader after N working days overdue (default 2; 0: never)",
    )
    c.add_argument("--note", help="a line shown in every reminder")
    c.add_argument(
        "--starts", type=_day_arg, help="first day occurrences count from (default today)"
    )
    c.set_defaults(func=_add)
    c = dsub.add_parser("list", help="deadlines, their schedule, targets and next due date")
    c.add_argument("--all", action="store_true", help="include disabled deadlines")
    c.set_defaults(func=_list)
    for action, active in (("disable", False), ("enable", True)):
        c = dsub.add_parser(action, help=f"{action} a deadline's reminders")
        c.add_argument("code")
        c.set_defaults(func=_set_active, active=active)

    p = sub.add_parser("reminders", help="reminder planning and dispatch")
    rsub = p.add_subparsers(dest="reminders_command", required=True, metavar="ACTION")
    c = rsub.add_parser("run-due", help="one planning-and-dispatch pass (idempotent)")
    c.add_argument(
        "--now",
        type=_moment_arg,
        help="as of this moment (ISO 8601; local time when no offset is given)",
    )
    c.set_defaults(func=_run_due)

    p = sub.add_parser("holiday", help="days off and worked days that differ from the law's list")
    hsub = p.add_subparsers(dest="holiday_command", required=True, metavar="ACTION")
    c = hsub.add_parser("add", help="make a day a day off (or, with --working, a working day)")
    c.add_argument("day", type=_day_arg)
    c.add_argument("--name", default="", help="e.g. 'Nghỉ bù Tết'")
    c.add_argument("--working", action="store_true", help="a worked day (e.g. a swapped Saturday)")
    c.set_defaults(func=_holiday_add)
    c = hsub.add_parser("remove", help="drop an override")
    c.add_argument("day", type=_day_arg)
    c.set_defaults(func=_holiday_remove)
    c = hsub.add_parser("list", help="public holidays and overrides of a year")
    c.add_argument("--year", type=int, help="default: this year")
    c.set_defaults(func=_holiday_list)


EXTENSIONS.append(add_commands)


def _today(app: App) -> date:
    return app.now().astimezone(app.tz).date()


def _add(settings, args) -> int:
    if args.template and (args.title or args.schedule):
        raise UsageError(
            "--template makes its own titles and schedules: leave out --title/--schedule"
        )
    if not args.template and not (args.code and args.title and args.schedule):
        raise UsageError("give --code, --title and --schedule (or --template)")
    if args.shift_days and not args.template:
        raise UsageError("--shift-days goes with --template")
    if args.escalate_after < 0:
        raise UsageError("--escalate-after must be 0 (never) or more")
    base = DeadlineSpec(
        code=args.code or "CCHC",
        title=args.title or "",
        schedule=args.schedule or Schedule("once"),
        unit_codes=split_list(args.units),
        people=split_list(args.people, spaces=False),
        offsets=args.offsets,
        overdue_daily=not args.no_overdue,
        escalate_after=args.escalate_after,
        note=args.note,
        starts_on=args.starts,
    )
    if args.template:
        try:
            specs = template_specs(args.template, base.code, args.shift_days, base)
        except ScheduleError as exc:
            raise UsageError(str(exc)) from None
    else:
        specs = [base]

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        _ = t.gettext
        today = _today(app)
        async with app.db.write() as session:
            created = []
            for spec in specs:
                deadline, errors = await create(session, spec, today)
                if errors:
                    raise UsageError(f"{spec.code}: " + "; ".join(errors))
                created.append((deadline, spec))
        for deadline, spec in created:
            next_due = spec.schedule.next_due(deadline.starts_on, today)
            print(
                _("Added {code}: {title}").format(code=deadline.code, title=deadline.title)
                + f" – {describe_schedule(t, spec.schedule)}"
                + ("; " + _("next due {date}").format(date=t.date(next_due)) if next_due else "")
            )
        from bot.services.reminders import PLAN_EVERY_MINUTES

        print(
            _(
                "The running server plans their reminders within {minutes} minutes "
                "('sipas-bot reminders run-due' does it now)."
            ).format(minutes=PLAN_EVERY_MINUTES)
        )
        return 0

    return run_async(settings, body)


def _list(settings, args) -> int:
    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        _ = t.gettext
        today = _today(app)
        async with app.db.read() as session:
            found = await store.all_deadlines(session, active_only=not args.all)
            targets = await store.targets(session, [d.id for d in found])
        if not found:
            print(_("No deadlines yet. Add one with 'sipas-bot deadline add'."))
            return 0
        for d in found:
            schedule = parse_schedule(d.schedule)
            next_due = schedule.next_due(d.starts_on, today)
            who = ", ".join(
                r.unit_code or f"{r.person_name} (#{r.person_id})" for r in targets.get(d.id, [])
            )
            status = "" if d.active else " [" + _("disabled") + "]"
            print(f"{d.code}{status}  {d.title}")
            print("  " + _("When: {schedule}").format(schedule=describe_schedule(t, schedule)))
            if next_due:
                print("  " + _("Next due: {date}").format(date=t.date(next_due)))
            print(
                "  "
                + _("Reminders: {offsets}").format(
                    offsets=describe_offsets(t, d.offsets, d.overdue_daily)
                )
            )
            if d.escalate_after:
                print(
                    "  "
                    + _("Leader told after {n} working days overdue").format(n=d.escalate_after)
                )
            print("  " + _("For: {who}").format(who=who or "–"))
        return 0

    return run_async(settings, body)


def _set_active(settings, args) -> int:
    async def body(app: App) -> int:
        _ = translator(settings.default_locale, settings.timezone).gettext
        async with app.db.write() as session:
            deadline = await store.by_code(session, args.code)
            if deadline is None:
                raise UsageError(f"unknown deadline {args.code!r}")
            cancelled = await store.set_active(session, deadline.id, args.active, app.now())
        if args.active:
            print(_("{code} is enabled again.").format(code=deadline.code))
        else:
            print(
                _("{code} is disabled; {n} pending reminders cancelled.").format(
                    code=deadline.code, n=cancelled
                )
            )
        return 0

    return run_async(settings, body)


def _run_due(settings, args) -> int:
    from bot.services.reminders import run_due

    moment = args.now
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.tz)

    async def body(app: App) -> int:
        _ = translator(settings.default_locale, settings.timezone).gettext
        result = await run_due(app, moment)
        print(
            _(
                "New reminders planned: {planned}. Sent: {sent}, cancelled: {cancelled}, "
                "undeliverable: {skipped}. Quota nudges: {nudges}."
            ).format(
                planned=result.plan.reminders,
                sent=result.dispatch.sent,
                cancelled=result.dispatch.cancelled,
                skipped=result.dispatch.skipped,
                nudges=result.nudges,
            )
        )
        return 0

    return run_async(settings, body)


def _holiday_add(settings, args) -> int:
    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        async with app.db.write() as session:
            await store.set_override(session, args.day, args.working, args.name, app.now())
        text = (
            t.gettext("{date} is a working day.")
            if args.working
            else t.gettext("{date} is a day off.")
        )
        print(text.format(date=t.date(args.day)))
        return 0

    return run_async(settings, body)


def _holiday_remove(settings, args) -> int:
    async def body(app: App) -> int:
        async with app.db.write() as session:
            if not await store.remove_override(session, args.day):
                raise UsageError(f"no override on {args.day:%d/%m/%Y}")
        return 0

    return run_async(settings, body)


def _holiday_list(settings, args) -> int:
    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        _ = t.gettext
        year = args.year or _today(app).year
        async with app.db.read() as session:
            cal = await load_calendar(session)
            own = {o.day: o for o in await store.list_overrides(session, year)}
        days = {d for d in cal.overrides if d.year == year}
        start = date(year, 1, 1)
        days |= {
            start.fromordinal(n)
            for n in range(start.toordinal(), date(year, 12, 31).toordinal() + 1)
            if cal.holiday_name(start.fromordinal(n))
        }
        for day in sorted(days):
            working = cal.is_working_day(day)
            name = own[day].name if day in own and own[day].name else cal.holiday_name(day) or ""
            kind = _("working day") if working else _("day off")
            marker = " *" if day in own else ""
            print(f"{t.date(day)}  {kind:<14} {name}{marker}")
        if own:
            print(_("* set with 'sipas-bot holiday add'"))
        return 0

    return run_async(settings, body)


# --- CSV import ----------------------------------------------------------------------------


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
        today = _today(app)
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


# --- demo ------------------------------------------------------------------------------------


async def load_demo(app: App, session: AsyncSession, unit_code: str) -> int:
    """The demo's deadlines for the officials under ``unit_code``: the ministry's CCHC
    reports (the province asks for them five days early) and this year's self-assessment."""
    today = _today(app)
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
