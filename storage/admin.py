"""What admins and leaders look at besides the figures: units, comments, raw answers,
feedback items and their follow-up, and responses flagged as suspected stuffing.

Scopes are unit subtrees given by their materialised path (``unit.path``). Time
bounds are UTC instants (see ``storage.reports.utc_bounds``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import flags
from storage.models import (
    Answer,
    Conversation,
    Feedback,
    Person,
    Procedure,
    Questionnaire,
    Response,
    Unit,
)
from storage.surveys import COMPLETED

# A flagged response an admin decided not to count, ever (its answers are kept).
REJECTED = "rejected"
OPEN, HANDLED = "open", "handled"


@dataclass(frozen=True)
class UnitRow:
    """A unit of the tree."""

    id: int
    code: str
    name: str
    kind: str
    path: str
    parent_id: int | None


async def all_units(session: AsyncSession) -> list[UnitRow]:
    """Every unit, in tree order."""
    stmt = select(Unit.id, Unit.code, Unit.name, Unit.kind, Unit.path, Unit.parent_id).order_by(
        Unit.path
    )
    return [UnitRow(*row) for row in (await session.exec(stmt)).all()]


def _in_subtree(path: str):
    return Unit.path.startswith(path)


# --- comments and raw answers ---------------------------------------------------------


@dataclass(frozen=True)
class CommentRow:
    """A counted response's free-text comment."""

    response_id: int
    unit_code: str
    unit_name: str
    completed_at: datetime
    procedure_name: str | None
    channel: str
    text: str


async def comments(
    session: AsyncSession, path: str, lo: datetime, hi: datetime, limit: int
) -> list[CommentRow]:
    """The latest free-text comments of counted responses in a subtree, newest first."""
    stmt = (
        select(
            Response.id,
            Unit.code,
            Unit.name,
            Response.completed_at,
            Procedure.name,
            Response.channel,
            Response.comment,
        )
        .join(Unit, Unit.id == Response.unit_id)
        .outerjoin(Procedure, Procedure.id == Response.procedure_id)
        .where(
            _in_subtree(path),
            Response.status == COMPLETED,
            Response.flagged_at.is_(None),
            Response.completed_at >= lo,
            Response.completed_at < hi,
            Response.comment.is_not(None),
        )
        .order_by(Response.completed_at.desc(), Response.id.desc())
        .limit(limit)
    )
    return [CommentRow(*row) for row in (await session.exec(stmt)).all()]


@dataclass
class RawResponse:
    """One response with its answers (item code → 1–5, or None when skipped)."""

    response_id: int
    unit_code: str
    unit_name: str
    completed_at: datetime
    procedure_name: str | None
    channel: str
    questionnaire: str
    comment: str | None
    flagged_at: datetime | None
    flag_reason: str | None
    answers: dict[str, int | None] = field(default_factory=dict)


async def raw_responses(
    session: AsyncSession, path: str, lo: datetime, hi: datetime, *, include_flagged: bool
) -> list[RawResponse]:
    """Completed responses of a subtree in a period with their satisfaction answers, in
    completion order. No respondent pseudonym: exports are anonymous."""
    where = [
        _in_subtree(path),
        Response.status == COMPLETED,
        Response.completed_at >= lo,
        Response.completed_at < hi,
    ]
    if not include_flagged:
        where.append(Response.flagged_at.is_(None))
    stmt = (
        select(
            Response.id,
            Unit.code,
            Unit.name,
            Response.completed_at,
            Procedure.name,
            Response.channel,
            Questionnaire.code,
            Response.comment,
            Response.flagged_at,
            Response.flag_reason,
        )
        .join(Unit, Unit.id == Response.unit_id)
        .join(Questionnaire, Questionnaire.id == Response.questionnaire_id)
        .outerjoin(Procedure, Procedure.id == Response.procedure_id)
        .where(*where)
        .order_by(Response.completed_at, Response.id)
    )
    rows = {row[0]: RawResponse(*row) for row in (await session.exec(stmt)).all()}
    if not rows:
        return []
    answers = (
        select(Answer.response_id, Answer.item_code, Answer.value)
        .join(Response, Response.id == Answer.response_id)
        .join(Unit, Unit.id == Response.unit_id)
        .where(*where, Answer.scale == "satisfaction")
    )
    for response_id, item, value in (await session.exec(answers)).all():
        rows[response_id].answers[item] = value
    return list(rows.values())


