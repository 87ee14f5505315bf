"""Quota pace nudges: tell a unit's officials when its survey quota falls behind.

A quota is behind when fewer questionnaires were collected than the share of its
period's working days already past would need (249/300 when 55 of 65 working days are
past: 253.8 were due). The officials of the quota's unit then get one message per
working day, listing each of their quotas behind pace and how many a day the working
days left need. The outbox dedupe key ``nudge:<person>:<day>`` makes "one a day" hold
however often planning runs, in however many processes.

An official catching up that day (just linked, or a deadline added late) gets the quotas
inside the catch-up message instead (``scheduler.dispatch``), unless the day's nudge went
out already: the planner leaves out anyone with a catch-up reminder of that day, pending
or sent, so one message carries everything and no separate nudge follows.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from flows.i18n import translator
from flows.officials import QuotaPace, nudge_reply
from scheduler.calendar import WorkCalendar
from scheduler.office_hours import OfficeHours
from scheduler.planner import CATCH_UP
from storage import quotas as quota_store
from storage import reminders as reminder_store
from storage import tasks as task_store
from storage import units
from storage.people import locales

# notify(session, person_id, reply, now, *, dedupe_key=…) -> newly queued?
NotifyOne = Callable[..., Awaitable[bool]]


def pace(cal: WorkCalendar, progress: quota_store.QuotaProgress, today) -> tuple[int, int] | None:
    """(working days left including today, questionnaires a day needed) when the quota
    is behind pace; None when it is on pace, met, or over."""
    if progress.target_count <= 0 or progress.remaining <= 0 or today > progress.period_end:
        return None
    before_start = progress.period_start - timedelta(days=1)
    total = cal.working_days_between(before_start, progress.period_end)
    left = cal.working_days_between(today - timedelta(days=1), progress.period_end)
    if total <= 0 or left <= 0:
        return None
    expected = progress.target_count * (total - left) / total
    if progress.collected >= expected:
        return None
    return left, math.ceil(progress.remaining / left)


def nudge_key(person_id: int, day: date) -> str:
    """The outbox dedupe key of a person's nudge of ``day``: one a day."""
    return f"nudge:{person_id}:{day.isoformat()}"


async def behind_pace(
    session: AsyncSession, cal: WorkCalendar, today: date, tz: ZoneInfo
) -> dict[int, list[QuotaPace]]:
    """The quotas behind pace today, by the id of their unit."""
    behind: dict[int, list[QuotaPace]] = {}
    for root in await units.roots(session):
        for progress in await quota_store.quota_progress(session, root, today, today, tz):
            found = pace(cal, progress, today)
            if found is None:
                continue
            unit = await units.by_code(session, progress.unit_code)
            left, per_day = found
            behind.setdefault(unit.id, []).append(  # type: ignore[union-attr, arg-type]
                QuotaPace(
                    progress.label or progress.unit_name,
                    progress.unit_name,
                    progress.collected,
                    progress.target_count,
                    progress.period_end,
                    left,
                    per_day,
                )
            )
    return behind


async def paces_by_person(
    session: AsyncSession,
    cal: WorkCalendar,
    today: date,
    tz: ZoneInfo,
    only: set[int] | None = None,
) -> dict[int, list[QuotaPace]]:
    """Each official (of ``only``, when given) with the quotas of their unit behind pace."""
    found: dict[int, list[QuotaPace]] = {}
    for unit_id, paces in (await behind_pace(session, cal, today, tz)).items():
        for person_id in await task_store.persons_in_unit(session, unit_id, "official"):
            if only is None or person_id in only:
                found[person_id] = paces
    return found


async def nudge(
    session: AsyncSession,
    now: datetime,
    cal: WorkCalendar,
    hours: OfficeHours,
    tz: ZoneInfo,
    notify: NotifyOne,
) -> int:
    """Queue today's nudges while the office is open; returns how many were new.

    An official with a catch-up reminder today (just linked, or a deadline added late)
    is left out: dispatch puts the quotas in that catch-up message instead."""
    if not hours.is_open(now, cal, tz):
        # Not queued for later: an outbox row waiting for the morning would hold up
        # every other message to that person (the outbox keeps each chat in order).
        return 0
    today = now.astimezone(tz).date()
    paces = await paces_by_person(session, cal, today, tz)
    start = datetime.combine(today, time.min, tzinfo=tz)
    catching_up = await reminder_store.catching_up(
        session, list(paces), CATCH_UP, start, start + timedelta(days=1)
    )
    queued = 0
    for person_id, locale in (await locales(session, list(paces))).items():
        if person_id in catching_up:
            continue
        reply = nudge_reply(translator(locale, tz.key), paces[person_id])
        key = nudge_key(person_id, today)
        if await notify(session, person_id, reply, now, dedupe_key=key):
            queued += 1
    return queued
