"""The engine contract (DESIGN §3): what flows receive, what they return.

A flow step is ``await step(state, event, ctx) -> StepResult``. It performs no I/O of
its own: everything it needs to know about the world comes through ``ctx`` (a
``Context``, implemented over the database by the application and by plain objects in
tests), and everything it wants done comes back as replies and effects, which the
engine applies in one transaction together with the new state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol

# --- inbound -------------------------------------------------------------------------


class EventKind(enum.StrEnum):
    TEXT = "text"  # typed text (commands included)
    BUTTON = "button"  # a button press carrying its payload
    START = "start"  # /start, with the deep-link payload in ``payload`` if any
    FOLLOW = "follow"  # the user followed the account (Zalo)
    UNFOLLOW = "unfollow"
    UNSUPPORTED = "unsupported"  # photo, sticker, voice…: answered with a polite hint


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """One thing a user did, normalised from any channel."""

    channel: str
    user_id: str
    event_id: str
    kind: EventKind
    timestamp: datetime
    text: str = ""
    payload: str = ""
    locale_hint: str | None = None  # the client's language, used for a new user only


# --- outbound ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Button:
    """A button: what it says and the short payload a press sends back (≤ 64 bytes)."""

    label: str
    payload: str
    # A word that does the same when typed ("bỏ qua"): a channel short of buttons may
    # leave this button out and name the word instead (``Reply.typed_hint``).
    word: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a reply (a chart, a workbook)."""

    filename: str
    mime: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """A channel-neutral message: text plus optional buttons, one button per row.

    ``ack`` is the answer just recorded ("Hài lòng"), for channels that do not show what
    was pressed; ``progress`` is (question number, questions) while a survey asks;
    ``typed_hint`` names the words of the buttons that have one, for channels that leave
    those buttons out.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    attachment: Attachment | None = None
    ack: str | None = None
    progress: tuple[int, int] | None = None
    typed_hint: str | None = None


# --- effects (applied by the engine in the step's transaction) -------------------------


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


Effect = Any  # any of the dataclasses above, or those of other flows' modules


# --- state ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class State:
    """A chat user's conversation: the flow they are in, its step and data, their locale.

    Stored as JSON in ``conversation.data``; ``updated_at`` is the last activity.
    """

    locale: str
    flow: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The state as stored in ``conversation.data``."""
        return {"locale": self.locale, "flow": self.flow, "step": self.step, "data": self.data}

    @classmethod
    def from_json(cls, raw: dict[str, Any], default_locale: str, updated_at: datetime | None):
        """A stored state; ``default_locale`` for a user who never chose one."""
        return cls(
            locale=raw.get("locale") or default_locale,
            flow=raw.get("flow"),
            step=raw.get("step"),
            data=dict(raw.get("data") or {}),
            updated_at=updated_at,
        )

    def idle(self) -> State:
        """The same user, in no flow."""
        return replace(self, flow=None, step=None, data={})

    def at(self, step: str, **data: Any) -> State:
        """The same flow at ``step`` with ``data`` merged in."""
        return replace(self, step=step, data={**self.data, **data})


@dataclass(frozen=True, slots=True)
class StepResult:
    state: State
    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()


# --- what flows may ask of the world -------------------------------------------------


@dataclass(frozen=True, slots=True)
class InviteInfo:
    """A survey code, resolved."""

    invite_id: int
    kind: str  # "dossier" | "counter"
    unit_id: int
    unit_name: str
    procedure_id: int | None
    procedure_name: str | None
    dossier_id: int | None
    questionnaire_code: str
    status: str  # "ok" | "expired" | "used" | "completed" (used up by this respondent)


@dataclass(frozen=True, slots=True)
class PersonInfo:
    """The official, leader or admin behind a chat account, if it is linked to one."""

    person_id: int
    name: str
    role: str
    unit_id: int
    unit_code: str
    unit_name: str


