"""Reaching a person on the right channel; API keys."""

from __future__ import annotations

import httpx
from fastapi import Depends, FastAPI
from sqlalchemy import select

from bot.http.auth import require_api_key
from bot.services.notify import notify_person
from flows.contract import Reply
from storage import people
from storage.models import Outbox, Person
from tests.builders import Citizen, make_org, new_registration


async def test_notify_prefers_the_chosen_reachable_channel(app, clock):
    org = await make_org(app)
    code = await new_registration(app, org.ward, "official")
    await Citizen(app, "tg-1", channel="telegram").say(code)
    async with app.db.read() as session:
        person = (await session.exec(select(Person))).scalars().one()
    async with app.db.write() as session:  # a second channel, linked later
        await people.link_channel(
            session, person.id, "zalo", "za-1", app.keys.user_hash("zalo", "za-1"), app.now()
        )
        await session.exec(
            Person.__table__.update()
            .where(Person.id == person.id)
            .values(preferred_channel="telegram")
        )
    async with app.db.write() as session:
        assert await notify_person(
            session, person.id, Reply("Nhắc việc"), app.now(), dedupe_key="r1"
        )
        assert not await notify_person(
            session, person.id, Reply("Nhắc việc"), app.now(), dedupe_key="r1"
        )
        await people.mark_unreachable(
            session, "telegram", "blocked", app.now(), channel_user_id="tg-1"
        )
        assert await notify_person(session, person.id, Reply("Lần hai"), app.now())
        await people.mark_unreachable(
            session, "zalo", "unfollowed", app.now(), channel_user_id="za-1"
        )
        assert not await notify_person(session, person.id, Reply("Không ai nhận"), app.now())
    async with app.db.read() as session:
        sent = [
            (o.channel, o.recipient, o.payload["text"])
            for o in (
                await session.exec(
                    select(Outbox).where(Outbox.payload.is_not(None)).order_by(Outbox.id)
                )
            ).scalars()
        ]
    assert sent[-2:] == [("telegram", "tg-1", "Nhắc việc"), ("zalo", "za-1", "Lần hai")]


async def test_api_key(settings):
    from bot.core.app import App

    application = App(settings.model_copy(update={"api_keys": "key-one, key-two"}))
    api = FastAPI()
    api.state.sipas = application

    @api.get("/x")
    async def x(key: str = Depends(require_api_key)):
        return {"ok": True}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://t"
    ) as client:
        assert (await client.get("/x")).status_code == 401
        assert (await client.get("/x", headers={"Authorization": "Bearer nope"})).status_code == 401
        assert (
            await client.get("/x", headers={"Authorization": "Basic key-one"})
        ).status_code == 401
        assert (
            await client.get("/x", headers={"Authorization": "Bearer key-two"})
        ).status_code == 200
    await application.close()
