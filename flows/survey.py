"""The citizen's survey: code → greeting → questions → follow-up → comment → thanks.

Steps (``state.step``) and the data they keep:

``question``  asking ``items[i]``; ``trail`` is the stack of earlier item indices (for
              "back"), ``answers`` maps item code → value (None when skipped).
``offer``     before an optional section: go on, or finish.
``fb_reason`` after the first answer of 1 or 2: what went wrong (buttons or free text).
``fb_text``   the citizen chose "other reason": waiting for their words.
``fb_contact`` whether they want the unit to contact them.
``comment``   an optional last comment.

Button payloads stay far below Telegram's 64 bytes: ``a:<i>:<value|s|b>``, ``o:y``,
``r:<reason>``, ``c:y``, ``m:s``. An answer button carries its item index, so a press
on an old question's keyboard is recognised as stale and the current question re-asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flows import questionnaire as qn
from flows.common import FREE_TEXT_LIMIT, NO, YES, tr, yes_no, yes_no_buttons
from flows.contract import (
    AbandonResponse,
    Button,
    CompleteResponse,
    Context,
    EventKind,
    InboundEvent,
    InviteInfo,
    OpenFeedback,
    RecordAnswer,
    Reply,
    StartResponse,
    State,
    StepResult,
)
from flows.i18n import LOCALES, N_, Translator, translator
from flows.text import clean_free_text, fold

FLOW = "survey"
NEGATIVE = (1, 2)  # answers that trigger the "what went wrong" follow-up
SATISFACTION_LABELS = {
    1: N_("Very dissatisfied"),
    2: N_("Dissatisfied"),
    3: N_("Neutral"),
    4: N_("Satisfied"),
    5: N_("Very satisfied"),
}
SKIP = "s"
BACK = "b"
OTHER_REASON = "other"


@dataclass(frozen=True)
class _Option:
    value: int
    label: str  # in the user's language
    aliases: tuple[str, ...]  # every language's label, folded, for typed answers


# --- entry -------------------------------------------------------------------------


async def start(state: State, invite: InviteInfo, ctx: Context) -> StepResult:
    """Greet and ask the first question for a valid survey invite, or explain why not."""
    t = tr(state, ctx)
    _ = t.gettext
    if invite.status == "expired":
        return _code_problem(state, t, _("This survey code has expired."))
    if invite.status == "used":
        return _code_problem(state, t, _("This survey code has already been used."))
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
        "Please tell us how satisfied you are: it takes about a minute, your answers are "
        "anonymous and only used to improve the service. Send /cancel to stop at any time."
    )
    new_state = State(
        locale=state.locale,
        flow=FLOW,
        step="question",
        data={
            "response": key,
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


def ask_code(state: State, ctx: Context, notice: str | None = None) -> StepResult:
    """Ask for a survey code (after a bare /start, or when a typed code was wrong)."""
    _ = tr(state, ctx).gettext
    text = _(
        "Please send the survey code printed on your receipt (12 letters and digits, "
        "for example K7QM-2XWD-9RTE), or scan the QR code on it."
    )
    if notice:
        text = notice + "\n" + text
    return StepResult(State(state.locale, FLOW, "code", {}, state.updated_at), (Reply(text),))


def _code_problem(state: State, t: Translator, problem: str) -> StepResult:
    _ = t.gettext
    text = (
        problem
        + "\n"
        + _(
            "Please check the code on your receipt and send it again, or ask the staff at the "
            "counter for a new one."
        )
    )
    return StepResult(State(state.locale, FLOW, "code", {}, state.updated_at), (Reply(text),))


def unknown_code(state: State, ctx: Context) -> StepResult:
    """The reply to a code that matches no invite."""
    _ = tr(state, ctx).gettext
    return _code_problem(state, tr(state, ctx), _("We could not find this survey code."))


# --- the step ----------------------------------------------------------------------


async def step(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Advance the survey by one event."""
    handler = _STEPS.get(state.step or "")
    if handler is None:
        return StepResult(state.idle())
    return await handler(state, event, ctx)


