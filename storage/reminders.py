"""Durable reminders: planned nudges, claimed when due, their status and context.

Reminder keys are unique, so planning twice (or in two processes at once) writes each
row once. Due reminders are claimed with one ``UPDATE … WHERE id IN (SELECT … FOR
UPDATE SKIP LOCKED) RETURNING`` statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.deadlines import (
    CANCELLED,
    PENDING,
    SENT,
)
from storage.models import (
    Assignment,
    Deadline,
    DeadlineOccurrence,
    Person,
    Reminder,
)
from storage.sql import dialect, insert_new


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
    return await insert_new(session, Reminder, rows, ["key"]) if rows else 0


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


async def catching_up(
    session: AsyncSession, person_ids: list[int], kind: str, start: datetime, end: datetime
) -> set[int]:
    """Those of ``person_ids`` with a reminder of ``kind`` due in ``[start, end)`` that is
    pending or was sent (not cancelled or skipped)."""
    found: set[int] = set()
    for at in range(0, len(person_ids), 500):
        stmt = select(Reminder.person_id).where(
            Reminder.person_id.in_(person_ids[at : at + 500]),
            Reminder.kind == kind,
            Reminder.due_at >= start,
            Reminder.due_at < end,
            Reminder.status.in_((PENDING, SENT)),
        )
        found.update((await session.exec(stmt.distinct())).scalars())
    return found
