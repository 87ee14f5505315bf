"""Reminders in the running bot: planning and dispatch passes, the clock that drives
them in ``serve``, and the appliers of the officials' answers.

APScheduler (3.x, in memory) only says *when* to run a pass: a short tick dispatches
due rows, planning runs at start, every 15 minutes and at 06:00. The database rows are the
truth, so a restart loses nothing and two processes never send a reminder twice (rows
are claimed with ``SKIP LOCKED``; outbox rows are deduplicated by reminder id).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.core import metrics
from bot.core.app import App
from bot.core.context import DbContext
from bot.core.effects import applies
from bot.services import notify  # the module, so tests can replace notify_people
from flows.contract import DisownTask, MarkTaskDone, SetReminderChannel, SnoozeTask
from scheduler import dispatch as dispatching
from scheduler import nudges, planner
from scheduler.calendar import load_calendar
from scheduler.dispatch import DispatchResult
from scheduler.planner import PlanResult
from storage import deadlines, people
from storage import reminders as reminder_store
from storage import tasks as task_store
from storage.reminders import NewReminder

log = logging.getLogger(__name__)
DISPATCH_BATCH = 200
PLAN_HOUR = 6  # local time: before offices open, so the day's reminders are planned
PLAN_EVERY_MINUTES = 15  # and this often, for new deadlines and newly registered people


@dataclass
class PassResult:
    plan: PlanResult = field(default_factory=PlanResult)
    nudges: int = 0
    dispatch: DispatchResult = field(default_factory=DispatchResult)


async def plan_pass(app: App, now: datetime | None = None) -> tuple[PlanResult, int]:
    """Plan reminder rows and queue today's quota nudges, in one transaction."""
    now = now or app.now()
    async with app.db.write() as session:
        cal = await load_calendar(session)
        hours = app.settings.hours
        planned = await planner.plan(session, now, cal, hours, app.tz)
        nudged = await nudges.nudge(session, now, cal, hours, app.tz, notify.notify_person)
    return planned, nudged


async def dispatch_pass(
    app: App, now: datetime | None = None, batch: int = DISPATCH_BATCH
) -> DispatchResult:
    """Dispatch every reminder due at ``now``, one transaction per batch."""
    now = now or app.now()
    total = DispatchResult()
    while True:
        async with app.db.write() as session:
            cal = await load_calendar(session)
            result = await dispatching.dispatch(
                session, now, cal, app.settings.hours, app.tz, notify.notify_people, batch
            )
        total.add(result)
        if len(result.claimed) < batch:
            return total


async def run_due(app: App, now: datetime | None = None) -> PassResult:
    """One planning-and-dispatch pass as of ``now`` (``sipas-bot reminders run-due``).
    Running it again at the same instant adds and sends nothing."""
    now = now or app.now()
    planned, nudged = await plan_pass(app, now)
    return PassResult(planned, nudged, await dispatch_pass(app, now))


def services(app: App) -> list[tuple[str, Callable[[asyncio.Event], Awaitable[None]]]]:
    """The background service of ``serve``: the clock for planning and dispatch."""

    planning = asyncio.Lock()

    async def plan() -> None:
        async with planning:
            try:
                planned, nudged = await plan_pass(app)
                log.info("reminders planned: %d new rows, %d nudges", planned.reminders, nudged)
            except Exception:  # the next run tries again; the rows are the truth
                log.exception("reminder planning failed")

    async def tick() -> None:
        try:
            result = await dispatch_pass(app)
            metrics.REMINDERS_SENT.inc(result.sent)
            if result.claimed:
                log.info(
                    "reminders dispatched: %d sent, %d cancelled, %d skipped",
                    result.sent,
                    result.cancelled,
                    result.skipped,
                )
        except Exception:
            log.exception("reminder dispatch failed")

    async def run(stop: asyncio.Event) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        # It would log every tick at INFO; our passes log what they did.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        clock = AsyncIOScheduler(timezone=app.tz)
        once = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 60}
        clock.add_job(
            plan,
            "interval",
            minutes=PLAN_EVERY_MINUTES,
            next_run_time=datetime.now(app.tz),
            **once,
        )
        clock.add_job(plan, "cron", hour=PLAN_HOUR, minute=0, **once)
        clock.add_job(tick, "interval", seconds=app.settings.reminder_tick_seconds, **once)
        clock.start()
        try:
            await stop.wait()
        finally:
            clock.shutdown(wait=False)

    return [("reminders", run)]


# --- the officials' answers (effects of flows.officials) ---------------------------------


@applies(MarkTaskDone)
async def _done(ctx: DbContext, e: MarkTaskDone) -> None:
    await task_store.answer(
        ctx.session, e.assignment_id, ctx.person.person_id, deadlines.DONE, e.at, ctx.channel
    )


@applies(SnoozeTask)
async def _snooze(ctx: DbContext, e: SnoozeTask) -> None:
    task = await task_store.task(ctx.session, ctx.person.person_id, e.assignment_id)
    if task is not None:
        await task_store.snooze(
            ctx.session,
            e.assignment_id,
            ctx.person.person_id,
            task.occurrence_id,
            e.until,
            ctx.now,
        )


@applies(DisownTask)
async def _not_mine(ctx: DbContext, e: DisownTask) -> None:
    person = ctx.person_row
    if not await task_store.answer(
        ctx.session, e.assignment_id, person.id, deadlines.NOT_MINE, e.at, ctx.channel
    ):
        return
    task = await task_store.task(ctx.session, person.id, e.assignment_id)
    found = await task_store.supervisors(ctx.session, [person.unit_path], ("admin", "leader"))
    cal = await load_calendar(ctx.session)
    # A durable row like any reminder: the admin hears of it in office hours.
    when = ctx.app.settings.hours.next_open(ctx.now, cal, ctx.app.tz)
    alerts = [
        NewReminder(
            f"n{e.assignment_id}:{admin}",
            deadlines.DISOWNED,
            task.occurrence_id,
            admin,
            e.assignment_id,
            when,
        )
        for admin in found.get(person.unit_path, [])
        if admin != person.id
    ]
    await reminder_store.add_reminders(ctx.session, alerts, ctx.now)


@applies(SetReminderChannel)
async def _channel(ctx: DbContext, e: SetReminderChannel) -> None:
    await people.set_preferred_channel(ctx.session, ctx.person.person_id, e.channel)
