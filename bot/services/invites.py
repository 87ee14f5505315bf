"""Issuing survey codes and registration codes, and the links and QR codes for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.app import App
from bot.core.keys import new_code
from flows.text import format_code
from storage import people, surveys
from storage.models import Dossier, Procedure, Unit

REGISTRATION_TTL = timedelta(days=14)


@dataclass(frozen=True)
class IssuedInvite:
    code: str  # normalised; shown once, only its hash is stored
    unit_code: str
    unit_name: str
    kind: str
    expires_at_iso: str | None

    @property
    def printable(self) -> str:
        return format_code(self.code)


def base_url(app: App) -> str:
    """Where the outside world reaches this server."""
    if app.settings.public_url:
        return app.settings.public_url.rstrip("/")
    return f"http://{app.settings.http_host}:{app.settings.http_port}"


def web_link(app: App, code: str) -> str:
    return f"{base_url(app)}/chat?code={code}"


def qr_url(app: App, code: str) -> str:
    return f"{base_url(app)}/qr/{code}.png"


def survey_link(app: App, code: str) -> str:
    """What a QR code of a survey code opens: the web chat, which needs no app at all."""
    return web_link(app, code)


def telegram_link(app: App, code: str) -> str | None:
    """``https://t.me/<bot>?start=<code>`` when the bot's username is known."""
    username = app.settings.telegram_bot_username
    return f"https://t.me/{username}?start={code}" if username else None


def zalo_instruction(code: str) -> str:
    """What a citizen sends to the Official Account (Vietnamese: it is printed on receipts)."""
    return f"Quan tâm Zalo OA của đơn vị và gửi tin nhắn: DG {format_code(code)}"


async def issue_invite(
    app: App,
    session: AsyncSession,
    unit: Unit,
    *,
    kind: str = "dossier",
    dossier: Dossier | None = None,
    procedure: Procedure | None = None,
    ttl: timedelta | None = None,
    label: str | None = None,
    recoverable: bool = False,
) -> IssuedInvite:
    """Create a survey code for ``unit`` (in the caller's transaction).

    ``recoverable`` also keeps the code encrypted under the secret key, so it can be
    shown again (an integration API replay); lookups still go through the hash only.
    """
    code = new_code()
    ttl = ttl if ttl is not None else timedelta(days=app.settings.invite_ttl_days)
    expires = app.now() + ttl if kind == "dossier" else None
    await surveys.create_invite(
        session,
        app.keys.code_hash(code),
        kind,
        unit.id,  # type: ignore[arg-type]
        dossier_id=dossier.id if dossier else None,
        procedure_id=procedure.id if procedure else (dossier.procedure_id if dossier else None),
        expires_at=expires,
        label=label,
        code_enc=app.keys.encrypt(code) if recoverable else None,
    )
    return IssuedInvite(code, unit.code, unit.name, kind, expires.isoformat() if expires else None)


async def issue_registration(
    app: App, session: AsyncSession, *, name: str, role: str, unit: Unit, locale: str = "vi"
) -> tuple[int, str]:
    """Create a person and the one-time code they send the bot; returns (person id, code)."""
    code = new_code()
    person = await people.create_person(
        session,
        name=name,
        role=role,
        unit_id=unit.id,  # type: ignore[arg-type]
        registration_code_hash=app.keys.code_hash(code),
        registration_expires_at=app.now() + REGISTRATION_TTL,
        locale=locale,
    )
    return person.id, code  # type: ignore[return-value]
