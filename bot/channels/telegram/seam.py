"""The Telegram transport seam: what the channel needs from a Bot API library.

Two libraries implement it: python-telegram-bot (``ptb.py``, the default) and aiogram 3
(``aiogram_impl.py``), chosen with ``SIPAS_TELEGRAM_LIBRARY``; ``load_client`` imports
only the chosen one. Everything else in the channel is library-free and shared:
updates are parsed here from their JSON (``inbound.py``), replies are rendered to Bot
API calls as plain dicts (``transport.py``), the outbox, pacing and flows know nothing
of either library. A client only makes calls and says how a failed one failed
(``Failure``); ``outcome`` turns that into the outbox sender's retry or dead letter.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, Protocol

from bot.core.outbox_sender import Dead, Retry

LIBRARIES = {  # SIPAS_TELEGRAM_LIBRARY → the module implementing the seam
    "ptb": "bot.channels.telegram.ptb",
    "aiogram": "bot.channels.telegram.aiogram_impl",
}
# The calls an outbox row may hold (``render`` makes them; a button press adds the
# answer and the edit); anything else is a dead letter.
CALLS = (
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "editMessageText",
    "editMessageReplyMarkup",
    "answerCallbackQuery",
)
# The updates the bot asks for: messages, button presses, and being blocked.
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]

Kind = Literal["flood", "blocked", "bad_request", "network", "server"]


@dataclass(frozen=True)
class Failure:
    """How a Bot API call failed, in the library's terms made neutral.

    ``flood``: 429, wait ``retry_after`` seconds; ``blocked``: 403 (the user blocked the
    bot or never started it); ``bad_request``: any other answer retrying cannot fix
    (400, 404, 409, 413…); ``network``: no answer (refused, timed out, cut);
    ``server``: 5xx or an answer that was not the Bot API's JSON.
    """

    kind: Kind
    detail: str
    retry_after: float | None = None


@dataclass(frozen=True)
class BotInfo:
    id: int
    username: str


class CallError(ValueError):
    """A stored call the library cannot make (unknown method, bad arguments)."""


class TelegramClient(Protocol):
    """One bot's Bot API client; ``api_base`` is where requests go (``{base}/bot{token}/…``)."""

    token: str

    async def get_me(self) -> BotInfo:
        """Initialise the client (its first call) and say who the bot is."""
        ...

    async def call(self, method: str, params: dict[str, Any]) -> int | None:
        """Make one stored call (one of ``CALLS``; files as ``{filename, mime, data}``
        with base64 data); the message id when the result is a message. Raises
        ``CallError`` before any request when the call cannot be made."""
        ...

    async def get_updates(self, offset: int | None, wait: int) -> list[dict[str, Any]]:
        """Long polling: updates from ``offset`` on (confirming all before it), as JSON;
        waits up to ``wait`` seconds for one."""
        ...

    async def set_webhook(self, url: str, secret: str) -> bool: ...

    async def delete_webhook(self) -> bool: ...

    async def set_my_commands(self, commands: list[tuple[str, str]], language: str | None) -> bool:
        """The command menu (name, description) for ``language`` (None: everyone else)."""
        ...

    def classify(self, exc: BaseException) -> Failure:
        """What a failed call's exception means, in the seam's terms."""
        ...

    async def close(self) -> None: ...


def load_client(library: str, token: str, api_base: str) -> TelegramClient:
    """The client of ``library`` (``ptb`` or ``aiogram``); the other one is never imported."""
    module = importlib.import_module(LIBRARIES[library])
    return module.Client(token, api_base.rstrip("/"))


def bot_id(token: str) -> int:
    """The bot's id: the digits before the colon of its token (update ids are per bot)."""
    head, sep, _ = token.partition(":")
    if not sep or not head.isdigit():
        raise ValueError("SIPAS_TELEGRAM_TOKEN is not a bot token (expected 123456:ABC…)")
    return int(head)


def seconds(value: int | float | timedelta) -> float:
    """A ``retry_after`` as seconds, whether the library gives an int or a timedelta."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def outcome(failure: Failure, token: str) -> Retry | Dead:
    """A failed call's outcome for the outbox sender (the token never kept or logged)."""
    detail = redact(failure.detail, token)
    if failure.kind == "flood":
        wait = failure.retry_after or 1.0
        return Retry(f"429 Too Many Requests: retry after {wait:g} ({detail})", after=wait)
    if failure.kind == "blocked":
        return Dead(f"403 {detail}", unreachable=True)
    if failure.kind == "bad_request":
        return Dead(f"bad request: {detail.removeprefix('Bad Request: ')}")
    return Retry(f"{failure.kind} error: {detail}")


def redact(text: str, token: str) -> str:
    """``text`` without the bot token (an error may quote a URL that contains it)."""
    return text.replace(token, "<token>") if token else text
