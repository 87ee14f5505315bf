"""Feedback items: negative-rating follow-ups as leaders see and handle them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

# A flagged response an admin decided not to count, ever (its answers are kept).
from storage.admin import in_subtree
from storage.models import (
    Feedback,
    Person,
    Unit,
)

OPEN, HANDLED = "open", "handled"  # feedback status


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
    where = (in_subtree(path), Feedback.status == OPEN)
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
        .where(in_subtree(path), Feedback.created_at >= lo, Feedback.created_at < hi)
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
