"""Limits over real HTTP: body caps, quiet 422s, throttles, Zalo's app and time window,
and who may read /metrics."""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import pytest
from sqlalchemy import func, select

from bot.core.app import App
from storage.models import InboundEvent, Outbox
from tests.citizens import TELEGRAM_PATH, TELEGRAM_SECRET_HEADER, ZALO_PATH, telegram_message
from tests.fake_telegram import TOKEN
from tests.fake_zalo import ZaloEvents
from tests.live import LiveServer

SECRET = "limits_Secret-1"
ZALO_APP_ID = "4411223344556677889"
ZALO_OA_SECRET = "limits-oa-secret"
API_KEY = "limits-api-key"
CHANNELS = {
    "telegram_token": TOKEN,
    "telegram_webhook_secret": SECRET,
    "zalo_app_id": ZALO_APP_ID,
    "zalo_oa_secret": ZALO_OA_SECRET,
    "api_keys": API_KEY,
}
TG_HEADERS = {"Content-Type": "application/json", TELEGRAM_SECRET_HEADER: SECRET}


@pytest.fixture
def live(sqlite_url, tmp_path):
    with LiveServer(sqlite_url, tmp_path / "data", **CHANNELS) as server:
        yield server


async def count(settings, model, *where) -> int:
    app = App(settings)
    try:
        async with app.db.read() as session:
            stmt = select(func.count()).select_from(model).where(*where)
            return (await session.exec(stmt)).scalar_one()
    finally:
        await app.close()


# --- bodies ---------------------------------------------------------------------------


