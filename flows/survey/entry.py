"""Getting into a survey: a code is recognised, checked, and the survey begins.

A well-formed code may arrive at any step. The same code as the open survey's continues
it; another valid code closes the open survey (its answers are kept) and starts the new
one; a code that cannot be used is explained and the open survey goes on.
"""

from __future__ import annotations

from flows import questionnaire as qn
from flows.common import tr
from flows.contract import (
    AbandonResponse,
    Context,
    InviteInfo,
    Reply,
    StartResponse,
    State,
    StepResult,
)
from flows.survey.base import FLOW
from flows.survey.prompts import code_problem, prompt


def in_survey(state: State) -> bool:
    """Whether ``state`` is a survey under way (past the code)."""
    return state.flow == FLOW and state.step not in (None, "code")


async def code_received(state: State, invite: InviteInfo, ctx: Context) -> StepResult:
    """A citizen sent the code of ``invite``: start, continue, or explain, as fits."""
    if not in_survey(state):
        return await start(state, invite, ctx)
    _ = tr(state, ctx).gettext
    if state.data.get("invite") == invite.invite_id:
        notice = _("You are already answering this survey. Let us go on:")
        return StepResult(state, (prompt(state, ctx, notice),))
    fresh = await start(state.idle(), invite, ctx)
    if not fresh.effects:
        # The new code cannot be used: say why, and go on with the open survey.
        reason = "\n".join(r.text for r in fresh.replies)
        notice = reason + "\n\n" + _("Your current survey goes on:")
        return StepResult(state, (prompt(state, ctx, notice),))
    closed = Reply(
        _(
            "Your unfinished survey of {unit} has been closed; the answers you gave are kept. "
            "Now the new survey:"
        ).format(unit=state.data.get("unit", ""))
    )
    return StepResult(fresh.state, (closed, *fresh.replies), (*expire(state), *fresh.effects))


async def start(state: State, invite: InviteInfo, ctx: Context) -> StepResult:
    """Greet and ask the first question for a valid survey invite, or explain why not."""
    t = tr(state, ctx)
    _ = t.gettext
    if invite.status == "expired":
        return code_problem(state, t, _("This survey code has expired."))
    if invite.status == "completed":
        text = _(
            "You have already completed this survey of {unit}. Thank you for your answers!"
        ).format(unit=invite.unit_name)
        return StepResult(state.idle(), (Reply(text),))
    if invite.status == "used":
        return code_problem(state, t, _("This survey code has already been used."))
    day = ctx.now.astimezone(t.tz).date()
    if invite.kind == "counter" and await ctx.responded_today(invite.unit_id, day):
        text = _(
            "You have already rated {unit} today. Thank you! You can rate it again tomorrow."
        ).format(unit=invite.unit_name)
        return StepResult(state.idle(), (Reply(text),))

    q = qn.get(invite.questionnaire_code)
    key = ctx.new_key()
    greeting = _("Hello! Thank you for using the services of {unit}.").format(unit=invite.unit_name)
    if invite.procedure_name:
        greeting += "\n" + _("Procedure: {procedure}.").format(procedure=invite.procedure_name)
    greeting += "\n" + _(
        "Please tell us how satisfied you are: it takes about a minute, your identity is "
        "kept confidential and your answers are only used to improve the service."
    )
    if ctx.channel == "web":
        greeting += " " + _("Press “Cancel” below to stop at any time.")
    else:
        greeting += " " + _("Send /cancel to stop at any time.")
    new_state = State(
        locale=state.locale,
        flow=FLOW,
        step="question",
        data={
            "response": key,
            "invite": invite.invite_id,
            "q": q.code,
            "unit_id": invite.unit_id,
            "unit": invite.unit_name,
            "i": 0,
            "trail": [],
            "answers": {},
        },
        updated_at=state.updated_at,
    )
    effect = StartResponse(
        response_key=key,
        invite_id=invite.invite_id,
        invite_kind=invite.kind,
        unit_id=invite.unit_id,
        procedure_id=invite.procedure_id,
        dossier_id=invite.dossier_id,
        questionnaire_code=q.code,
        questionnaire_version=q.version,
        started_at=ctx.now,
        counter_day=day if invite.kind == "counter" else None,
    )
    return StepResult(new_state, (Reply(greeting), prompt(new_state, ctx)), (effect,))


def unknown_code(state: State, ctx: Context) -> StepResult:
    """The reply to a code that matches no invite (an open survey goes on)."""
    t = tr(state, ctx)
    _ = t.gettext
    problem = _("We could not find this survey code.")
    if in_survey(state):
        notice = problem + "\n\n" + _("Your current survey goes on:")
        return StepResult(state, (prompt(state, ctx, notice),))
    return code_problem(state, t, problem)


def expire(state: State) -> tuple:
    """Effects that close an abandoned survey (idle too long, or cancelled)."""
    key = state.data.get("response")
    return (AbandonResponse(key),) if key else ()
