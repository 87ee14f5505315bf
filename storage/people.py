"""Officials, leaders and admins, and the chat accounts linked to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Person, PersonChannel, Unit
from storage.sql import insert

ROLES = ("official", "leader", "admin")


@dataclass(frozen=True)
class PersonRow:
    id: int
    name: str
    role: str
    locale: str
    unit_id: int
    unit_code: str
    unit_name: str
    unit_path: str


_PERSON_COLUMNS = (
    Person.id,
    Person.name,
    Person.role,
    Person.locale,
    Person.unit_id,
    Unit.code.label("unit_code"),
    Unit.name.label("unit_name"),
    Unit.path.label("unit_path"),
)


async def create_person(
    session: AsyncSession,
    *,
    name: str,
    role: str,
    unit_id: int,
    registration_code_hash: str,
    registration_expires_at: datetime,
    locale: str = "vi",
) -> Person:
    """Add a person who links their chat account by sending a registration code."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    person = Person(
        name=name,
        role=role,
        unit_id=unit_id,
        locale=locale,
        registration_code_hash=registration_code_hash,
        registration_expires_at=registration_expires_at,
    )
    session.add(person)
    await session.flush()
    return person


async def find_by_registration(
    session: AsyncSession, code_hash: str, now: datetime
) -> PersonRow | None:
    """The active person a registration code belongs to, if it has not expired."""
    stmt = (
        select(*_PERSON_COLUMNS)
        .join(Unit, Unit.id == Person.unit_id)
        .where(
            Person.registration_code_hash == code_hash,
            Person.active.is_(True),
            Person.registration_expires_at > now,
        )
    )
    row = (await session.exec(stmt)).first()
    return PersonRow(**row._mapping) if row else None


async def link_channel(
    session: AsyncSession,
    person_id: int,
    channel: str,
    channel_user_id: str,
    user_hash: str,
    now: datetime,
) -> None:
    """Link a chat account to a person (replacing an earlier link of that account) and
    spend the registration code."""
    stmt = insert(session, PersonChannel).values(
        person_id=person_id,
        channel=channel,
        channel_user_id=channel_user_id,
        user_hash=user_hash,
        linked_at=now,
        last_seen_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["channel", "user_hash"],
        set_={
            "person_id": stmt.excluded.person_id,
            "linked_at": stmt.excluded.linked_at,
            "unreachable_at": None,
            "unreachable_reason": None,
        },
    )
    await session.exec(stmt)
    await session.exec(
        update(Person)
        .where(Person.id == person_id)
        .values(
            registration_code_hash=None, registration_expires_at=None, preferred_channel=channel
        )
    )


async def person_for(session: AsyncSession, channel: str, user_hash: str) -> PersonRow | None:
    """The active person behind a chat account, if it is linked."""
    stmt = (
        select(*_PERSON_COLUMNS)
        .join(PersonChannel, PersonChannel.person_id == Person.id)
        .join(Unit, Unit.id == Person.unit_id)
        .where(
            PersonChannel.channel == channel,
            PersonChannel.user_hash == user_hash,
            Person.active.is_(True),
        )
    )
    row = (await session.exec(stmt)).first()
    return PersonRow(**row._mapping) if row else None


async def mark_unreachable(
    session: AsyncSession,
    channel: str,
    reason: str,
    now: datetime,
    *,
    user_hash: str | None = None,
    channel_user_id: str | None = None,
) -> int:
    """Note that a chat account can no longer be messaged; returns how many rows changed."""
    stmt = update(PersonChannel).where(PersonChannel.channel == channel)
    if user_hash is not None:
        stmt = stmt.where(PersonChannel.user_hash == user_hash)
    elif channel_user_id is not None:
        stmt = stmt.where(PersonChannel.channel_user_id == channel_user_id)
    else:
        raise ValueError("user_hash or channel_user_id is needed")
    result = await session.exec(
        stmt.values(unreachable_at=now, unreachable_reason=reason[:255]).returning(PersonChannel.id)
    )
    return len(result.all())


@dataclass(frozen=True)
class Contact:
    channel: str
    channel_user_id: str


async def contact_for(session: AsyncSession, person_id: int) -> Contact | None:
    """Where to reach a person: their chosen channel if reachable, else the one they used
    last; None when no reachable account is linked."""
    stmt = (
        select(PersonChannel.channel, PersonChannel.channel_user_id, Person.preferred_channel)
        .join(Person, Person.id == PersonChannel.person_id)
        .where(PersonChannel.person_id == person_id, PersonChannel.unreachable_at.is_(None))
        .order_by(PersonChannel.last_seen_at.desc().nulls_last(), PersonChannel.id.desc())
    )
    rows = (await session.exec(stmt)).all()
    if not rows:
        return None
    preferred = next((r for r in rows if r.channel == r.preferred_channel), rows[0])
    return Contact(preferred.channel, preferred.channel_user_id)


async def touch(session: AsyncSession, channel: str, user_hash: str, now: datetime) -> None:
    """Note that a linked account was just used (reminders go to the channel used last)."""
    await session.exec(
        update(PersonChannel)
        .where(PersonChannel.channel == channel, PersonChannel.user_hash == user_hash)
        .values(last_seen_at=now, unreachable_at=None, unreachable_reason=None)
    )
