"""Dispatch: claim due reminder rows and write their messages to the outbox, together.

Claiming, rendering and enqueuing happen in the caller's one transaction: if anything
fails, the rows are pending again and no message was queued; if it commits, each
claimed reminder has its outbox row (deduplicated on ``reminder:<id>``) or a reason
why not. Nothing goes out outside office hours on working days: due rows wait.

Several due rows of one assignment (after a night, a weekend or downtime) become one
message, the latest; answered, snoozed or disabled ones are cancelled with a reason.
Several reminders due to one person at once, one of them a catch-up (an official who
has just linked their account, a deadline added late), become one digest message, and
a person catching up also finds there the quotas behind pace that today's nudge would
have told (``scheduler.nudges`` then sends them no separate nudge that day); regular
reminders keep one message per task, each with its three buttons.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from flows.contract import Reply, TaskInfo
from flows.i18n import translator
from flows.officials import (
    Assignee,
    QuotaPace,
    digest_reply,
    escalation_reply,
    not_mine_alert,
    reminder_reply,
    with_quotas,
)
from scheduler import nudges
from scheduler.calendar import WorkCalendar
from scheduler.office_hours import OfficeHours
from scheduler.planner import CATCH_UP
from storage import deadlines as store
from storage import outbox
from storage import reminders as reminder_store
from storage import tasks as task_store
from storage.reminders import ClaimedReminder, ReminderContext

# notify(session, [(person id, reply, outbox dedupe key)], now) → for each: reachable?
Notify = Callable[
    [AsyncSession, list[tuple[int, Reply, str | None]], datetime], Awaitable[list[bool]]
]


@dataclass
class DispatchResult:
    claimed: list[int] = field(default_factory=list)  # reminder ids this pass took
    sent: int = 0
    cancelled: int = 0
    skipped: int = 0

    def add(self, other: DispatchResult) -> None:
        """Count another batch's outcome in."""
        self.claimed += other.claimed
        self.sent += other.sent
        self.cancelled += other.cancelled
        self.skipped += other.skipped


async def dispatch(
    session: AsyncSession,
    now: datetime,
    cal: WorkCalendar,
    hours: OfficeHours,
    tz: ZoneInfo,
    notify: Notify,
    limit: int = 200,
) -> DispatchResult:
    """Claim up to ``limit`` due reminders and queue their messages (in this transaction)."""
    result = DispatchResult()
    if not hours.is_open(now, cal, tz):
        return result
    claimed = await reminder_store.claim_due(session, now, limit)
    result.claimed = [r.id for r in claimed]
    contexts = await reminder_store.reminder_context(session, result.claimed)
    today = now.astimezone(tz).date()
    cancel: dict[str, list[int]] = defaultdict(list)
    skip: dict[str, list[int]] = defaultdict(list)
    by_assignment: dict[int, list[ClaimedReminder]] = defaultdict(list)
    escalations: list[ClaimedReminder] = []

    for r in claimed:
        c = contexts[r.id]
        if not c.deadline_active:
            cancel["deadline_disabled"].append(r.id)
        elif not c.person_active:
            skip["inactive"].append(r.id)
        elif r.kind in (store.ESCALATION, store.DISOWNED):
            escalations.append(r)
        elif c.assignment_status != store.PENDING:
            cancel[c.assignment_status or "answered"].append(r.id)
        elif r.kind != store.SNOOZE and c.snoozed_until and c.snoozed_until >= r.due_at:
            cancel["snoozed"].append(r.id)
        else:
            by_assignment[r.assignment_id].append(r)  # type: ignore[index]

    outgoing: list[tuple[ClaimedReminder, Reply]] = []
    by_person: dict[int, list[tuple[ClaimedReminder, TaskInfo]]] = defaultdict(list)
    for assignment_id, rows in by_assignment.items():
        *older, latest = sorted(rows, key=lambda r: (r.due_at, r.id))
        cancel["superseded"] += [r.id for r in older]
        c = contexts[latest.id]
        task = TaskInfo(
            assignment_id,
            c.title,
            c.note,
            c.due_on,
            cal.working_days_left(today, c.due_on),
            store.PENDING,
        )
        by_person[latest.person_id].append((latest, task))
    digested: list[tuple[ClaimedReminder, list[ClaimedReminder]]] = []
    catching_up = {p for p, found in by_person.items() if any(r.kind == CATCH_UP for r, _ in found)}
    quotas = await _quotas_not_told(session, cal, today, tz, catching_up)
    for person_id, found in by_person.items():
        t = translator(contexts[found[0][0].id].locale, tz.key)
        if person_id not in catching_up:
            outgoing += [(r, reminder_reply(t, task, today)) for r, task in found]
            continue
        found.sort(key=lambda pair: (pair[1].due_on, pair[1].assignment_id))
        first, task = found[0]
        if len(found) == 1:
            reply = reminder_reply(t, task, today)
        else:
            reply = digest_reply(t, [task for _r, task in found], today)
            digested.append((first, [r for r, _task in found[1:]]))
        outgoing.append((first, with_quotas(t, reply, quotas.get(person_id, []))))

    for r in escalations:
        if r.kind == store.DISOWNED:
            reply = await _disowned(session, r, contexts[r.id], tz)
        else:
            reply = await _escalation(session, r, contexts[r.id], cal, today, tz)
        if reply is None:
            cancel["answered"].append(r.id)
        else:
            outgoing.append((r, reply))

    reachable = await notify(
        session, [(r.person_id, reply, f"reminder:{r.id}") for r, reply in outgoing], now
    )
    delivered: set[int] = set()
    for (r, _reply), ok in zip(outgoing, reachable, strict=True):
        if ok:
            result.sent += 1
            delivered.add(r.id)
        else:  # no reachable account (never linked, or blocked the bot)
            skip["unreachable"].append(r.id)
    for first, others in digested:  # claimed as sent, and sent within the first's digest
        if first.id in delivered:
            result.sent += len(others)
        else:
            skip["unreachable"] += [r.id for r in others]

    for reason, ids in cancel.items():
        await reminder_store.set_reminder_status(session, ids, store.CANCELLED, reason)
        result.cancelled += len(ids)
    for reason, ids in skip.items():
        await reminder_store.set_reminder_status(session, ids, store.SKIPPED, reason)
        result.skipped += len(ids)
    return result


