"""Messages the bot starts itself (reminders, alerts), addressed to a person, via the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.replies import reply_payload
from flows.contract import Reply
from storage import outbox, people
from storage.outbox import NewMessage


async def notify_person(
    session: AsyncSession,
    person_id: int,
    reply: Reply,
    now: datetime,
    *,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
) -> bool:
    """Queue ``reply`` for a person on the channel they are reachable on (in the caller's
    transaction). False when they have no reachable account or the dedupe key was used."""
    contact = await people.contact_for(session, person_id)
    if contact is None:
        return False
    message = NewMessage(
        contact.channel,
        contact.channel_user_id,
        reply_payload(reply),
        not_before=not_before,
        dedupe_key=dedupe_key,
    )
    return await outbox.enqueue(session, [message], now) == 1


async def notify_people(
    session: AsyncSession,
    items: list[tuple[int, Reply, str | None]],
    now: datetime,
    *,
    not_before: datetime | None = None,
) -> list[bool]:
    """Queue many ``(person id, reply, dedupe key)`` messages with one contact lookup and
    one insert; for each, whether the person has a reachable account (a message whose
    dedupe key was used already stays queued once)."""
    contacts = await people.contacts_for(session, [person_id for person_id, _r, _k in items])
    messages = [
        NewMessage(
            contact.channel,
            contact.channel_user_id,
            reply_payload(reply),
            not_before=not_before,
            dedupe_key=key,
        )
        for person_id, reply, key in items
        if (contact := contacts.get(person_id)) is not None
    ]
    await outbox.enqueue(session, messages, now)
    return [person_id in contacts for person_id, _r, _k in items]
