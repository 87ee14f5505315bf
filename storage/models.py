"""The tables (DESIGN §4).

Conventions: integer primary keys; every time is timezone-aware UTC (``UTCDateTime``);
calendar periods are plain dates in the display zone; status columns are short strings
checked by the code that writes them. No ORM relationships: queries say what they join,
which keeps async code free of lazy loads.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index, MetaData, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow

# Deterministic constraint names: Alembic's batch mode on SQLite needs them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def _now_field(**kw: Any) -> Any:
    # The column default too, so Core INSERTs (bulk and upserts) get it as well.
    return Field(
        default_factory=utcnow, sa_type=UTCDateTime, sa_column_kwargs={"default": utcnow}, **kw
    )


def _time_field(**kw: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime, **kw)


# --- organisation ------------------------------------------------------------------


class Unit(SQLModel, table=True):
    """A node of the administrative tree: province, (legacy) district, ward, office, counter."""

    __tablename__ = "unit"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)
    kind: str = Field(max_length=32)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    # Materialised path of ids, "/1/7/42/": a subtree is one LIKE prefix.
    path: str = Field(default="", max_length=1024, index=True)
    questionnaire_code: str = Field(default="quick", max_length=64)
    legacy: bool = Field(default=False)
    created_at: datetime = _now_field()


class ProcedureField(SQLModel, table=True):
    """A field of work (lĩnh vực) grouping procedures."""

    __tablename__ = "field"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)


class Procedure(SQLModel, table=True):
    """An administrative procedure (thủ tục hành chính)."""

    __tablename__ = "procedure"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=500)
    field_id: int | None = Field(default=None, foreign_key="field.id", index=True)


class Dossier(SQLModel, table=True):
    """A completed dossier (hồ sơ) handed back to a citizen."""

    __tablename__ = "dossier"
    id: int | None = Field(default=None, primary_key=True)
    receipt_code: str = Field(max_length=64, unique=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    procedure_id: int | None = Field(default=None, foreign_key="procedure.id")
    completed_at: datetime = Field(sa_type=UTCDateTime, index=True)
    # Keyed hash of "channel:user id" when the e-system knew the citizen's chat id.
    citizen_hash: str | None = Field(default=None, max_length=64, index=True)
    invited_at: datetime | None = _time_field()
    created_at: datetime = _now_field()


# --- surveys -----------------------------------------------------------------------


class SurveyInvite(SQLModel, table=True):
    """A survey code. Only its keyed hash is stored.

    ``kind`` is ``dossier`` (single use, bound to the first respondent who opens it) or
    ``counter`` (printed at a counter, reusable, one response per respondent and day).
    """

    __tablename__ = "survey_invite"
    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=16)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    dossier_id: int | None = Field(default=None, foreign_key="dossier.id", index=True)
    procedure_id: int | None = Field(default=None, foreign_key="procedure.id")
    label: str | None = Field(default=None, max_length=255)
    created_at: datetime = _now_field()
    expires_at: datetime | None = _time_field()
    claimed_by: str | None = Field(default=None, max_length=64)
    used_at: datetime | None = _time_field()
    # Intake: the code itself, encrypted with the secret key, for invites issued through
    # the integration API, so a replay of the same receipt returns the same code. Lookups
    # never use it: they go through ``code_hash``.
    code_enc: str | None = Field(default=None, sa_type=Text)


class Questionnaire(SQLModel, table=True):
    """A questionnaire definition, versioned; responses point at the version they used."""

    __tablename__ = "questionnaire"
    __table_args__ = (UniqueConstraint("code", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64)
    version: int
    title: str = Field(max_length=255)
    definition: dict = Field(default_factory=dict, sa_type=JSON)
    loaded_at: datetime = _now_field()


class Response(SQLModel, table=True):
    """One citizen's survey; its answers are in ``answer``."""

    __tablename__ = "response"
    __table_args__ = (
        # Counter codes: one response per respondent, unit and local day (counter_day is
        # NULL for dossier codes, and NULLs never collide).
        UniqueConstraint("respondent_hash", "unit_id", "counter_day"),
        Index("ix_response_unit_completed", "unit_id", "completed_at"),
        Index("ix_response_status_completed", "status", "completed_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=32, unique=True)
    unit_id: int = Field(foreign_key="unit.id")
    procedure_id: int | None = Field(default=None, foreign_key="procedure.id")
    dossier_id: int | None = Field(default=None, foreign_key="dossier.id")
    invite_id: int | None = Field(default=None, foreign_key="survey_invite.id", index=True)
    questionnaire_id: int = Field(foreign_key="questionnaire.id")
    channel: str = Field(max_length=16)
    respondent_hash: str = Field(max_length=64, index=True)
    status: str = Field(default="in_progress", max_length=16)
    started_at: datetime = _now_field()
    completed_at: datetime | None = _time_field()
    counter_day: str | None = Field(default=None, max_length=10)
    comment: str | None = Field(default=None, sa_type=Text)
    # Suspected stuffing: kept and shown to admins, left out of figures until cleared.
    flagged_at: datetime | None = _time_field()
    flag_reason: str | None = Field(default=None, max_length=255)


class Answer(SQLModel, table=True):
    """One answer: ``value`` on the item's scale (1–5 for satisfaction), NULL when skipped.

    Only ``scale = 'satisfaction'`` answers count towards percentages.
    """

    __tablename__ = "answer"
    __table_args__ = (UniqueConstraint("response_id", "item_code"),)
    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(foreign_key="response.id")
    item_code: str = Field(max_length=32)
    element_code: str = Field(max_length=32)
    scale: str = Field(default="satisfaction", max_length=32)
    value: int | None = Field(default=None)
    answered_at: datetime = _now_field()


class Feedback(SQLModel, table=True):
    """What went wrong after a negative rating, and whether the citizen wants a call back."""

    __tablename__ = "feedback"
    id: int | None = Field(default=None, primary_key=True)
    response_id: int | None = Field(default=None, foreign_key="response.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    item_code: str | None = Field(default=None, max_length=32)
    reason: str | None = Field(default=None, max_length=64)
    text: str | None = Field(default=None, sa_type=Text)
    wants_contact: bool = Field(default=False)
    contact_channel: str | None = Field(default=None, max_length=16)
    # The citizen's chat id, encrypted, kept only when they asked to be contacted.
    contact_ref_enc: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default="open", max_length=16)
    assignee_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _now_field()
    notified_at: datetime | None = _time_field()
    handled_at: datetime | None = _time_field()
    handled_by: int | None = Field(default=None, foreign_key="person.id")
    handled_note: str | None = Field(default=None, sa_type=Text)


class Quota(SQLModel, table=True):
    """How many questionnaires a unit (subtree) must collect in a period.

    Optional fields restrict which procedures count; ``target_ratio`` is the share of
    completed dossiers to survey (0.15 for 15 %), when the province scores that.
    """

    __tablename__ = "quota"
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    period_start: date
    period_end: date
    target_count: int
    target_ratio: float | None = Field(default=None)
    label: str | None = Field(default=None, max_length=255)
    created_at: datetime = _now_field()


class QuotaField(SQLModel, table=True):
    """The fields a quota is restricted to (none: every procedure counts)."""

    __tablename__ = "quota_field"
    quota_id: int = Field(foreign_key="quota.id", primary_key=True)
    field_id: int = Field(foreign_key="field.id", primary_key=True)


# --- people and conversations ------------------------------------------------------


class Person(SQLModel, table=True):
    """An official, leader or admin. Citizens are never persons: they stay pseudonymous."""

    __tablename__ = "person"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255)
    role: str = Field(max_length=16)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    locale: str = Field(default="vi", max_length=8)
    preferred_channel: str | None = Field(default=None, max_length=16)
    registration_code_hash: str | None = Field(default=None, max_length=64, unique=True)
    registration_expires_at: datetime | None = _time_field()
    active: bool = Field(default=True)
    created_at: datetime = _now_field()


class PersonChannel(SQLModel, table=True):
    """A person's account on one channel (they may have several)."""

    __tablename__ = "person_channel"
    __table_args__ = (UniqueConstraint("channel", "user_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    channel: str = Field(max_length=16)
    channel_user_id: str = Field(max_length=128)
    user_hash: str = Field(max_length=64)
    linked_at: datetime = _now_field()
    last_seen_at: datetime | None = _time_field()
    unreachable_at: datetime | None = _time_field()
    unreachable_reason: str | None = Field(default=None, max_length=255)


class Conversation(SQLModel, table=True):
    """Where one chat user is in which flow; the whole state is ``data``."""

    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("channel", "user_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    user_hash: str = Field(max_length=64)
    data: dict = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = _now_field()
    updated_at: datetime = _now_field()


class InboundEvent(SQLModel, table=True):
    """Every processed inbound event, so a redelivery changes nothing."""

    __tablename__ = "inbound_event"
    __table_args__ = (
        UniqueConstraint("channel", "event_id"),
        Index("ix_inbound_event_received_at", "received_at"),  # retention prunes by age
    )
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    event_id: str = Field(max_length=128)
    received_at: datetime = _now_field()


# Spelled out as SQL (not bound parameters) so SQLite's planner can match a query's
# ``status IN (...)`` with the partial indexes' condition; storage/outbox.py uses it.
OUTBOX_OPEN_SQL = "status IN ('pending', 'claimed', 'sending')"
OUTBOX_OPEN_WHERE = {
    "sqlite_where": text(OUTBOX_OPEN_SQL),
    "postgresql_where": text(OUTBOX_OPEN_SQL),
}


class Outbox(SQLModel, table=True):
    """A message waiting to be sent, being sent, sent, or dead (with the error kept)."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "not_before"),
        Index("ix_outbox_recipient", "channel", "recipient", "id"),
        # Partial indexes over the rows still to send (a few) rather than the sent ones
        # (ever more): the claim query stays as fast with 100k sent rows as with none.
        Index("ix_outbox_open", "channel", "id", **OUTBOX_OPEN_WHERE),
        Index("ix_outbox_open_recipient", "channel", "recipient", "id", **OUTBOX_OPEN_WHERE),
    )
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    recipient: str = Field(max_length=128)
    payload: dict = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    not_before: datetime = _now_field()
    claimed_until: datetime | None = _time_field()
    created_at: datetime = _now_field()
    sent_at: datetime | None = _time_field()
    last_error: str | None = Field(default=None, sa_type=Text)
    # Makes "send this once" hold across retries of whatever enqueues it (reminders).
    dedupe_key: str | None = Field(default=None, max_length=128, unique=True)
    provider_message_id: str | None = Field(default=None, max_length=128)
    # The process holding the claim (App.instance_id): its rows are released as soon as
    # another process sees it is gone (storage/instances.py).
    claimed_by: str | None = Field(default=None, max_length=32)


class OutboxTally(SQLModel, table=True):
    """How many sent outbox rows retention removed, per day and channel (counts survive)."""

    __tablename__ = "outbox_tally"
    day: date = Field(primary_key=True)
    channel: str = Field(primary_key=True, max_length=16)
    sent: int = Field(default=0)


class Credential(SQLModel, table=True):
    """Channel credentials that change at run time (Zalo's refreshed token pair)."""

    __tablename__ = "credential"
    name: str = Field(primary_key=True, max_length=64)
    data: dict = Field(default_factory=dict, sa_type=JSON)
    updated_at: datetime = _now_field()


class AuditLog(SQLModel, table=True):
    """Who did what: admin commands (allowed or refused), imports, registrations."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _now_field(index=True)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    target: str | None = Field(default=None, max_length=255)
    detail: dict = Field(default_factory=dict, sa_type=JSON)


# --- rollups (derived; rebuilt from raw answers by storage.rollups.rebuild) -------------


class RollupAnswer(SQLModel, table=True):
    """Satisfaction answers of completed, unflagged responses per unit, local day and item."""

    __tablename__ = "rollup_answer"
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    day: date = Field(primary_key=True)
    item_code: str = Field(max_length=32, primary_key=True)
    element_code: str = Field(max_length=32)
    n1: int = Field(default=0)
    n2: int = Field(default=0)
    n3: int = Field(default=0)
    n4: int = Field(default=0)
    n5: int = Field(default=0)
    skipped: int = Field(default=0)


class RollupResponse(SQLModel, table=True):
    """Completed, unflagged responses per unit, local day and field (0: no field known)."""

    __tablename__ = "rollup_response"
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    day: date = Field(primary_key=True)
    field_id: int = Field(default=0, primary_key=True)
    responses: int = Field(default=0)


class RollupResponseMonth(SQLModel, table=True):
    """The same counts per local calendar month (``month``: its first day), so a quota
    over a year sums 12 rows per unit instead of 365."""

    __tablename__ = "rollup_response_month"
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    month: date = Field(primary_key=True)
    field_id: int = Field(default=0, primary_key=True)
    responses: int = Field(default=0)


# --- admin: live alerts (issue 6) --------------------------------------------------


class Alert(SQLModel, table=True):
    """One row per alert kind and scope, so a burst is reported once.

    ``scope`` is ``unit:<id>``, ``counter:<invite id>`` or ``respondent:<hash>``. A burst
    goes on while its condition keeps holding within the window after ``last_seen_at``;
    a new ``started_at`` means a new burst (and a new message).
    """

    __tablename__ = "alert"
    __table_args__ = (UniqueConstraint("kind", "scope"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # "negative" | "stuffing"
    scope: str = Field(max_length=64)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    started_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    hits: int = Field(default=1)


# --- reminders -----------------------------------------------------------------------


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
    created_at: datetime = _now_field()


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
    created_at: datetime = _now_field()


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
    snoozed_until: datetime | None = _time_field()
    answered_at: datetime | None = _time_field()
    answered_channel: str | None = Field(default=None, max_length=16)
    created_at: datetime = _now_field()


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
    sent_at: datetime | None = _time_field()
    created_at: datetime = _now_field()


class HolidayOverride(SQLModel, table=True):
    """A day that differs from the holidays package: a swap day off, or a worked Saturday."""

    __tablename__ = "holiday_override"
    day: date = Field(primary_key=True)
    working: bool
    name: str = Field(default="", max_length=255)
    created_at: datetime = _now_field()
