"""Telegram: updates in, outbox payloads out (aiogram as transport and parser only).

``to_incoming`` turns a parsed ``Update`` into an ``InboundEvent`` plus the outbox rows
that belong to it (every button press is answered, and the message that carried the
buttons is edited to show the choice and lose its keyboard, so it cannot be pressed
twice). ``render`` turns an outbox payload into Bot API calls; ``TelegramTransport``
makes one call per claim and tells the outbox sender how it went.

No parse mode is used anywhere, so user text is shown exactly as typed and needs no
escaping.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from aiogram import Bot
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
from aiogram.types import BufferedInputFile, CallbackQuery, Message, Update
from pydantic import ValidationError

from bot.core.outbox_sender import Dead, Outcome, Retry, Sent
from flows.contract import EventKind, InboundEvent
from storage.outbox import NewMessage

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_TEXT = 4096  # characters of a message, counted in UTF-16 code units
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
CHOSEN = "✅ "  # marks the answer a pressed keyboard is replaced with
# The updates the bot asks for: messages, button presses, and being blocked.
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]

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
# Calls that put a new message in the chat; only these count towards its rate limit.
_NEW_MESSAGES = {"sendMessage", "sendPhoto", "sendDocument"}
_PHOTO_TYPES = {"image/png", "image/jpeg"}


class RenderError(ValueError):
    """A payload Telegram cannot take (a bug upstream): the row is a dead letter."""


# --- inbound -------------------------------------------------------------------------


@dataclass(frozen=True)
class Incoming:
    """An update as the engine takes it: the event, plus rows to send in its transaction."""

    event: InboundEvent
    also: tuple[NewMessage, ...] = ()


def to_incoming(update: Update, bot_id: int, now: datetime) -> Incoming | None:
    """The event for an update, or None for updates the bot ignores (groups, edits…)."""
    event_id = f"{bot_id}:{update.update_id}"  # update ids are per bot
    if update.message is not None:
        return _from_message(update.message, event_id)
    if update.callback_query is not None:
        return _from_button(update.callback_query, event_id, now)
    member = update.my_chat_member
    blocked = member is not None and member.new_chat_member.status == "kicked"
    if blocked and member.chat.type == "private":  # the user blocked the bot
        chat_id = str(member.chat.id)
        return Incoming(InboundEvent(CHANNEL, chat_id, event_id, EventKind.UNFOLLOW, member.date))
    return None


def _from_message(message: Message, event_id: str) -> Incoming | None:
    if message.chat.type != "private" or message.from_user is None:
        return None
    kind, text, payload = EventKind.UNSUPPORTED, "", ""
    if message.text is not None:
        kind, text = EventKind.TEXT, message.text
        first, _, rest = text.strip().partition(" ")
        if first.lower().split("@", 1)[0] == "/start":
            kind, text, payload = EventKind.START, "", rest.strip()  # deep-link payload
    event = InboundEvent(
        CHANNEL,
        str(message.chat.id),
        event_id,
        kind,
        message.date,
        text=text,
        payload=payload,
        locale_hint=message.from_user.language_code,
    )
    return Incoming(event)


def _from_button(query: CallbackQuery, event_id: str, now: datetime) -> Incoming | None:
    if query.data is None:  # game buttons; the bot sends none
        return None
    message = query.message if isinstance(query.message, Message) else None
    if message is not None and message.chat.type != "private":
        return None
    chat_id = str(message.chat.id if message is not None else query.from_user.id)
    also = [_call(chat_id, "answerCallbackQuery", callback_query_id=query.id)]
    if message is not None and message.reply_markup is not None:
        also.append(_remove_keyboard(chat_id, message, query.data))
    event = InboundEvent(
        CHANNEL,
        chat_id,
        event_id,
        EventKind.BUTTON,
        now,
        payload=query.data,
        locale_hint=query.from_user.language_code,
    )
    return Incoming(event, tuple(also))


def _remove_keyboard(chat_id: str, message: Message, data: str) -> NewMessage:
    """Show the chosen answer under the question and drop its keyboard."""
    rows = message.reply_markup.inline_keyboard if message.reply_markup else []
    label = next((b.text for row in rows for b in row if b.callback_data == data), None)
    if message.text and label:
        text = f"{message.text}\n\n{CHOSEN}{label}"
        if utf16_len(text) <= MAX_TEXT:
            return _call(chat_id, "editMessageText", message_id=message.message_id, text=text)
    return _call(chat_id, "editMessageReplyMarkup", message_id=message.message_id)


def _call(chat_id: str, method: str, **params: Any) -> NewMessage:
    if method != "answerCallbackQuery":
        params["chat_id"] = _chat(chat_id)
    return NewMessage(CHANNEL, chat_id, {"calls": [{"method": method, "params": params}]})


# --- outbound ------------------------------------------------------------------------


def render(chat_id: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The Bot API calls for one outbox payload, in order.

    A neutral reply (``text``, ``buttons``, ``attachment``) becomes one ``sendMessage``
    per 4096 characters (buttons on the last one), or a photo/document whose caption is
    the text when it fits in 1024 characters (else the text goes first). A payload of
    ``calls`` is already Telegram's and is returned as it is.
    """
    if "calls" in payload:
        return [dict(c) for c in payload["calls"]]
    chat = _chat(chat_id)
    text = payload.get("text") or ""
    markup = keyboard(payload.get("buttons") or [])
    attachment = payload.get("attachment")
    if attachment is None:
        calls = [_message(chat, part) for part in split_text(text)]
        if markup and calls:
            calls[-1]["params"]["reply_markup"] = markup
        return calls
    as_caption = utf16_len(text) <= MAX_CAPTION
    calls = [] if as_caption else [_message(chat, part) for part in split_text(text)]
    method, field = (
        ("sendPhoto", "photo")
        if attachment.get("mime") in _PHOTO_TYPES
        else ("sendDocument", "document")
    )
    params: dict[str, Any] = {"chat_id": chat, field: attachment}
    if as_caption and text.strip():
        params["caption"] = text
    if markup:
        params["reply_markup"] = markup
    return [*calls, {"method": method, "params": params}]


