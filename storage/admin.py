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
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import flags
from storage.models import (
    Answer,
    Conversation,
    Person,
    Procedure,
    Questionnaire,
    Response,
    Unit,
)
from storage.surveys import COMPLETED

# A flagged response an admin decided not to count, ever (its answers are kept).
REJECTED = "rejected"


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


def in_subtree(path: str):
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
            in_subtree(path),
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
        in_subtree(path),
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
            in_subtree(path),
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
    stmt = _flag_groups(in_subtree(path)).order_by(func.min(Response.completed_at)).limit(limit)
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


# --- people to tell -------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """A person to message, and their language."""

    person_id: int
    locale: str


async def leaders_or_admins(session: AsyncSession, unit_path: str) -> tuple[str, list[Recipient]]:
    """Who is told about a unit's feedback: its nearest leaders, else its nearest admins."""
    for role in ("leader", "admin"):
        people = await nearest_with_role(session, unit_path, role)
        if people:
            return role, people
    return "admin", []


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
