"""Survey invites, responses, answers and feedback."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Integer, bindparam, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Answer, Feedback, Procedure, Response, SurveyInvite, Unit
from storage.sql import dialect, dialect_insert
from storage.types import UTCDateTime

IN_PROGRESS, COMPLETED, ABANDONED = "in_progress", "completed", "abandoned"


class InviteTaken(Exception):
    """Someone else bound this single-use code first (a race the caller retries)."""


@dataclass(frozen=True)
class InviteRow:
    id: int
    kind: str
    unit_id: int
    unit_name: str
    questionnaire_code: str
    procedure_id: int | None
    procedure_name: str | None
    dossier_id: int | None
    expires_at: datetime | None
    claimed_by: str | None
    used_at: datetime | None


async def create_invite(
    session: AsyncSession,
    code_hash: str,
    kind: str,
    unit_id: int,
    *,
    dossier_id: int | None = None,
    procedure_id: int | None = None,
    expires_at: datetime | None = None,
    label: str | None = None,
    code_enc: str | None = None,
) -> SurveyInvite:
    """Store a new invite under the hash of its code (and, if given, the encrypted code)."""
    if kind not in ("dossier", "counter"):
        raise ValueError(f"unknown invite kind {kind!r}")
    invite = SurveyInvite(
        code_hash=code_hash,
        kind=kind,
        unit_id=unit_id,
        dossier_id=dossier_id,
        procedure_id=procedure_id,
        expires_at=expires_at,
        label=label,
        code_enc=code_enc,
    )
    session.add(invite)
    await session.flush()
    return invite


# The statements of a chat's /start and completing press, built once and run on the
# connection: through the ORM each cost more Python than the database took to run it.
_FIND_INVITE = (
    select(
        SurveyInvite.id,
        SurveyInvite.kind,
        SurveyInvite.unit_id,
        Unit.name.label("unit_name"),
        Unit.questionnaire_code,
        SurveyInvite.procedure_id,
        Procedure.name.label("procedure_name"),
        SurveyInvite.dossier_id,
        SurveyInvite.expires_at,
        SurveyInvite.claimed_by,
        SurveyInvite.used_at,
    )
    .join(Unit, Unit.id == SurveyInvite.unit_id)
    .outerjoin(Procedure, Procedure.id == SurveyInvite.procedure_id)
    .where(SurveyInvite.code_hash == bindparam("code_hash"))
)
_CLAIM_INVITE = (
    update(SurveyInvite)
    .where(
        SurveyInvite.id == bindparam("invite"),
        SurveyInvite.used_at.is_(None),
        or_(SurveyInvite.claimed_by.is_(None), SurveyInvite.claimed_by == bindparam("who")),
    )
    .values(claimed_by=bindparam("who"))
    .returning(SurveyInvite.id)
)


async def find_invite(session: AsyncSession, code_hash: str) -> InviteRow | None:
    """The invite stored under ``code_hash``, with its unit and procedure names."""
    conn = await session.connection()
    row = (await conn.execute(_FIND_INVITE, {"code_hash": code_hash})).first()
    return InviteRow(**row._mapping) if row else None


async def claim_invite(session: AsyncSession, invite_id: int, respondent_hash: str) -> None:
    """Bind a single-use invite to its first respondent; raise ``InviteTaken`` if beaten to it."""
    conn = await session.connection()
    claimed = await conn.execute(_CLAIM_INVITE, {"invite": invite_id, "who": respondent_hash})
    if claimed.first() is None:
        raise InviteTaken(invite_id)


async def start_response(
    session: AsyncSession,
    *,
    key: str,
    unit_id: int,
    questionnaire_id: int,
    channel: str,
    respondent_hash: str,
    started_at: datetime,
    invite_id: int | None = None,
    procedure_id: int | None = None,
    dossier_id: int | None = None,
    counter_day: date | None = None,
) -> None:
    """Open a response."""
    conn = await session.connection()
    await conn.execute(
        _START_RESPONSE,
        {
            "key": key,
            "unit_id": unit_id,
            "procedure_id": procedure_id,
            "dossier_id": dossier_id,
            "invite_id": invite_id,
            "questionnaire_id": questionnaire_id,
            "channel": channel,
            "respondent_hash": respondent_hash,
            "status": IN_PROGRESS,
            "started_at": started_at,
            "counter_day": counter_day.isoformat() if counter_day else None,
        },
    )


_START_RESPONSE = Response.__table__.insert()


@dataclass(frozen=True, slots=True)
class NewAnswer:
    """An answer to store (``record_answer``'s arguments): for ``steps.finish``."""

    key: str
    item_code: str
    element_code: str
    value: int | None
    at: datetime
    scale: str = "satisfaction"


async def record_answer(
    session: AsyncSession,
    key: str,
    item_code: str,
    element_code: str,
    value: int | None,
    at: datetime,
    scale: str = "satisfaction",
) -> None:
    """Store an answer, replacing an earlier answer to the same item (after "back")."""
    params = {"key": key, "item": item_code, "element": element_code, "scale": scale}
    conn = await session.connection()  # built once, run without the ORM: see conversations
    await conn.execute(_record_answer_statement(session), {**params, "value": value, "at": at})


async def record_answers(
    session: AsyncSession,
    answers: list[tuple[str, str, str, int | None, datetime]],
    scale: str = "satisfaction",
) -> None:
    """``record_answer`` for many ``(response key, item, element, value, at)`` in one
    ``executemany`` (bulk loads: paper ballots)."""
    if not answers:
        return
    conn = await session.connection()
    await conn.execute(
        _record_answer_statement(session),
        [
            {"key": key, "item": item, "element": element, "scale": scale, "value": v, "at": at}
            for key, item, element, v, at in answers
        ],
    )


def _record_answer_statement(session: AsyncSession):
    return record_answer_statement(dialect(session))


@functools.cache
def record_answer_statement(dialect_name: str):
    """``record_answer``'s upsert for one dialect (bound: key, item, element, scale,
    value, at); also run by storage/step_direct.py on SQLite."""
    responses, answers = Response.__table__, Answer.__table__
    source = select(
        responses.c.id,
        bindparam("item", type_=answers.c.item_code.type),
        bindparam("element", type_=answers.c.element_code.type),
        bindparam("scale", type_=answers.c.scale.type),
        bindparam("value", type_=Integer()),
        bindparam("at", type_=UTCDateTime()),
    ).where(responses.c.key == bindparam("key", type_=responses.c.key.type))
    stmt = dialect_insert(dialect_name, answers).from_select(
        ["response_id", "item_code", "element_code", "scale", "value", "answered_at"], source
    )
    return stmt.on_conflict_do_update(
        index_elements=["response_id", "item_code"],
        set_={"value": stmt.excluded.value, "answered_at": stmt.excluded.answered_at},
    )


async def complete_response(
    session: AsyncSession, key: str, comment: str | None, at: datetime
) -> int | None:
    """Mark a response completed (and its single-use invite used); returns its id."""
    conn = await session.connection()
    params = {"rkey": key, "at": at, "note": comment}
    row = (await conn.execute(_COMPLETE_RESPONSE, params)).first()
    if row is None:
        return None
    if row.invite_id is not None:
        await conn.execute(_USE_INVITE, {"invite": row.invite_id, "at": at})
    return row.id


_COMPLETE_RESPONSE = (
    update(Response)
    .where(Response.key == bindparam("rkey"), Response.status == IN_PROGRESS)
    .values(status=COMPLETED, completed_at=bindparam("at"), comment=bindparam("note"))
    .returning(Response.id, Response.invite_id)
)
_USE_INVITE = (
    update(SurveyInvite)
    .where(SurveyInvite.id == bindparam("invite"), SurveyInvite.kind == "dossier")
    .values(used_at=bindparam("at"))
)


async def abandon_response(session: AsyncSession, key: str) -> None:
    """Mark an unfinished response abandoned; its answers stay.

    Its counter-code day is released, so the citizen may start again the same day.
    """
    await session.exec(
        update(Response)
        .where(Response.key == key, Response.status == IN_PROGRESS)
        .values(status=ABANDONED, counter_day=None)
    )


async def responded_today(
    session: AsyncSession, respondent_hash: str, unit_id: int, day: date
) -> bool:
    """Whether the respondent already used a counter code at the unit on ``day``."""
    stmt = select(Response.id).where(
        Response.respondent_hash == respondent_hash,
        Response.unit_id == unit_id,
        Response.counter_day == day.isoformat(),
    )
    return (await session.exec(stmt)).first() is not None


async def open_feedback(
    session: AsyncSession,
    *,
    response_key: str,
    unit_id: int,
    item_code: str | None,
    reason: str | None,
    text: str | None,
    wants_contact: bool,
    contact_channel: str | None,
    contact_ref_enc: str | None,
    at: datetime,
) -> int:
    """Open a feedback item for the unit; returns its id."""
    response_id = (
        await session.exec(select(Response.id).where(Response.key == response_key))
    ).scalar_one_or_none()
    feedback = Feedback(
        response_id=response_id,
        unit_id=unit_id,
        item_code=item_code,
        reason=reason,
        text=text,
        wants_contact=wants_contact,
        contact_channel=contact_channel if wants_contact else None,
        contact_ref_enc=contact_ref_enc if wants_contact else None,
        created_at=at,
    )
    session.add(feedback)
    await session.flush()
    assert feedback.id is not None
    return feedback.id