def keyboard(buttons: list[dict[str, str]]) -> dict[str, Any] | None:
    """An inline keyboard, one button per row; callback data must fit Telegram's 64 bytes."""
    if not buttons:
        return None
    for b in buttons:
        if not 1 <= len(b["payload"].encode()) <= MAX_CALLBACK_DATA:
            raise RenderError(f"button payload must be 1-64 bytes: {b['payload'][:80]!r}")
    return {
        "inline_keyboard": [[{"text": b["label"], "callback_data": b["payload"]}] for b in buttons]
    }


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji may count as two)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut ``text`` into parts of at most ``limit`` units, at a paragraph, line or word
    break where one is in the second half of the part; nothing but whitespace is lost."""
    parts: list[str] = []
    rest = text.strip()
    while utf16_len(rest) > limit:
        head = _prefix(rest, limit)
        cut = len(head)
        for sep in ("\n\n", "\n", " "):
            at = head.rfind(sep)
            if at >= len(head) // 2:
                cut = at
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _prefix(text: str, limit: int) -> str:
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return text[:i]
    return text


def _message(chat: int | str, text: str) -> dict[str, Any]:
    return {"method": "sendMessage", "params": {"chat_id": chat, "text": text}}


def _chat(chat_id: str) -> int | str:
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


def build(call: dict[str, Any]) -> Any:
    """The aiogram method object for a stored call (files are stored base64-encoded)."""
    method = _METHODS.get(call.get("method", ""))
    if method is None:
        raise RenderError(f"unsupported Telegram method {call.get('method')!r}")
    params = dict(call.get("params") or {})
    for field in ("photo", "document"):
        stored = params.get(field)
        if isinstance(stored, dict):
            data = base64.b64decode(stored["data"])
            params[field] = BufferedInputFile(data, filename=stored["filename"])
    try:
        return method.model_validate(params)
    except ValidationError as exc:
        raise RenderError(f"bad {call['method']} call: {exc.errors()[0]['msg']}") from exc


class TelegramTransport:
    """Sends outbox rows through aiogram: one Bot API call per claim.

    A row that needs several calls (a long text) is sent one call at a time: after each
    call the rest goes back to the outbox in the same row, so a retry never repeats a
    part that went out.
    """

    channel = CHANNEL

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, recipient: str, payload: dict[str, Any]) -> Outcome:
        """One call; its outcome by the Bot API's answer (see the module of the sender)."""
        try:
            calls = render(recipient, payload)
            if not calls:
                return Dead("nothing to send: the message is empty")
            method = build(calls[0])
        except (RenderError, KeyError, TypeError, ValueError) as exc:
            return Dead(f"cannot render: {exc}")
        try:
            result = await self.bot(method)
        except Exception as exc:
            return failure(exc, self.bot.token)
        message_id = str(result.message_id) if isinstance(result, Message) else None
        rest = {"calls": calls[1:]} if len(calls) > 1 else None
        return Sent(message_id, spaced=calls[0]["method"] in _NEW_MESSAGES, rest=rest)


def failure(exc: Exception, token: str) -> Retry | Dead:
    """What a failed Bot API call means for the message (the token never kept or logged)."""
    name = type(exc).__name__
    outcome: Retry | Dead
    if isinstance(exc, TelegramRetryAfter):
        outcome = Retry(f"429 {exc.message}", after=float(exc.retry_after))
    elif isinstance(exc, TelegramForbiddenError):  # blocked, or never started the bot
        outcome = Dead(f"403 {exc.message}", unreachable=True)
    elif isinstance(exc, TelegramEntityTooLarge):  # a network error by class, but permanent
        outcome = Dead(f"413 {exc.message}")
    elif isinstance(exc, TelegramServerError | TelegramNetworkError | ClientDecodeError):
        outcome = Retry(f"{name}: {exc}")
    elif isinstance(exc, TelegramAPIError):  # 400, 404, 409…: retrying will not help
        outcome = Dead(f"{name}: {exc.message}")
    else:  # not an answer from Telegram at all
        outcome = Retry(f"{name}: {exc}")
    return replace(outcome, error=redact(outcome.error, token))


def redact(text: str, token: str) -> str:
    """``text`` without the bot token (an error may quote a URL that contains it)."""
    return text.replace(token, "<token>") if token else text
