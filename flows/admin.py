"""Admins' and leaders' commands: /quota, /report, /chart, /export, /feedback, /flags.

Who sees what. The router lets only leaders and admins run these commands; every call
here then checks the unit asked about against the caller's scope, the subtree of their
own unit, on the current database (a unit moved or a person demoted takes effect at
once). A leader's scope is their unit with everything below it (a ward with its
counters, a legacy district with its offices): a unit's figures include its subtree, so
hiding the parts would hide nothing. Admins and leaders differ in what they see: a
leader gets "not enough responses" below ``SIPAS_PRIVACY_MIN_RESPONSES`` and comments
without phone numbers or e-mail addresses; admins see everything, including responses
flagged as possible stuffing (/flags), which only they can count again or reject.
Every answer and every refusal is audited.

Button payloads, all far below 64 bytes:
``ad.u:<cmd>:<unit>:<yyyymmdd>:<yyyymmdd>:<kind>`` a unit picked from a list ·
``ad.f:h:<id>`` handle a feedback item · ``ad.f:s:<id>:y|n`` send the note to the
citizen or not · ``ad.x:c|r:<response id>`` count or reject a flagged group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

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
from flows.inperson_report import report_lines
from flows.periods import Period, describe, quarter_of
from flows.privacy import Privacy, for_role
from flows.registry import FLOWS, MANAGERS, Flow, button, command, flow
from flows.report_text import (
    feedback_entry,
    feedback_waited,
    handling_summary,
    not_enough,
    quota_text,
    satisfaction_text,
)
from flows.text import clean_free_text
from flows.units import TargetError, parse_target

FLOW = "admin.feedback"
ADMINS = frozenset({"admin"})
MAX_BUTTONS = 5  # Zalo shows about five buttons under a message
LIST_LIMIT = 5  # feedback items or flag groups per answer, one message each
COMMENTS_SHOWN = 3
_KINDS = {"day": "d", "month": "m", "quarter": "q", "half": "h", "year": "y", "range": "r"}
_KIND_OF = {v: k for k, v in _KINDS.items()}


# --- effects -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandleFeedback:
    """Close a feedback item with a note; optionally send the note to the citizen."""

    feedback_id: int
    note: str
    send_to_citizen: bool
    handled_at: datetime


@dataclass(frozen=True, slots=True)
class ResolveFlags:
    """Count a flagged group of responses again (``count``) or reject it for good."""

    response_id: int  # any response of the group
    count: bool


# --- commands ----------------------------------------------------------------------------


@command(
    "/quota",
    help=N_("[unit] [period]: questionnaires collected against the target"),
    roles=MANAGERS,
)
async def quota_command(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """``/quota [unit] [period]``."""
    return await _targeted(state, ctx, "q", command_args(event))


@command("/report", help=N_("[unit] [period]: satisfaction per element and unit"), roles=MANAGERS)
async def report_command(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """``/report [unit] [period]``."""
    return await _targeted(state, ctx, "r", command_args(event))


@command("/chart", help=N_("[unit] [period]: satisfaction chart (PNG)"), roles=MANAGERS)
async def chart_command(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """``/chart [unit] [period]``."""
    return await _targeted(state, ctx, "c", command_args(event))


@command(
    "/export", help=N_("[unit] [period]: Excel workbook of figures and answers"), roles=MANAGERS
)
async def export_command(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """``/export [unit] [period]``."""
    return await _targeted(state, ctx, "e", command_args(event))


@button("ad.u:")
async def unit_chosen(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """A unit picked from the list offered for an ambiguous name."""
    parts = event.payload.split(":")
    try:
        _prefix, cmd, unit_id, start, end, kind = parts
        period = Period(_day(start), _day(end), _KIND_OF[kind])
        wanted = int(unit_id)
    except (ValueError, KeyError):
        return _inactive(state, ctx)
    if cmd not in _RUNNERS:
        return _inactive(state, ctx)
    refusal = _role_refusal(state, ctx, MANAGERS, "ad.u")
    if refusal:
        return refusal
    units = await ctx.units()
    home = _home(units, ctx)
    unit = next((u for u in units if u.unit_id == wanted), None)
    if home is None or unit is None or not home.contains(unit):
        return _out_of_scope(state, ctx, cmd, home, unit)
    return await _RUNNERS[cmd](state, ctx, unit, period)


# --- the four report commands ------------------------------------------------------------


async def _targeted(state: State, ctx: Context, cmd: str, args: str) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    units = await ctx.units()
    home = _home(units, ctx)
    if home is None:
        return _out_of_scope(state, ctx, cmd, None, None)
    try:
        target = parse_target(args, units, _today(ctx, t))
    except TargetError as err:
        this_quarter = _("this quarter")  # a period the parser reads, in the user's words
        text = _(
            "I could not find the unit “{unit}”. Send its code or part of its name, then "
            "the period if you want one, for example: {example}"
        ).format(unit=err.unit_text, example=f"{_NAMES[cmd]} {home.code} {this_quarter}")
        return StepResult(state, (Reply(text),))
    period = target.period or quarter_of(_today(ctx, t))
    if not target.unit_text:
        return await _RUNNERS[cmd](state, ctx, home, period)
    inside = [u for u in target.units if home.contains(u)]
    if not inside:
        return _out_of_scope(state, ctx, cmd, home, target.units[0])
    if len(inside) == 1:
        return await _RUNNERS[cmd](state, ctx, inside[0], period)
    if len(inside) > MAX_BUTTONS:
        names = ", ".join(u.name for u in inside[:MAX_BUTTONS])
        text = _(
            "{n} units match “{text}” ({names}…). Please type more of the name, or the code."
        ).format(n=len(inside), text=target.unit_text, names=names)
        return StepResult(state, (Reply(text),))
    text = _("Several units match “{text}”. Which one do you mean?").format(text=target.unit_text)
    span = f"{period.start:%Y%m%d}:{period.end:%Y%m%d}:{_KINDS[period.kind]}"
    buttons = tuple(
        Button(f"{u.name} ({u.code})", f"ad.u:{cmd}:{u.unit_id}:{span}") for u in inside
    )
    return StepResult(state, (Reply(text, buttons),))


async def _quota(state: State, ctx: Context, unit: UnitInfo, period: Period) -> StepResult:
    t = tr(state, ctx)
    rows = await ctx.quota_progress(unit.unit_id, period.start, period.end)
    text = quota_text(rows, t, unit.name, period, _today(ctx, t))
    return StepResult(state, (Reply(text),), (_allowed("quota", unit, period),))


async def _report(state: State, ctx: Context, unit: UnitInfo, period: Period) -> StepResult:
    t = tr(state, ctx)
    privacy = _privacy(ctx)
    report = await ctx.satisfaction(unit.unit_id, period.start, period.end)
    comments = await ctx.comments(unit.unit_id, period.start, period.end, COMMENTS_SHOWN)
    flagged = await ctx.flagged_count(unit.unit_id, period.start, period.end) if privacy.full else 0
    if not privacy.shows(report.total.respondents):
        comments = []  # a handful of comments is as telling as a handful of ratings
    text = satisfaction_text(report, t, period, privacy, comments, flagged)
    text += await report_lines(ctx, t, unit.unit_id, period.start, period.end, privacy)
    return StepResult(state, (Reply(text),), (_allowed("report", unit, period),))


async def _chart(state: State, ctx: Context, unit: UnitInfo, period: Period) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    privacy = _privacy(ctx)
    report = await ctx.satisfaction(unit.unit_id, period.start, period.end)
    audit = _allowed("chart", unit, period)
    if report.total.respondents == 0:
        text = _("No completed responses for {unit} in {period}.").format(
            unit=unit.name, period=describe(period, t)
        )
        return StepResult(state, (Reply(text),), (audit,))
    if not privacy.shows(report.total.respondents):
        text = not_enough(t, report.total.respondents, privacy)
        return StepResult(state, (Reply(text),), (audit,))
    attachment = await ctx.chart(report, period, t.locale, privacy.min_responses)
    caption = _("Satisfaction chart – {unit}, {period}").format(
        unit=unit.name, period=describe(period, t)
    )
    return StepResult(state, (Reply(caption, attachment=attachment),), (audit,))


async def _export(state: State, ctx: Context, unit: UnitInfo, period: Period) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    privacy = _privacy(ctx)
    attachment = await ctx.workbook(unit.unit_id, period, t.locale, privacy.min_responses)
    caption = _("Excel workbook – {unit}, {period}").format(
        unit=unit.name, period=describe(period, t)
    )
    if not privacy.full:
        caption += "\n" + _(
            "Figures based on fewer than {n} responses are not shown, and the answers carry "
            "no time, channel or procedure."
        ).format(n=privacy.min_responses)
    return StepResult(
        state, (Reply(caption, attachment=attachment),), (_allowed("export", unit, period),)
    )


_RUNNERS = {"q": _quota, "r": _report, "c": _chart, "e": _export}
_NAMES = {"q": "/quota", "r": "/report", "c": "/chart", "e": "/export"}


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
    home = _home(units, ctx)
    if home is None:
        return _out_of_scope(state, ctx, "f", None, None)
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
        return _take_note(state, ctx, item, m.group(2))
    return _start_handling(state, ctx, item)


async def _feedback_list(state: State, ctx: Context, home: UnitInfo) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    settings = ctx.report_settings()
    privacy = _privacy(ctx)
    items, total = await ctx.open_feedback(home.unit_id, LIST_LIMIT)
    quarter = quarter_of(_today(ctx, t))
    recent = await ctx.feedback_between(home.unit_id, quarter.start, quarter.end)
    lines = [_("Open feedback – {unit}: {n}").format(unit=home.name, n=t.number(total))]
    if total > len(items):
        lines.append(_("The {n} oldest are shown below.").format(n=len(items)))
    summary = handling_summary(recent, t, quarter, settings.feedback_target_hours)
    if summary:
        lines.append(summary)
    if not total:
        lines.append(_("Nothing is waiting."))
    replies = [Reply("\n".join(lines))]
    for item in items:
        entry = feedback_entry(item, t, privacy, ctx.now, settings.feedback_target_hours)
        label = _("Mark #{id} handled").format(id=item.id)
        replies.append(Reply(entry, (Button(label, f"ad.f:h:{item.id}"),)))
    audit = Audit("admin.feedback", home.code, {"open": total})
    return StepResult(state, tuple(replies), (audit,))


@button("ad.f:")
async def feedback_button(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Start handling an item, or answer whether to send the note to the citizen."""
    parts = event.payload.split(":")
    if len(parts) < 3 or not parts[2].isdigit():
        return _inactive(state, ctx)
    refusal = _role_refusal(state, ctx, MANAGERS, "ad.f")
    if refusal:
        return refusal
    feedback_id = int(parts[2])
    if parts[1] == "h" and len(parts) == 3:
        units = await ctx.units()
        item = await ctx.feedback_item(feedback_id)
        refusal = _feedback_refusal(state, ctx, _home(units, ctx), item, feedback_id)
        return refusal or _start_handling(state, ctx, item)
    pending = state.flow == FLOW and state.step == "send" and state.data.get("fid")
    if parts[1] == "s" and pending == feedback_id:
        return await _on_send(state, event, ctx)
    return _inactive(state, ctx)


