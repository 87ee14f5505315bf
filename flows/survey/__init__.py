"""The citizen's survey: code → greeting → questions → follow-up → comment → thanks.

Steps (``state.step``) and the data they keep:

``question``  asking ``items[i]``; ``trail`` is the stack of earlier item indices (for
              "back"), ``answers`` maps item code → value (None when skipped).
``offer``     before an optional section: go on, or finish.
``fb_reason`` after the first answer of 1 or 2: what went wrong (buttons or free text).
``fb_text``   the citizen chose "other reason": waiting for their words.
``fb_contact`` whether they want the unit to contact them.
``comment``   an optional last comment.

``data["invite"]`` is the invite the survey came from, so the same code sent again
continues it (``entry``). Button payloads stay far below Telegram's 64 bytes:
``a:<i>:<value|s|b>``, ``o:y``, ``r:<reason>``, ``c:y``, ``m:s``.

Modules: ``entry`` (codes and the greeting), ``questions`` (answers, moving around),
``closing`` (follow-up, comment, thanks), ``prompts`` (what each step says), ``base``.
"""

from __future__ import annotations

from flows.contract import Context, InboundEvent, State, StepResult
from flows.survey import closing, questions
from flows.survey.base import FLOW
from flows.survey.entry import code_received, expire, in_survey, start, unknown_code
from flows.survey.prompts import ask_code, prompt

__all__ = [
    "FLOW",
    "ask_code",
    "code_received",
    "expire",
    "in_survey",
    "prompt",
    "start",
    "step",
    "unknown_code",
]

_STEPS = {
    "code": questions.on_code,
    "question": questions.on_question,
    "offer": questions.on_offer,
    "fb_reason": closing.on_fb_reason,
    "fb_text": closing.on_fb_text,
    "fb_contact": closing.on_fb_contact,
    "comment": closing.on_comment,
}


async def step(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Advance the survey by one event."""
    handler = _STEPS.get(state.step or "")
    if handler is None:
        return StepResult(state.idle())
    if state.step != "code" and questions.is_stale(state, event):
        return questions.stale(state, ctx)
    return await handler(state, event, ctx)
