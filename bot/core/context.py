"""The flows' ``Context`` implemented over the database, for one event."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.app import App
from flows.assisted_contract import ProcedureInfo
from flows.contract import (
    Attachment,
    ChannelChoice,
    DeadlineOverview,
    InviteInfo,
    PersonInfo,
    ReportSettings,
    TaskInfo,
    UnitInfo,
)
from flows.zns_text import ZnsStatus
from scheduler.calendar import WorkCalendar, load_calendar
from storage import admin, feedback, origins, people, procedures, reports, surveys, zns
from storage import quotas as quota_store
from storage import tasks as task_store
from storage.models import Unit
from storage.people import PersonRow
from storage.tasks import TaskRow

# Report attachments (chart, workbook) are drawn by bot.render, a layer above the core:
# it plugs its makers in here when imported (bot.services imports it).
ATTACHMENTS: dict[str, Callable[..., Awaitable[Attachment]]] = {}

SNOOZE_DELAY = timedelta(hours=2)
# /deadlines shows occurrences due from this long ago to this far ahead.
OVERVIEW_PAST = timedelta(days=31)
OVERVIEW_AHEAD = timedelta(days=62)


def person_info(row: PersonRow | None) -> PersonInfo | None:
    if row is None:
        return None
    return PersonInfo(row.id, row.name, row.role, row.unit_id, row.unit_code, row.unit_name)


class DbContext:
    """What a flow may know about the world while one event is processed."""

    def __init__(
        self,
        app: App,
        session: AsyncSession,
        *,
        channel: str,
        user_id: str,
        user_hash: str,
        person: PersonRow | None,
        now: datetime,
    ) -> None:
        self.app = app
        self.session = session
        self.now = now
        self.timezone = app.settings.timezone
        self.channel = channel
        self.user_id = user_id
        self.user_hash = user_hash
        self.person_row = person
        self.person = person_info(person)
        self._units: list[UnitInfo] | None = None
        self._cal: WorkCalendar | None = None

    def new_key(self) -> str:
        return secrets.token_hex(16)

    async def find_invite(self, code: str) -> InviteInfo | None:
        row = await surveys.find_invite(self.session, self.app.keys.code_hash(code))
        if row is None:
            return None
        if row.expires_at is not None and row.expires_at <= self.now:
            status = "expired"
        elif row.kind == "dossier" and row.used_at is not None and row.claimed_by == self.user_hash:
            status = "completed"  # this respondent's own survey, already done
        elif row.kind == "dossier" and (
            row.used_at is not None or row.claimed_by not in (None, self.user_hash)
        ):
            status = "used"
        else:
            status = "ok"
        return InviteInfo(
            invite_id=row.id,
            kind=row.kind,
            unit_id=row.unit_id,
            unit_name=row.unit_name,
            procedure_id=row.procedure_id,
            procedure_name=row.procedure_name,
            dossier_id=row.dossier_id,
            questionnaire_code=row.questionnaire_code,
            status=status,
        )

    async def responded_today(self, unit_id: int, day: date) -> bool:
        return await surveys.responded_today(self.session, self.user_hash, unit_id, day)

    async def find_registration(self, code: str) -> PersonInfo | None:
        row = await people.find_by_registration(
            self.session, self.app.keys.code_hash(code), self.now
        )
        return person_info(row)

    # --- admins and leaders (flows/admin.py) ----------------------------------------------

    def report_settings(self) -> ReportSettings:
        s = self.app.settings
        return ReportSettings(
            min_responses=s.privacy_min_responses,
            feedback_target_hours=s.feedback_target_hours,
            satisfaction_target=s.satisfaction_target,
        )

    async def work_calendar(self) -> WorkCalendar:
        return await self._calendar()

    async def units(self) -> list[UnitInfo]:
        if self._units is None:
            rows = await admin.all_units(self.session)
            self._units = [
                UnitInfo(r.id, r.code, r.name, r.kind, r.path, r.parent_id) for r in rows
            ]
        return self._units

    async def _unit(self, unit_id: int) -> Unit:
        unit = await self.session.get(Unit, unit_id)
        if unit is None:
            raise LookupError(f"unit {unit_id} does not exist")
        return unit

    def _bounds(self, start: date, end: date) -> tuple[datetime, datetime]:
        return reports.utc_bounds(start, end, self.app.tz)

    async def satisfaction(self, unit_id: int, start: date, end: date):
        unit = await self._unit(unit_id)
        return await reports.satisfaction(self.session, unit, start, end, self.app.tz)

    async def quota_progress(self, unit_id: int, start: date, end: date):
        unit = await self._unit(unit_id)
        return await quota_store.quota_progress(self.session, unit, start, end, self.app.tz)

    async def comments(self, unit_id: int, start: date, end: date, limit: int):
        unit = await self._unit(unit_id)
        return await admin.comments(self.session, unit.path, *self._bounds(start, end), limit)

    async def flagged_count(self, unit_id: int, start: date, end: date) -> int:
        unit = await self._unit(unit_id)
        return await admin.flagged_count(self.session, unit.path, *self._bounds(start, end))

    async def zns_status(self) -> ZnsStatus | None:
        s = self.app.settings
        if not s.zns_enabled:
            return None
        day = self.now.astimezone(self.app.tz).date()
        sent, held = await zns.day_counts(self.session, day)
        waiting = await zns.waiting_count(self.session)
        unmatched = await zns.unmatched_count(self.session)
        return ZnsStatus(s.zns_daily_cap, sent, held, waiting, unmatched)

    async def flag_groups(self, unit_id: int):
        unit = await self._unit(unit_id)
        return await admin.flag_groups(self.session, unit.path)

    async def flag_group(self, response_id: int):
        return await admin.flag_group_of(self.session, response_id)

    async def open_feedback(self, unit_id: int, limit: int):
        unit = await self._unit(unit_id)
        return await feedback.open_feedback(self.session, unit.path, limit)

    async def feedback_item(self, feedback_id: int):
        return await feedback.feedback_by_id(self.session, feedback_id)

    async def feedback_between(self, unit_id: int, start: date, end: date):
        unit = await self._unit(unit_id)
        return await feedback.feedback_created_between(
            self.session, unit.path, *self._bounds(start, end)
        )

    async def chart(self, report, period, locale: str, min_responses: int) -> Attachment:
        return await ATTACHMENTS["chart"](self.app, report, period, locale, min_responses)

    async def workbook(self, unit_id: int, period, locale: str, min_responses: int) -> Attachment:
        unit = await self._unit(unit_id)
        make = ATTACHMENTS["workbook"]
        return await make(self.app, self.session, unit, period, locale, min_responses)

    # --- assisted interviews (flows/assisted.py) ---------------------------------------

    async def procedures(self) -> list[ProcedureInfo]:
        rows = await procedures.all_procedures(self.session)
        return [ProcedureInfo(r.id, r.code, r.name) for r in rows]

    def assisted_questionnaire(self) -> str:
        return self.app.settings.assisted_questionnaire

    async def device_figures(self, unit_id: int, start: date, end: date):
        unit = await self._unit(unit_id)
        return await origins.per_device(self.session, unit.path, *self._bounds(start, end))

    async def surveyor_figures(self, unit_id: int, start: date, end: date):
        unit = await self._unit(unit_id)
        return await origins.per_surveyor(self.session, unit.path, *self._bounds(start, end))

    # --- reminders ------------------------------------------------------------------

    async def _calendar(self) -> WorkCalendar:
        if self._cal is None:
            self._cal = await load_calendar(self.session)
        return self._cal

    async def _task(self, row: TaskRow) -> TaskInfo:
        cal = await self._calendar()
        today = self.now.astimezone(self.app.tz).date()
        return TaskInfo(
            assignment_id=row.assignment_id,
            title=row.title,
            note=row.note,
            due_on=row.due_on,
            working_days_left=cal.working_days_left(today, row.due_on),
            status=row.status,
            snoozed_until=row.snoozed_until,
            answered_at=row.answered_at,
        )

    async def open_tasks(self) -> list[TaskInfo]:
        if self.person is None:
            return []
        rows = await task_store.open_tasks(self.session, self.person.person_id)
        return [await self._task(row) for row in rows]

    async def find_task(self, assignment_id: int) -> TaskInfo | None:
        if self.person is None:
            return None
        row = await task_store.task(self.session, self.person.person_id, assignment_id)
        return await self._task(row) if row else None

    async def snooze_time(self) -> datetime:
        cal = await self._calendar()
        return self.app.settings.hours.later(self.now, cal, self.app.tz, SNOOZE_DELAY)

    async def deadline_overview(self) -> list[DeadlineOverview]:
        if self.person_row is None:
            return []
        today = self.now.astimezone(self.app.tz).date()
        rows = await task_store.occurrence_summaries(
            self.session,
            self.person_row.unit_path,
            today - OVERVIEW_PAST,
            today + OVERVIEW_AHEAD,
        )
        return [
            DeadlineOverview(r.title, r.due_on, r.total, r.done, r.not_mine, tuple(r.pending_names))
            for r in rows
        ]

    async def reminder_channels(self) -> ChannelChoice:
        if self.person is None:
            return ChannelChoice(None, None, ())
        preferred, linked = await people.linked_channels(self.session, self.person.person_id)
        contact = await people.contact_for(self.session, self.person.person_id)
        return ChannelChoice(preferred, contact.channel if contact else None, tuple(linked))
