"""ZNS messages the bot queues: citizens' invitations (from intake) and officials'
reminders that Zalo refused outside its messaging window.

A ZNS outbox row has the number's keyed hash as recipient and a neutral payload
(``kind``, ``template_id``, ``template_data``, ``tracking_id``); the number itself is in
``zns_phone``, encrypted, until the row is sent (see ``storage.zns``). The tracking id
(``d<dossier id>.<tag>``) is how a rating finds its dossier: the tag is keyed with the
secret key, so a made-up tracking id matches nothing.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.app import App
from bot.services.invites import base_url, web_link
from flows.text import format_code
from storage import deadlines, dossiers, outbox
from storage import tasks as task_store
from storage import zns as store
from storage.models import Dossier, Outbox, Person, Procedure, Unit
from storage.outbox import NewMessage

CHANNEL = store.CHANNEL
DATE_FORMAT = "%d/%m/%Y"  # dates in template parameters, as Vietnamese write them
QUEUED, SKIPPED_RECENT, SKIPPED_UNREACHABLE = "queued", "skipped_recent", "skipped_unreachable"
LINK_DAYS = 7  # an answer link works this long
_TRACKING = re.compile(r"^d(\d{1,12})\.([0-9a-f]{20})$")
_TOKEN = re.compile(r"^(\d{1,12})\.([0-9a-f]{24})$")


def phone_hash(app: App, phone: str) -> str:
    """The keyed hash of a normalised number: its outbox recipient and its pseudonym."""
    return app.keys.user_hash(CHANNEL, phone)


def tracking_id(app: App, dossier_id: int) -> str:
    """The ``tracking_id`` sent with a dossier's invitation."""
    return f"d{dossier_id}.{_tag(app, 'zns-tracking', dossier_id, 20)}"


def dossier_of(app: App, tracking: str | None) -> int | None:
    """The dossier a tracking id was issued for; None when we never issued it."""
    match = _TRACKING.match(tracking or "")
    if not match:
        return None
    dossier_id = int(match.group(1))
    ok = hmac.compare_digest(match.group(2), _tag(app, "zns-tracking", dossier_id, 20))
    return dossier_id if ok else None


def link_token(app: App, link_id: int) -> str:
    """The signed token of an answer link."""
    return f"{link_id}.{_tag(app, 'answer-link', link_id, 24)}"


def link_of(app: App, token: str) -> int | None:
    """The answer link a token was signed for; None when the signature does not hold."""
    match = _TOKEN.match(token or "")
    if not match:
        return None
    link_id = int(match.group(1))
    ok = hmac.compare_digest(match.group(2), _tag(app, "answer-link", link_id, 24))
    return link_id if ok else None


def _tag(app: App, purpose: str, number: int, length: int) -> str:
    # The code-hash key with a purpose prefix: codes never contain a NUL, so the uses
    # cannot collide.
    return app.keys.code_hash(f"{purpose}\x00{number}")[:length]


def _local_date(app: App, moment: datetime) -> str:
    return moment.astimezone(app.tz).strftime(DATE_FORMAT)


def _data(mapping: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    return {param: values[field] for param, field in mapping.items()}


# --- citizens' invitations -------------------------------------------------------------------


async def invite(
    app: App,
    session: AsyncSession,
    dossier: Dossier,
    unit: Unit,
    procedure: Procedure | None,
    phone: str,
    code: str,
    now: datetime,
    send_after: datetime,
) -> tuple[str, datetime | None]:
    """Queue a dossier's invitation by ZNS (same cooldown per citizen as chat invitations);
    returns the invitation state and when it goes out."""
    citizen = phone_hash(app, phone)
    await dossiers.lock_citizen(session, citizen)
    dossier_id: int = dossier.id  # type: ignore[assignment]
    if await store.is_suppressed(session, citizen):
        await dossiers.set_citizen(session, dossier_id, citizen, None)
        return SKIPPED_UNREACHABLE, None
    cooldown = timedelta(days=app.settings.invite_cooldown_days)
    if cooldown and await dossiers.invited_since(session, citizen, now - cooldown):
        await dossiers.set_citizen(session, dossier_id, citizen, None)
        return SKIPPED_RECENT, None
    values = {
        "receipt_code": dossier.receipt_code,
        "unit_name": unit.name,
        "procedure_name": procedure.name if procedure else "",
        "completed_date": _local_date(app, dossier.completed_at),
        "code": format_code(code),
        "survey_url": web_link(app, code),
    }
    payload = {
        "kind": "invite",
        "template_id": app.settings.zns_invite_template_id,
        "template_data": _data(app.settings.zns_invite_mapping, values),
        "tracking_id": tracking_id(app, dossier_id),
    }
    await store.put_phone(session, citizen, app.keys.encrypt(phone), now)
    message = NewMessage(
        CHANNEL, citizen, payload, not_before=send_after, dedupe_key=f"dossier-invite:{dossier_id}"
    )
    await outbox.enqueue(session, [message], now)
    await dossiers.set_citizen(session, dossier_id, citizen, send_after)
    return QUEUED, send_after


# --- officials' reminders ------------------------------------------------------------------


async def set_official_phone(app: App, session: AsyncSession, person_id: int, phone: str) -> None:
    """Store an official's number (encrypted) for ZNS reminders."""
    await store.set_person_phone(
        session, person_id, phone_hash(app, phone), app.keys.encrypt(phone), app.now()
    )


async def queue_reminder(
    app: App, session: AsyncSession, person_id: int, assignment_id: int, now: datetime
) -> bool:
    """Queue a reminder by ZNS for a pending assignment (at most one per assignment and
    local day); False when the official has no number or nothing is pending."""
    if not app.settings.zns_reminders:
        return False
    phone = await store.person_phone(session, person_id)
    person = await session.get(Person, person_id)
    task = await task_store.task(session, person_id, assignment_id)
    if phone is None or person is None or task is None or task.status != deadlines.PENDING:
        return False
    key = f"zns-reminder:{assignment_id}:{now.astimezone(app.tz).date().isoformat()}"
    if await _queued(session, key):
        return True
    link_id = await store.create_link(
        session, assignment_id, person_id, now, now + timedelta(days=LINK_DAYS)
    )
    token = link_token(app, link_id)
    values = {
        "name": person.name,
        "title": task.title,
        "due_date": task.due_on.strftime(DATE_FORMAT),
        "answer_token": token,
        "answer_url": f"{base_url(app)}/a/{token}",
    }
    payload = {
        "kind": "reminder",
        "template_id": app.settings.zns_reminder_template_id,
        "template_data": _data(app.settings.zns_reminder_mapping, values),
        "tracking_id": f"r{link_id}",
    }
    message = NewMessage(CHANNEL, phone.phone_hash, payload, dedupe_key=key)
    return await outbox.enqueue(session, [message], now) == 1


async def _queued(session: AsyncSession, dedupe_key: str) -> bool:
    stmt = select(Outbox.id).where(Outbox.dedupe_key == dedupe_key)
    return (await session.exec(stmt)).first() is not None
