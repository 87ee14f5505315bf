"""What flows may ask of the world: the ``Context`` protocol and the plain records it
answers with (implemented over the database by the application, by plain objects in
tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from flows.contract.messages import Attachment


class Context(Protocol):
    """Everything a flow may know or ask; implemented by ``bot.core.context`` and by tests."""

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

    async def work_calendar(self) -> Any:
        """The working-day calendar of reminders (public holidays, shipped swaps,
        overrides): anything with ``is_working_day(day)``."""
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

    async def zns_status(self) -> Any | None:
        """Today's ZNS sending (``flows.zns_text.ZnsStatus``); None when ZNS is off."""
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
