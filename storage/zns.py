"""ZNS storage: encrypted phone numbers until their message is sent, suppressed
numbers, the daily count behind the cap, ratings read back, one-tap answer links.

Outbox rows of channel ``zns`` have the number's keyed hash as recipient. A row Zalo
could not take today (our daily cap, Zalo's quota, a template not approved yet) is
settled as dead with an error starting ``zns-wait <reason> <local day>:``; such rows
keep their number and go back to the queue on the next day (``requeue_waiting``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, delete, exists, func, not_, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AnswerLink, Outbox, ZnsDay, ZnsPhone, ZnsRating, ZnsSuppressed
from storage.outbox import DEAD, OPEN, PENDING
from storage.sql import insert

CHANNEL = "zns"
WAIT = "zns-wait"  # prefix of the errors of dead rows that wait for another day
COUNTED, UNMATCHED, EXPIRED, USED, INVALID = "counted", "unmatched", "expired", "used", "invalid"


def wait_error(reason: str, day: date, text: str) -> str:
    """The error of a row that waits for another day (``zns-wait cap 2026-11-24: …``)."""
    return f"{WAIT} {reason} {day.isoformat()}: {text}"


def _waiting(column=Outbox):
    return and_(column.status == DEAD, column.last_error.like(f"{WAIT} %"))


# --- phone numbers ----------------------------------------------------------------------


async def put_phone(
    session: AsyncSession,
    phone_hash: str,
    phone_enc: str,
    now: datetime,
    person_id: int | None = None,
) -> None:
    """Store an encrypted number under its hash (an official's stays an official's)."""
    stmt = insert(session, ZnsPhone).values(
        phone_hash=phone_hash, phone_enc=phone_enc, person_id=person_id, created_at=now
    )
    keep = func.coalesce(stmt.excluded.person_id, ZnsPhone.__table__.c.person_id)
    await session.exec(
        stmt.on_conflict_do_update(
            index_elements=["phone_hash"],
            set_={"phone_enc": stmt.excluded.phone_enc, "person_id": keep},
        )
    )


async def set_person_phone(
    session: AsyncSession, person_id: int, phone_hash: str, phone_enc: str, now: datetime
) -> None:
    """An official's number (replacing the one they had)."""
    await session.exec(delete(ZnsPhone).where(ZnsPhone.person_id == person_id))
    await put_phone(session, phone_hash, phone_enc, now, person_id)


async def person_phone(session: AsyncSession, person_id: int) -> ZnsPhone | None:
    """An official's stored number, if they have one."""
    stmt = select(ZnsPhone).where(ZnsPhone.person_id == person_id).limit(1)
    return (await session.exec(stmt)).scalars().first()


async def phone_enc(session: AsyncSession, phone_hash: str) -> str | None:
    """The encrypted number stored under ``phone_hash``."""
    stmt = select(ZnsPhone.phone_enc).where(ZnsPhone.phone_hash == phone_hash)
    return (await session.exec(stmt)).scalar_one_or_none()


def _still_needed():
    waiting = exists().where(
        Outbox.channel == CHANNEL,
        Outbox.recipient == ZnsPhone.phone_hash,
        or_(Outbox.status.in_(OPEN), _waiting()),
    )
    return or_(ZnsPhone.person_id.is_not(None), waiting)


async def erase_if_done(session: AsyncSession, phone_hash: str, *, sending: bool = True) -> bool:
    """Erase a citizen's number unless another message still waits for it.

    ``sending``: called while the recipient's current row is being sent (it is then
    ``sending``, the only one of the recipient in flight), so that row does not count.
    """
    needed = exists().where(
        Outbox.channel == CHANNEL,
        Outbox.recipient == phone_hash,
        or_(Outbox.status.in_(("pending", "claimed") if sending else OPEN), _waiting()),
    )
    stmt = (
        delete(ZnsPhone)
        .where(ZnsPhone.phone_hash == phone_hash, ZnsPhone.person_id.is_(None), not_(needed))
        .returning(ZnsPhone.phone_hash)
    )
    return (await session.exec(stmt)).first() is not None


async def purge(session: AsyncSession) -> int:
    """Erase every citizen's number that no message waits for; returns how many."""
    stmt = delete(ZnsPhone).where(not_(_still_needed())).returning(ZnsPhone.phone_hash)
    return len((await session.exec(stmt)).all())


async def suppress(session: AsyncSession, phone_hash: str, reason: str, now: datetime) -> None:
    """Never send ZNS to this number again (it has no Zalo account, refuses ZNS…)."""
    await session.exec(
        insert(session, ZnsSuppressed)
        .values(phone_hash=phone_hash, reason=reason[:255], at=now)
        .on_conflict_do_nothing(index_elements=["phone_hash"])
    )


async def is_suppressed(session: AsyncSession, phone_hash: str) -> bool:
    """Whether ZNS gave up on this number."""
    stmt = select(ZnsSuppressed.phone_hash).where(ZnsSuppressed.phone_hash == phone_hash)
    return (await session.exec(stmt)).first() is not None


# --- the daily cap ---------------------------------------------------------------------------


