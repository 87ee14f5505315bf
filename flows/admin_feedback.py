"""/feedback: leaders and admins follow up negative feedback (a note, optionally sent to
the citizen who asked to be contacted).

Button payloads: ``ad.f:h:<id>`` handle an item · ``ad.f:s:<id>:y|n`` send the note to the
citizen or not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flows.admin_checks import (
    LIST_LIMIT,
    home_unit,
    inactive,
    out_of_scope,
    privacy_of,
    role_refusal,
    today,
)
from flows.common import FREE_TEXT_LIMIT, YES, command_args, tr, yes_no, yes_no_buttons
from flows.contract import (
    Audit,
    Button,
    Context,
    EventKind,
    InboundEvent,
    Reply,
    State,
    StepResult,
    UnitInfo,
)
from flows.i18n import N_, Translator
from flows.periods import quarter_of
from flows.registry import FLOWS, MANAGERS, Flow, button, command, flow
from flows.report_feedback import feedback_entry, feedback_waited, handling_summary
from flows.text import clean_free_text

FLOW = "admin.feedback"


@dataclass(frozen=True, slots=True)
class HandleFeedback:
    """Close a feedback item with a note; optionally send the note to the citizen."""

    feedback_id: int
    note: str
    send_to_citizen: bool
    handled_at: datetime


# --- feedback follow-up --------------------------------------------------------------------


@command(
    "/feedback", help=N_("open feedback from dissatisfied citizens, oldest first"), roles=MANAGERS
)
async def feedback_command(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """``/feedback`` lists open items; ``/feedback 12`` shows one; ``/feedback 12 <note>``
    marks it handled with that note."""
    t = tr(state, ctx)
    _ = t.gettext
    args = command_args(event)
    units = await ctx.units()
    home = home_unit(units, ctx)
    if home is None:
        return out_of_scope(state, ctx, "f", None, None)
    if not args:
        return await _feedback_list(state, ctx, home)
    m = re.fullmatch(r"#?(\d{1,9})(?:\s+(.*))?", args, re.S)
    if not m:
        text = _("To mark an item handled, send /feedback followed by its number and a note.")
        return StepResult(state, (Reply(text),))
    item = await ctx.feedback_item(int(m.group(1)))
    refusal = _feedback_refusal(state, ctx, home, item, int(m.group(1)))
    if refusal:
        return refusal
    if m.group(2):
        return await _take_note(state, ctx, item, m.group(2))
    return await _start_handling(state, ctx, item)


async def _feedback_list(state: State, ctx: Context, home: UnitInfo) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    settings = ctx.report_settings()
    privacy = privacy_of(ctx)
    items, total = await ctx.open_feedback(home.unit_id, LIST_LIMIT)
    quarter = quarter_of(today(ctx, t))
    recent = await ctx.feedback_between(home.unit_id, quarter.start, quarter.end)
    lines = [_("Open feedback – {unit}: {n}").format(unit=home.name, n=t.number(total))]
    if total > len(items):
        lines.append(_("The {n} oldest are shown below.").format(n=len(items)))
    cal = await ctx.work_calendar()
    summary = handling_summary(recent, t, quarter, settings.feedback_target_hours, cal)
    if summary:
        lines.append(summary)
    if not total:
        lines.append(_("Nothing is waiting."))
    replies = [Reply("\n".join(lines))]
    for item in items:
        entry = feedback_entry(item, t, privacy, ctx.now, settings.feedback_target_hours, cal)
        label = _("Mark #{id} handled").format(id=item.id)
        replies.append(Reply(entry, (Button(label, f"ad.f:h:{item.id}"),)))
    audit = Audit("admin.feedback", home.code, {"open": total})
    return StepResult(state, tuple(replies), (audit,))


@button("ad.f:")
async def feedback_button(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Start handling an item, or answer whether to send the note to the citizen."""
    parts = event.payload.split(":")
    if len(parts) < 3 or not parts[2].isdigit():
        return inactive(state, ctx)
    refusal = role_refusal(state, ctx, MANAGERS, "ad.f")
    if refusal:
        return refusal
    feedback_id = int(parts[2])
    if parts[1] == "h" and len(parts) == 3:
        units = await ctx.units()
        item = await ctx.feedback_item(feedback_id)
        refusal = _feedback_refusal(state, ctx, home_unit(units, ctx), item, feedback_id)
        return refusal or await _start_handling(state, ctx, item)
    pending = state.flow == FLOW and state.step == "send" and state.data.get("fid")
    if parts[1] == "s" and pending == feedback_id:
        return await _on_send(state, event, ctx)
    return inactive(state, ctx)


async def _start_handling(state: State, ctx: Context, item: Any) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    if item.status != "open":
        return StepResult(state, (Reply(_already_handled(t, item)),))
    settings = ctx.report_settings()
    cal = await ctx.work_calendar()
    entry = feedback_entry(item, t, privacy_of(ctx), ctx.now, settings.feedback_target_hours, cal)
    nxt, closed = _enter(state, "note", {"fid": item.id})
    return StepResult(nxt, (Reply(entry), prompt(nxt, ctx)), closed)


