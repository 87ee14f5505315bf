"""Officials' side of reminders: ``/tasks``, ``/done``, ``/channel``, ``/deadlines``, the
one-tap buttons on reminders, and the texts of reminders, escalations and nudges.

Buttons work in any conversation state (a reminder arrives whatever the official was
doing) and carry the assignment id: ``t:d:<id>`` done, ``t:s:<id>`` remind me later,
``t:n:<id>`` not my task. A press is checked against the person who pressed it, so a
forwarded button does nothing for anyone else; the same person's accounts on different
channels all work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flows.common import command_args, tr
from flows.contract import (
    Audit,
    Button,
    Context,
    DisownTask,
    InboundEvent,
    MarkTaskDone,
    Reply,
    SetReminderChannel,
    SnoozeTask,
    State,
    StepResult,
    TaskInfo,
)
from flows.i18n import N_, Translator
from flows.registry import MANAGERS, STAFF, button, command

TASK_PREFIX = "t:"
CHANNEL_PREFIX = "ch:"
DONE, SNOOZE, NOT_MINE = "d", "s", "n"
CHANNEL_NAMES = {"telegram": "Telegram", "zalo": "Zalo", "web": "Web", "console": "Console"}
# Names listed in one escalation or overview line; the rest are counted.
MAX_NAMES = 30
_LABEL_LIMIT = 48  # a task's title on a /done button


# --- texts shared with the scheduler ------------------------------------------------------


def due_phrase(t: Translator, task: TaskInfo, today: date) -> str:
    """ "due 20/12/2026, 5 working days left", "due today", "overdue by 2 working days"…"""
    _ = t.gettext
    due = t.date(task.due_on)
    left = task.working_days_left
    if left > 0:
        return t.ngettext(
            "due {date}, {n} working day left", "due {date}, {n} working days left", left
        ).format(date=due, n=left)
    if left < 0:
        return t.ngettext(
            "overdue by {n} working day (due {date})",
            "overdue by {n} working days (due {date})",
            -left,
        ).format(date=due, n=-left)
    if task.due_on == today:
        return _("due today ({date})").format(date=due)
    if task.due_on > today:
        return _("due {date}, a day off: today is the last working day before it").format(date=due)
    return _("due {date}").format(date=due)


def task_buttons(t: Translator, assignment_id: int) -> tuple[Button, ...]:
    """The three one-tap answers on a reminder."""
    _ = t.gettext
    return (
        Button(_("Done"), f"{TASK_PREFIX}{DONE}:{assignment_id}"),
        Button(_("Remind me later"), f"{TASK_PREFIX}{SNOOZE}:{assignment_id}"),
        Button(_("Not my task"), f"{TASK_PREFIX}{NOT_MINE}:{assignment_id}"),
    )


def reminder_reply(t: Translator, task: TaskInfo, today: date) -> Reply:
    """A reminder of one assignment, with its buttons."""
    _ = t.gettext
    if task.working_days_left < 0:
        head = _("Overdue: {title}")
    elif task.working_days_left == 0:
        head = _("Deadline today: {title}")
    else:
        head = _("Reminder: {title}")
    phrase = due_phrase(t, task, today)
    lines = [head.format(title=task.title), phrase[:1].upper() + phrase[1:] + "."]
    if task.note:
        lines.append(task.note)
    lines.append(_("Tap a button below when you have an answer, or send /tasks to see all."))
    return Reply("\n".join(lines), task_buttons(t, task.assignment_id))


def digest_reply(t: Translator, tasks: list[TaskInfo], today: date) -> Reply:
    """Several reminders due at once (an official who just linked their account, or
    after days away) as one message: the tasks, and a "done" button for each."""
    _ = t.gettext
    lines = [_("Your open tasks ({n}):").format(n=len(tasks))]
    lines += [
        f"{n}. {task.title} – {due_phrase(t, task, today)}" for n, task in enumerate(tasks, 1)
    ]
    lines += ["", _("Tap a task below when it is done, or send /tasks to see all.")]
    buttons = tuple(
        Button(f"✓ {_short(task.title)}", f"{TASK_PREFIX}{DONE}:{task.assignment_id}")
        for task in tasks
    )
    return Reply("\n".join(lines), buttons)


@dataclass(frozen=True)
class Assignee:
    name: str
    unit_name: str


def escalation_reply(
    t: Translator,
    title: str,
    due_on: date,
    overdue_days: int,
    pending: list[Assignee],
    not_mine: list[Assignee],
    done: int,
    total: int,
) -> Reply:
    """What a leader is told when a deadline is overdue in their units."""
    _ = t.gettext
    lines = [
        t.ngettext(
            "{title} (due {date}) is overdue by {n} working day.",
            "{title} (due {date}) is overdue by {n} working days.",
            overdue_days,
        ).format(title=title, date=t.date(due_on), n=overdue_days),
        _("Not answered yet ({pending} of {total}):").format(pending=len(pending), total=total),
        *_names(t, pending),
    ]
    if not_mine:
        lines += [_("Said it is not their task:"), *_names(t, not_mine)]
    lines.append(_("Done: {done} of {total}.").format(done=done, total=total))
    return Reply("\n".join(lines))


def _names(t: Translator, people: list[Assignee]) -> list[str]:
    lines = [f"• {p.name} – {p.unit_name}" for p in people[:MAX_NAMES]]
    if len(people) > MAX_NAMES:
        lines.append(t.gettext("… and {n} more").format(n=len(people) - MAX_NAMES))
    return lines


@dataclass(frozen=True)
class QuotaPace:
    """A survey quota that is behind the pace its end date needs."""

    label: str
    unit_name: str
    collected: int
    target: int
    period_end: date
    working_days_left: int
    per_day: int


def with_quotas(t: Translator, reply: Reply, quotas: list[QuotaPace]) -> Reply:
    """A catch-up message that carries the day's quota nudge too (one message, not two)."""
    if not quotas:
        return reply
    return Reply(f"{reply.text}\n\n{nudge_reply(t, quotas).text}", reply.buttons)


