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


async def test_the_api_docs_load_without_internet(app):
    """/docs and /redoc name only files this server serves (a government intranet has
    no CDN), and each of those files is there."""
    import re

    api = create_app(app, run_background=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://t"
    ) as client:
        for page in ("/docs", "/redoc"):
            html = await client.get(page)
            assert html.status_code == 200, page
            urls = re.findall(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""", html.text)
            urls += re.findall(r"""url\s*:\s*['"]([^'"]+)['"]""", html.text)  # the spec
            assert urls, page
            external = [u for u in urls if not u.startswith("/")]
            assert external == [] and not re.search("https?://", html.text), (page, external)
            for url in urls:
                asset = await client.get(url)
                assert asset.status_code == 200 and asset.content, url
        spec = (await client.get("/openapi.json")).json()
        assert spec["info"]["title"] == "SIPAS survey bot"
        script = await client.get("/static-offline-docs/swagger-ui-bundle.js")
        assert b"SwaggerUIBundle" in script.content
