"""The survey's questions: reading an answer, moving on, going back, the optional part.

An answer button carries its item index (``a:<i>:<value|s|b>``), so a press on an
earlier question's buttons is recognised: it changes nothing, and the citizen is told so
and asked the current question again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from flows import questionnaire as qn
from flows.common import NO, YES, tr, yes_no
from flows.contract import (
    Context,
    EventKind,
    InboundEvent,
    RecordAnswer,
    State,
    StepResult,
)
from flows.survey.base import (
    BACK,
    BACK_WORDS,
    NEGATIVE,
    SKIP,
    SKIP_WORDS,
    Option,
    answer_label,
    options,
    questionnaire,
)
from flows.survey.prompts import ask_code, prompt
from flows.text import fold

_LEADING_NUMBER = re.compile(r"^(\d{1,2})(?:\D|$)")


async def on_code(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Step ``code``: the router resolves anything that looks like a code first."""
    _ = tr(state, ctx).gettext
    return ask_code(state, ctx, _("That does not look like a survey code."))


def is_stale(state: State, event: InboundEvent) -> bool:
    """Whether ``event`` presses an answer button of a question not being asked now."""
    if event.kind != EventKind.BUTTON or not event.payload.startswith("a:"):
        return False
    parts = event.payload.split(":")
    current = str(state.data.get("i"))
    if len(parts) != 3 or parts[1] != current:
        return True
    if state.step == "question":
        return False
    # During the follow-up, the Back of the question that caused it re-asks it.
    return not (state.step.startswith("fb_") and parts[2] == BACK)


def stale(state: State, ctx: Context) -> StepResult:
    """The answer to a press on an earlier question's buttons: nothing changes."""
    _ = tr(state, ctx).gettext
    notice = _(
        "That button belongs to an earlier question, so your answer to it stays as it was "
        "(type “back” to change it). The current question is:"
    )
    return StepResult(state, (prompt(state, ctx, notice),))


async def on_question(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Step ``question``: record the answer to ``items[i]`` and move on."""
    t = tr(state, ctx)
    _ = t.gettext
    q = questionnaire(state)
    i = state.data["i"]
    item = q.items[i]
    choice = read_answer(event, i, options(q, item, t))
    if choice is None:
        if item.scale == qn.SATISFACTION:
            hint = _(
                "Sorry, I did not understand. Please press one of the buttons or type a number "
                "from 1 (very dissatisfied) to 5 (very satisfied)."
            )
        else:
            hint = _("Sorry, I did not understand. Please press one of the buttons.")
        return StepResult(state, (prompt(state, ctx, hint),))
    if choice == "stale":
        return stale(state, ctx)
    if choice == BACK:
        return back(state, ctx)

    value = None if choice == SKIP else int(choice)
    ack = answer_label(q, item, value, t)
    answers = {**state.data["answers"], item.code: value}
    effect = RecordAnswer(
        state.data["response"], item.code, item.element, value, ctx.now, item.scale
    )
    answered = state.at("question", answers=answers, trail=[*state.data["trail"], i])
    if (
        value in NEGATIVE
        and item.scale == qn.SATISFACTION
        and not state.data.get("fb_done")
        and q.negative_reasons
    ):
        nxt = answered.at("fb_reason", fb_item=item.code)
        return StepResult(nxt, (prompt(nxt, ctx, ack=ack),), (effect,))
    return advance(answered, i + 1, ctx, (effect,), ack=ack)


async def on_offer(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Step ``offer``: go on to an optional section, or finish."""
    _ = tr(state, ctx).gettext
    if is_back(state, event):
        return back(state, ctx)
    answer = yes_no(event, "o")
    i = state.data["i"]
    if answer == YES:
        nxt = state.at("question")
        return StepResult(nxt, (prompt(nxt, ctx, ack=_("Yes, continue")),))
    if answer == NO:
        section = questionnaire(state).section_of(i)
        return advance(state, i + len(section.items), ctx, (), ack=_("No, finish now"))
    return StepResult(state, (prompt(state, ctx, _("Please answer Yes or No.")),))


def advance(
    state: State, nxt: int, ctx: Context, effects: tuple, ack: str | None = None
) -> StepResult:
    """Go to item ``nxt``: its question, the offer before its section, or the comment."""
    q = questionnaire(state)
    if nxt >= len(q.items):
        new = state.at("comment", i=nxt)
    elif q.section_start(nxt) and q.section_of(nxt).offer is not None:
        new = state.at("offer", i=nxt)
    else:
        new = state.at("question", i=nxt)
    return StepResult(new, (prompt(new, ctx, ack=ack),), effects)


def back(state: State, ctx: Context) -> StepResult:
    """One step back: the previous question (from the follow-up, its own question)."""
    _ = tr(state, ctx).gettext
    trail = list(state.data.get("trail", []))
    if state.step == "question" and not trail:
        return StepResult(state, (prompt(state, ctx, _("This is the first question.")),))
    if state.step in ("fb_reason", "fb_contact", "fb_text"):
        # Back from the follow-up re-asks the question that caused it.
        i = trail.pop() if trail else state.data["i"]
        nxt = state.at("question", i=i, trail=trail, fb_item=None)
        return StepResult(nxt, (prompt(nxt, ctx),))
    if not trail:
        return StepResult(state, (prompt(state, ctx),))
    i = trail.pop()
    nxt = state.at("question", i=i, trail=trail)
    return StepResult(nxt, (prompt(nxt, ctx),))


def read_answer(event: InboundEvent, i: int, opts: Sequence[Option]) -> str | None:
    """``"1"``…``"5"``, ``SKIP``, ``BACK``, ``"stale"`` or None (not understood)."""
    values = {o.value for o in opts}
    if event.kind == EventKind.BUTTON:
        parts = event.payload.split(":")
        if len(parts) != 3 or parts[0] != "a":
            return None
        if parts[1] != str(i):
            return "stale"
        if parts[2] in (SKIP, BACK) or (parts[2].isdigit() and int(parts[2]) in values):
            return parts[2]
        return None
    typed = fold(event.text).rstrip(".!")
    if not typed:
        return None
    if typed in SKIP_WORDS:
        return SKIP
    if typed in BACK_WORDS:
        return BACK
    for option in opts:
        if typed in option.aliases:
            return str(option.value)
    match = _LEADING_NUMBER.match(typed)
    if match and int(match.group(1)) in values:
        return match.group(1)
    return None


def is_back(state: State, event: InboundEvent) -> bool:
    """Whether ``event`` asks to go back (typed, or the current question's Back)."""
    if event.kind == EventKind.BUTTON:
        return event.payload == f"a:{state.data.get('i')}:{BACK}"
    return fold(event.text).rstrip(".!") in BACK_WORDS
