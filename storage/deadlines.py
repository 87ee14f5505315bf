"""Deadlines, their targets, occurrences and assignments (reminders are in
storage/reminders.py, officials' tasks in storage/tasks.py, holiday overrides in
storage/holiday_overrides.py).

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
    Person,
    Reminder,
    Unit,
)
from storage.sql import insert, insert_new

# assignment status
PENDING, DONE, NOT_MINE = "pending", "done", "not_mine"
# reminder status (PENDING too)
SENT, CANCELLED, SKIPPED = "sent", "cancelled", "skipped"
# reminder kinds
BEFORE, DUE, OVERDUE, SNOOZE, ESCALATION = "before", "due", "overdue", "snooze", "escalation"
DISOWNED = "disowned"  # an admin told that an assignee says it is not their task


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
        await insert_new(session, DeadlineOccurrence, rows, ["deadline_id", "due_on"])


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
        await insert_new(session, Assignment, rows, ["occurrence_id", "person_id"])


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
