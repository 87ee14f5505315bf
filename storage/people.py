"""Officials, leaders and admins, and the chat accounts linked to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Person, PersonChannel, Unit
from storage.sql import insert

ROLES = ("official", "leader", "admin", "surveyor")  # surveyors only enter phiếu (/phieu)


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
    spend the registration code. Linking is not choosing: messages keep going to the
    channel used last until the person picks one (``set_preferred_channel``)."""
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
        .values(registration_code_hash=None, registration_expires_at=None)
    )


# Asked on every inbound event: built once, run on the connection (no ORM on the way);
# also part of storage/steps.py's one statement on PostgreSQL.
PERSON_FOR = (
    select(*_PERSON_COLUMNS)
    .join(PersonChannel, PersonChannel.person_id == Person.id)
    .join(Unit, Unit.id == Person.unit_id)
    .where(
        PersonChannel.channel == bindparam("channel"),
        PersonChannel.user_hash == bindparam("user_hash"),
        Person.active.is_(True),
    )
)


async def person_for(session: AsyncSession, channel: str, user_hash: str) -> PersonRow | None:
    """The active person behind a chat account, if it is linked."""
    conn = await session.connection()
    result = await conn.execute(PERSON_FOR, {"channel": channel, "user_hash": user_hash})
    row = result.first()
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
    return (await contacts_for(session, [person_id])).get(person_id)


async def contacts_for(session: AsyncSession, person_ids: list[int]) -> dict[int, Contact]:
    """``contact_for`` of many persons in one query (those with no reachable account are
    left out)."""
    if not person_ids:
        return {}
    stmt = (
        select(
            PersonChannel.person_id,
            PersonChannel.channel,
            PersonChannel.channel_user_id,
            Person.preferred_channel,
        )
        .join(Person, Person.id == PersonChannel.person_id)
        .where(
            PersonChannel.person_id.in_(sorted(set(person_ids))),
            PersonChannel.unreachable_at.is_(None),
        )
        .order_by(PersonChannel.last_seen_at.desc().nulls_last(), PersonChannel.id.desc())
    )
    found: dict[int, Contact] = {}
    for pid, channel, user_id, preferred in (await session.exec(stmt)).all():
        # Rows come most recently used first: keep that one unless the chosen one follows.
        if pid not in found or (channel == preferred and found[pid].channel != preferred):
            found[pid] = Contact(channel, user_id)
    return found


async def touch(session: AsyncSession, channel: str, user_hash: str, now: datetime) -> None:
    """Note that a linked account was just used (reminders go to the channel used last)."""
    await session.exec(
        update(PersonChannel)
        .where(PersonChannel.channel == channel, PersonChannel.user_hash == user_hash)
        .values(last_seen_at=now, unreachable_at=None, unreachable_reason=None)
    )


async def set_preferred_channel(session: AsyncSession, person_id: int, channel: str | None) -> None:
    """Send this person's messages to ``channel`` (None: to the channel they used last)."""
    await session.exec(
        update(Person).where(Person.id == person_id).values(preferred_channel=channel)
    )


async def linked_channels(session: AsyncSession, person_id: int) -> tuple[str | None, list[str]]:
    """A person's chosen channel (or None) and the channels of their reachable accounts."""
    preferred = (
        await session.exec(select(Person.preferred_channel).where(Person.id == person_id))
    ).scalar_one_or_none()
    stmt = (
        select(PersonChannel.channel)
        .where(PersonChannel.person_id == person_id, PersonChannel.unreachable_at.is_(None))
        .distinct()
        .order_by(PersonChannel.channel)
    )
    return preferred, list((await session.exec(stmt)).scalars().all())


async def locales(session: AsyncSession, person_ids: list[int]) -> dict[int, str]:
    """The language of each of these persons."""
    if not person_ids:
        return {}
    stmt = select(Person.id, Person.locale).where(Person.id.in_(person_ids)).order_by(Person.id)
    return {pid: locale for pid, locale in (await session.exec(stmt)).all()}
