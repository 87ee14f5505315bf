"""Appliers of the survey effects whose work goes beyond storage: a completed response
updates the rollups and runs the follow-up checks, a feedback item may reach a leader now."""

from __future__ import annotations

from bot.core.context import DbContext
from bot.core.effects import applies
from bot.services import followup
from flows import contract as fx
from storage import rollups, surveys


@applies(fx.CompleteResponse)
async def _complete(ctx: DbContext, e: fx.CompleteResponse) -> None:
    response_id = await surveys.complete_response(
        ctx.session, e.response_key, e.comment, e.completed_at
    )
    if response_id is not None:
        await rollups.apply_response(ctx.session, response_id, ctx.app.tz)
        await followup.on_completed(ctx, response_id)  # stuffing flags, negative bursts


@applies(fx.OpenFeedback)
async def _feedback(ctx: DbContext, e: fx.OpenFeedback) -> None:
    contact = ctx.app.keys.encrypt(ctx.user_id) if e.wants_contact else None
    feedback_id = await surveys.open_feedback(
        ctx.session,
        response_key=e.response_key,
        unit_id=e.unit_id,
        item_code=e.item_code,
        reason=e.reason,
        text=e.text,
        wants_contact=e.wants_contact,
        contact_channel=ctx.channel,
        contact_ref_enc=contact,
        at=e.created_at,
    )
    await followup.on_feedback(ctx, feedback_id, e)  # a contact request reaches the leader now