async def declare(base: str, path: str, length: int, headers: dict[str, str]) -> bytes:
    """Send only the head of a POST declaring ``length`` bytes; the server's answer."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    writer.write(head.encode())
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(65536), 30)
    finally:
        writer.close()


async def test_bodies_over_the_cap_are_refused_unread_and_never_echoed(live):
    # 50 MB declared with the right secret: refused before a byte of it is read.
    answer = await declare(live.base, TELEGRAM_PATH, 50 * 1024 * 1024, TG_HEADERS)
    assert answer.startswith(b"HTTP/1.1 413")
    auth = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    answer = await declare(live.base, "/api/v1/dossiers", 10 * 1024 * 1024, auth)
    assert answer.startswith(b"HTTP/1.1 413") and len(answer) < 500
    async with httpx.AsyncClient(base_url=live.base, timeout=60) as http:

        async def chunks():  # no Content-Length: the cap counts the bytes as they come
            for _ in range(17):
                yield b"a" * 16384

        r = await http.post(TELEGRAM_PATH, content=chunks(), headers=TG_HEADERS)
        assert r.status_code == 413
        r = await http.post("/api/v1/dossiers", content=chunks(), headers=auth)
        assert r.status_code == 413

        # Under the cap but invalid: a 422 in FastAPI's shape, without the input.
        body = json.dumps({"receipt_code": "y" * 40_000, "k" * 5000: 1}).encode()
        r = await http.post("/api/v1/dossiers", content=body, headers=auth)
        assert r.status_code == 422 and len(r.content) < 4000
        errors = r.json()["detail"]
        assert errors and all(set(e) == {"loc", "msg", "type"} for e in errors)
        assert "yyyy" not in r.text and "kkkk" * 20 not in r.text

        r = await http.post("/chat", content=b"text=" + b"z" * 20_000)
        assert r.status_code == 413
    assert await count(live.settings, InboundEvent) == 0


# --- throttles --------------------------------------------------------------------------


def _fields(html: str) -> dict[str, str]:
    return {
        "csrf": re.search(r'name="csrf" value="([^"]+)"', html).group(1),
        "n": re.search(r'name="n" value="([^"]+)"', html).group(1),
    }


def _post_lines(base: str, n: int) -> list[int]:
    """A new web-chat session posting ``n`` lines as fast as it can; the statuses."""
    with httpx.Client(base_url=base, timeout=30) as browser:
        page = browser.get("/chat").text
        statuses = []
        for i in range(n):
            r = browser.post("/chat", data={**_fields(page), "n": f"{i:016x}", "text": "hi"})
            statuses.append(r.status_code)
        return statuses


def test_one_session_posting_fast_is_slowed_politely_others_are_not(live):
    statuses = _post_lines(live.base, 34)
    assert statuses[:30] == [303] * 30 and set(statuses[30:]) == {429}
    with httpx.Client(base_url=live.base, timeout=30) as browser:
        page = browser.get("/chat").text
        r = browser.post("/chat", data={**_fields(page), "text": "hi"})
        assert r.status_code == 303  # another session on the same address goes on
    # The page says why, in Vietnamese, and when to come back.
    with httpx.Client(base_url=live.base, timeout=30) as browser:
        page = browser.get("/chat").text
        for _ in range(31):
            r = browser.post("/chat", data={**_fields(page), "text": "hi"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "Xin Ông/Bà chờ một lát" in r.text


def test_an_office_behind_one_address_is_not_hurt_by_the_address_limit(live):
    # Twelve citizens on one NAT address, each as busy as a survey makes them.
    assert all(s == 303 for _ in range(12) for s in _post_lines(live.base, 10))


def test_the_address_limit_holds_across_sessions(sqlite_url, tmp_path):
    settings = {**CHANNELS, "web_posts_per_minute_per_address": 12}
    with LiveServer(sqlite_url, tmp_path / "data", **settings) as live:
        statuses = [s for _ in range(4) for s in _post_lines(live.base, 4)]
    assert statuses[:12] == [303] * 12 and set(statuses[12:]) == {429}


def test_code_guesses_from_one_chat_are_slowed_with_a_polite_reply(sqlite_url, tmp_path):
    settings = {**CHANNELS, "code_tries_per_hour": 9}  # a burst of 3
    with LiveServer(sqlite_url, tmp_path / "data", **settings) as live:
        with httpx.Client(base_url=live.base, timeout=30) as http:
            for n in range(5):
                update = telegram_message(70_000 + n, 4242, n + 1, f"/start K7QM2XWD9RT{n}")
                r = http.post(TELEGRAM_PATH, content=json.dumps(update), headers=TG_HEADERS)
                assert r.status_code == 200
            other = telegram_message(70_100, 4343, 1, "/start K7QM2XWD9RTX")
            assert http.post(TELEGRAM_PATH, content=json.dumps(other), headers=TG_HEADERS)

        async def texts(app: App, chat: str) -> list[str]:
            async with app.db.read() as session:
                stmt = select(Outbox.payload).where(Outbox.recipient == chat).order_by(Outbox.id)
                rows = (await session.exec(stmt)).scalars()
                return [json.dumps(p, ensure_ascii=False) for p in rows]

        mine = live.run(lambda app: texts(app, "4242"))
        theirs = live.run(lambda app: texts(app, "4343"))
    slowed = [t for t in mine if "nhập nhiều mã" in t]
    assert len(mine) == 5 and len(slowed) == 2  # the fourth and fifth tries
    assert not any("nhập nhiều mã" in t for t in theirs)  # another chat is not slowed


# --- Zalo: our app, and recent -----------------------------------------------------------


async def test_zalo_refuses_signed_events_of_another_app_or_from_long_ago(live):
    signer = ZaloEvents(ZALO_APP_ID, ZALO_OA_SECRET)
    year_ago = int((time.time() - 365 * 86400) * 1000)
    old = signer.text_event("5510001", "hello", "zmsg-old", year_ago)
    ahead = signer.text_event(
        "5510001", "hello", "zmsg-ahead", int(time.time() * 1000) + 3_000_000_000
    )
    other = signer.text_event("5510001", "hello", "zmsg-other")
    other["app_id"] = "1234567890"
    missing = signer.text_event("5510001", "hello", "zmsg-none")
    del missing["app_id"]
    fresh = signer.text_event("5510001", "hello", "zmsg-fresh")
    async with httpx.AsyncClient(base_url=live.base, timeout=30) as http:
        for event in (old, ahead, other, missing):
            body, headers = signer.signed(event)
            r = await http.post(ZALO_PATH, content=body, headers=headers)
            assert r.status_code == 403, event
        assert await count(live.settings, InboundEvent) == 0
        body, headers = signer.signed(fresh)
        assert (await http.post(ZALO_PATH, content=body, headers=headers)).status_code == 200
    assert await count(live.settings, InboundEvent) == 1


# --- /metrics ---------------------------------------------------------------------------


async def test_metrics_answer_local_clients_and_count_what_happens(live):
    async with httpx.AsyncClient(base_url=live.base, timeout=30) as http:
        update = telegram_message(80_001, 5151, 1, "/start")
        assert (
            await http.post(TELEGRAM_PATH, content=json.dumps(update), headers=TG_HEADERS)
        ).status_code == 200
        r = await http.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        text = r.text
        processed = r'sipas_inbound_events_total\{channel="telegram",outcome="processed"\} [1-9]'
        assert re.search(processed, text)
        assert 'sipas_step_seconds_bucket{channel="telegram"' in text
        assert re.search(r'sipas_step_path_total\{path="locked"\} [1-9]', text)  # a /start
        assert re.search(r'sipas_outbox_depth\{channel="telegram",status="pending"\} [1-9]', text)
        assert "sipas_reminders_due 0.0" in text
        proxied = await http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 403


def test_metrics_with_a_token_need_it(sqlite_url, tmp_path):
    live = LiveServer(sqlite_url, tmp_path / "data", metrics_token="m-token-1")
    with live, httpx.Client(base_url=live.base, timeout=30) as http:
        assert http.get("/metrics").status_code == 403
        bad = {"Authorization": "Bearer m-token-2"}
        assert http.get("/metrics", headers=bad).status_code == 403
        good = {"Authorization": "Bearer m-token-1"}
        assert http.get("/metrics", headers=good).status_code == 200
