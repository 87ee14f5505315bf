"""The Telegram seam on aiogram 3 (the alternative): ``aiogram.Bot`` as a client only.

No dispatcher, FSM or i18n middleware: state and locale live in our database. Requests
go to ``{api_base}/bot{token}/{method}`` through aiogram's aiohttp session. Importing
aiogram loads its Bot API models as pydantic validators (over 100 MB of memory): see
the README's Telegram section before choosing it.
"""

from __future__ import annotations

import base64
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteWebhook,
    EditMessageReplyMarkup,
    EditMessageText,
    GetMe,
    GetUpdates,
    SendDocument,
    SendMessage,
    SendPhoto,
    SetMyCommands,
    SetWebhook,
)
from aiogram.methods.base import Response
from aiogram.types import BotCommand, BufferedInputFile, Message
from pydantic import ValidationError

from bot.channels.telegram.seam import ALLOWED_UPDATES, BotInfo, CallError, Failure, seconds

_METHODS = {
    "sendMessage": SendMessage,
    "sendPhoto": SendPhoto,
    "sendDocument": SendDocument,
    "editMessageText": EditMessageText,
    "editMessageReplyMarkup": EditMessageReplyMarkup,
    "answerCallbackQuery": AnswerCallbackQuery,
}
# aiogram parses every answer as ``Response[<the method's result type>]``, and pydantic
# caches such generic classes only weakly: without a reference kept here each call built
# the class (and its schema) again, a few percent of the serving process's CPU.
_RESPONSE_TYPES = [
    Response[m.__returning__]
    for m in (*_METHODS.values(), GetMe, GetUpdates, SetWebhook, DeleteWebhook, SetMyCommands)
]


def build(method: str, params: dict[str, Any]) -> Any:
    """The aiogram method object for a stored call (files are stored base64-encoded)."""
    cls = _METHODS.get(method)
    if cls is None:
        raise CallError(f"unsupported Telegram method {method!r}")
    params = dict(params)
    try:
        for field in ("photo", "document"):
            stored = params.get(field)
            if isinstance(stored, dict):
                data = base64.b64decode(stored["data"])
                params[field] = BufferedInputFile(data, filename=stored["filename"])
        return cls.model_validate(params)
    except ValidationError as exc:
        raise CallError(f"bad {method} call: {exc.errors()[0]['msg']}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise CallError(f"bad {method} call: {exc}") from exc


class Client:
    """The seam's ``TelegramClient`` on aiogram (see ``seam.py`` for each method)."""

    def __init__(self, token: str, api_base: str) -> None:
        self.token = token
        api = TelegramAPIServer.from_base(api_base)
        self.bot = Bot(token, session=AiohttpSession(api=api))

    async def get_me(self) -> BotInfo:
        me = await self.bot.get_me()
        return BotInfo(me.id, me.username or "")

    async def call(self, method: str, params: dict[str, Any]) -> int | None:
        result = await self.bot(build(method, params))
        return result.message_id if isinstance(result, Message) else None

    async def get_updates(self, offset: int | None, wait: int) -> list[dict[str, Any]]:
        call = GetUpdates(offset=offset, timeout=wait, allowed_updates=ALLOWED_UPDATES)
        updates = await self.bot(call, request_timeout=int(self.bot.session.timeout + wait))
        return [u.model_dump(mode="json", by_alias=True, exclude_none=True) for u in updates]

    async def set_webhook(self, url: str, secret: str) -> bool:
        return await self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)

    async def delete_webhook(self) -> bool:
        return await self.bot.delete_webhook()

    async def set_my_commands(self, commands: list[tuple[str, str]], language: str | None) -> bool:
        menu = [BotCommand(command=name, description=text) for name, text in commands]
        return await self.bot.set_my_commands(menu, language_code=language)

    def classify(self, exc: BaseException) -> Failure:
        if isinstance(exc, TelegramRetryAfter):
            return Failure("flood", exc.message, seconds(exc.retry_after))
        if isinstance(exc, TelegramForbiddenError):  # blocked, or never started the bot
            return Failure("blocked", exc.message)
        if isinstance(exc, TelegramEntityTooLarge):  # a network error by class, but permanent
            return Failure("bad_request", f"413 {exc.message}")
        if isinstance(exc, TelegramServerError | ClientDecodeError):
            return Failure("server", f"{type(exc).__name__}: {exc}")
        if isinstance(exc, TelegramNetworkError):
            return Failure("network", f"{type(exc).__name__}: {exc}")
        if isinstance(exc, TelegramAPIError):  # 400, 404, 409…: retrying will not help
            return Failure("bad_request", exc.message)
        return Failure("network", f"{type(exc).__name__}: {exc}")  # not an answer at all

    async def close(self) -> None:
        await self.bot.session.close()
