"""Intake: a completed dossier becomes a survey code, and maybe an invitation in a chat.

Shared by ``POST /api/v1/dossiers`` and ``sipas-bot import dossiers``. The receipt code
makes it idempotent: the same receipt always answers with the same survey code. Codes
are looked up by their keyed hash only; for dossiers the code is also kept encrypted
under the secret key (``survey_invite.code_enc``), so a replay can show it again. (A
code derived from the receipt by HMAC would need no storage, but anyone holding the key
and a receipt number could then compute a citizen's code, and a leaked code could never
be replaced; random codes avoid both.)

When the caller knows the citizen's chat id, an invitation goes through the outbox:
only inside ``SIPAS_INVITE_HOURS`` (local time; outside them it waits for the next
morning) and at most once per citizen per ``SIPAS_INVITE_COOLDOWN_DAYS``. Without a chat
id but with a phone number, and with ZNS on, the invitation goes by ZNS under the same
rules (``bot.services.zns``); with ZNS off the number is not kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta, tzinfo

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.app import App
from bot.core.replies import reply_payload
from bot.core.settings import Settings
from bot.services import zns
from bot.services.invites import issue_invite, web_link
from flows.contract import Reply
from flows.i18n import translator
from flows.text import format_code
from storage import dossiers, outbox, units
from storage.models import Dossier, Procedure, SurveyInvite, Unit
from storage.outbox import NewMessage

# Channels the bot can start a conversation on (the web chat cannot be pushed to).
INVITE_CHANNELS = ("telegram", "zalo")
# Clocks of one-stop e-systems drift; a completion time a little ahead of ours is fine.
CLOCK_SKEW = timedelta(minutes=5)

NOT_REQUESTED, QUEUED, SKIPPED_RECENT = "not_requested", "queued", "skipped_recent"
SKIPPED_UNREACHABLE = zns.SKIPPED_UNREACHABLE  # the number has no Zalo account


@dataclass(frozen=True)
class DossierInput:
    """One completed dossier as a one-stop shop reports it."""

    receipt_code: str
    unit_code: str
    procedure_code: str
    completed_at: datetime  # without a zone: local time (SIPAS_TIMEZONE)
    citizen_channel: str | None = None
    citizen_user_id: str | None = None
    citizen_phone: str | None = None  # normalised (84…); never logged


class IntakeError(Exception):
    """Input that refers to something unknown or impossible; nothing was written.

    ``problems`` names every such field at once, as (field, message, kind); ``field``,
    ``message`` and ``kind`` are the first of them."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message, _ in problems))
        self.problems = problems
        self.field, self.message, self.kind = problems[0]


class DossierConflict(Exception):
    """The receipt code is registered already, with different details."""


@dataclass(frozen=True)
class Registered:
    created: bool  # False for a replay of a receipt seen before
    receipt_code: str
    unit_code: str
    code: str
    expires_at: datetime | None
    invitation: str  # NOT_REQUESTED | QUEUED | SKIPPED_RECENT | SKIPPED_UNREACHABLE
    invitation_send_after: datetime | None


@dataclass
class Lookups:
    """Units and procedures by code, remembered across the rows of one import."""

    units: dict[str, Unit | None] = field(default_factory=dict)
    procedures: dict[str, Procedure | None] = field(default_factory=dict)

    async def unit(self, session: AsyncSession, code: str) -> Unit | None:
        if code not in self.units:
            self.units[code] = await units.by_code(session, code)
        return self.units[code]

    async def procedure(self, session: AsyncSession, code: str) -> Procedure | None:
        if code not in self.procedures:
            stmt = select(Procedure).where(Procedure.code == code)
            self.procedures[code] = (await session.exec(stmt)).scalars().first()
        return self.procedures[code]


def channel_enabled(settings: Settings, channel: str) -> bool:
    """Whether this deployment can send messages on ``channel``."""
    if channel == "telegram":
        return settings.telegram_token is not None
    if channel == "zalo":
        return settings.zalo_sends  # the same test that starts the Zalo sender
    return False


def next_send_time(now: datetime, tz: tzinfo, window: tuple[time, time]) -> datetime:
    """``now`` if it falls inside the local sending window, else the window's next start."""
    start, end = window
    local = now.astimezone(tz)
    if start <= local.time() < end:
        return now
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return datetime.combine(day, start, tzinfo=tz).astimezone(now.tzinfo)


