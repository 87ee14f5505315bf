"""Effects: what a flow wants done, as plain data the engine applies in the step's
transaction. Flows may define more in their own modules (each has one applier)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class StartResponse:
    """Open a response for a survey invite; binds a dossier code to this respondent."""

    response_key: str
    invite_id: int
    invite_kind: str
    unit_id: int
    procedure_id: int | None
    dossier_id: int | None
    questionnaire_code: str
    questionnaire_version: int
    started_at: datetime
    counter_day: date | None  # local day, for counter codes (one response a day)


@dataclass(frozen=True, slots=True)
class RecordAnswer:
    """Store (or overwrite, after "back") one answer; ``value`` None means skipped."""

    response_key: str
    item_code: str
    element_code: str
    value: int | None
    answered_at: datetime
    scale: str = "satisfaction"


@dataclass(frozen=True, slots=True)
class OpenFeedback:
    """A negative rating's follow-up: a feedback item for the unit."""

    response_key: str
    unit_id: int
    item_code: str
    reason: str | None
    text: str | None
    wants_contact: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CompleteResponse:
    response_key: str
    comment: str | None
    completed_at: datetime


@dataclass(frozen=True, slots=True)
class AbandonResponse:
    response_key: str


@dataclass(frozen=True, slots=True)
class LinkPerson:
    """Link this chat account to a person and spend their registration code."""

    person_id: int
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class MarkUnreachable:
    """This chat account cannot be messaged any more (unfollowed, blocked the bot)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Audit:
    """A line in the audit log."""

    action: str
    target: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MarkTaskDone:
    assignment_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class SnoozeTask:
    assignment_id: int
    until: datetime


@dataclass(frozen=True, slots=True)
class DisownTask:
    """ "Not my task": no more reminders to this person; an admin is told."""

    assignment_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class SetReminderChannel:
    """Send this person's reminders to ``channel`` (None: the channel they used last)."""

    channel: str | None


Effect = Any  # any of the dataclasses above, or those of other flows' modules
