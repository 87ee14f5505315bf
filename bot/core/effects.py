"""Applying the flows' effects inside the event's transaction.

Each effect type has one applier, registered with ``@applies(Type)``. The core applies
the effects that touch only storage; effects whose work belongs to a service (follow-up
alerts, reminders, feedback answers) are applied by that service, which registers its
appliers here when ``bot.services`` is imported. An effect with no applier is a
programming error and fails loudly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.core.context import DbContext
from flows import contract as fx
from storage import audit, people, surveys

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


@applies(fx.AbandonResponse)
async def _abandon(ctx: DbContext, e: fx.AbandonResponse) -> None:
    await surveys.abandon_response(ctx.session, e.response_key)


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
