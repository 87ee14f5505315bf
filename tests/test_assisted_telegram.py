"""A surveyor enters a whole phiếu over Telegram: the real service (both libraries, long
polling) against the fake Bot API server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.channels.telegram import service as telegram_service
from bot.core.app import App
from flows import questionnaire as qn
from storage.models import Answer, Response, ResponseOrigin
from tests.builders import make_org, new_registration
from tests.conftest import make_settings
from tests.test_telegram_live import expect, fast, library, tg  # noqa: F401  (fixtures)


async def test_a_surveyor_enters_a_phieu_over_telegram(db_url, tmp_path, tg, library):  # noqa: F811
    app = App(make_settings(db_url, tmp_path / "data", **fast(tg, library)))
    stop = asyncio.Event()
    service = None
    try:
        org = await make_org(app)
        code = await new_registration(app, org.province, "surveyor", name="Lê Khảo Sát")
        service = asyncio.create_task(telegram_service.run(app, stop))
        user = tg.user(3003)
        await expect(tg, user, lambda: user.send(f"/start {code}"), "khảo sát viên")
        await expect(tg, user, lambda: user.send("/phieu"), "Phiếu mới")
        await expect(tg, user, lambda: user.press("Phường Hai (P.W2)"), "Người dân đến làm")
        await expect(tg, user, lambda: user.press("Đăng ký khai sinh"), "câu 1/19")
        total = len(qn.get("sipas-2023").items)
        for n in range(2, total + 1):
            await expect(tg, user, lambda: user.press("Rất hài lòng"), f"câu {n}/19")
        await expect(tg, user, lambda: user.press("Hài lòng"), "Góp ý của người dân")
        await expect(tg, user, lambda: user.send("Nhân viên nhiệt tình"), "Lưu phiếu này?")
        await expect(tg, user, lambda: user.press("Lưu phiếu"), "Đã lưu phiếu")
    finally:
        stop.set()
        if service is not None:
            await asyncio.wait_for(service, 10)

    try:
        async with app.db.read() as session:
            response = (await session.exec(select(Response))).scalars().one()
            values = (await session.exec(select(Answer.value))).scalars().all()
            origin = (await session.exec(select(ResponseOrigin))).scalars().one()
        assert (response.channel, response.status, response.unit_id) == (
            "assisted",
            "completed",
            org.ward2.id,
        )
        assert response.comment == "Nhân viên nhiệt tình" and origin.surveyor_id is not None
        assert sorted(values) == [4] + [5] * (total - 1)
    finally:
        await app.close()
