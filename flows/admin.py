"""Admins' and leaders' report commands: /quota, /report, /chart, /export.

/feedback is in flows/admin_feedback.py, /flags in flows/admin_flags.py, the checks they
share in flows/admin_checks.py.

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

from flows.admin_checks import (
    COMMAND_NAMES,
    MAX_BUTTONS,
    allowed,
    day,
    home_unit,
    inactive,
    out_of_scope,
    privacy_of,
    role_refusal,
    today,
)
from flows.common import command_args, tr
from flows.contract import (
    Button,
    Context,
    InboundEvent,
    Reply,
    State,
    StepResult,
    UnitInfo,
)
from flows.i18n import N_
from flows.inperson_report import report_lines
from flows.periods import Period, describe, quarter_of
from flows.registry import MANAGERS, button, command
from flows.report_text import not_enough, quota_text, satisfaction_text
from flows.units import TargetError, parse_target
from flows.zns_text import zns_footer

_KINDS = {"day": "d", "month": "m", "quarter": "q", "half": "h", "year": "y", "range": "r"}
_KIND_OF = {v: k for k, v in _KINDS.items()}
COMMENTS_SHOWN = 3  # comments quoted in a /report answer


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
        period = Period(day(start), day(end), _KIND_OF[kind])
        wanted = int(unit_id)
    except (ValueError, KeyError):
        return inactive(state, ctx)
    if cmd not in _RUNNERS:
        return inactive(state, ctx)
    refusal = role_refusal(state, ctx, MANAGERS, "ad.u")
    if refusal:
        return refusal
    units = await ctx.units()
    home = home_unit(units, ctx)
    unit = next((u for u in units if u.unit_id == wanted), None)
    if home is None or unit is None or not home.contains(unit):
        return out_of_scope(state, ctx, cmd, home, unit)
    return await _RUNNERS[cmd](state, ctx, unit, period)


# --- the four report commands ------------------------------------------------------------


async def _targeted(state: State, ctx: Context, cmd: str, args: str) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    units = await ctx.units()
    home = home_unit(units, ctx)
    if home is None:
        return out_of_scope(state, ctx, cmd, None, None)
    try:
        target = parse_target(args, units, today(ctx, t))
    except TargetError as err:
        this_quarter = _("this quarter")  # a period the parser reads, in the user's words
        text = _(
            "I could not find the unit “{unit}”. Send its code or part of its name, then "
            "the period if you want one, for example: {example}"
        ).format(unit=err.unit_text, example=f"{COMMAND_NAMES[cmd]} {home.code} {this_quarter}")
        return StepResult(state, (Reply(text),))
    period = target.period or quarter_of(today(ctx, t))
    if not target.unit_text:
        return await _RUNNERS[cmd](state, ctx, home, period)
    inside = [u for u in target.units if home.contains(u)]
    if not inside:
        return out_of_scope(state, ctx, cmd, home, target.units[0])
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
    text = quota_text(rows, t, unit.name, period, today(ctx, t), await ctx.work_calendar())
    if footer := zns_footer(await ctx.zns_status(), t):
        text += "\n\n" + footer
    return StepResult(state, (Reply(text),), (allowed("quota", unit, period),))


async def _report(state: State, ctx: Context, unit: UnitInfo, period: Period) -> StepResult:
    t = tr(state, ctx)
    privacy = privacy_of(ctx)
    report = await ctx.satisfaction(unit.unit_id, period.start, period.end)
    comments = await ctx.comments(unit.unit_id, period.start, period.end, COMMENTS_SHOWN)
    flagged = await ctx.flagged_count(unit.unit_id, period.start, period.end) if privacy.full else 0
    if not privacy.shows(report.total.respondents):
        comments = []  # a handful of comments is as telling as a handful of ratings
    text = satisfaction_text(report, t, period, privacy, comments, flagged)
    text += await report_lines(ctx, t, unit.unit_id, period.start, period.end, privacy)
    return StepResult(state, (Reply(text),), (allowed("report", unit, period),))


async def _chart(state: State, ctx: Context, unit: UnitInfo, period: Period) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    privacy = privacy_of(ctx)
    report = await ctx.satisfaction(unit.unit_id, period.start, period.end)
    audit = allowed("chart", unit, period)
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
    privacy = privacy_of(ctx)
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
        state, (Reply(caption, attachment=attachment),), (allowed("export", unit, period),)
    )


_RUNNERS = {"q": _quota, "r": _report, "c": _chart, "e": _export}