async def step(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """The feedback-handling flow: a typed note, then (if the citizen asked to be
    contacted) whether to send it to them."""
    if state.step == "note":
        if event.kind != EventKind.TEXT or not event.text.strip():
            return StepResult(state, (prompt(state, ctx),))
        item = await ctx.feedback_item(state.data["fid"])
        units = await ctx.units()
        refusal = _feedback_refusal(
            state.idle(), ctx, home_unit(units, ctx), item, state.data["fid"]
        )
        return refusal or await _take_note(state, ctx, item, event.text)
    if state.step == "send":
        return await _on_send(state, event, ctx)
    return StepResult(state.idle())


def prompt(state: State, ctx: Context, notice: str | None = None) -> Reply:
    """The question of the current step, asked again."""
    t = tr(state, ctx)
    _ = t.gettext
    fid = state.data.get("fid")
    if state.step == "send":
        text = _(
            "The citizen asked to be contacted. Send your note to them in the chat as the "
            "unit's answer?"
        )
        buttons = yes_no_buttons(t, f"ad.f:s:{fid}", _("Yes, send it"), _("No, keep it internal"))
        reply = Reply(text, buttons)
    else:
        reply = Reply(
            _("Feedback #{id}: type a short note on how it was handled (or /cancel).").format(
                id=fid
            )
        )
    return Reply(notice + "\n\n" + reply.text, reply.buttons) if notice else reply


def expire(state: State) -> tuple:
    """Nothing to undo: a note is only stored once it is complete."""
    return ()


flow(Flow(FLOW, step, prompt, expire))


async def _take_note(state: State, ctx: Context, item: Any, raw: str) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    if item.status != "open":
        return StepResult(_leave(state), (Reply(_already_handled(t, item)),))
    note = clean_free_text(raw, FREE_TEXT_LIMIT)
    if note is None:
        notice = _("That is longer than {limit} characters. Please shorten it.").format(
            limit=FREE_TEXT_LIMIT
        )
        nxt, closed = _enter(state, "note", {"fid": item.id})
        return StepResult(nxt, (prompt(nxt, ctx, notice),), closed)
    if item.wants_contact and item.can_contact:
        nxt, closed = _enter(state, "send", {"fid": item.id, "note": note})
        return StepResult(nxt, (prompt(nxt, ctx),), closed)
    return await _handled(state, ctx, item, note, send=False)


async def _on_send(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    answer = yes_no(event, f"ad.f:s:{state.data['fid']}")
    if answer is None:
        return StepResult(state, (prompt(state, ctx, _("Please answer Yes or No.")),))
    item = await ctx.feedback_item(state.data["fid"])
    units = await ctx.units()
    refusal = _feedback_refusal(state.idle(), ctx, home_unit(units, ctx), item, state.data["fid"])
    if refusal:
        return refusal
    if item.status != "open":
        return StepResult(state.idle(), (Reply(_already_handled(tr(state, ctx), item)),))
    return await _handled(state, ctx, item, state.data["note"], send=answer == YES)


async def _handled(state: State, ctx: Context, item: Any, note: str, *, send: bool) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    hours = feedback_waited(item, ctx.now, t, await ctx.work_calendar())
    target = ctx.report_settings().feedback_target_hours
    text = _("Feedback #{id} is marked handled after {hours} working hours.").format(
        id=item.id, hours=t.number(round(hours, 1), 1)
    )
    text += " " + (
        _("Within the {target}-hour target.")
        if hours <= target
        else _("Over the {target}-hour target.")
    ).format(target=target)
    if send:
        text += "\n" + _("Your note has been sent to the citizen.")
    effects = (
        HandleFeedback(item.id, note, send, ctx.now),
        Audit("feedback.handled", str(item.id), {"sent": send, "hours": round(hours, 1)}),
    )
    return StepResult(_leave(state), (Reply(text),), effects)


def _enter(state: State, step_name: str, data: dict) -> tuple[State, tuple]:
    """The feedback flow at ``step_name``; another flow in progress is closed first, as
    the router does when a new survey code arrives."""
    other = FLOWS.get(state.flow or "") if state.flow != FLOW else None
    closed = other.expire(state) if other else ()
    return State(state.locale, FLOW, step_name, data, state.updated_at), closed


def _leave(state: State) -> State:
    """Out of the feedback flow; any other flow is left as it was."""
    return state.idle() if state.flow == FLOW else state


def _already_handled(t: Translator, item: Any) -> str:
    return t.gettext("Feedback #{id} was already handled by {name} on {date}.").format(
        id=item.id,
        name=item.handled_by_name or "–",
        date=t.date(item.handled_at or item.created_at),
    )


def _feedback_refusal(
    state: State, ctx: Context, home: UnitInfo | None, item: Any, feedback_id: int
) -> StepResult | None:
    _ = tr(state, ctx).gettext
    if item is None:
        return StepResult(state, (Reply(_("There is no feedback #{id}.").format(id=feedback_id)),))
    if home is None or not item.unit_path.startswith(home.path):
        text = _("Sorry, feedback #{id} belongs to a unit outside your area.").format(
            id=feedback_id
        )
        audit = Audit("admin.refused", f"feedback:{feedback_id}", {"unit": item.unit_code})
        return StepResult(state, (Reply(text),), (audit,))
    return None