def nudge_reply(t: Translator, quotas: list[QuotaPace]) -> Reply:
    """The daily nudge about survey quotas behind pace."""
    _ = t.gettext
    lines = [_("Survey quotas behind pace:")]
    for q in quotas:
        progress = _("{collected}/{target} questionnaires ({percent})").format(
            collected=q.collected, target=q.target, percent=t.percent(q.collected / q.target)
        )
        pace = t.ngettext(
            "{n} working day left until {date}: about {per_day} a day needed.",
            "{n} working days left until {date}: about {per_day} a day needed.",
            q.working_days_left,
        ).format(n=q.working_days_left, date=t.date(q.period_end), per_day=q.per_day)
        lines.append(f"• {q.label} – {q.unit_name}: {progress}. {pace}")
    lines.append(_("Invite citizens to rate the service with the survey code on their receipt."))
    return Reply("\n".join(lines))


def not_mine_alert(t: Translator, official: str, unit_name: str, title: str, due_on: date) -> Reply:
    """What an admin is told when an official says a deadline is not theirs."""
    text = t.gettext(
        "{name} ({unit}) says this is not their task: {title} (due {date}). "
        "They get no more reminders for it; please check who should do it."
    ).format(name=official, unit=unit_name, title=title, date=t.date(due_on))
    return Reply(text)


# --- commands --------------------------------------------------------------------------------


def _task_line(t: Translator, n: int, task: TaskInfo, today: date, now: datetime) -> str:
    line = f"{n}. {task.title} – {due_phrase(t, task, today)}"
    if task.snoozed_until and task.snoozed_until > now:
        line += " " + t.gettext("(reminder at {time})").format(
            time=_when(t, task.snoozed_until, now)
        )
    return line


