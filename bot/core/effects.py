"""Applying the flows' effects inside the event's transaction.

Each effect type has one applier; other modules add theirs with ``@applies(Type)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.core.context import DbContext
from flows import contract as fx
from storage import audit, people, rollups, surveys

Applier = Callable[[DbContext, Any], Awaitable[None]]
APPLIERS: dict[type, Applier] = {}


def applies(effect_type: type):
    """Register the function that applies effects of ``effect_type`` (decorator)."""

    def register(fn: Applier) -> Applier:
        APPLIERS[effect_type] = fn
        return fn

    return register


async def apply_all(ctx: DbContext, effects: tuple) -> None:
    """Apply effects in order; an unknown effect type is a programming error."""
    for effect in effects:
        applier = APPLIERS.get(type(effect))
        if applier is None:
            raise TypeError(f"no applier for effect {type(effect).__name__}")
        await applier(ctx, effect)


@applies(fx.StartResponse)
async def _start_response(ctx: DbContext, e: fx.StartResponse) -> None:
    if e.invite_kind == "dossier":
        await surveys.claim_invite(ctx.session, e.invite_id, ctx.user_hash)
    qid = await ctx.app.questionnaire_id(ctx.session, e.questionnaire_code, e.questionnaire_version)
    await surveys.start_response(
        ctx.session,
        key=e.response_key,
        unit_id=e.unit_id,
        questionnaire_id=qid,
        channel=ctx.channel,
        respondent_hash=ctx.user_hash,
        started_at=e.started_at,
        invite_id=e.invite_id,
        procedure_id=e.procedure_id,
        dossier_id=e.dossier_id,
        counter_day=e.counter_day,
    )


@applies(fx.RecordAnswer)
async def _record_answer(ctx: DbContext, e: fx.RecordAnswer) -> None:
    await surveys.record_answer(
        ctx.session, e.response_key, e.item_code, e.element_code, e.value, e.answered_at, e.scale
    )


@applies(fx.CompleteResponse)
async def _complete(ctx: DbContext, e: fx.CompleteResponse) -> None:
    from bot.services import followup  # it sends through bot.engine, which imports this module

    response_id = await surveys.complete_response(
        ctx.session, e.response_key, e.comment, e.completed_at
    )
    if response_id is not None:
        await rollups.apply_response(ctx.session, response_id, ctx.app.tz)
        await followup.on_completed(ctx, response_id)  # stuffing flags, negative bursts


@applies(fx.AbandonResponse)
async def _abandon(ctx: DbContext, e: fx.AbandonResponse) -> None:
    await surveys.abandon_response(ctx.session, e.response_key)


@applies(fx.OpenFeedback)
async def _feedback(ctx: DbContext, e: fx.OpenFeedback) -> None:
    from bot.services import followup

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


@applies(fx.LinkPerson)
async def _link(ctx: DbContext, e: fx.LinkPerson) -> None:
    await people.link_channel(
        ctx.session, e.person_id, ctx.channel, ctx.user_id, ctx.user_hash, e.linked_at
    )


@applies(fx.MarkUnreachable)
async def _unreachable(ctx: DbContext, e: fx.MarkUnreachable) -> None:
    await people.mark_unreachable(
        ctx.session, ctx.channel, e.reason, ctx.now, user_hash=ctx.user_hash
    )


@applies(fx.Audit)
async def _audit(ctx: DbContext, e: fx.Audit) -> None:
    actor = f"person:{ctx.person.person_id}" if ctx.person else f"user:{ctx.user_hash[:12]}"
    await audit.log(ctx.session, actor, e.action, target=e.target, detail=e.detail, at=ctx.now)


# Appliers of other flows' effects register themselves on import.
from bot.services import admin_effects  # noqa: E402, F401
