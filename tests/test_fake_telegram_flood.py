"""The fake Bot API's flood-limit mode: 30 sends per second per bot, 1 per second per chat.

Each library's real client (behind the seam: python-telegram-bot, aiogram) talks to it;
the fake's clock is moved by hand so the test does not depend on how fast the machine is.
"""

from __future__ import annotations

import pytest

from bot.channels.telegram.seam import LIBRARIES, TelegramClient, load_client
from tests.fake_telegram import FakeTelegram


@pytest.fixture(params=sorted(LIBRARIES))
def library(request) -> str:
    return request.param


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sender:
    """``send_message`` and ``refused`` (the 429's wait) through the seam's client."""

    def __init__(self, client: TelegramClient) -> None:
        self.client = client

    async def send_message(self, chat: int, text: str) -> None:
        await self.client.call("sendMessage", {"chat_id": chat, "text": text})

    async def refused(self, chat: int, text: str) -> float | None:
        try:
            await self.send_message(chat, text)
        except Exception as exc:
            failure = self.client.classify(exc)
            assert failure.kind == "flood", failure
            return failure.retry_after
        return None

    async def close(self) -> None:
        await self.client.close()


async def _bot(tg: FakeTelegram, library: str) -> Sender:
    return Sender(load_client(library, tg.token, tg.url))


async def test_flood_mode_refuses_the_31st_message_in_a_second_with_retry_after(library):
    clock = Clock()
    async with FakeTelegram(flood_limit=True, clock=clock) as tg:
        bot = await _bot(tg, library)
        try:
            for chat in range(30):
                await bot.send_message(chat + 1, "nhắc việc")
                clock.now += 0.01
            assert await bot.refused(99, "một tin quá nhiều") == 1
            assert tg.flood_429s == 1 and tg.messages(99) == []
            clock.now += 0.71  # the first send (at 1000.00) is now more than 1 s old
            await bot.send_message(99, "đã đến lượt")
            assert [m.text for m in tg.messages(99)] == ["đã đến lượt"]
        finally:
            await bot.close()


async def test_flood_mode_spaces_messages_to_one_chat_by_a_second(library):
    clock = Clock()
    async with FakeTelegram(flood_limit=True, clock=clock) as tg:
        bot = await _bot(tg, library)
        try:
            await bot.send_message(7, "một")
            clock.now += 0.5
            assert (await bot.refused(7, "hai") or 0) >= 1
            await bot.send_message(8, "another chat is not held back")
            clock.now += 0.5
            await bot.send_message(7, "hai")
            assert [m.text for m in tg.messages(7)] == ["một", "hai"]
            assert tg.flood_429s == 1
            assert [c.status for c in tg.calls_of("sendMessage")] == [200, 429, 200, 200]
        finally:
            await bot.close()


async def test_without_flood_mode_bursts_are_accepted(library):
    async with FakeTelegram() as tg:
        bot = await _bot(tg, library)
        try:
            for i in range(40):
                await bot.send_message(5, f"tin {i}")
            assert len(tg.messages(5)) == 40 and tg.flood_429s == 0
        finally:
            await bot.close()