async def register(
    app: App, session: AsyncSession, data: DossierInput, lookups: Lookups | None = None
) -> Registered:
    """Record a completed dossier and its survey code (in the caller's transaction).

    Raises ``IntakeError`` for unknown units, procedures or channels and impossible
    times, ``DossierConflict`` when the receipt is known with other details.
    """
    lookups = lookups or Lookups()
    now = app.now()
    when = data.completed_at
    if when.tzinfo is None:  # local time, as people write it
        when = when.replace(tzinfo=app.tz)
    data = replace(data, completed_at=when.astimezone(UTC))
    problems: list[tuple[str, str, str]] = []  # every bad field at once, not the first
    unit = await lookups.unit(session, data.unit_code)
    if unit is None:
        problems.append(("unit_code", f"unknown unit code '{data.unit_code}'", "unknown_unit"))
    procedure = await lookups.procedure(session, data.procedure_code)
    if procedure is None:
        problems.append(
            (
                "procedure_code",
                f"unknown procedure code '{data.procedure_code}'",
                "unknown_procedure",
            )
        )
    if data.completed_at > now + CLOCK_SKEW:
        problems.append(("completed_at", "is in the future", "future_time"))
    channel = data.citizen_channel
    if channel is not None and not channel_enabled(app.settings, channel):
        problems.append(
            ("citizen.channel", f"channel '{channel}' is not set up on this server", "channel_off")
        )
    if problems:
        raise IntakeError(problems)
    assert unit is not None and procedure is not None

    dossier = await dossiers.add(
        session,
        receipt_code=data.receipt_code,
        unit_id=unit.id,  # type: ignore[arg-type]
        procedure_id=procedure.id,
        completed_at=data.completed_at,
        now=now,
        tz=app.tz,
    )
    if dossier is None:
        return await _replay(app, session, data, unit, procedure)

    issued = await issue_invite(
        app, session, unit, dossier=dossier, procedure=procedure, recoverable=True
    )
    expires = datetime.fromisoformat(issued.expires_at_iso) if issued.expires_at_iso else None
    invitation, send_after = NOT_REQUESTED, None
    if channel is not None and data.citizen_user_id:
        invitation, send_after = await _invite(
            app, session, dossier, unit, channel, data.citizen_user_id, issued.code, now
        )
    elif data.citizen_phone and app.settings.zns_invites:
        send_after = next_send_time(now, app.tz, app.settings.invite_window)
        invitation, send_after = await zns.invite(
            app, session, dossier, unit, procedure, data.citizen_phone, issued.code, now, send_after
        )
    return Registered(
        True, data.receipt_code, unit.code, issued.code, expires, invitation, send_after
    )


async def _replay(
    app: App, session: AsyncSession, data: DossierInput, unit: Unit, procedure: Procedure
) -> Registered:
    existing = await dossiers.by_receipt(session, data.receipt_code)
    assert existing is not None  # the insert just clashed with it
    if existing.unit_id != unit.id or existing.procedure_id != procedure.id:
        raise DossierConflict(
            f"receipt code '{data.receipt_code}' is already registered "
            "with another unit or procedure"
        )
    if existing.completed_at != data.completed_at:
        raise DossierConflict(
            f"receipt code '{data.receipt_code}' is already registered "
            f"with completed_at {existing.completed_at.isoformat()}"
        )
    invite = await dossiers.invite_of(session, existing.id)  # type: ignore[arg-type]
    code = _recover(app, invite)
    if invite is None or code is None:
        # A dossier recorded without a readable code (demo data, a replaced secret key):
        # issue one now, and every later replay returns it.
        issued = await issue_invite(
            app, session, unit, dossier=existing, procedure=procedure, recoverable=True
        )
        code = issued.code
        expires = datetime.fromisoformat(issued.expires_at_iso) if issued.expires_at_iso else None
    else:
        expires = invite.expires_at
    invitation, send_after = _invitation_state(existing)
    return Registered(False, data.receipt_code, unit.code, code, expires, invitation, send_after)


def _recover(app: App, invite: SurveyInvite | None) -> str | None:
    if invite is None or invite.code_enc is None:
        return None
    code = app.keys.decrypt(invite.code_enc)
    # A code that no longer matches its hash (another key) is as good as lost.
    if code is None or app.keys.code_hash(code) != invite.code_hash:
        return None
    return code


def _invitation_state(dossier: Dossier) -> tuple[str, datetime | None]:
    if dossier.citizen_hash is None:
        return NOT_REQUESTED, None
    if dossier.invited_at is not None:
        return QUEUED, dossier.invited_at
    return SKIPPED_RECENT, None


async def _invite(
    app: App,
    session: AsyncSession,
    dossier: Dossier,
    unit: Unit,
    channel: str,
    user_id: str,
    code: str,
    now: datetime,
) -> tuple[str, datetime | None]:
    citizen = app.keys.user_hash(channel, user_id)
    await dossiers.lock_citizen(session, citizen)
    cooldown = timedelta(days=app.settings.invite_cooldown_days)
    if cooldown and await dossiers.invited_since(session, citizen, now - cooldown):
        await dossiers.set_citizen(session, dossier.id, citizen, None)  # type: ignore[arg-type]
        return SKIPPED_RECENT, None
    send_after = next_send_time(now, app.tz, app.settings.invite_window)
    message = NewMessage(
        channel,
        user_id,
        reply_payload(invitation(app, dossier.receipt_code, unit.name, code)),
        not_before=send_after,
        dedupe_key=f"dossier-invite:{dossier.id}",
    )
    await outbox.enqueue(session, [message], now)
    await dossiers.set_citizen(session, dossier.id, citizen, send_after)  # type: ignore[arg-type]
    return QUEUED, send_after


def invitation(app: App, receipt_code: str, unit_name: str, code: str) -> Reply:
    """The message that invites a citizen to rate the service (in the default language:
    nothing is known yet about the citizen's own)."""
    _ = translator(app.settings.default_locale, app.settings.timezone).gettext
    text = _(
        "Hello! Your dossier {receipt} at {unit} has been completed. Please take about a "
        "minute to tell us how satisfied you are: reply to this message with the code "
        "{code}, or open {link}"
    ).format(receipt=receipt_code, unit=unit_name, code=format_code(code), link=web_link(app, code))
    return Reply(text)
