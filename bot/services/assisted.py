"""The applier of a phiếu a surveyor saved (``/phieu``, flows/assisted.py): the whole
response at once, channel ``assisted``, with the surveyor recorded, then the same
follow-up as any completed response (rollups, stuffing checks incl. the surveyor's)."""

from __future__ import annotations

from bot.core.context import DbContext
from bot.core.effects import applies
from bot.services import followup
from flows.assisted_contract import SaveAssisted
from storage import origins, rollups, surveys

CHANNEL = "assisted"


@applies(SaveAssisted)
async def _save(ctx: DbContext, e: SaveAssisted) -> None:
    assert ctx.person is not None  # the router lets only linked staff run /phieu
    session = ctx.session
    qid = await ctx.app.questionnaire_id(session, e.questionnaire_code, e.questionnaire_version)
    await surveys.start_response(
        session,
        key=e.response_key,
        unit_id=e.unit_id,
        questionnaire_id=qid,
        channel=CHANNEL,
        # Each phiếu is a citizen of its own; the surveyor is recorded in its origin.
        respondent_hash=ctx.app.keys.user_hash(CHANNEL, e.response_key),
        started_at=e.started_at,
        procedure_id=e.procedure_id,
    )
    for item, element, value in e.answers:
        await surveys.record_answer(session, e.response_key, item, element, value, e.saved_at)
    if e.reason:
        await surveys.open_feedback(
            session,
            response_key=e.response_key,
            unit_id=e.unit_id,
            item_code=e.reason_item,
            reason=e.reason,
            text=e.reason_text,
            wants_contact=False,  # the citizen is not in this chat
            contact_channel=None,
            contact_ref_enc=None,
            at=e.saved_at,
        )
    response_id = await surveys.complete_response(session, e.response_key, e.comment, e.saved_at)
    assert response_id is not None
    await origins.add(session, response_id, surveyor_id=ctx.person.person_id)
    await rollups.apply_response(session, response_id, ctx.app.tz)
    await followup.on_completed(ctx, response_id)