# --- flagged responses ----------------------------------------------------------------


@dataclass(frozen=True)
class FlagGroup:
    """Responses flagged together (one burst from one source)."""

    first_response_id: int
    reason: str
    unit_code: str
    unit_name: str
    unit_path: str
    count: int
    first_at: datetime
    last_at: datetime


async def flagged_count(session: AsyncSession, path: str, lo: datetime, hi: datetime) -> int:
    """Completed responses of a subtree in a period that are flagged (not counted)."""
    stmt = (
        select(func.count())
        .select_from(Response)
        .join(Unit, Unit.id == Response.unit_id)
        .where(
            _in_subtree(path),
            Response.status == COMPLETED,
            Response.flagged_at.is_not(None),
            Response.completed_at >= lo,
            Response.completed_at < hi,
        )
    )
    return (await session.exec(stmt)).scalar_one()


def _flag_groups(*where):
    return (
        select(
            func.min(Response.id),
            Response.flag_reason,
            Unit.code,
            Unit.name,
            Unit.path,
            func.count(),
            func.min(Response.completed_at),
            func.max(Response.completed_at),
        )
        .join(Unit, Unit.id == Response.unit_id)
        .where(Response.status == COMPLETED, Response.flagged_at.is_not(None), *where)
        .group_by(Response.flag_reason, Unit.code, Unit.name, Unit.path)
    )


async def flag_groups(session: AsyncSession, path: str, limit: int = 20) -> list[FlagGroup]:
    """Flagged, still completed responses of a subtree, grouped by reason and unit,
    oldest first."""
    stmt = _flag_groups(_in_subtree(path)).order_by(func.min(Response.completed_at)).limit(limit)
    return [FlagGroup(*row) for row in (await session.exec(stmt)).all()]


async def flag_group_of(session: AsyncSession, response_id: int) -> FlagGroup | None:
    """The flagged group a response belongs to (None when it is not flagged any more)."""
    row = (
        await session.exec(
            select(Response.flag_reason, Response.unit_id).where(
                Response.id == response_id,
                Response.status == COMPLETED,
                Response.flagged_at.is_not(None),
            )
        )
    ).first()
    if row is None:
        return None
    stmt = _flag_groups(Response.unit_id == row.unit_id, Response.flag_reason == row.flag_reason)
    found = (await session.exec(stmt)).first()
    return FlagGroup(*found) if found else None


async def resolve_flag_group(
    session: AsyncSession, response_id: int, *, count: bool, tz: ZoneInfo
) -> int:
    """Count a flagged group again (``count``) or reject it for good; returns how many
    responses changed. The group is the flagged responses of the same unit and reason.

    Counting them again goes through ``storage.flags`` so the report rollups follow;
    rejected responses were already out of the rollups when they were flagged.
    """
    row = (
        await session.exec(
            select(Response.flag_reason, Response.unit_id).where(
                Response.id == response_id, Response.flagged_at.is_not(None)
            )
        )
    ).first()
    if row is None:
        return 0
    group = (
        (
            await session.exec(
                select(Response.id).where(
                    Response.unit_id == row.unit_id,
                    Response.flag_reason == row.flag_reason,
                    Response.flagged_at.is_not(None),
                    Response.status == COMPLETED,
                )
            )
        )
        .scalars()
        .all()
    )
    if count:
        return len(await flags.clear_flags(session, list(group), tz))
    result = await session.exec(
        update(Response)
        .where(Response.id.in_(group))
        .values(status=REJECTED)
        .returning(Response.id)
    )
    return len(result.all())


# --- feedback -------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackRow:
    """A feedback item with its unit and who handled it."""

    id: int
    unit_id: int
    unit_code: str
    unit_name: str
    unit_path: str
    created_at: datetime
    item_code: str | None
    reason: str | None
    text: str | None
    wants_contact: bool
    can_contact: bool  # the citizen's chat id is kept, so the bot can reply
    status: str
    handled_at: datetime | None
    handled_by_name: str | None
    handled_note: str | None


def _feedback_query():
    handler = aliased(Person)
    return (
        select(
            Feedback.id,
            Feedback.unit_id,
            Unit.code,
            Unit.name,
            Unit.path,
            Feedback.created_at,
            Feedback.item_code,
            Feedback.reason,
            Feedback.text,
            Feedback.wants_contact,
            Feedback.contact_ref_enc.is_not(None),
            Feedback.status,
            Feedback.handled_at,
            handler.name,
            Feedback.handled_note,
        )
        .join(Unit, Unit.id == Feedback.unit_id)
        .outerjoin(handler, handler.id == Feedback.handled_by)
    )


