"""Telegram replies out: outbox payloads to Bot API calls, one call per claim (library-free).

``render`` turns an outbox payload into Bot API calls as plain dicts; ``TelegramTransport``
makes one call per claim through the seam's client (python-telegram-bot or aiogram, see
``seam.py``) and tells the outbox sender how it went.

No parse mode is used anywhere, so user text is shown exactly as typed and needs no
escaping.
"""

from __future__ import annotations

from typing import Any

from bot.channels.telegram.inbound import CHANNEL, MAX_TEXT, Incoming, chat, to_incoming, utf16_len
from bot.channels.telegram.seam import CALLS, CallError, TelegramClient, outcome, redact
from bot.core.outbox_sender import Dead, Outcome, Sent

__all__ = ["CHANNEL", "Incoming", "TelegramTransport", "redact", "render", "to_incoming"]

MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
# Calls that put a new message in the chat; only these count towards its rate limit.
_NEW_MESSAGES = {"sendMessage", "sendPhoto", "sendDocument"}
_PHOTO_TYPES = {"image/png", "image/jpeg"}


class RenderError(ValueError):
    """A payload Telegram cannot take (a bug upstream): the row is a dead letter."""


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
    to = chat(chat_id)
    text = payload.get("text") or ""
    markup = keyboard(payload.get("buttons") or [])
    attachment = payload.get("attachment")
    if attachment is None:
        calls = [_message(to, part) for part in split_text(text)]
        if markup and calls:
            calls[-1]["params"]["reply_markup"] = markup
        return calls
    as_caption = utf16_len(text) <= MAX_CAPTION
    calls = [] if as_caption else [_message(to, part) for part in split_text(text)]
    method, field = (
        ("sendPhoto", "photo")
        if attachment.get("mime") in _PHOTO_TYPES
        else ("sendDocument", "document")
    )
    params: dict[str, Any] = {"chat_id": to, field: attachment}
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


def _message(to: int | str, text: str) -> dict[str, Any]:
    return {"method": "sendMessage", "params": {"chat_id": to, "text": text}}


class TelegramTransport:
    """Sends outbox rows through the seam's client: one Bot API call per claim.

    A row that needs several calls (a long text) is sent one call at a time: after each
    call the rest goes back to the outbox in the same row, so a retry never repeats a
    part that went out.
    """

    channel = CHANNEL

    def __init__(self, client: TelegramClient) -> None:
        self.client = client

    async def send(self, recipient: str, payload: dict[str, Any]) -> Outcome:
        """One call; its outcome by the Bot API's answer (see the module of the sender)."""
        try:
            calls = render(recipient, payload)
            if not calls:
                return Dead("nothing to send: the message is empty")
            method, params = calls[0]["method"], calls[0].get("params") or {}
            if method not in CALLS:
                raise RenderError(f"unsupported Telegram method {method!r}")
        except (RenderError, KeyError, TypeError, ValueError) as exc:
            return Dead(f"cannot render: {exc}")
        try:
            message_id = await self.client.call(method, params)
        except CallError as exc:
            return Dead(f"cannot render: {redact(str(exc), self.client.token)}")
        except Exception as exc:
            return outcome(self.client.classify(exc), self.client.token)
        rest = {"calls": calls[1:]} if len(calls) > 1 else None
        provider_id = str(message_id) if message_id is not None else None
        return Sent(provider_id, spaced=method in _NEW_MESSAGES, rest=rest)
