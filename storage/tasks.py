"""Officials' tasks (assignments seen from the person): open tasks, answers and snoozes,
and the people around an occurrence (assignees, their supervisors, summaries)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.deadlines import (
    DONE,
    NOT_MINE,
    PENDING,
    SNOOZE,
)
from storage.models import (
    Assignment,
    Deadline,
    DeadlineOccurrence,
    Person,
    Unit,
)
from storage.reminders import NewReminder, add_reminders, cancel_reminders


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
