"""Ratings given in Zalo on a ZNS rating template become survey responses.

Each rating (by webhook or from the rating list: ``ingest`` takes both) is stored once
under Zalo's message id, so the two paths together count it once. A rating whose
tracking id names one of our dossiers, with its single-use code still valid, becomes a
completed response of the dossier's unit and procedure on channel ``zns``: the stars
answer the overall question of the quick questionnaire, the chosen reasons and the note
go with it. Anything else is kept with its status (unmatched, expired, used, invalid)
for the admins (``sipas-bot zalo ratings unmatched``, the /quota footer), never counted.

1–2 stars open a feedback item for the unit, and its leader is told at once, as for a
chat rating; the item says that no reply to the citizen is possible through ZNS.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.app import App
from bot.core.context import DbContext
from bot.services import followup
from bot.services.zns import CHANNEL, dossier_of
from flows import questionnaire as qn
from flows.i18n import translator
from flows.text import fold
from storage import dossiers, rollups, surveys
from storage import zns as store
from storage.models import Dossier

log = logging.getLogger(__name__)
QUESTIONNAIRE = "quick"
OVERALL_ITEM = "overall"
NEGATIVE_AT_MOST = 2  # stars


@dataclass
class Ingested:
    counted: int = 0
    duplicates: int = 0
    kept: int = 0  # stored but not counted (unmatched, expired, used, invalid)


async def ingest(app: App, ratings: Iterable[Any], source: str) -> Ingested:
    """Store and count ratings (objects with ``msg_id``, ``tracking_id``, ``stars``,
    ``reasons``, ``note``, ``submitted_at``), one transaction each."""
    result = Ingested()
    for rating in ratings:
        async with app.db.write() as session:
            status = await _one(app, session, rating, source)
        if status is None:
            result.duplicates += 1
        elif status == store.COUNTED:
            result.counted += 1
        else:
            result.kept += 1
            log.warning("zns rating %s kept as %s (not counted)", rating.msg_id, status)
    return result


async def _one(app: App, session: AsyncSession, rating: Any, source: str) -> str | None:
    now = app.now()
    rating_id = await store.add_rating(
        session,
        msg_id=rating.msg_id,
        tracking_id=rating.tracking_id,
        stars=rating.stars,
        reasons=list(rating.reasons),
        note=rating.note or None,
        status=store.UNMATCHED,
        source=source,
        submitted_at=rating.submitted_at,
        received_at=now,
    )
    if rating_id is None:
        return None  # the other path brought it already
    dossier_id = dossier_of(app, rating.tracking_id)
    dossier = await session.get(Dossier, dossier_id) if dossier_id else None
    if dossier is None:
        return store.UNMATCHED
    where = {"dossier_id": dossier.id, "unit_id": dossier.unit_id}
    at = min(rating.submitted_at or now, now)
    status, response_id = await _count(app, session, dossier, rating, at, now)
    await store.set_rating(session, rating_id, status=status, response_id=response_id, **where)
    return status


async def _count(
    app: App, session: AsyncSession, dossier: Dossier, rating: Any, at: datetime, now: datetime
) -> tuple[str, int | None]:
    if rating.stars is None:
        return store.INVALID, None
    invite = await dossiers.invite_of(session, dossier.id)  # type: ignore[arg-type]
    if invite is None or (invite.expires_at is not None and invite.expires_at <= at):
        return store.EXPIRED, None
    respondent = dossier.citizen_hash or app.keys.user_hash(CHANNEL, rating.msg_id)
    if invite.used_at is not None:
        return store.USED, None
    try:
        await surveys.claim_invite(session, invite.id, respondent)  # type: ignore[arg-type]
    except surveys.InviteTaken:
        return store.USED, None  # someone opened the code in a chat first
    q = qn.get(QUESTIONNAIRE)
    key = secrets.token_hex(16)
    await surveys.start_response(
        session,
        key=key,
        unit_id=dossier.unit_id,
        questionnaire_id=await app.questionnaire_id(session, q.code, q.version),
        channel=CHANNEL,
        respondent_hash=respondent,
        started_at=at,
        invite_id=invite.id,
        procedure_id=dossier.procedure_id,
        dossier_id=dossier.id,
    )
    await surveys.record_answer(session, key, OVERALL_ITEM, qn.OVERALL, rating.stars, at)
    response_id = await surveys.complete_response(session, key, rating.note or None, at)
    assert response_id is not None
    await rollups.apply_response(session, response_id, app.tz)
    ctx = DbContext(
        app, session, channel=CHANNEL, user_id="", user_hash=respondent, person=None, now=now
    )
    await followup.on_completed(ctx, response_id)
    if rating.stars <= NEGATIVE_AT_MOST:
        await _feedback(ctx, key, dossier, rating, at)
    return store.COUNTED, response_id


def reason_code(text: str) -> str:
    """Our reason code for a reason chosen in Zalo (matched on its words), else other."""
    folded = fold(text)
    for reason in qn.get(QUESTIONNAIRE).negative_reasons:
        if folded in (fold(reason.vi), fold(reason.en)):
            return reason.code
    return "other"


async def _feedback(ctx: DbContext, key: str, dossier: Dossier, rating: Any, at: datetime) -> None:
    app = ctx.app
    _ = translator(app.settings.default_locale, app.settings.timezone).gettext
    parts = ["; ".join(rating.reasons)] if rating.reasons else []
    if rating.note:
        parts.append(rating.note)
    parts.append(_("(Rated in Zalo by ZNS: no reply to the citizen is possible there.)"))
    codes = [reason_code(r) for r in rating.reasons]
    feedback_id = await surveys.open_feedback(
        ctx.session,
        response_key=key,
        unit_id=dossier.unit_id,
        item_code=OVERALL_ITEM,
        reason=next((c for c in codes if c != "other"), codes[0] if codes else None),
        text="\n".join(parts),
        wants_contact=False,
        contact_channel=CHANNEL,
        contact_ref_enc=None,
        at=at,
    )
    await _tell_leader(ctx, feedback_id, dossier, rating)


async def _tell_leader(ctx: DbContext, feedback_id: int, dossier: Dossier, rating: Any) -> None:
    def lines(item, t, privacy) -> list[str]:
        _ = t.gettext
        out = [
            _(
                "{unit}: a citizen rated the service {stars} of 5 stars in Zalo for dossier "
                "{receipt} (feedback #{id})."
            ).format(
                unit=item.unit_name, stars=rating.stars, receipt=dossier.receipt_code, id=item.id
            )
        ]
        if rating.reasons:
            out.append(_("Reasons: {reasons}").format(reasons="; ".join(rating.reasons)))
        if rating.note:
            out.append(f"“{privacy.comment(rating.note)}”")
        out.append(
            _(
                "The rating came through Zalo ZNS: no reply to the citizen is possible there. "
                "Use the receipt code to find the dossier."
            )
        )
        return out

    await followup.tell_leaders(ctx, feedback_id, lines)
