"""A bot with ZNS switched on against the fake Zalo (OA + ZNS on 127.0.0.1): the HTTP
app in-process over ASGI, the ZNS sender with a real httpx client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import func, select

from bot.channels.zalo import zns_service
from bot.core.app import App
from bot.core.outbox_sender import Limits, OutboxSender
from bot.server import create_app
from tests.builders import make_org
from tests.conftest import make_settings
from tests.fake_zalo import FakeZalo
from tests.fake_zns import param

KEY = "key-of-the-one-stop-system"
AUTH = {"Authorization": f"Bearer {KEY}"}
INVITE = "tpl-invite-1001"
REMINDER = "tpl-reminder-2002"
INVITE_PARAMS = [
    param("ma_ho_so", 40),
    param("don_vi", 60),
    param("thu_tuc", 80),
    param("ngay_tra", 10),
    param("ma_khao_sat", 14),
]
REMINDER_PARAMS = [param("can_bo", 60), param("cong_viec", 100), param("han", 10), param("ma", 40)]
LIMITS = Limits(per_chat_interval=0, max_attempts=3, per_second=200)


def zns_settings(db_url, data_dir, fake: FakeZalo, **overrides):
    access, refresh = fake.issue_pair()
    values = {
        "zalo_app_id": fake.app_id,
        "zalo_app_secret": fake.app_secret,
        "zalo_oa_secret": fake.oa_secret,
        "zalo_api_base": fake.api_base,
        "zalo_oauth_base": fake.oauth_base,
        "zalo_access_token": access,
        "zalo_refresh_token": refresh,
        "zns_enabled": True,
        "zns_api_base": fake.zns_base,
        "zns_invite_template_id": INVITE,
        "zns_reminder_template_id": REMINDER,
        "api_keys": KEY,
    }
    values.update(overrides)
    return make_settings(db_url, data_dir, **values)


class ZnsWorld:
    def __init__(self, app: App, fake: FakeZalo, zns, http: httpx.AsyncClient) -> None:
        self.app = app
        self.fake = fake
        self.zns = zns
        self.http = http
        self.sender = OutboxSender(app, zns.transport, LIMITS)
        self.org = None

    async def dossier(self, receipt: str, phone: str | None = "0905 123 456", **extra):
        body = {
            "receipt_code": receipt,
            "unit_code": "P.W1",
            "procedure_code": "T-HT-01",
            "completed_at": "2026-11-24T08:15:00+07:00",
            **extra,
        }
        if phone is not None:
            body["citizen"] = {"phone": phone}
        return await self.http.post("/api/v1/dossiers", json=body, headers=AUTH)

    async def drain(self) -> None:
        while await self.sender.run_once():
            pass

    async def post_event(self, event: dict) -> httpx.Response:
        body, headers = self.fake.signed(event)
        return await self.http.post("/webhooks/zalo", content=body, headers=headers)

    async def sync(self, since=None):
        return await zns_service.sync_ratings(self.app, self.zns.client, since)

    async def count(self, model, *where) -> int:
        async with self.app.db.read() as session:
            stmt = select(func.count()).select_from(model)
            for condition in where:
                stmt = stmt.where(condition)
            return (await session.exec(stmt)).scalar_one()


@contextlib.asynccontextmanager
async def zns_world(db_url, tmp_path, clock, **overrides) -> AsyncIterator[ZnsWorld]:
    async with FakeZalo() as fake:
        fake.add_template(INVITE, INVITE_PARAMS)
        fake.add_template(REMINDER, REMINDER_PARAMS)
        app = App(zns_settings(db_url, tmp_path / "data", fake, **overrides), clock=clock)
        try:
            api = create_app(app, run_background=False)
            transport = httpx.ASGITransport(app=api)
            async with (
                zns_service.open_zns(app) as zns,
                httpx.AsyncClient(transport=transport, base_url="http://sipas.test") as http,
            ):
                world = ZnsWorld(app, fake, zns, http)
                world.org = await make_org(app)
                yield world
        finally:
            await app.close()
