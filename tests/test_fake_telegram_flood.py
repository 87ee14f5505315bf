"""The fake Bot API's flood-limit mode: 30 sends per second per bot, 1 per second per chat.

A real aiogram client talks to it; the fake's clock is moved by hand so the test does not
depend on how fast the machine is.
"""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter

from tests.fake_telegram import FakeTelegram


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _bot(tg: FakeTelegram) -> Bot:
    return Bot(tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.url)))


async def test_flood_mode_refuses_the_31st_message_in_a_second_with_retry_after():
    clock = Clock()
    async with FakeTelegram(flood_limit=True, clock=clock) as tg:
        bot = await _bot(tg)
        try:
            for chat in range(30):
                await bot.send_message(chat + 1, "nhắc việc")
                clock.now += 0.01
            with pytest.raises(TelegramRetryAfter) as refused:
                await bot.send_message(99, "một tin quá nhiều")
            assert refused.value.retry_after == 1
            assert tg.flood_429s == 1 and tg.messages(99) == []
            clock.now += 0.71  # the first send (at 1000.00) is now more than 1 s old
            await bot.send_message(99, "đã đến lượt")
            assert [m.text for m in tg.messages(99)] == ["đã đến lượt"]
        finally:
            await bot.session.close()


async def test_flood_mode_spaces_messages_to_one_chat_by_a_second():
    clock = Clock()
    async with FakeTelegram(flood_limit=True, clock=clock) as tg:
        bot = await _bot(tg)
        try:
            await bot.send_message(7, "một")
            clock.now += 0.5
            with pytest.raises(TelegramRetryAfter) as refused:
                await bot.send_message(7, "hai")
            assert refused.value.retry_after >= 1
            await bot.send_message(8, "another chat is not held back")
            clock.now += 0.5
            await bot.send_message(7, "hai")
            assert [m.text for m in tg.messages(7)] == ["một", "hai"]
            assert tg.flood_429s == 1
            assert [c.status for c in tg.calls_of("sendMessage")] == [200, 429, 200, 200]
        finally:
            await bot.session.close()


async def test_without_flood_mode_bursts_are_accepted():
    async with FakeTelegram() as tg:
        bot = await _bot(tg)
        try:
            for i in range(40):
                await bot.send_message(5, f"tin {i}")
            assert len(tg.messages(5)) == 40 and tg.flood_429s == 0
        finally:
            await bot.session.close()
