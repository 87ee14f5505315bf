"""Deadlines, their occurrences and assignments, durable reminders, holiday overrides.

Every write that planning repeats is an insert that ignores duplicates (unique keys on
occurrence dates, assignments and reminder keys), so planning twice, or in two
processes at once, writes each row once. Due reminders are claimed with one
``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`` statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, exists, func, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Assignment,
    Deadline,
    DeadlineOccurrence,
    DeadlineTarget,
    HolidayOverride,
    Person,
    Reminder,
    Unit,
)
from storage.sql import dialect, insert

# assignment status
PENDING, DONE, NOT_MINE = "pending", "done", "not_mine"
# reminder status (PENDING too)
SENT, CANCELLED, SKIPPED = "sent", "cancelled", "skipped"
# reminder kinds
BEFORE, DUE, OVERDUE, SNOOZE, ESCALATION = "before", "due", "overdue", "snooze", "escalation"
DISOWNED = "disowned"  # an admin told that an assignee says it is not their task


async def _insert_new(session: AsyncSession, model, rows: list[dict], unique: list[str]) -> int:
    # One statement for many rows; rows whose unique key exists (written by an earlier
    # pass, or by another process a moment ago) are skipped. Returns how many were new.
    stmt = insert(session, model).on_conflict_do_nothing(index_elements=unique)
    result = await session.exec(stmt.returning(model.__table__.c[unique[0]]), params=rows)
    return len(result.all())


# --- deadlines ------------------------------------------------------------------------


async def create_deadline(
    session: AsyncSession,
    *,
    code: str,
    title: str,
    schedule: str,
    starts_on: date,
    offsets: list[int],
    overdue_daily: bool = True,
    escalate_after: int | None = None,
    note: str | None = None,
) -> Deadline:
    """Add a deadline (in the caller's transaction)."""
    deadline = Deadline(
        code=code,
        title=title,
        note=note,
        schedule=schedule,
        starts_on=starts_on,
        offsets=sorted(set(offsets), reverse=True),
        overdue_daily=overdue_daily,
        escalate_after=escalate_after,
    )
    session.add(deadline)
    await session.flush()
    return deadline


async def add_targets(
    session: AsyncSession,
    deadline_id: int,
    *,
    unit_ids: Iterable[int] = (),
    person_ids: Iterable[int] = (),
) -> None:
    """Say who a deadline is for: whole units (their officials) and single persons."""
    rows = [{"deadline_id": deadline_id, "unit_id": u, "person_id": None} for u in set(unit_ids)]
    rows += [{"deadline_id": deadline_id, "unit_id": None, "person_id": p} for p in set(person_ids)]
    if rows:
        await session.exec(insert(session, DeadlineTarget).values(rows))


async def by_code(session: AsyncSession, code: str) -> Deadline | None:
    """The deadline with this code (case-insensitive)."""
    stmt = select(Deadline).where(func.upper(Deadline.code) == code.upper())
    return (await session.exec(stmt)).scalars().first()


async def all_deadlines(session: AsyncSession, *, active_only: bool = False) -> list[Deadline]:
    """Deadlines by code."""
    stmt = select(Deadline).order_by(Deadline.code)
    if active_only:
        stmt = stmt.where(Deadline.active.is_(True))
    return list((await session.exec(stmt)).scalars().all())


async def set_active(session: AsyncSession, deadline_id: int, active: bool, now: datetime) -> int:
    """Switch a deadline off (its pending reminders are cancelled; returns how many) or
    on again (those come back; dispatch sends one per task however many piled up)."""
    await session.exec(update(Deadline).where(Deadline.id == deadline_id).values(active=active))
    occurrences = select(DeadlineOccurrence.id).where(DeadlineOccurrence.deadline_id == deadline_id)
    mine = Reminder.occurrence_id.in_(occurrences)
    if active:
        stmt = update(Reminder).where(mine, Reminder.reason == "deadline_disabled")
        values = {"status": PENDING, "reason": None}
    else:
        stmt = update(Reminder).where(mine, Reminder.status == PENDING)
        values = {"status": CANCELLED, "reason": "deadline_disabled"}
    result = await session.exec(stmt.values(**values).returning(Reminder.id))
    return len(result.all())


@dataclass(frozen=True)
class TargetRow:
    unit_id: int | None
    unit_code: str | None
    person_id: int | None
    person_name: str | None


async def targets(session: AsyncSession, deadline_ids: Iterable[int]) -> dict[int, list[TargetRow]]:
    """Each deadline's targets, with unit codes and person names for display."""
    stmt = (
        select(
            DeadlineTarget.deadline_id,
            DeadlineTarget.unit_id,
            Unit.code,
            DeadlineTarget.person_id,
            Person.name,
        )
        .outerjoin(Unit, Unit.id == DeadlineTarget.unit_id)
        .outerjoin(Person, Person.id == DeadlineTarget.person_id)
        .where(DeadlineTarget.deadline_id.in_(list(deadline_ids)))
        .order_by(DeadlineTarget.id)
    )
    found: dict[int, list[TargetRow]] = {}
    for did, uid, ucode, pid, pname in (await session.exec(stmt)).all():
        found.setdefault(did, []).append(TargetRow(uid, ucode, pid, pname))
    return found


async def resolve_targets(session: AsyncSession, deadline_id: int) -> list[int]:
    """The active persons a deadline is for now: the officials of each target unit and
    every unit below it, plus the persons named directly."""
    units = (
        select(Unit.path)
        .join(DeadlineTarget, DeadlineTarget.unit_id == Unit.id)
        .where(DeadlineTarget.deadline_id == deadline_id)
    )
    paths = list((await session.exec(units)).scalars().all())
    conditions = [
        Person.id.in_(
            select(DeadlineTarget.person_id).where(
                DeadlineTarget.deadline_id == deadline_id, DeadlineTarget.person_id.is_not(None)
            )
        )
    ]
    if paths:
        conditions.append(
            and_(Person.role == "official", or_(*(Unit.path.startswith(p) for p in paths)))
        )
    stmt = (
        select(Person.id)
        .join(Unit, Unit.id == Person.unit_id)
        .where(Person.active.is_(True), or_(*conditions))
        .order_by(Person.id)
    )
    return list((await session.exec(stmt)).scalars().all())


# --- occurrences and assignments --------------------------------------------------------


async def occurrence_dates(session: AsyncSession, deadline_id: int) -> set[date]:
    """The due dates already planned for a deadline."""
    stmt = select(DeadlineOccurrence.due_on).where(DeadlineOccurrence.deadline_id == deadline_id)
    return set((await session.exec(stmt)).scalars().all())


async def add_occurrences(
    session: AsyncSession, deadline_id: int, days: Iterable[date], now: datetime
) -> None:
    """Record due dates of a deadline (ignoring those already recorded)."""
    rows = [{"deadline_id": deadline_id, "due_on": d, "created_at": now} for d in sorted(set(days))]
    if rows:
        await _insert_new(session, DeadlineOccurrence, rows, ["deadline_id", "due_on"])


@dataclass(frozen=True)
class OpenOccurrence:
    id: int
    deadline_id: int
    due_on: date
    offsets: list[int]
    overdue_daily: bool
    escalate_after: int | None
    fresh: bool  # recorded by this planning pass


async def open_occurrences(
    session: AsyncSession, today: date, now: datetime
) -> list[OpenOccurrence]:
    """Occurrences of active deadlines still to plan for: not yet past due, past due
    with someone who has not answered, or recorded at ``now`` (by this pass)."""
    fresh = DeadlineOccurrence.created_at >= now
    someone_pending = exists().where(
        Assignment.occurrence_id == DeadlineOccurrence.id, Assignment.status == PENDING
    )
    stmt = (
        select(
            DeadlineOccurrence.id,
            DeadlineOccurrence.deadline_id,
            DeadlineOccurrence.due_on,
            Deadline.offsets,
            Deadline.overdue_daily,
            Deadline.escalate_after,
            fresh,
        )
        .join(Deadline, Deadline.id == DeadlineOccurrence.deadline_id)
        .where(
            Deadline.active.is_(True),
            or_(DeadlineOccurrence.due_on >= today, someone_pending, fresh),
        )
        .order_by(DeadlineOccurrence.id)
    )
    return [
        OpenOccurrence(r[0], r[1], r[2], list(r[3] or []), r[4], r[5], bool(r[6]))
        for r in (await session.exec(stmt)).all()
    ]


async def add_assignments(
    session: AsyncSession, occurrence_id: int, person_ids: Iterable[int], now: datetime
) -> None:
    """Assign an occurrence to persons (ignoring those already assigned)."""
    assigned = select(Assignment.person_id).where(Assignment.occurrence_id == occurrence_id)
    known = set((await session.exec(assigned)).scalars().all())
    rows = [
        {"occurrence_id": occurrence_id, "person_id": p, "status": PENDING, "created_at": now}
        for p in sorted(set(person_ids) - known)
    ]
    if rows:
        await _insert_new(session, Assignment, rows, ["occurrence_id", "person_id"])


@dataclass(frozen=True)
class PendingAssignment:
    id: int
    occurrence_id: int
    person_id: int
    reminded: bool  # whether any reminder was planned for it yet


async def pending_assignments(
    session: AsyncSession, occurrence_ids: list[int]
) -> list[PendingAssignment]:
    """The unanswered assignments of these occurrences (of persons still active)."""
    if not occurrence_ids:
        return []
    reminded = exists().where(Reminder.assignment_id == Assignment.id)
    stmt = (
        select(Assignment.id, Assignment.occurrence_id, Assignment.person_id, reminded)
        .join(Person, Person.id == Assignment.person_id)
        .where(
            Assignment.occurrence_id.in_(occurrence_ids),
            Assignment.status == PENDING,
            Person.active.is_(True),
        )
        .order_by(Assignment.id)
    )
    return [PendingAssignment(*r) for r in (await session.exec(stmt)).all()]


# --- reminders -------------------------------------------------------------------------


@dataclass(frozen=True)
class NewReminder:
    key: str
    kind: str
    occurrence_id: int
    person_id: int
    assignment_id: int | None
    due_at: datetime


async def add_reminders(session: AsyncSession, reminders: list[NewReminder], now: datetime) -> int:
    """Store planned reminders; those whose key exists are skipped. Returns how many were new."""
    known: set[str] = set()
    keys = [r.key for r in reminders]
    for start in range(0, len(keys), 500):  # planning repeats: most keys exist already
        chunk = keys[start : start + 500]
        known.update(
            (await session.exec(select(Reminder.key).where(Reminder.key.in_(chunk)))).scalars()
        )
    rows = [
        {
            "key": r.key,
            "kind": r.kind,
            "occurrence_id": r.occurrence_id,
            "person_id": r.person_id,
            "assignment_id": r.assignment_id,
            "due_at": r.due_at,
            "status": PENDING,
            "created_at": now,
        }
        for r in reminders
        if r.key not in known
    ]
    return await _insert_new(session, Reminder, rows, ["key"]) if rows else 0


@dataclass(frozen=True)
class ClaimedReminder:
    id: int
    kind: str
    occurrence_id: int
    person_id: int
    assignment_id: int | None
    due_at: datetime


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> list[ClaimedReminder]:
    """Take up to ``limit`` due reminders for this transaction (marked sent at ``now``).

    On PostgreSQL rows another transaction is claiming are skipped, so concurrent
    dispatchers take disjoint sets; if the caller's transaction fails, the rows are
    pending again.
    """
    candidates = (
        select(Reminder.id)
        .where(Reminder.status == PENDING, Reminder.due_at <= now)
        .order_by(Reminder.due_at, Reminder.id)
        .limit(limit)
    )
    if dialect(session) == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    stmt = (
        update(Reminder)
        .where(Reminder.id.in_(candidates.scalar_subquery()))
        .values(status=SENT, sent_at=now)
        .returning(
            Reminder.id,
            Reminder.kind,
            Reminder.occurrence_id,
            Reminder.person_id,
            Reminder.assignment_id,
            Reminder.due_at,
        )
    )
    rows = [ClaimedReminder(*r) for r in (await session.exec(stmt)).all()]
    return sorted(rows, key=lambda r: (r.due_at, r.id))


async def set_reminder_status(
    session: AsyncSession, ids: Iterable[int], status: str, reason: str
) -> None:
    """Mark reminders cancelled or skipped (with why)."""
    ids = list(ids)
    if ids:
        await session.exec(
            update(Reminder)
            .where(Reminder.id.in_(ids))
            .values(status=status, reason=reason[:64], sent_at=None)
        )


@dataclass(frozen=True)
class ReminderContext:
    """What a reminder's message is made of, read when it is dispatched."""

    occurrence_id: int
    due_on: date
    deadline_code: str
    title: str
    note: str | None
    deadline_active: bool
    assignment_status: str | None
    snoozed_until: datetime | None
    person_active: bool
    locale: str


async def reminder_context(
    session: AsyncSession, reminder_ids: list[int]
) -> dict[int, ReminderContext]:
    """The occurrence, deadline, assignment and recipient of each reminder."""
    if not reminder_ids:
        return {}
    stmt = (
        select(
            Reminder.id,
            DeadlineOccurrence.id,
            DeadlineOccurrence.due_on,
            Deadline.code,
            Deadline.title,
            Deadline.note,
            Deadline.active,
            Assignment.status,
            Assignment.snoozed_until,
            Person.active,
            Person.locale,
        )
        .join(DeadlineOccurrence, DeadlineOccurrence.id == Reminder.occurrence_id)
        .join(Deadline, Deadline.id == DeadlineOccurrence.deadline_id)
        .join(Person, Person.id == Reminder.person_id)
        .outerjoin(Assignment, Assignment.id == Reminder.assignment_id)
        .where(Reminder.id.in_(reminder_ids))
    )
    return {r[0]: ReminderContext(*r[1:]) for r in (await session.exec(stmt)).all()}


async def cancel_reminders(session: AsyncSession, assignment_id: int, reason: str) -> None:
    """Cancel the pending reminders of an assignment (it was answered)."""
    await session.exec(
        update(Reminder)
        .where(Reminder.assignment_id == assignment_id, Reminder.status == PENDING)
        .values(status=CANCELLED, reason=reason)
    )


# --- answers and tasks -------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRow:
    assignment_id: int
    occurrence_id: int
    deadline_code: str
    title: str
    note: str | None
    due_on: date
    status: str
    snoozed_until: datetime | None
    answered_at: datetime | None


_TASK_COLUMNS = (
    Assignment.id,
    Assignment.occurrence_id,
    Deadline.code,
    Deadline.title,
    Deadline.note,
    DeadlineOccurrence.due_on,
    Assignment.status,
    Assignment.snoozed_until,
    Assignment.answered_at,
)


def _tasks_query():
    return (
        select(*_TASK_COLUMNS)
        .join(DeadlineOccurrence, DeadlineOccurrence.id == Assignment.occurrence_id)
        .join(Deadline, Deadline.id == DeadlineOccurrence.deadline_id)
    )


async def open_tasks(session: AsyncSession, person_id: int) -> list[TaskRow]:
    """A person's unanswered assignments of active deadlines, soonest due first."""
    stmt = (
        _tasks_query()
        .where(
            Assignment.person_id == person_id,
            Assignment.status == PENDING,
            Deadline.active.is_(True),
        )
        .order_by(DeadlineOccurrence.due_on, Deadline.code, Assignment.id)
    )
    return [TaskRow(*r) for r in (await session.exec(stmt)).all()]


async def task(session: AsyncSession, person_id: int, assignment_id: int) -> TaskRow | None:
    """One of a person's assignments (None when it is not theirs)."""
    stmt = _tasks_query().where(Assignment.id == assignment_id, Assignment.person_id == person_id)
    row = (await session.exec(stmt)).first()
    return TaskRow(*row) if row else None


async def answer(
    session: AsyncSession,
    assignment_id: int,
    person_id: int,
    status: str,
    at: datetime,
    channel: str,
) -> bool:
    """Record done / not mine for a pending assignment of this person and cancel its
    reminders; False when it was already answered (or is not theirs)."""
    result = await session.exec(
        update(Assignment)
        .where(
            Assignment.id == assignment_id,
            Assignment.person_id == person_id,
            Assignment.status == PENDING,
        )
        .values(status=status, answered_at=at, answered_channel=channel, snoozed_until=None)
        .returning(Assignment.id)
    )
    if not result.all():
        return False
    await cancel_reminders(session, assignment_id, status)
    return True


async def snooze(
    session: AsyncSession,
    assignment_id: int,
    person_id: int,
    occurrence_id: int,
    until: datetime,
    now: datetime,
) -> bool:
    """Hold back an assignment's reminders until ``until`` and plan one reminder then."""
    result = await session.exec(
        update(Assignment)
        .where(
            Assignment.id == assignment_id,
            Assignment.person_id == person_id,
            Assignment.status == PENDING,
        )
        .values(snoozed_until=until)
        .returning(Assignment.id)
    )
    if not result.all():
        return False
    key = f"s{assignment_id}:{until.isoformat()}"
    await add_reminders(
        session, [NewReminder(key, SNOOZE, occurrence_id, person_id, assignment_id, until)], now
    )
    return True


# --- people around an occurrence -------------------------------------------------------------


@dataclass(frozen=True)
class AssigneeRow:
    assignment_id: int
    person_id: int
    name: str
    unit_id: int
    unit_name: str
    unit_path: str
    status: str
    answered_at: datetime | None


async def assignees(session: AsyncSession, occurrence_id: int) -> list[AssigneeRow]:
    """Everyone (still active) assigned an occurrence, with their unit and answer, by
    unit then name."""
    stmt = (
        select(
            Assignment.id,
            Person.id,
            Person.name,
            Unit.id,
            Unit.name,
            Unit.path,
            Assignment.status,
            Assignment.answered_at,
        )
        .join(Person, Person.id == Assignment.person_id)
        .join(Unit, Unit.id == Person.unit_id)
        .where(Assignment.occurrence_id == occurrence_id, Person.active.is_(True))
        .order_by(Unit.path, Person.name, Person.id)
    )
    return [AssigneeRow(*r) for r in (await session.exec(stmt)).all()]


def _ancestor_ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


async def supervisors(
    session: AsyncSession, unit_paths: Iterable[str], roles: tuple[str, ...]
) -> dict[str, list[int]]:
    """For each unit path: the active persons of the first role in ``roles`` found in the
    unit itself or, failing that, the nearest unit above it."""
    paths = set(unit_paths)
    ids = {i for p in paths for i in _ancestor_ids(p)}
    if not ids:
        return {}
    stmt = select(Person.id, Person.role, Person.unit_id).where(
        Person.active.is_(True), Person.role.in_(roles), Person.unit_id.in_(ids)
    )
    by_unit_role: dict[tuple[int, str], list[int]] = {}
    for pid, role, uid in (await session.exec(stmt)).all():
        by_unit_role.setdefault((uid, role), []).append(pid)
    found: dict[str, list[int]] = {}
    for path in paths:
        chain = list(reversed(_ancestor_ids(path)))  # the unit itself first
        for role in roles:
            match = next((by_unit_role[(u, role)] for u in chain if (u, role) in by_unit_role), [])
            if match:
                found[path] = sorted(match)
                break
    return found


@dataclass(frozen=True)
class OccurrenceSummary:
    occurrence_id: int
    deadline_code: str
    title: str
    due_on: date
    total: int
    done: int
    not_mine: int
    pending_names: list[str]


async def occurrence_summaries(
    session: AsyncSession, unit_path: str, since: date, until: date
) -> list[OccurrenceSummary]:
    """Occurrences due in ``[since, until]`` of active deadlines, counting the answers of
    assignees within the unit subtree ``unit_path``, with who is still pending."""
    stmt = (
        select(
            DeadlineOccurrence.id,
            Deadline.code,
            Deadline.title,
            DeadlineOccurrence.due_on,
            Assignment.status,
            Person.name,
        )
        .join(Deadline, Deadline.id == DeadlineOccurrence.deadline_id)
        .join(Assignment, Assignment.occurrence_id == DeadlineOccurrence.id)
        .join(Person, Person.id == Assignment.person_id)
        .join(Unit, Unit.id == Person.unit_id)
        .where(
            Deadline.active.is_(True),
            DeadlineOccurrence.due_on >= since,
            DeadlineOccurrence.due_on <= until,
            Unit.path.startswith(unit_path),
        )
        .order_by(DeadlineOccurrence.due_on, Deadline.code, Person.name)
    )
    found: dict[int, OccurrenceSummary] = {}
    for oid, code, title, due_on, status, name in (await session.exec(stmt)).all():
        s = found.setdefault(oid, OccurrenceSummary(oid, code, title, due_on, 0, 0, 0, []))
        found[oid] = OccurrenceSummary(
            oid,
            code,
            title,
            due_on,
            s.total + 1,
            s.done + (status == DONE),
            s.not_mine + (status == NOT_MINE),
            [*s.pending_names, name] if status == PENDING else s.pending_names,
        )
    return list(found.values())


async def persons_in_unit(session: AsyncSession, unit_id: int, role: str) -> list[int]:
    """The active persons of ``role`` in exactly this unit."""
    stmt = select(Person.id).where(
        Person.unit_id == unit_id, Person.role == role, Person.active.is_(True)
    )
    return sorted((await session.exec(stmt)).scalars().all())


# --- holiday overrides ---------------------------------------------------------------------


async def overrides(session: AsyncSession) -> dict[date, bool]:
    """Every override: day → working (True) or day off (False)."""
    rows = (await session.exec(select(HolidayOverride.day, HolidayOverride.working))).all()
    return {day: working for day, working in rows}


async def list_overrides(session: AsyncSession, year: int | None = None) -> list[HolidayOverride]:
    """The overrides (of one year), by day."""
    stmt = select(HolidayOverride).order_by(HolidayOverride.day)
    if year is not None:
        stmt = stmt.where(
            HolidayOverride.day >= date(year, 1, 1), HolidayOverride.day <= date(year, 12, 31)
        )
    return list((await session.exec(stmt)).scalars().all())


async def set_override(
    session: AsyncSession, day: date, working: bool, name: str, now: datetime
) -> None:
    """Make ``day`` a working day or a day off, whatever the holidays package says."""
    stmt = insert(session, HolidayOverride).values(
        day=day, working=working, name=name, created_at=now
    )
    await session.exec(
        stmt.on_conflict_do_update(
            index_elements=["day"],
            set_={"working": working, "name": name, "source": None, "created_at": now},
        )
    )


async def remove_override(session: AsyncSession, day: date) -> bool:
    """Drop the override of ``day``; False when there was none."""
    result = await session.exec(
        HolidayOverride.__table__.delete()
        .where(HolidayOverride.day == day)
        .returning(HolidayOverride.day)
    )
    return bool(result.all())
