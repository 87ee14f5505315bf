"""The flows' ``Context`` implemented over the database, for one event."""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import App
from flows.engine import InviteInfo, PersonInfo
from storage import people, surveys
from storage.people import PersonRow


def person_info(row: PersonRow | None) -> PersonInfo | None:
    if row is None:
        return None
    return PersonInfo(row.id, row.name, row.role, row.unit_id, row.unit_code, row.unit_name)


class DbContext:
    """What a flow may know about the world while one event is processed."""

    def __init__(
        self,
        app: App,
        session: AsyncSession,
        *,
        channel: str,
        user_id: str,
        user_hash: str,
        person: PersonRow | None,
        now: datetime,
    ) -> None:
        self.app = app
        self.session = session
        self.now = now
        self.timezone = app.settings.timezone
        self.channel = channel
        self.user_id = user_id
        self.user_hash = user_hash
        self.person_row = person
        self.person = person_info(person)

    def new_key(self) -> str:
        return secrets.token_hex(16)

    async def find_invite(self, code: str) -> InviteInfo | None:
        row = await surveys.find_invite(self.session, self.app.keys.code_hash(code))
        if row is None:
            return None
        if row.expires_at is not None and row.expires_at <= self.now:
            status = "expired"
        elif row.kind == "dossier" and (
            row.used_at is not None or row.claimed_by not in (None, self.user_hash)
        ):
            status = "used"
        else:
            status = "ok"
        return InviteInfo(
            invite_id=row.id,
            kind=row.kind,
            unit_id=row.unit_id,
            unit_name=row.unit_name,
            procedure_id=row.procedure_id,
            procedure_name=row.procedure_name,
            dossier_id=row.dossier_id,
            questionnaire_code=row.questionnaire_code,
            status=status,
        )

    async def responded_today(self, unit_id: int, day: date) -> bool:
        return await surveys.responded_today(self.session, self.user_hash, unit_id, day)

    async def find_registration(self, code: str) -> PersonInfo | None:
        row = await people.find_by_registration(
            self.session, self.app.keys.code_hash(code), self.now
        )
        return person_info(row)
