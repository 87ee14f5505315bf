"""Planning: turn deadlines into occurrences, assignments and durable reminder rows.

One pass, as of ``now``, in the caller's transaction:

1. occurrences: each active deadline's due dates up to far enough ahead that its
   earliest reminder falls within the planning horizon (today and the next working day);
2. assignments: the targets of each occurrence not yet past due, resolved now (people
   who join a unit later are added until the due date);
3. reminders: for each unanswered assignment, one row per reminder day within the
   horizon: the offsets' days, then every working day while overdue; an assignment
   created after its first reminder day gets one at the next opportunity (unless that
   is past the due date and the deadline wants no overdue reminders);
4. escalations: one row per leader and occurrence, on the N-th working day overdue.

Every row has a unique key, so a second pass, in this process or another, adds
nothing. Nothing is sent here: dispatch does that (``scheduler.dispatch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from scheduler.calendar import WorkCalendar
from scheduler.office_hours import OfficeHours
from scheduler.recurrence import parse_schedule
from storage import deadlines as store
from storage import reminders as reminder_store
from storage import tasks as task_store
from storage.deadlines import OpenOccurrence
from storage.reminders import NewReminder

# The kind of a reminder that makes up for reminder days an assignment missed (its person
# joined, or was linked, late); dispatch sends several at once as one digest.
CATCH_UP = "catch_up"


@dataclass
class PlanResult:
    occurrences: int = 0  # due dates seen in the planning window
    reminders: int = 0  # new reminder and escalation rows


def reminder_days(
    cal: WorkCalendar, occ: OpenOccurrence, first: date, last: date
) -> dict[date, str]:
    """The days in ``[first, last]`` on which an assignment of ``occ`` is reminded,
    each with its kind (before, due, overdue)."""
    days: dict[date, str] = {}
    for k in occ.offsets:
        day = cal.reminder_day(occ.due_on, k)
        if first <= day <= last:
            days.setdefault(day, store.DUE if day >= occ.due_on or k == 0 else store.BEFORE)
    if occ.overdue_daily:
        day = cal.next_working_day(max(occ.due_on + timedelta(days=1), first))
        while day <= last:
            days[day] = store.OVERDUE
            day = cal.next_working_day(day, include=False)
    return days


def _missed_first_reminder(cal: WorkCalendar, occ: OpenOccurrence, today: date) -> bool:
    return occ.due_on < today or any(cal.reminder_day(occ.due_on, k) < today for k in occ.offsets)


async def plan(
    session: AsyncSession,
    now: datetime,
    cal: WorkCalendar,
    hours: OfficeHours,
    tz: ZoneInfo,
) -> PlanResult:
    """Write the occurrences, assignments and reminder rows due up to the next working
    day (idempotent)."""
    result = PlanResult()
    today = now.astimezone(tz).date()
    horizon = cal.add_working_days(today, 1)

    for deadline in await store.all_deadlines(session, active_only=True):
        schedule = parse_schedule(deadline.schedule)
        latest = cal.add_working_days(horizon, max(deadline.offsets or [0]) + 1)
        due_dates = schedule.occurrences(deadline.starts_on, deadline.starts_on, latest)
        known = await store.occurrence_dates(session, deadline.id)  # type: ignore[arg-type]
        await store.add_occurrences(
            session,
            deadline.id,  # type: ignore[arg-type]
            [d for d in due_dates if d not in known],
            now,
        )

    occurrences = await store.open_occurrences(session, today, now)
    result.occurrences = len(occurrences)
    resolved: dict[int, list[int]] = {}
    for occ in occurrences:
        if occ.due_on >= today or occ.fresh:  # never assign stale past occurrences
            if occ.deadline_id not in resolved:
                resolved[occ.deadline_id] = await store.resolve_targets(session, occ.deadline_id)
            await store.add_assignments(session, occ.id, resolved[occ.deadline_id], now)

    by_id = {occ.id: occ for occ in occurrences}
    rows: list[NewReminder] = []
    pending = await store.pending_assignments(session, list(by_id))
    planned_days = {occ.id: reminder_days(cal, occ, today, horizon) for occ in occurrences}
    for a in pending:
        occ = by_id[a.occurrence_id]
        days = dict(planned_days[occ.id])
        if not a.reminded and _missed_first_reminder(cal, occ, today):
            catch_up = cal.next_working_day(today)
            # A deadline that wants no reminders once overdue gets no overdue catch-up.
            # It is a catch-up even when an overdue reminder falls that day: dispatch
            # then sends it within the one digest of what is pending.
            if occ.due_on >= catch_up or occ.overdue_daily:
                days[catch_up] = CATCH_UP
        rows += [
            NewReminder(
                f"a{a.id}:{day.isoformat()}",
                kind,
                occ.id,
                a.person_id,
                a.id,
                hours.opening(day, tz),
            )
            for day, kind in sorted(days.items())
        ]
    rows += await _escalations(session, cal, hours, tz, by_id, pending, horizon)
    result.reminders = await reminder_store.add_reminders(session, rows, now)
    return result


async def _escalations(
    session: AsyncSession,
    cal: WorkCalendar,
    hours: OfficeHours,
    tz: ZoneInfo,
    occurrences: dict[int, OpenOccurrence],
    pending: list[store.PendingAssignment],
    horizon: date,
) -> list[NewReminder]:
    rows: list[NewReminder] = []
    waiting = {a.occurrence_id for a in pending}
    for occ in occurrences.values():
        if occ.escalate_after is None or occ.id not in waiting:
            continue
        day = cal.add_working_days(occ.due_on, occ.escalate_after)
        if day > horizon:
            continue
        people = [
            a for a in await task_store.assignees(session, occ.id) if a.status == store.PENDING
        ]
        bosses = await task_store.supervisors(
            session, {p.unit_path for p in people}, ("leader", "admin")
        )
        for leader in sorted({b for p in people for b in bosses.get(p.unit_path, [])}):
            rows.append(
                NewReminder(
                    f"e{occ.id}:{leader}",
                    store.ESCALATION,
                    occ.id,
                    leader,
                    None,
                    hours.opening(day, tz),
                )
            )
    return rows