def prompt(state: State, ctx: Context, notice: str | None = None) -> Reply:
    """The message that asks for the current step again (after /help, /lang, bad input)."""
    t = tr(state, ctx)
    _ = t.gettext
    step_name = state.step
    if step_name == "code":
        return ask_code(state, ctx, notice).replies[0]
    if step_name == "question":
        reply = _question(state, t)
    elif step_name == "offer":
        section = _questionnaire(state).section_of(state.data["i"])
        assert section.offer is not None
        reply = Reply(
            section.offer.get(t.locale),
            yes_no_buttons(t, "o", _("Yes, continue"), _("No, finish now")),
        )
    elif step_name == "fb_reason":
        reasons = _questionnaire(state).negative_reasons
        buttons = tuple(Button(r.label(t.locale), f"r:{r.code}") for r in reasons)
        buttons += (Button(_("Other reason"), f"r:{OTHER_REASON}"),)
        reply = Reply(
            _(
                "We are sorry the service fell short. What went wrong? Choose a reason "
                "or describe it in a few words."
            ),
            buttons,
        )
    elif step_name == "fb_text":
        reply = Reply(_("Please describe briefly what went wrong."))
    elif step_name == "fb_contact":
        reply = Reply(
            _(
                "Would you like the leadership of {unit} to contact you about this through "
                "this chat?"
            ).format(unit=state.data["unit"]),
            yes_no_buttons(t, "c", _("Yes, contact me"), _("No, thank you")),
        )
    elif step_name == "comment":
        reply = Reply(
            _(
                "Do you have any other comments or suggestions? Type them in one message "
                "(up to {limit} characters) or press Skip."
            ).format(limit=FREE_TEXT_LIMIT),
            (Button(_("Skip"), "m:s"),),
        )
    else:
        reply = Reply(_("Send /help to see what you can do."))
    if notice:
        reply = Reply(notice + "\n\n" + reply.text, reply.buttons)
    return reply


def expire(state: State) -> tuple:
    """Effects that close an abandoned survey (idle too long, or cancelled)."""
    key = state.data.get("response")
    return (AbandonResponse(key),) if key else ()


# --- steps -------------------------------------------------------------------------