async def reserve(session: AsyncSession, day: date, cap: int) -> bool:
    """Take one of ``day``'s ``cap`` messages; False (and counted as held back) at the cap.

    One UPDATE with the condition in it, so processes sending at once never pass the
    cap together.
    """
    await session.exec(
        insert(session, ZnsDay)
        .values(day=day, sent=0, capped=0)
        .on_conflict_do_nothing(index_elements=["day"])
    )
    taken = await session.exec(
        update(ZnsDay)
        .where(ZnsDay.day == day, ZnsDay.sent < cap)
        .values(sent=ZnsDay.sent + 1)
        .returning(ZnsDay.sent)
    )
    if taken.first() is not None:
        return True
    await session.exec(update(ZnsDay).where(ZnsDay.day == day).values(capped=ZnsDay.capped + 1))
    return False


async def release(session: AsyncSession, day: date) -> None:
    """Give back a message taken with ``reserve`` that Zalo did not accept."""
    await session.exec(
        update(ZnsDay).where(ZnsDay.day == day, ZnsDay.sent > 0).values(sent=ZnsDay.sent - 1)
    )


async def day_counts(session: AsyncSession, day: date) -> tuple[int, int]:
    """(messages Zalo accepted, messages held back by the cap) on ``day``."""
    row = (await session.exec(select(ZnsDay.sent, ZnsDay.capped).where(ZnsDay.day == day))).first()
    return (row[0], row[1]) if row else (0, 0)


async def waiting_count(session: AsyncSession) -> int:
    """How many ZNS messages wait as dead letters for another day."""
    stmt = select(func.count()).select_from(Outbox).where(Outbox.channel == CHANNEL, _waiting())
    return (await session.exec(stmt)).scalar_one()


async def requeue_waiting(
    session: AsyncSession, today: date, not_before: datetime, *, all_days: bool = False
) -> int:
    """Queue again the rows that waited for another day (those of days before ``today``,
    or all with ``all_days``); returns how many."""
    stmt = update(Outbox).where(Outbox.channel == CHANNEL, _waiting())
    if not all_days:
        stmt = stmt.where(not_(Outbox.last_error.like(f"{WAIT} % {today.isoformat()}:%")))
    result = await session.exec(
        stmt.values(
            status=PENDING, attempts=0, not_before=not_before, claimed_until=None
        ).returning(Outbox.id)
    )
    return len(result.all())


async def expire_waiting(session: AsyncSession, created_before: datetime) -> int:
    """Stop waiting for rows queued before ``created_before`` (their code has expired)."""
    result = await session.exec(
        update(Outbox)
        .where(Outbox.channel == CHANNEL, _waiting(), Outbox.created_at < created_before)
        .values(last_error="zns: not sent before the survey code expired")
        .returning(Outbox.id)
    )
    return len(result.all())


# --- ratings -----------------------------------------------------------------------------


async def add_rating(session: AsyncSession, **values) -> int | None:
    """Store a rating; None when its Zalo message id was stored before (a duplicate)."""
    stmt = (
        insert(session, ZnsRating)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["msg_id"])
        .returning(ZnsRating.id)
    )
    return (await session.exec(stmt)).scalar_one_or_none()


async def set_rating(session: AsyncSession, rating_id: int, **values) -> None:
    """Record what became of a rating (its status, dossier, response)."""
    await session.exec(update(ZnsRating).where(ZnsRating.id == rating_id).values(**values))


async def unmatched(session: AsyncSession, limit: int = 50) -> list[ZnsRating]:
    """The latest ratings that were not counted (unknown or expired tracking id…)."""
    stmt = (
        select(ZnsRating)
        .where(ZnsRating.status != COUNTED)
        .order_by(ZnsRating.id.desc())
        .limit(limit)
    )
    return list((await session.exec(stmt)).scalars().all())


async def unmatched_count(session: AsyncSession) -> int:
    """How many ratings were not counted."""
    stmt = select(func.count()).select_from(ZnsRating).where(ZnsRating.status != COUNTED)
    return (await session.exec(stmt)).scalar_one()


# --- one-tap answer links --------------------------------------------------------------------


async def create_link(
    session: AsyncSession, assignment_id: int, person_id: int, now: datetime, expires: datetime
) -> int:
    """A new answer link for one assignment of one person; returns its id."""
    link = AnswerLink(
        assignment_id=assignment_id, person_id=person_id, created_at=now, expires_at=expires
    )
    session.add(link)
    await session.flush()
    assert link.id is not None
    return link.id


async def link(session: AsyncSession, link_id: int) -> AnswerLink | None:
    """An answer link by id."""
    return await session.get(AnswerLink, link_id)


async def use_link(session: AsyncSession, link_id: int, action: str, now: datetime) -> bool:
    """Spend a link on ``action``; False when it was spent already (single use)."""
    stmt = (
        update(AnswerLink)
        .where(AnswerLink.id == link_id, AnswerLink.used_at.is_(None))
        .values(used_at=now, action=action)
        .returning(AnswerLink.id)
    )
    return (await session.exec(stmt)).first() is not None
