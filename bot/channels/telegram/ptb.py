"""The Telegram seam on python-telegram-bot (the default): ``telegram.Bot`` alone.

No ``Application``, ``JobQueue``, persistence or handlers: the project owns its state,
its scheduler and its retries. Networking is ``ptb_request.AiohttpRequest`` (ptb's
request interface on aiohttp, a third of the CPU of ptb's own httpx layer), one pool
for calls and a one-connection pool for long polling. Requests go to
``{api_base}/bot{token}/{method}``.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import os
from typing import Any

# ptb 22 gives time periods (``RetryAfter.retry_after``) as an int with a deprecation
# warning, or as a timedelta when this is set; the next major version only as a
# timedelta. Opt in now (``seam.seconds`` takes either): the warning goes, nothing else.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import Bot, BotCommand, InlineKeyboardMarkup, InputFile, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.channels.telegram.ptb_request import AiohttpRequest, ServerError
from bot.channels.telegram.seam import ALLOWED_UPDATES, BotInfo, CallError, Failure, seconds


class Client:
    """The seam's ``TelegramClient`` on ptb (see ``seam.py`` for each method)."""

    def __init__(self, token: str, api_base: str) -> None:
        self.token = token
        self._requests = (
            AiohttpRequest(pool_size=8, read_timeout=30.0),
            # getUpdates adds its long-poll timeout to this read timeout.
            AiohttpRequest(pool_size=1, read_timeout=10.0),
        )
        self.bot = Bot(
            token,
            base_url=f"{api_base}/bot",
            base_file_url=f"{api_base}/file/bot",
            request=self._requests[0],
            get_updates_request=self._requests[1],
        )
        self._calls = {
            "sendMessage": self.bot.send_message,
            "sendPhoto": self.bot.send_photo,
            "sendDocument": self.bot.send_document,
            "editMessageText": self.bot.edit_message_text,
            "editMessageReplyMarkup": self.bot.edit_message_reply_markup,
            "answerCallbackQuery": self.bot.answer_callback_query,
        }
        self._signatures = {name: inspect.signature(fn) for name, fn in self._calls.items()}

    async def get_me(self) -> BotInfo:
        await self.bot.initialize()  # its getMe proves the token works
        me = self.bot.bot
        return BotInfo(me.id, me.username or "")

    async def call(self, method: str, params: dict[str, Any]) -> int | None:
        fn = self._calls.get(method)
        if fn is None:
            raise CallError(f"unsupported Telegram method {method!r}")
        kwargs = dict(params)
        try:
            if isinstance(kwargs.get("reply_markup"), dict):
                kwargs["reply_markup"] = InlineKeyboardMarkup.de_json(kwargs["reply_markup"], None)
            for field in ("photo", "document"):
                if isinstance(kwargs.get(field), dict):
                    stored = kwargs[field]
                    data = base64.b64decode(stored["data"])
                    kwargs[field] = InputFile(data, filename=stored["filename"])
            self._signatures[method].bind(**kwargs)
        except (TypeError, KeyError, ValueError) as exc:
            raise CallError(f"bad {method} call: {exc}") from exc
        result = await fn(**kwargs)
        return result.message_id if isinstance(result, Message) else None

    async def get_updates(self, offset: int | None, wait: int) -> list[dict[str, Any]]:
        updates = await self.bot.get_updates(
            offset=offset, timeout=wait, allowed_updates=ALLOWED_UPDATES
        )
        return [u.to_dict() for u in updates]

    async def set_webhook(self, url: str, secret: str) -> bool:
        return await self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)

    async def delete_webhook(self) -> bool:
        return await self.bot.delete_webhook()

    async def set_my_commands(self, commands: list[tuple[str, str]], language: str | None) -> bool:
        menu = [BotCommand(name, text) for name, text in commands]
        return await self.bot.set_my_commands(menu, language_code=language)

    def classify(self, exc: BaseException) -> Failure:
        if isinstance(exc, RetryAfter):
            return Failure("flood", exc.message, seconds(exc.retry_after))
        if isinstance(exc, Forbidden):
            return Failure("blocked", exc.message)
        if isinstance(exc, BadRequest | InvalidToken | Conflict | ChatMigrated):
            return Failure("bad_request", str(exc))
        if isinstance(exc, ServerError):
            return Failure("server", exc.message)
        if isinstance(exc, TimedOut | NetworkError):
            return Failure("network", f"{type(exc).__name__}: {exc.message}")
        if isinstance(exc, TelegramError):  # an answer ptb could not use
            return Failure("server", f"{type(exc).__name__}: {exc.message}")
        return Failure("network", f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        await self.bot.shutdown()
        # A bot never initialised (sends only, no getMe) leaves its pools to close here.
        await asyncio.gather(*(r.shutdown() for r in self._requests))
