"""A newcomer's first minute: demo codes with a link to try, and a home page that leads on."""

from __future__ import annotations

import re

import httpx

from bot.cli import main
from bot.server import create_app

LINK = re.compile(r"http://127\.0\.0\.1:8080/chat\?code=([0-9A-Z]{12})")


def test_every_make_run_tells_how_to_try_a_survey(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("SIPAS_DATA_DIR", str(tmp_path / "data"))
    for name in ("SIPAS_PUBLIC_URL", "SIPAS_HTTP_PORT", "SIPAS_HTTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    assert main(["db", "upgrade"]) == 0
    assert main(["demo", "--if-empty", "--responses", "0"]) == 0
    first = capsys.readouterr().out
    assert "Thử khảo sát trên trình duyệt:" in first and LINK.search(first)
    # The second run loads nothing, and still hands out a code that has not been used.
    assert main(["demo", "--if-empty"]) == 0
    second = capsys.readouterr().out
    assert "không nạp dữ liệu mẫu" in second and "Mã khảo sát mẫu mới" in second
    assert LINK.search(second).group(1) != LINK.search(first).group(1)


async def test_the_home_page_links_the_web_chat_docs_and_health(app):
    asgi = create_app(app, run_background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://t") as c:
        home = await c.get("/")
        for href in ("/chat", "/docs", "/healthz"):
            assert f'href="{href}"' in home.text
            assert (await c.get(href)).status_code == 200
        assert "Trò chuyện trên web" in home.text
