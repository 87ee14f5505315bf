"""What the survey says at each step: the question, the offer, the follow-up, the comment."""

from __future__ import annotations

from flows.common import FREE_TEXT_LIMIT, tr, yes_no_buttons
from flows.contract import Button, Context, Reply, State, StepResult
from flows.i18n import Translator
from flows.survey.base import (
    BACK,
    FLOW,
    OTHER_REASON,
    SKIP,
    answer_label,
    options,
    questionnaire,
)


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


def code_problem(state: State, t: Translator, problem: str) -> StepResult:
    """Why a code cannot be used, and what to do; the citizen may send another code."""
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


def limit_text(t: Translator) -> str:
    """The free-text limit as the user's language writes numbers ("1.000")."""
    return t.number(FREE_TEXT_LIMIT)


def prompt(state: State, ctx: Context, notice: str | None = None, ack: str | None = None) -> Reply:
    """The message that asks for the current step again (after /help, /lang, bad input).

    ``notice`` goes before the text; ``ack`` is the answer just recorded.
    """
    t = tr(state, ctx)
    _ = t.gettext
    step_name = state.step
    if step_name == "code":
        return ask_code(state, ctx, notice).replies[0]
    if step_name == "question":
        reply = _question(state, t)
    elif step_name == "offer":
        section = questionnaire(state).section_of(state.data["i"])
        assert section.offer is not None
        reply = Reply(
            section.offer.get(t.locale),
            yes_no_buttons(t, "o", _("Yes, continue"), _("No, finish now")),
        )
    elif step_name == "fb_reason":
        reasons = questionnaire(state).negative_reasons
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
            ).format(limit=limit_text(t)),
            (Button(_("Skip"), "m:s"),),
        )
    else:
        reply = Reply(_("Send /help to see what you can do."))
    text = notice + "\n\n" + reply.text if notice else reply.text
    return Reply(
        text,
        reply.buttons,
        ack=ack,
        progress=reply.progress,
        typed_hint=reply.typed_hint,
    )


def _question(state: State, t: Translator) -> Reply:
    _ = t.gettext
    q = questionnaire(state)
    i = state.data["i"]
    item = q.items[i]
    element = q.element(item.element)
    header = _("Question {n}/{total}").format(n=i + 1, total=len(q.items))
    if element is not None:
        header += " · " + element.name.get(t.locale)
    text = header + "\n" + item.text.get(t.locale)
    previous = state.data["answers"].get(item.code, "unset")
    if previous != "unset":
        shown = _("skipped") if previous is None else answer_label(q, item, previous, t)
        text += "\n" + _("(Your earlier answer: {answer})").format(answer=shown)
    skip_word, back_word = _("skip"), _("back")
    buttons = [Button(o.label, f"a:{i}:{o.value}") for o in options(q, item, t)]
    buttons.append(Button(_("Skip"), f"a:{i}:{SKIP}", word=skip_word))
    if state.data.get("trail"):
        buttons.append(Button(_("Back"), f"a:{i}:{BACK}", word=back_word))
        hint = _("Type “{skip}” to skip this question or “{back}” to go back.")
    else:
        hint = _("Type “{skip}” to skip this question.")
    return Reply(
        text,
        tuple(buttons),
        progress=(i + 1, len(q.items)),
        typed_hint=hint.format(skip=skip_word, back=back_word),
    )