async def _quotas_not_told(
    session: AsyncSession, cal: WorkCalendar, today, tz: ZoneInfo, people: set[int]
) -> dict[int, list[QuotaPace]]:
    """The quotas behind pace of those ``people`` not nudged yet today: their catch-up
    message carries them, and the nudge planner leaves them out for the day."""
    if not people:
        return {}
    paces = await nudges.paces_by_person(session, cal, today, tz, people)
    told = await outbox.taken_keys(session, [nudges.nudge_key(p, today) for p in paces])
    return {p: found for p, found in paces.items() if nudges.nudge_key(p, today) not in told}


async def _escalation(
    session: AsyncSession,
    r: ClaimedReminder,
    c: ReminderContext,
    cal: WorkCalendar,
    today,
    tz: ZoneInfo,
) -> Reply | None:
    """The leader's list of who, in the units they answer for, has not answered;
    None when everyone has by now."""
    people = await task_store.assignees(session, r.occurrence_id)
    bosses = await task_store.supervisors(
        session, {p.unit_path for p in people}, ("leader", "admin")
    )
    mine = [p for p in people if r.person_id in bosses.get(p.unit_path, [])]
    pending = [Assignee(p.name, p.unit_name) for p in mine if p.status == store.PENDING]
    if not pending:
        return None
    not_mine = [Assignee(p.name, p.unit_name) for p in mine if p.status == store.NOT_MINE]
    done = sum(1 for p in mine if p.status == store.DONE)
    overdue = max(1, -cal.working_days_left(today, c.due_on))
    t = translator(c.locale, tz.key)
    return escalation_reply(t, c.title, c.due_on, overdue, pending, not_mine, done, len(mine))


async def _disowned(
    session: AsyncSession, r: ClaimedReminder, c: ReminderContext, tz: ZoneInfo
) -> Reply | None:
    """What an admin is told when an assignee says the task is not theirs (None when it
    was answered otherwise since)."""
    people = await task_store.assignees(session, r.occurrence_id)
    who = next((p for p in people if p.assignment_id == r.assignment_id), None)
    if who is None or who.status != store.NOT_MINE:
        return None
    t = translator(c.locale, tz.key)
    return not_mine_alert(t, who.name, who.unit_name, c.title, c.due_on)
