"""Webhooks keep answering while ``sipas-bot import dossiers`` loads a large file into the
same SQLite database from another process (it holds the write lock only for short
transactions). No timing is asserted: every webhook answered 200 and the import finished."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from bot.core.app import App
from bot.server import create_app
from storage.models import Dossier, Response
from tests.builders import make_org
from tests.citizens import issue_codes, telegram_citizen
from tests.conftest import make_settings
from tests.fake_telegram import FakeTelegram

SECRET = "s3cret_Token-for-tests"
ROWS = 10_000


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake


async def test_webhooks_answer_while_a_large_import_runs(sqlite_url, tmp_path, tg):
    settings = make_settings(
        sqlite_url,
        tmp_path / "data",
        public_url="https://bot.example.vn",
        telegram_webhook_secret=SECRET,
        telegram_token=tg.token,
        telegram_api_base=tg.url,
    )
    app = App(settings)
    org = await make_org(app)
    codes = await issue_codes(app, org.ward, org.procedure, 60)
    ids = itertools.count(1)
    citizens = [telegram_citizen(5000 + i, code, SECRET, ids) for i, code in enumerate(codes)]
    path = tmp_path / "dossiers.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write(
            "receipt_code,unit_code,procedure_code,completed_at,citizen_channel,citizen_user_id\n"
        )
        for i in range(ROWS):
            chat = f"telegram,{900000 + i}" if i % 5 == 0 else ","
            fh.write(f"W-{i:06d},P.W1,T-HT-01,20/11/2026 10:00,{chat}\n")
    api = create_app(app, run_background=False)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://t", timeout=60
    )
    # The first webhook imports the Telegram library (seconds): before the import starts.
    for request in citizens.pop().requests:
        assert (
            await http.post(request.path, content=request.body, headers=request.headers)
        ).status_code == 200
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    env.update(
        SIPAS_DATABASE_URL=sqlite_url,
        SIPAS_DATA_DIR=str(tmp_path / "data"),
        SIPAS_SECRET_KEY=settings.secret_key.get_secret_value(),
        SIPAS_TELEGRAM_TOKEN=tg.token,
        SIPAS_TELEGRAM_API_BASE=tg.url,
    )
    importer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "import",
        "dossiers",
        str(path),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    # The check phase writes nothing: wait for its last line (the one without "time left"),
    # printed as publishing begins.
    progress: list[str] = []
    while not any(p.startswith("Đang kiểm tra") and "còn khoảng" not in p for p in progress):
        line = await importer.stderr.readline()
        assert line, b"".join(progress).decode()  # the import ended before publishing
        progress.append(line.decode())
    drain = asyncio.create_task(importer.stderr.read())

    statuses: Counter = Counter()
    during_import = 0
    try:
        for citizen in citizens:
            for request in citizen.requests:
                r = await http.post(request.path, content=request.body, headers=request.headers)
                statuses[r.status_code] += 1
                during_import += importer.returncode is None
            if importer.returncode is not None:
                break
        rest = (await drain).decode()
        assert await importer.wait() == 0, "".join(progress) + rest
    finally:
        await http.aclose()
        if importer.returncode is None:
            importer.kill()
            await importer.wait()
        await app.close()

    assert during_import > 0  # the webhooks did run while the import was loading
    assert set(statuses) == {200}, statuses
    app = App(settings)
    try:
        async with app.db.read() as session:
            dossiers = (await session.exec(select(func.count()).select_from(Dossier))).one()[0]
            done = (
                await session.exec(
                    select(func.count()).select_from(Response).where(Response.status == "completed")
                )
            ).one()[0]
    finally:
        await app.close()
    assert dossiers == ROWS
    assert done == 1 + sum(statuses.values()) // len(citizens[0].requests)