async def open_feedback(
    session: AsyncSession, path: str, limit: int
) -> tuple[list[FeedbackRow], int]:
    """The oldest open feedback items of a subtree (up to ``limit``) and how many are open."""
    where = (_in_subtree(path), Feedback.status == OPEN)
    stmt = _feedback_query().where(*where).order_by(Feedback.created_at, Feedback.id).limit(limit)
    rows = [FeedbackRow(*row) for row in (await session.exec(stmt)).all()]
    total = (
        await session.exec(
            select(func.count())
            .select_from(Feedback)
            .join(Unit, Unit.id == Feedback.unit_id)
            .where(*where)
        )
    ).scalar_one()
    return rows, total


async def feedback_by_id(session: AsyncSession, feedback_id: int) -> FeedbackRow | None:
    """One feedback item."""
    row = (await session.exec(_feedback_query().where(Feedback.id == feedback_id))).first()
    return FeedbackRow(*row) if row else None


async def feedback_created_between(
    session: AsyncSession, path: str, lo: datetime, hi: datetime
) -> list[FeedbackRow]:
    """Feedback items of a subtree opened in a period, oldest first (open and handled)."""
    stmt = (
        _feedback_query()
        .where(_in_subtree(path), Feedback.created_at >= lo, Feedback.created_at < hi)
        .order_by(Feedback.created_at, Feedback.id)
    )
    return [FeedbackRow(*row) for row in (await session.exec(stmt)).all()]


@dataclass(frozen=True)
class FeedbackContact:
    """Where to answer a handled feedback item's author (encrypted chat id)."""

    channel: str | None
    contact_ref_enc: str | None
    unit_name: str


async def mark_handled(
    session: AsyncSession, feedback_id: int, person_id: int, note: str, at: datetime
) -> FeedbackContact | None:
    """Close an open feedback item with a note; None when it was not open (any more)."""
    row = (
        await session.exec(
            update(Feedback)
            .where(Feedback.id == feedback_id, Feedback.status == OPEN)
            .values(status=HANDLED, handled_at=at, handled_by=person_id, handled_note=note)
            .returning(Feedback.contact_channel, Feedback.contact_ref_enc, Feedback.unit_id)
        )
    ).first()
    if row is None:
        return None
    unit_name = (await session.exec(select(Unit.name).where(Unit.id == row.unit_id))).scalar_one()
    return FeedbackContact(row.contact_channel, row.contact_ref_enc, unit_name)


async def note_notified(
    session: AsyncSession, feedback_id: int, assignee_id: int | None, at: datetime
) -> None:
    """Record that the unit's leadership was told about a feedback item."""
    await session.exec(
        update(Feedback)
        .where(Feedback.id == feedback_id)
        .values(notified_at=at, assignee_id=assignee_id)
    )


# --- people to tell -------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """A person to message, and their language."""

    person_id: int
    locale: str


async def nearest_with_role(session: AsyncSession, unit_path: str, role: str) -> list[Recipient]:
    """The active people with ``role`` at the unit itself or, failing that, at its
    nearest ancestor that has some (a counter's alerts go to its ward's leader)."""
    ids = [int(part) for part in unit_path.strip("/").split("/") if part]
    if not ids:
        return []
    stmt = select(Person.id, Person.locale, Person.unit_id).where(
        Person.unit_id.in_(ids), Person.role == role, Person.active.is_(True)
    )
    by_unit: dict[int, list[Recipient]] = defaultdict(list)
    for pid, locale, unit_id in (await session.exec(stmt.order_by(Person.id))).all():
        by_unit[unit_id].append(Recipient(pid, locale))
    for unit_id in reversed(ids):
        if by_unit.get(unit_id):
            return by_unit[unit_id]
    return []


async def conversation_locale(session: AsyncSession, channel: str, user_hash: str) -> str | None:
    """The language a chat user last talked to the bot in, if they ever did."""
    data = (
        await session.exec(
            select(Conversation.data).where(
                Conversation.channel == channel, Conversation.user_hash == user_hash
            )
        )
    ).scalar_one_or_none()
    return (data or {}).get("locale")
