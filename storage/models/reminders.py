"""Deadlines, targets, occurrences, assignments, durable reminders, holiday overrides."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models.base import now_field, time_field
from storage.types import UTCDateTime


class Deadline(SQLModel, table=True):
    """Something staff must do by a date: one-off or recurring (``schedule`` is canonical
    text such as ``quarterly 20``), reminded ``offsets`` working days before it."""

    __tablename__ = "deadline"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    title: str = Field(max_length=255)
    note: str | None = Field(default=None, sa_type=Text)
    schedule: str = Field(max_length=255)
    starts_on: date  # no occurrence is due before this local day
    # Working days before the due date, e.g. [10, 5, 1, 0] (0: on the day).
    offsets: list = Field(default_factory=list, sa_type=JSON)
    overdue_daily: bool = Field(default=True)  # remind every working day while overdue
    escalate_after: int | None = Field(default=None)  # working days overdue; None: never
    active: bool = Field(default=True)
    created_at: datetime = now_field()


class DeadlineTarget(SQLModel, table=True):
    """Who a deadline is for: one person, or the officials of a unit and the units below it."""

    __tablename__ = "deadline_target"
    id: int | None = Field(default=None, primary_key=True)
    deadline_id: int = Field(foreign_key="deadline.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")


class DeadlineOccurrence(SQLModel, table=True):
    """One due date of a deadline (a recurring deadline has one per period)."""

    __tablename__ = "deadline_occurrence"
    __table_args__ = (UniqueConstraint("deadline_id", "due_on"),)
    id: int | None = Field(default=None, primary_key=True)
    deadline_id: int = Field(foreign_key="deadline.id")
    due_on: date
    created_at: datetime = now_field()


class Assignment(SQLModel, table=True):
    """An occurrence × a person: ``pending``, ``done`` or ``not_mine`` (with when and where
    they answered); ``snoozed_until`` holds back reminders until then."""

    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("occurrence_id", "person_id"),
        Index("ix_assignment_person_status", "person_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="deadline_occurrence.id")
    person_id: int = Field(foreign_key="person.id")
    status: str = Field(default="pending", max_length=16)
    snoozed_until: datetime | None = time_field()
    answered_at: datetime | None = time_field()
    answered_channel: str | None = Field(default=None, max_length=16)
    created_at: datetime = now_field()


class Reminder(SQLModel, table=True):
    """A planned message to a person, durable until dispatched.

    ``key`` makes planning idempotent (one reminder per assignment and day, one
    escalation per leader and occurrence). ``kind``: before, due, overdue, snooze,
    escalation, disowned (an admin told of a "not my task"). ``status``: pending, sent,
    cancelled (no longer needed, with ``reason``), skipped (could not be delivered, with
    ``reason``).
    """

    __tablename__ = "reminder"
    __table_args__ = (
        Index("ix_reminder_due", "status", "due_at"),
        Index("ix_reminder_assignment", "assignment_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=96, unique=True)
    kind: str = Field(max_length=16)
    occurrence_id: int = Field(foreign_key="deadline_occurrence.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id")
    due_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="pending", max_length=16)
    reason: str | None = Field(default=None, max_length=64)
    sent_at: datetime | None = time_field()
    created_at: datetime = now_field()


class HolidayOverride(SQLModel, table=True):
    """A day that differs from the holidays package: a swap day off, or a worked Saturday."""

    __tablename__ = "holiday_override"
    day: date = Field(primary_key=True)
    working: bool
    name: str = Field(default="", max_length=255)
    # The decision behind a day shipped in scheduler/known_days.yaml; NULL when set by
    # hand (``holiday add``), which wins over the shipped list.
    source: str | None = Field(default=None, max_length=255)
    created_at: datetime = now_field()
