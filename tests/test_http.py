"""The HTTP server's own routes."""

from __future__ import annotations

import httpx

from bot.server import create_app


async def test_health_and_home(app):
    api = create_app(app, run_background=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://t"
    ) as client:
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        home = await client.get("/")
        assert home.status_code == 200 and "Bot khảo sát SIPAS" in home.text


async def test_health_reports_a_dead_database(app):
    api = create_app(app, run_background=False)
    await app.db.dispose()
    app.db.engine.url  # noqa: B018
    from storage.db import Database

    app.db = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://t"
    ) as client:
        health = await client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "error"