async def _on_code(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    # The router resolves anything that looks like a code before it gets here.
    _ = tr(state, ctx).gettext
    return ask_code(state, ctx, _("That does not look like a survey code."))


async def _on_question(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    q = _questionnaire(state)
    i = state.data["i"]
    item = q.items[i]
    choice = _read_answer(event, i, _options(q, item, t))
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
        notice = _("That button belongs to an earlier question. The current question is:")
        return StepResult(state, (prompt(state, ctx, notice),))
    if choice == BACK:
        return _back(state, ctx)

    value = None if choice == SKIP else int(choice)
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
        return StepResult(nxt, (prompt(nxt, ctx),), (effect,))
    return _advance(answered, i + 1, ctx, (effect,))


async def _on_offer(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    if _is_back(event):
        return _back(state, ctx)
    answer = yes_no(event, "o")
    i = state.data["i"]
    if answer == YES:
        nxt = state.at("question")
        return StepResult(nxt, (prompt(nxt, ctx),))
    if answer == NO:
        q = _questionnaire(state)
        section = q.section_of(i)
        return _advance(state, i + len(section.items), ctx, ())
    return StepResult(state, (prompt(state, ctx, _("Please answer Yes or No.")),))


async def _on_fb_reason(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    if _is_back(event):
        return _back(state, ctx)
    q = _questionnaire(state)
    codes = {r.code: r for r in q.negative_reasons}
    if event.payload.startswith("r:"):
        code = event.payload[2:]
        if code == OTHER_REASON:
            nxt = state.at("fb_text")
            return StepResult(nxt, (prompt(nxt, ctx),))
        if code in codes:
            nxt = state.at("fb_contact", fb_reason=code, fb_text=None)
            return StepResult(nxt, (prompt(nxt, ctx),))
    if event.kind == EventKind.TEXT and event.text.strip():
        typed = fold(event.text)
        for reason in q.negative_reasons:
            if typed in (fold(reason.vi), fold(reason.en)):
                nxt = state.at("fb_contact", fb_reason=reason.code, fb_text=None)
                return StepResult(nxt, (prompt(nxt, ctx),))
        return _take_feedback_text(state, event, ctx)
    return StepResult(state, (prompt(state, ctx),))


async def _on_fb_text(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    if _is_back(event):
        nxt = state.at("fb_reason")
        return StepResult(nxt, (prompt(nxt, ctx),))
    if event.kind == EventKind.TEXT and event.text.strip():
        return _take_feedback_text(state, event, ctx)
    return StepResult(state, (prompt(state, ctx),))


def _take_feedback_text(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    text = clean_free_text(event.text, FREE_TEXT_LIMIT)
    if text is None:
        notice = _("That is longer than {limit} characters. Please shorten it.").format(
            limit=FREE_TEXT_LIMIT
        )
        return StepResult(state, (prompt(state, ctx, notice),))
    nxt = state.at("fb_contact", fb_reason=OTHER_REASON, fb_text=text)
    return StepResult(nxt, (prompt(nxt, ctx),))


async def _on_fb_contact(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    if _is_back(event):
        nxt = state.at("fb_reason")
        return StepResult(nxt, (prompt(nxt, ctx),))
    answer = yes_no(event, "c")
    if answer is None:
        return StepResult(state, (prompt(state, ctx, _("Please answer Yes or No.")),))
    d = state.data
    effect = OpenFeedback(
        response_key=d["response"],
        unit_id=d["unit_id"],
        item_code=d["fb_item"],
        reason=d.get("fb_reason"),
        text=d.get("fb_text"),
        wants_contact=answer == YES,
        created_at=ctx.now,
    )
    if answer == YES:
        thanks = _("Thank you. The unit's leadership will contact you in this chat.")
    else:
        thanks = _("Thank you. Your feedback has been passed on to the unit.")
    done = state.at("question", fb_done=True, fb_item=None, fb_reason=None, fb_text=None)
    result = _advance(done, d["i"] + 1, ctx, (effect,))
    return StepResult(result.state, (Reply(thanks), *result.replies), result.effects)


async def _on_comment(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    if _is_back(event):
        return _back(state, ctx)
    if event.payload == "m:s" or fold(event.text) in {"bo qua", "skip", "khong", "no"}:
        return _finish(state, None, ctx)
    if event.kind == EventKind.TEXT and event.text.strip():
        text = clean_free_text(event.text, FREE_TEXT_LIMIT)
        if text is None:
            notice = _("That is longer than {limit} characters. Please shorten it.").format(
                limit=FREE_TEXT_LIMIT
            )
            return StepResult(state, (prompt(state, ctx, notice),))
        return _finish(state, text, ctx)
    return StepResult(state, (prompt(state, ctx),))


_STEPS = {
    "code": _on_code,
    "question": _on_question,
    "offer": _on_offer,
    "fb_reason": _on_fb_reason,
    "fb_text": _on_fb_text,
    "fb_contact": _on_fb_contact,
    "comment": _on_comment,
}


# --- moving around -------------------------------------------------------------------


def _advance(state: State, nxt: int, ctx: Context, effects: tuple) -> StepResult:
    """Go to item ``nxt``: its question, the offer before its section, or the comment."""
    q = _questionnaire(state)
    if nxt >= len(q.items):
        new = state.at("comment", i=nxt)
    elif q.section_start(nxt) and q.section_of(nxt).offer is not None:
        new = state.at("offer", i=nxt)
    else:
        new = state.at("question", i=nxt)
    return StepResult(new, (prompt(new, ctx),), effects)


def _back(state: State, ctx: Context) -> StepResult:
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


def _finish(state: State, comment: str | None, ctx: Context) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    q = _questionnaire(state)
    answers: dict = state.data["answers"]
    given = [
        v
        for item in q.items
        if item.scale == qn.SATISFACTION and (v := answers.get(item.code)) is not None
    ]
    lines = [_("Thank you! Your rating has been recorded.")]
    lines.append(
        _("You answered {answered} of {total} questions.").format(
            answered=sum(1 for v in answers.values() if v is not None), total=len(q.items)
        )
    )
    if given:
        mean = sum(given) / len(given)
        lines.append(_("Your average score: {score}/5.").format(score=t.number(round(mean, 1), 1)))
    if comment:
        lines.append(
            _("Your comment has been passed on to {unit}.").format(unit=state.data["unit"])
        )
    lines.append(_("We wish you a good day!"))
    effect = CompleteResponse(state.data["response"], comment, ctx.now)
    return StepResult(state.idle(), (Reply("\n".join(lines)),), (effect,))


# --- questions and answers -----------------------------------------------------------


def _questionnaire(state: State) -> qn.Questionnaire:
    return qn.get(state.data["q"])


def _options(q: qn.Questionnaire, item: qn.Item, t: Translator) -> list[_Option]:
    if item.scale == qn.SATISFACTION:
        return [
            _Option(
                value,
                t.gettext(label),
                tuple(fold(translator(loc).gettext(label)) for loc in LOCALES),
            )
            for value, label in SATISFACTION_LABELS.items()
        ]
    return [
        _Option(o.value, o.label(t.locale), (fold(o.vi), fold(o.en))) for o in q.scales[item.scale]
    ]


def _question(state: State, t: Translator) -> Reply:
    _ = t.gettext
    q = _questionnaire(state)
    i = state.data["i"]
    item = q.items[i]
    element = q.element(item.element)
    header = _("Question {n}/{total}").format(n=i + 1, total=len(q.items))
    if element is not None:
        header += " · " + element.name.get(t.locale)
    text = header + "\n" + item.text.get(t.locale)
    previous = state.data["answers"].get(item.code, "unset")
    if previous != "unset":
        shown = (
            _("skipped")
            if previous is None
            else next((o.label for o in _options(q, item, t) if o.value == previous), "")
        )
        text += "\n" + _("(Your earlier answer: {answer})").format(answer=shown)
    buttons = [Button(o.label, f"a:{i}:{o.value}") for o in _options(q, item, t)]
    buttons.append(Button(_("Skip"), f"a:{i}:{SKIP}"))
    if state.data.get("trail"):
        buttons.append(Button(_("Back"), f"a:{i}:{BACK}"))
    return Reply(text, tuple(buttons))


_LEADING_NUMBER = re.compile(r"^(\d{1,2})(?:\D|$)")


def _read_answer(event: InboundEvent, i: int, options: list[_Option]) -> str | None:
    """``"1"``…``"5"``, ``SKIP``, ``BACK``, ``"stale"`` or None (not understood)."""
    values = {o.value for o in options}
    if event.kind == EventKind.BUTTON:
        parts = event.payload.split(":")
        if len(parts) != 3 or parts[0] != "a":
            return None
        if parts[1] != str(i):
            return "stale"
        if parts[2] in (SKIP, BACK) or (parts[2].isdigit() and int(parts[2]) in values):
            return parts[2]
        return None
    typed = fold(event.text)
    if not typed:
        return None
    if typed in ("bo qua", "skip"):
        return SKIP
    if typed in ("quay lai", "back", "tro lai"):
        return BACK
    for option in options:
        if typed in option.aliases:
            return str(option.value)
    match = _LEADING_NUMBER.match(typed)
    if match and int(match.group(1)) in values:
        return match.group(1)
    return None


def _is_back(event: InboundEvent) -> bool:
    return event.payload.endswith(":" + BACK) or fold(event.text) in ("quay lai", "back")