class Context(Protocol):
    """Everything a flow may know or ask; implemented by ``bot.context`` and by tests."""

    now: datetime
    timezone: str
    channel: str
    user_id: str  # the channel's id of the user (never stored for citizens)
    user_hash: str  # keyed hash of channel + user id: the respondent's pseudonym
    person: PersonInfo | None

    def new_key(self) -> str:
        """A fresh random key (32 hex characters) for a new record."""
        ...

    async def find_invite(self, code: str) -> InviteInfo | None:
        """The survey invite for a typed or deep-linked code (None when unknown)."""
        ...

    async def responded_today(self, unit_id: int, day: date) -> bool:
        """Whether this respondent already has a counter-code response at the unit that day."""
        ...

    async def find_registration(self, code: str) -> PersonInfo | None:
        """The person a valid, unexpired registration code was issued to (None otherwise)."""
        ...

    # --- admins and leaders (flows/admin.py) --------------------------------------------
    # Report methods return the storage layer's report objects; flows read their
    # attributes only (see storage/reports.py and storage/admin.py for the fields).

    def report_settings(self) -> ReportSettings:
        """Thresholds and targets of the admin commands."""
        ...

    async def units(self) -> list[UnitInfo]:
        """Every unit, in tree order (for matching what the caller typed, and scopes)."""
        ...

    async def satisfaction(self, unit_id: int, start: date, end: date) -> Any:
        """``SatisfactionReport`` of the unit's subtree over local days start–end."""
        ...

    async def quota_progress(self, unit_id: int, start: date, end: date) -> list[Any]:
        """``QuotaProgress`` of every quota in the subtree overlapping start–end."""
        ...

    async def comments(self, unit_id: int, start: date, end: date, limit: int) -> list[Any]:
        """The latest counted comments of the subtree in the period (``CommentRow``)."""
        ...

    async def flagged_count(self, unit_id: int, start: date, end: date) -> int:
        """Responses of the subtree in the period left out as suspected stuffing."""
        ...

    async def flag_groups(self, unit_id: int) -> list[Any]:
        """Flagged responses of the subtree, grouped by burst (``FlagGroup``)."""
        ...

    async def flag_group(self, response_id: int) -> Any | None:
        """The flagged group a response belongs to, if it is still flagged."""
        ...

    async def open_feedback(self, unit_id: int, limit: int) -> tuple[list[Any], int]:
        """The oldest open feedback items of the subtree (``FeedbackRow``) and their total."""
        ...

    async def feedback_item(self, feedback_id: int) -> Any | None:
        """One feedback item (``FeedbackRow``)."""
        ...

    async def feedback_between(self, unit_id: int, start: date, end: date) -> list[Any]:
        """Feedback items of the subtree opened in the period (``FeedbackRow``)."""
        ...

    async def chart(self, report: Any, period: Any, locale: str, min_responses: int) -> Attachment:
        """A PNG chart of a ``SatisfactionReport`` (per unit, or per element for a leaf)."""
        ...

    async def workbook(
        self, unit_id: int, period: Any, locale: str, min_responses: int
    ) -> Attachment:
        """An XLSX workbook of the subtree's figures, quotas and anonymised answers."""
        ...

    # reminders (officials' commands and buttons)

    async def open_tasks(self) -> list[TaskInfo]:
        """The linked person's unanswered assignments, soonest due first."""
        ...

    async def find_task(self, assignment_id: int) -> TaskInfo | None:
        """One of the linked person's assignments, in any status (None if not theirs)."""
        ...

    async def snooze_time(self) -> datetime:
        """When "remind me later" pressed now reminds again: later today, or the next
        working morning."""
        ...

    async def deadline_overview(self) -> list[DeadlineOverview]:
        """Recent and coming occurrences in the linked person's unit subtree."""
        ...

    async def reminder_channels(self) -> ChannelChoice:
        """The linked person's channels and which one reminders go to."""
        ...


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """A unit as flows see it; ``path`` is its materialised path ("/1/7/")."""

    unit_id: int
    code: str
    name: str
    kind: str
    path: str
    parent_id: int | None = None

    def contains(self, other: UnitInfo) -> bool:
        """Whether ``other`` is this unit or lies below it."""
        return other.path.startswith(self.path)


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """Settings the admin flows need (from ``SIPAS_*`` variables)."""

    min_responses: int = 5  # below this a leader sees "not enough responses"
    feedback_target_hours: int = 48  # working hours to handle a feedback item
    satisfaction_target: float = 0.9  # the target line on charts


# --- reminders: what officials' flows see and do ----------------------------------------


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """One of an official's assignments (a deadline occurrence they must act on)."""

    assignment_id: int
    title: str
    note: str | None
    due_on: date
    # Working days from today to the due date: > 0 before it, 0 on it (or on the last
    # working day before a due date that is a day off), < 0 when overdue.
    working_days_left: int
    status: str  # pending | done | not_mine
    snoozed_until: datetime | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeadlineOverview:
    """How an occurrence stands in a leader's or admin's units."""

    title: str
    due_on: date
    total: int
    done: int
    not_mine: int
    pending_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChannelChoice:
    """Where a person's reminders go: their chosen channel (None: the one used last)."""

    preferred: str | None
    current: str | None  # where they would be reached now
    linked: tuple[str, ...]


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
