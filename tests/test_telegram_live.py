"""Whole conversations over Telegram: the real service (long polling or a webhook served
by uvicorn) against the fake Bot API server, on SQLite and PostgreSQL and through each
library behind the seam (python-telegram-bot, aiogram); the webhook's checks; a
``sipas-bot serve`` process killed with SIGKILL in the middle of a survey and started
again; and the library not chosen never imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Callable

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from bot.channels.telegram import service as telegram_service
from bot.channels.telegram.seam import LIBRARIES
from bot.core import engine
from bot.core.app import App
from bot.server import create_app
from storage.models import Answer, InboundEvent, Outbox, Response
from tests.builders import make_org, new_code
from tests.conftest import make_settings
from tests.fake_telegram import FakeMessage, FakeTelegram, FakeUser
from tests.processes import free_port, start_serving, stop_process

SECRET = "s3cret_Token-for-tests"
STARTUP = 90  # seconds a new process may take to start on a busy 2-core machine
COMMENT = "Cán bộ <b>nhiệt tình</b> & chu đáo"
# The quick questionnaire: press this, then a message containing that arrives.
SURVEY = [
    ("Rất hài lòng", "Ông/Bà có thể dành thêm"),
    ("Có, tiếp tục", "Câu 2/6"),
    ("Hài lòng", "Câu 3/6"),
    ("Bình thường", "Câu 4/6"),
    ("Bỏ qua", "Câu 5/6"),
    ("Hài lòng", "Câu 6/6"),
    ("Rất hài lòng", "góp ý"),
]
ANSWERS = {"overall": 5, "E1": 4, "E2": 3, "E3": None, "E4": 4, "E5": 5}


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture(params=sorted(LIBRARIES))
def library(request) -> str:
    return request.param


def fast(tg: FakeTelegram, library: str, **overrides) -> dict:
    """Settings for the fake server, with small limits so the tests stay quick."""
    return {
        "telegram_library": library,
        "telegram_token": tg.token,
        "telegram_api_base": tg.url,
        "telegram_chat_interval": 0.05,
        "telegram_rate": 100,
        **overrides,
    }


async def expect(tg: FakeTelegram, user: FakeUser, act: Callable[[], object], text: str):
    """Do ``act`` as the user, then wait for a bot message containing ``text``."""
    seen = len(user.messages)
    act()

    def arrived() -> FakeMessage | None:
        return next((m for m in user.messages[seen:] if text in (m.text or "")), None)

    return await tg.wait_for(arrived, within=15)


async def take_survey(tg: FakeTelegram, user: FakeUser, code: str, *, sticker: bool) -> None:
    await expect(tg, user, lambda: user.send(f"/start {code}"), "Câu 1/6")
    for n, (label, reply) in enumerate(SURVEY):
        if sticker and n == 3:  # a sticker mid-survey: a polite hint, the question again
            hint = await expect(tg, user, user.send_sticker, "chỉ đọc được tin nhắn chữ")
            assert "Câu 3/6" in hint.text and hint.buttons
        await expect(tg, user, lambda label=label: user.press(label), reply)
    await expect(tg, user, lambda: user.send(COMMENT), "Xin cảm ơn Ông/Bà")


async def assert_survey_stored(app: App, tg: FakeTelegram, user: FakeUser) -> None:
    async with app.db.read() as session:
        response = (await session.exec(select(Response))).scalars().one()
        answers = dict(
            (await session.exec(select(Answer.item_code, Answer.value))).all()  # type: ignore[arg-type]
        )
    assert response.status == "completed" and response.channel == "telegram"
    assert response.comment == COMMENT  # stored and shown as typed: no parse mode anywhere
    assert answers == ANSWERS
    async with asyncio.timeout(5):  # the last row is marked a moment after its call
        while True:
            if not await unsent(app):
                break
            await asyncio.sleep(0.02)
    # Every press answered; every pressed keyboard replaced by the choice.
    assert len(tg.answered) == len(SURVEY) == len(tg._queries)
    pressed = [m for m in user.messages if m.edits]
    assert len(pressed) == len(SURVEY)
    assert [m.text.rsplit("✅ ", 1)[1] for m in pressed] == [label for label, _ in SURVEY]
    assert not any(m.buttons for m in pressed)
    sent = [c.params["text"] for c in tg.calls_of("sendMessage", ok=True)]
    assert len(sent) == len(set(sent)), "a message went out twice"
    assert not any("parse_mode" in c.params for c in tg.calls)


async def unsent(app: App) -> int:
    async with app.db.read() as session:
        stmt = select(func.count()).select_from(Outbox).where(Outbox.status != "sent")
        return (await session.exec(stmt)).scalar_one()


async def test_a_whole_survey_over_long_polling(db_url, tmp_path, tg, library, caplog):
    settings = make_settings(
        db_url, tmp_path / "data", telegram_bot_username="some_other_bot", **fast(tg, library)
    )
    app = App(settings)
    stop = asyncio.Event()
    service = None
    try:
        org = await make_org(app)
        code = await new_code(app, org.ward, procedure=org.procedure)
        service = asyncio.create_task(telegram_service.run(app, stop))
        user = tg.user(1001)
        await take_survey(tg, user, code, sticker=True)
        await tg.wait_for(lambda: tg.pending_updates == 0)  # every update confirmed
        await assert_survey_stored(app, tg, user)
        assert not tg.webhook_calls  # polling: every press answered from the outbox
    finally:
        stop.set()
        if service is not None:
            await asyncio.wait_for(service, 10)
        await app.close()

    methods = [c.method for c in tg.calls]
    assert methods[0] == "getMe" and methods.index("deleteWebhook") < methods.index("getUpdates")
    assert "the token belongs to @sipas_test_bot" in caplog.text  # a wrong username is told
    assert tg.token not in caplog.text
    assert {"vi", "en", ""} <= set(tg.commands)
    assert tg.webhook is None and not tg.deliveries


@contextlib.asynccontextmanager
async def serving(db_url: str, tmp_path, tg: FakeTelegram, library: str):
    """``create_app`` served by uvicorn on a random port, its public URL set to it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(
        db_url,
        tmp_path / "data",
        public_url=url,
        telegram_webhook_secret=SECRET,
        **fast(tg, library),
    )
    app = App(settings)
    server = uvicorn.Server(uvicorn.Config(create_app(app), log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield app
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()
        await app.close()


async def test_a_whole_survey_over_the_webhook(db_url, tmp_path, tg, library):
    async with serving(db_url, tmp_path, tg, library) as app:
        org = await make_org(app)
        code = await new_code(app, org.ward, procedure=org.procedure)
        await tg.wait_for(lambda: tg.webhook, within=15)  # set on start, with the secret
        assert tg.webhook == {
            "url": f"{app.settings.public_url}/webhooks/telegram",
            "secret_token": SECRET,
        }
        user = tg.user(2002)
        await take_survey(tg, user, code, sticker=False)
        await assert_survey_stored(app, tg, user)
        assert not tg.calls_of("getUpdates")
        assert all(status == 200 for _, status in tg.deliveries)
        # Each press was answered by "Telegram" from the webhook's 200, none from the outbox.
        answers = [c for c in tg.calls_of("answerCallbackQuery") if c.status == 200]
        assert len(answers) == len(SURVEY) and all(c in tg.webhook_calls for c in answers)
        async with app.db.read() as session:
            payloads = (await session.exec(select(Outbox.payload))).scalars().all()
        assert not [p for p in payloads if "answerCallbackQuery" in str(p)]


# --- the webhook's checks (in process) -------------------------------------------------


async def count(app: App, model) -> int:
    async with app.db.read() as session:
        return (await session.exec(select(func.count()).select_from(model))).scalar_one()


def text_update(update_id: int, text: str) -> dict:
    chat = {"id": 77, "type": "private"}
    sender = {"id": 77, "is_bot": False, "first_name": "An"}
    message = {"message_id": 1, "date": 1_795_000_000, "chat": chat, "from": sender, "text": text}
    return {"update_id": update_id, "message": message}


@pytest.fixture
async def hook(db_url, tmp_path, tg, library):
    settings = make_settings(
        db_url,
        tmp_path / "data",
        public_url="https://bot.example.vn",
        telegram_webhook_secret=SECRET,
        **fast(tg, library),
    )
    app = App(settings)
    api = create_app(app, run_background=False)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield app, client
    await app.close()


async def test_the_webhook_refuses_a_wrong_or_missing_secret_and_stores_nothing(hook):
    app, client = hook
    body = text_update(1, "/start")
    for headers in (
        {},
        {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
        {"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"},
    ):
        r = await client.post("/webhooks/telegram", json=body, headers=headers)
        assert r.status_code == 401
    bad = await client.post(
        "/webhooks/telegram",
        content=b"{not json",
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert bad.status_code == 400
    not_an_update = await client.post(
        "/webhooks/telegram", json={"hello": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert not_an_update.status_code == 400
    assert await count(app, InboundEvent) == 0 and await count(app, Outbox) == 0


async def test_a_press_is_answered_in_the_200_whatever_its_id_holds(hook):
    app, client = hook
    headers = {
        "X-Telegram-Bot-Api-Secret-Token": SECRET,
        "Content-Type": "application/json",
    }
    sender = '"from": {"id": 77, "is_bot": false, "first_name": "An"}'
    for update_id, query_id in ((20, "4382bfdwdsb323b2d9"), (21, "\\ud800x")):
        body = (
            f'{{"update_id": {update_id}, "callback_query": {{"id": "{query_id}", {sender}, '
            '"chat_instance": "c", "data": "x"}}'
        )
        answered = await client.post("/webhooks/telegram", content=body, headers=headers)
        assert answered.status_code == 200, answered.text
        assert answered.json() == {
            "method": "answerCallbackQuery",
            "callback_query_id": json.loads(f'"{query_id}"'),
        }
    assert await count(app, InboundEvent) == 2  # both committed before their 200
    async with app.db.read() as session:
        payloads = (await session.exec(select(Outbox.payload))).scalars().all()
    assert not [p for p in payloads if "answerCallbackQuery" in str(p)]


async def test_the_webhook_answers_200_once_committed_and_500_when_processing_fails(
    hook, monkeypatch
):
    app, client = hook
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    ok = await client.post("/webhooks/telegram", json=text_update(10, "/start"), headers=headers)
    assert ok.status_code == 200
    stored = (await count(app, InboundEvent), await count(app, Outbox))
    assert stored[0] == 1 and stored[1] >= 1
    again = await client.post("/webhooks/telegram", json=text_update(10, "/help"), headers=headers)
    assert (
        again.status_code == 200
        and (await count(app, InboundEvent), await count(app, Outbox)) == stored
    )

    real_handle = engine.handle

    async def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(engine, "handle", broken)
    failed = await client.post("/webhooks/telegram", json=text_update(11, "/help"), headers=headers)
    assert failed.status_code == 500
    assert (await count(app, InboundEvent), await count(app, Outbox)) == stored
    monkeypatch.setattr(engine, "handle", real_handle)
    redelivered = await client.post(
        "/webhooks/telegram", json=text_update(11, "/help"), headers=headers
    )
    assert redelivered.status_code == 200 and await count(app, InboundEvent) == 2


async def test_without_webhook_settings_the_route_does_not_exist(app):
    api = create_app(app, run_background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://t") as c:
        r = await c.post("/webhooks/telegram", json=text_update(1, "x"))
    assert r.status_code == 404


# --- a real process, killed and started again ---------------------------------------------


@pytest.mark.slow
async def test_a_killed_process_continues_the_survey_after_restart(
    sqlite_url, tmp_path, tg, library
):
    # One database is enough here: what is under test is the process dying, and a new
    # process costs seconds on a busy machine.
    db_url = sqlite_url
    settings = make_settings(db_url, tmp_path / "data", **fast(tg, library))
    app = App(settings)  # the test's view of the same database
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    env.update(
        SIPAS_DATABASE_URL=db_url,
        SIPAS_DATA_DIR=str(tmp_path / "data"),
        SIPAS_SECRET_KEY=settings.secret_key.get_secret_value(),
        SIPAS_TELEGRAM_LIBRARY=library,
        SIPAS_TELEGRAM_TOKEN=tg.token,
        SIPAS_TELEGRAM_API_BASE=tg.url,
        SIPAS_TELEGRAM_CHAT_INTERVAL="0.05",
        SIPAS_HTTP_PORT=str(free_port()),
    )
    log_path = tmp_path / "serve.log"
    proc = None
    try:
        org = await make_org(app)
        code = await new_code(app, org.ward, procedure=org.procedure)
        proc = await start_serving(env, log_path)
        await tg.wait_for(lambda: tg.calls_of("getUpdates"), within=STARTUP)
        user = tg.user(3003)
        await expect(tg, user, lambda: user.send(f"/start {code}"), "Câu 1/6")
        for label, reply in SURVEY[:2]:
            await expect(tg, user, lambda label=label: user.press(label), reply)

        # The next reply fails to go out (500), so it is still in the outbox when the
        # process dies; the answer that caused it is committed.
        outage = tg.inject("sendMessage", 500, times=10_000, when=lambda p: p["chat_id"] == 3003)
        user.press(SURVEY[2][0])
        await tg.wait_for(lambda: tg.calls_of("sendMessage", ok=False), within=15)

        async def waiting_for_retry() -> bool:
            async with app.db.read() as session:
                row = (
                    (await session.exec(select(Outbox).order_by(Outbox.id.desc())))
                    .scalars()
                    .first()
                )
            return row.status == "pending" and row.last_error is not None

        async with asyncio.timeout(10):
            while True:
                if await waiting_for_retry():
                    break
                await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        outage.times = 0

        proc = await start_serving(env, log_path)
        await tg.wait_for(lambda: any("Câu 3/6" in t for t in user.texts), within=STARTUP)
        for label, reply in SURVEY[3:]:
            await expect(tg, user, lambda label=label: user.press(label), reply)
        await expect(tg, user, lambda: user.send(COMMENT), "Xin cảm ơn Ông/Bà")

        async with app.db.read() as session:
            answers = dict((await session.exec(select(Answer.item_code, Answer.value))).all())  # type: ignore[arg-type]
            response = (await session.exec(select(Response))).scalars().one()
        assert answers == ANSWERS and response.status == "completed"
        sent = [c.params["text"] for c in tg.calls_of("sendMessage", ok=True)]
        assert len([t for t in sent if t.startswith("Câu 3/6")]) == 1  # once, after the restart
        assert len(sent) == len(set(sent)), "a message went out twice"
    except BaseException:
        print(log_path.read_text(errors="replace") if log_path.exists() else "(no log)")
        raise
    finally:
        await stop_process(proc)
        await app.close()


# --- the library not chosen is never imported ------------------------------------------

# Run in a fresh interpreter: the Telegram service on SIPAS_TELEGRAM_LIBRARY (long polling
# against the fake), the ASGI app with the webhook route and what it loads on an update,
# until one reply went out through the sender; then which libraries were imported.
ISOLATION_CHILD = """
import asyncio, json, sys
from sqlalchemy import func, select
from bot.core.app import App
from bot.core.settings import Settings
from bot.http import telegram_webhook
from bot.server import background_services, create_app
from storage.models import Outbox

async def main():
    app = App(Settings(_env_file=None))
    create_app(app)
    telegram_webhook._telegram()
    stop = asyncio.Event()
    (name, service), = [s for s in background_services(app) if s[0] == "telegram"]
    task = asyncio.create_task(service(stop))
    async with asyncio.timeout(60):
        while True:
            async with app.db.read() as session:
                stmt = select(func.count()).select_from(Outbox).where(Outbox.status == "sent")
                if (await session.exec(stmt)).scalar_one():
                    break
            await asyncio.sleep(0.05)
    stop.set()
    await task
    await app.close()
    top = {m.split(".", 1)[0] for m in sys.modules}
    print(json.dumps({"aiogram": "aiogram" in top, "telegram": "telegram" in top}))

asyncio.run(main())
"""


async def test_the_library_not_chosen_is_never_imported(sqlite_url, tmp_path, tg, library):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIPAS_", "PTB_"))}
    env.update(
        SIPAS_DATABASE_URL=sqlite_url,
        SIPAS_DATA_DIR=str(tmp_path / "data"),
        SIPAS_SECRET_KEY="test-secret-key-not-for-production",
        SIPAS_TELEGRAM_TOKEN=tg.token,
        SIPAS_TELEGRAM_API_BASE=tg.url,
        SIPAS_TELEGRAM_CHAT_INTERVAL="0.05",
    )
    if library != "ptb":  # ptb is the default: unset means ptb
        env["SIPAS_TELEGRAM_LIBRARY"] = library
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ISOLATION_CHILD,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    user = tg.user(4004)
    await tg.wait_for(lambda: tg.calls_of("getUpdates"), within=STARTUP)
    user.send("/help")
    out, err = await asyncio.wait_for(child.communicate(), STARTUP)
    assert child.returncode == 0, err.decode(errors="replace")[-3000:]
    imported = json.loads(out.decode().strip().splitlines()[-1])
    assert imported == {"telegram": library == "ptb", "aiogram": library == "aiogram"}
    assert user.messages, "the reply went out through the chosen library"
    assert tg.pending_updates == 0  # and the update was confirmed
