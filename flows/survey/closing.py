"""The end of a survey: the follow-up of a negative answer, the comment, the thanks."""

from __future__ import annotations

from flows.common import FREE_TEXT_LIMIT, YES, tr, yes_no
from flows.contract import (
    CompleteResponse,
    Context,
    EventKind,
    InboundEvent,
    OpenFeedback,
    Reply,
    State,
    StepResult,
)
from flows.survey.base import OTHER_REASON, SKIP_WORDS, questionnaire
from flows.survey.prompts import limit_text, prompt
from flows.survey.questions import advance, back, is_back
from flows.text import clean_free_text, fold

_NO_COMMENT = (*SKIP_WORDS, "khong", "no")


async def on_fb_reason(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Step ``fb_reason``: a reason button, a typed reason, or the citizen's own words."""
    _ = tr(state, ctx).gettext
    if is_back(state, event):
        return back(state, ctx)
    q = questionnaire(state)
    codes = {r.code: r for r in q.negative_reasons}
    if event.payload.startswith("r:"):
        code = event.payload[2:]
        if code == OTHER_REASON:
            nxt = state.at("fb_text")
            return StepResult(nxt, (prompt(nxt, ctx, ack=_("Other reason")),))
        if code in codes:
            nxt = state.at("fb_contact", fb_reason=code, fb_text=None)
            return StepResult(nxt, (prompt(nxt, ctx, ack=codes[code].label(state.locale)),))
    if event.kind == EventKind.TEXT and event.text.strip():
        typed = fold(event.text)
        if typed == fold(_("Other reason")):
            nxt = state.at("fb_text")
            return StepResult(nxt, (prompt(nxt, ctx),))
        for reason in q.negative_reasons:
            if typed in (fold(reason.vi), fold(reason.en)):
                nxt = state.at("fb_contact", fb_reason=reason.code, fb_text=None)
                return StepResult(nxt, (prompt(nxt, ctx, ack=reason.label(state.locale)),))
        return _take_feedback_text(state, event, ctx)
    return StepResult(state, (prompt(state, ctx),))


async def on_fb_text(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Step ``fb_text``: the citizen describes what went wrong."""
    if is_back(state, event):
        nxt = state.at("fb_reason")
        return StepResult(nxt, (prompt(nxt, ctx),))
    if event.kind == EventKind.TEXT and event.text.strip():
        return _take_feedback_text(state, event, ctx)
    return StepResult(state, (prompt(state, ctx),))


def _too_long(state: State, ctx: Context) -> StepResult:
    t = tr(state, ctx)
    notice = t.gettext("That is longer than {limit} characters. Please shorten it.").format(
        limit=limit_text(t)
    )
    return StepResult(state, (prompt(state, ctx, notice),))


def _take_feedback_text(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    text = clean_free_text(event.text, FREE_TEXT_LIMIT)
    if text is None:
        return _too_long(state, ctx)
    nxt = state.at("fb_contact", fb_reason=OTHER_REASON, fb_text=text)
    return StepResult(nxt, (prompt(nxt, ctx),))


async def on_fb_contact(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Step ``fb_contact``: whether the unit may contact the citizen; opens the feedback."""
    _ = tr(state, ctx).gettext
    if is_back(state, event):
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
        ack = _("Yes, contact me")
    else:
        thanks = _("Thank you. Your feedback has been passed on to the unit.")
        ack = _("No, thank you")
    done = state.at("question", fb_done=True, fb_item=None, fb_reason=None, fb_text=None)
    result = advance(done, d["i"] + 1, ctx, (effect,))
    return StepResult(result.state, (Reply(thanks, ack=ack), *result.replies), result.effects)


async def on_comment(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Step ``comment``: an optional last comment, then the thanks."""
    if is_back(state, event):
        return back(state, ctx)
    if event.payload == "m:s" or fold(event.text).rstrip(".!") in _NO_COMMENT:
        return finish(state, None, ctx)
    if event.kind == EventKind.TEXT and event.text.strip():
        text = clean_free_text(event.text, FREE_TEXT_LIMIT)
        if text is None:
            return _too_long(state, ctx)
        return finish(state, text, ctx)
    return StepResult(state, (prompt(state, ctx),))


def finish(state: State, comment: str | None, ctx: Context) -> StepResult:
    """Thank the citizen and complete the response."""
    _ = tr(state, ctx).gettext
    q = questionnaire(state)
    answers: dict = state.data["answers"]
    lines = [_("Thank you! Your rating has been recorded.")]
    lines.append(
        _("You answered {answered} of {total} questions.").format(
            answered=sum(1 for v in answers.values() if v is not None), total=len(q.items)
        )
    )
    if comment:
        lines.append(
            _("Your comment has been passed on to {unit}.").format(unit=state.data["unit"])
        )
    lines.append(_("We wish you a good day!"))
    effect = CompleteResponse(state.data["response"], comment, ctx.now)
    ack = _("Skipped") if comment is None else None
    return StepResult(state.idle(), (Reply("\n".join(lines), ack=ack),), (effect,))