def _start_handling(state: State, ctx: Context, item: Any) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    if item.status != "open":
        return StepResult(state, (Reply(_already_handled(t, item)),))
    settings = ctx.report_settings()
    entry = feedback_entry(item, t, _privacy(ctx), ctx.now, settings.feedback_target_hours)
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
        refusal = _feedback_refusal(state.idle(), ctx, _home(units, ctx), item, state.data["fid"])
        return refusal or _take_note(state, ctx, item, event.text)
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


def _take_note(state: State, ctx: Context, item: Any, raw: str) -> StepResult:
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
    return _handled(state, ctx, item, note, send=False)


async def _on_send(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    answer = yes_no(event, f"ad.f:s:{state.data['fid']}")
    if answer is None:
        return StepResult(state, (prompt(state, ctx, _("Please answer Yes or No.")),))
    item = await ctx.feedback_item(state.data["fid"])
    units = await ctx.units()
    refusal = _feedback_refusal(state.idle(), ctx, _home(units, ctx), item, state.data["fid"])
    if refusal:
        return refusal
    if item.status != "open":
        return StepResult(state.idle(), (Reply(_already_handled(tr(state, ctx), item)),))
    return _handled(state, ctx, item, state.data["note"], send=answer == YES)


def _handled(state: State, ctx: Context, item: Any, note: str, *, send: bool) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    hours = feedback_waited(item, ctx.now, t)
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


# --- flagged responses (admins only) -------------------------------------------------------


@command(
    "/flags", help=N_("responses flagged as possible stuffing: count or reject them"), roles=ADMINS
)
async def flags_command(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """``/flags``: each flagged group in the caller's scope, with count/reject buttons."""
    t = tr(state, ctx)
    _ = t.gettext
    units = await ctx.units()
    home = _home(units, ctx)
    if home is None:
        return _out_of_scope(state, ctx, "x", None, None)
    groups = await ctx.flag_groups(home.unit_id)
    audit = Audit("admin.flags", home.code, {"groups": len(groups)})
    if not groups:
        text = _("No responses are flagged in {unit}.").format(unit=home.name)
        return StepResult(state, (Reply(text),), (audit,))
    replies = [
        Reply(
            _(
                "Flagged responses – {unit}. They are kept but left out of every figure "
                "until you count them again or reject them."
            ).format(unit=home.name)
        )
    ]
    for g in groups[:LIST_LIMIT]:
        replies.append(
            Reply(
                _flag_text(t, g),
                (
                    Button(_("Count them"), f"ad.x:c:{g.first_response_id}"),
                    Button(_("Reject them"), f"ad.x:r:{g.first_response_id}"),
                ),
            )
        )
    return StepResult(state, tuple(replies), (audit,))


@button("ad.x:")
async def flags_button(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Count a flagged group again, or reject it."""
    t = tr(state, ctx)
    _ = t.gettext
    parts = event.payload.split(":")
    if len(parts) != 3 or parts[1] not in ("c", "r") or not parts[2].isdigit():
        return _inactive(state, ctx)
    refusal = _role_refusal(state, ctx, ADMINS, "ad.x")
    if refusal:
        return refusal
    group = await ctx.flag_group(int(parts[2]))
    if group is None:
        return StepResult(state, (Reply(_("These responses are no longer flagged.")),))
    home = _home(await ctx.units(), ctx)
    if home is None or not group.unit_path.startswith(home.path):
        text = _("Sorry, these responses belong to a unit outside your area.")
        audit = Audit(
            "admin.refused", f"flags:{group.first_response_id}", {"unit": group.unit_code}
        )
        return StepResult(state, (Reply(text),), (audit,))
    count = parts[1] == "c"
    n = t.number(group.count)
    if count:
        text = _("{n} responses of {unit} count again from now on.").format(
            n=n, unit=group.unit_name
        )
    else:
        text = _(
            "{n} responses of {unit} are rejected; their answers are kept but never counted."
        ).format(n=n, unit=group.unit_name)
    effects = (
        ResolveFlags(group.first_response_id, count),
        Audit(
            "flags.counted" if count else "flags.rejected", group.reason, {"responses": group.count}
        ),
    )
    return StepResult(state, (Reply(text),), effects)


def _flag_text(t: Translator, g: Any) -> str:
    _ = t.gettext
    source = g.reason.split()[1] if g.reason and len(g.reason.split()) > 1 else ""
    kind = source.split(":", 1)[0]
    what = {
        "counter": _("from one counter code"),
        "respondent": _("from one respondent"),
    }.get(kind, _("flagged"))
    return _("{unit}: {n} responses {what}, {start} – {end}").format(
        unit=g.unit_name,
        n=t.number(g.count),
        what=what,
        start=t.datetime(g.first_at),
        end=t.datetime(g.last_at),
    )


# --- shared checks -------------------------------------------------------------------------


def _home(units: list[UnitInfo], ctx: Context) -> UnitInfo | None:
    """The caller's own unit: the root of their scope."""
    if ctx.person is None:
        return None
    return next((u for u in units if u.unit_id == ctx.person.unit_id), None)


def _role_refusal(
    state: State, ctx: Context, roles: frozenset[str], what: str
) -> StepResult | None:
    """Buttons bypass the router's role check: the same refusal, audited."""
    if ctx.person is not None and ctx.person.role in roles:
        return None
    _ = tr(state, ctx).gettext
    text = _("Sorry, this is only for authorised staff.")
    audit = Audit("command.refused", what, {"role": ctx.person.role if ctx.person else None})
    return StepResult(state, (Reply(text),), (audit,))


def _out_of_scope(
    state: State, ctx: Context, cmd: str, home: UnitInfo | None, unit: UnitInfo | None
) -> StepResult:
    _ = tr(state, ctx).gettext
    if home is None:
        text = _("Sorry, your account is not linked to a unit. Please ask an administrator.")
    else:
        text = _(
            "Sorry, {unit} is outside your area. You can ask about {home} and the units below it."
        ).format(unit=unit.name if unit else "?", home=home.name)
    detail = {"command": _NAMES.get(cmd, cmd), "home": home.code if home else None}
    audit = Audit("admin.refused", unit.code if unit else None, detail)
    return StepResult(state, (Reply(text),), (audit,))


def _inactive(state: State, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    return StepResult(state, (Reply(_("This button is no longer active.")),))


def _allowed(name: str, unit: UnitInfo, period: Period) -> Audit:
    return Audit(
        f"admin.{name}", unit.code, {"from": period.start.isoformat(), "to": period.end.isoformat()}
    )


def _privacy(ctx: Context) -> Privacy:
    assert ctx.person is not None
    return for_role(ctx.person.role, ctx.report_settings().min_responses)


def _today(ctx: Context, t: Translator) -> date:
    return ctx.now.astimezone(t.tz).date()


def _day(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