@command("/tasks", help=N_("your open tasks and their deadlines"), roles=STAFF)
async def tasks(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """List the official's open tasks with due dates (Vietnamese date format)."""
    t = tr(state, ctx)
    _ = t.gettext
    found = await ctx.open_tasks()
    if not found:
        return StepResult(state, (Reply(_("You have no open tasks.")),))
    today = ctx.now.astimezone(t.tz).date()
    lines = [_("Your open tasks ({n}):").format(n=len(found))]
    lines += [_task_line(t, n, task, today, ctx.now) for n, task in enumerate(found, 1)]
    lines += ["", _("Send /done 1 when the first one is done, or /done to choose.")]
    return StepResult(state, (Reply("\n".join(lines)),))


@command("/done", help=N_("mark a task as done"), roles=STAFF)
async def done(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """``/done N`` marks the N-th task of ``/tasks``; ``/done`` offers one button per task."""
    t = tr(state, ctx)
    _ = t.gettext
    found = await ctx.open_tasks()
    if not found:
        return StepResult(state, (Reply(_("You have no open tasks.")),))
    arg = command_args(event)
    if not arg:
        buttons = tuple(
            Button(
                f"{_short(task.title)} ({t.date(task.due_on)[:5]})",
                f"{TASK_PREFIX}{DONE}:{task.assignment_id}",
            )
            for task in found
        )
        return StepResult(state, (Reply(_("Which task is done?"), buttons),))
    if not arg.isdigit() or not 1 <= int(arg) <= len(found):
        text = _("There is no task number {n}. Send /tasks to see the list.").format(n=arg[:20])
        return StepResult(state, (Reply(text),))
    return _answer(state, ctx, t, found[int(arg) - 1], DONE)


def _short(title: str) -> str:
    return title if len(title) <= _LABEL_LIMIT else title[: _LABEL_LIMIT - 1] + "…"


@button(TASK_PREFIX)
async def task_button(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Done / remind me later / not my task, pressed on a reminder or a /done list."""
    t = tr(state, ctx)
    _ = t.gettext
    parts = event.payload.split(":")
    stale = StepResult(state, (Reply(_("This button is no longer active.")),))
    if ctx.person is None or len(parts) != 3 or not parts[2].isdigit():
        return stale
    action, assignment_id = parts[1], int(parts[2])
    if action not in (DONE, SNOOZE, NOT_MINE):
        return stale
    task = await ctx.find_task(assignment_id)
    if task is None:
        return stale
    return await _answer_async(state, ctx, t, task, action)


async def _answer_async(
    state: State, ctx: Context, t: Translator, task: TaskInfo, action: str
) -> StepResult:
    if action == SNOOZE and task.status == "pending":
        until = await ctx.snooze_time()
        text = t.gettext("All right, I will remind you again {when}.").format(
            when=_when(t, until, ctx.now)
        )
        effects = (
            SnoozeTask(task.assignment_id, until),
            Audit("task.snoozed", str(task.assignment_id), {"until": until.isoformat()}),
        )
        return StepResult(state, (Reply(text),), effects)
    return _answer(state, ctx, t, task, action)


def _answer(state: State, ctx: Context, t: Translator, task: TaskInfo, action: str) -> StepResult:
    _ = t.gettext
    if task.status == "done":
        text = _("You already reported this task done: {title}.").format(title=task.title)
        return StepResult(state, (Reply(text),))
    if task.status == "not_mine":
        text = _("You already said this is not your task: {title}.").format(title=task.title)
        return StepResult(state, (Reply(text),))
    target = str(task.assignment_id)
    if action == DONE:
        text = _("Noted: {title} is done ({time}). Thank you!").format(
            title=task.title, time=t.datetime(ctx.now)
        )
        effects = (MarkTaskDone(task.assignment_id, ctx.now), Audit("task.done", target))
        return StepResult(state, (Reply(text),), effects)
    text = _(
        "Noted: {title} is not your task. You will get no more reminders for it, and an "
        "administrator has been told."
    ).format(title=task.title)
    effects = (DisownTask(task.assignment_id, ctx.now), Audit("task.not_mine", target))
    return StepResult(state, (Reply(text),), effects)


def _when(t: Translator, moment: datetime, now: datetime) -> str:
    local, today = moment.astimezone(t.tz), now.astimezone(t.tz).date()
    if local.date() == today:
        return t.gettext("today at {time}").format(time=f"{local:%H:%M}")
    return t.gettext("at {time} on {date}").format(time=f"{local:%H:%M}", date=t.date(local))


def channel_name(channel: str | None) -> str:
    """How a channel is called to its users."""
    return CHANNEL_NAMES.get(channel or "", channel or "–")


@command("/channel", help=N_("choose where your reminders are sent"), roles=STAFF)
async def channel(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Show where reminders go and offer: always here, or the channel used last."""
    t = tr(state, ctx)
    _ = t.gettext
    choice = await ctx.reminder_channels()
    if choice.preferred:
        now = _("Your reminders are sent to {channel} (your choice).")
    else:
        now = _("Your reminders are sent to {channel}, the channel you used last.")
    lines = [now.format(channel=channel_name(choice.current))]
    if len(choice.linked) > 1:
        linked = ", ".join(channel_name(c) for c in choice.linked)
        lines.append(_("Your linked channels: {channels}.").format(channels=linked))
    buttons = (
        Button(
            _("Always send them here ({channel})").format(channel=channel_name(ctx.channel)),
            f"{CHANNEL_PREFIX}here",
        ),
        Button(_("The channel I used last"), f"{CHANNEL_PREFIX}auto"),
    )
    return StepResult(state, (Reply("\n".join(lines), buttons),))


@button(CHANNEL_PREFIX)
async def channel_button(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Apply the choice made under ``/channel``."""
    t = tr(state, ctx)
    _ = t.gettext
    choice = event.payload[len(CHANNEL_PREFIX) :]
    if ctx.person is None or choice not in ("here", "auto"):
        return StepResult(state, (Reply(_("This button is no longer active.")),))
    if choice == "here":
        text = _("From now on your reminders are sent to {channel}.").format(
            channel=channel_name(ctx.channel)
        )
        effect = SetReminderChannel(ctx.channel)
    else:
        text = _("From now on your reminders go to the channel you used last.")
        effect = SetReminderChannel(None)
    return StepResult(state, (Reply(text),), (effect,))


@command("/deadlines", help=N_("deadlines in your units and who has not answered"), roles=MANAGERS)
async def deadlines(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Recent and coming deadlines in the caller's unit subtree, with who is pending."""
    t = tr(state, ctx)
    _ = t.gettext
    overview = await ctx.deadline_overview()
    unit = ctx.person.unit_name if ctx.person else ""
    if not overview:
        text = _("No deadlines recently due or coming up in {unit}.").format(unit=unit)
        return StepResult(state, (Reply(text),))
    lines = [_("Deadlines in {unit}:").format(unit=unit)]
    for item in overview:
        lines.append(
            _("• {title} – due {date}: {done}/{total} done").format(
                title=item.title, date=t.date(item.due_on), done=item.done, total=item.total
            )
        )
        if item.pending_names:
            names = ", ".join(item.pending_names[:MAX_NAMES])
            if len(item.pending_names) > MAX_NAMES:
                names += " " + _("… and {n} more").format(n=len(item.pending_names) - MAX_NAMES)
            lines.append("  " + _("not answered: {names}").format(names=names))
        if item.not_mine:
            lines.append("  " + _("not their task: {n}").format(n=item.not_mine))
    return StepResult(state, (Reply("\n".join(lines)),))
