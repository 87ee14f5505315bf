"""Small builders for database-backed tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy import select

from bot.core import engine
from bot.core.app import App
from bot.services.invites import issue_invite, issue_registration
from flows.contract import EventKind, InboundEvent
from storage import units
from storage.models import Outbox, Procedure, ProcedureField, Unit

_ids = itertools.count(1)


@dataclass
class Org:
    province: Unit
    ward: Unit
    ward2: Unit
    procedure: Procedure


def terminate_backends(db_url: str, application_name: str | None = None) -> int:
    """Kill the PostgreSQL connections to ``db_url``'s database (those named
    ``application_name``, or all but this one), as a restart would; how many."""
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    which = "application_name = %s" if application_name else "pid <> pg_backend_pid()"
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = current_database() AND {which}",
            (application_name,) if application_name else (),
        ).fetchone()[0]


async def make_org(app: App) -> Org:
    """A province with two wards and one procedure."""
    async with app.db.write() as session:
        province = await units.create_unit(session, "P", "Tỉnh Thử Nghiệm", "province")
        ward = await units.create_unit(session, "P.W1", "Phường Một", "ward", province)
        ward2 = await units.create_unit(session, "P.W2", "Phường Hai", "ward", province)
        f = ProcedureField(code="HT", name="Hộ tịch")
        session.add(f)
        await session.flush()
        proc = Procedure(code="T-HT-01", name="Đăng ký khai sinh", field_id=f.id)
        session.add(proc)
        await session.flush()
    return Org(province, ward, ward2, proc)


async def new_code(app: App, unit: Unit, *, kind: str = "dossier", procedure=None) -> str:
    async with app.db.write() as session:
        issued = await issue_invite(app, session, unit, kind=kind, procedure=procedure)
    return issued.code


async def new_registration(app: App, unit: Unit, role: str, name: str = "Nguyễn Văn An") -> str:
    async with app.db.write() as session:
        _pid, code = await issue_registration(app, session, name=name, role=role, unit=unit)
    return code


def event(
    user: str,
    *,
    text: str = "",
    payload: str = "",
    kind: EventKind | None = None,
    channel: str = "test",
    event_id: str | None = None,
    now=None,
) -> InboundEvent:
    from storage.types import utcnow

    if kind is None:
        kind = EventKind.BUTTON if payload and not text else EventKind.TEXT
    return InboundEvent(
        channel,
        user,
        event_id or f"ev{next(_ids)}",
        kind,
        now or utcnow(),
        text=text,
        payload=payload,
    )


class Citizen:
    """A chat user going through the real engine and database."""

    def __init__(self, app: App, user: str = "citizen-1", channel: str = "test") -> None:
        self.app = app
        self.user = user
        self.channel = channel

    async def say(self, text: str) -> list[dict]:
        await engine.handle(self.app, event(self.user, text=text, channel=self.channel))
        return await self.inbox()

    async def press(self, payload: str) -> list[dict]:
        await engine.handle(self.app, event(self.user, payload=payload, channel=self.channel))
        return await self.inbox()

    async def press_label(self, label: str) -> list[dict]:
        for message in reversed(await self.all_messages()):
            for button in message.get("buttons", []):
                if button["label"] == label:
                    return await self.press(button["payload"])
        raise AssertionError(f"no button {label!r}")

    async def all_messages(self) -> list[dict]:
        async with self.app.db.read() as session:
            rows = (
                await session.exec(
                    select(Outbox.payload)
                    .where(Outbox.recipient == self.user, Outbox.channel == self.channel)
                    .order_by(Outbox.id)
                )
            ).all()
        return [r[0] for r in rows]

    async def inbox(self) -> list[dict]:
        """The messages produced by the last event (those after the last one seen)."""
        messages = await self.all_messages()
        new = messages[getattr(self, "_seen", 0) :]
        self._seen = len(messages)
        return new

    async def text(self) -> str:
        return "\n".join(m["text"] for m in (await self.all_messages())[-3:])
