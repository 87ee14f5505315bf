"""Telegram updates in: the Bot API's update JSON to an ``InboundEvent``, library-free.

``to_incoming`` reads only the fields the bot uses, so both libraries (and the webhook,
which never builds a library object) share one parser. Every button press is answered,
and the message that carried the buttons is edited to show the choice and lose its
keyboard, so it cannot be pressed twice: the edit goes in the same transaction as the
event (``Incoming.also``), the answer in the webhook's 200 or the outbox (``Incoming``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flows.contract import EventKind, InboundEvent
from storage.outbox import NewMessage

CHANNEL = "telegram"
MAX_TEXT = 4096  # characters of a message, counted in UTF-16 code units
CHOSEN = "✅ "  # marks the answer a pressed keyboard is replaced with


class MalformedUpdate(ValueError):
    """Not a Bot API update (no integer ``update_id``, or a field of the wrong shape)."""


@dataclass(frozen=True)
class Incoming:
    """An update as the engine takes it: the event, rows to send in its transaction, and
    a button press's ``answerCallbackQuery`` (``{"method": …, "callback_query_id": …}``).

    The Bot API lets a webhook's 200 carry one call ("making requests when getting
    updates", since Bot API 2015-08): Telegram makes it at once, outside our sending
    budget, and without a result, which stopping the button's spinner does not need.
    So a webhook answers with ``answer``; polling has no such reply and queues it
    (``rows(answer_queued=True)``).
    """

    event: InboundEvent
    also: tuple[NewMessage, ...] = ()
    answer: dict[str, Any] | None = None

    def rows(self, *, answer_queued: bool) -> tuple[NewMessage, ...]:
        """The outbox rows of this update; the answer among them (first) if queued."""
        if not answer_queued or self.answer is None:
            return self.also
        query = self.answer["callback_query_id"]
        answer = call(self.event.user_id, "answerCallbackQuery", callback_query_id=query)
        return (answer, *self.also)


def update_id(update: Any) -> int:
    """The update's id; ``MalformedUpdate`` when ``update`` is not an update at all."""
    uid = update.get("update_id") if isinstance(update, dict) else None
    if not isinstance(uid, int) or isinstance(uid, bool):
        raise MalformedUpdate("an update is an object with an integer update_id")
    return uid


def to_incoming(update: dict[str, Any], bot_id: int, now: datetime) -> Incoming | None:
    """The event for an update, or None for updates the bot ignores (groups, edits…)."""
    event_id = f"{bot_id}:{update_id(update)}"  # update ids are per bot
    try:
        if (message := update.get("message")) is not None:
            return _from_message(message, event_id)
        if (query := update.get("callback_query")) is not None:
            return _from_button(query, event_id, now)
        if (member := update.get("my_chat_member")) is not None:
            return _from_member(member, event_id)
    except (KeyError, TypeError, AttributeError, ValueError, OverflowError) as exc:
        raise MalformedUpdate(f"update {update['update_id']}: {type(exc).__name__}") from exc
    return None


def _from_message(message: dict[str, Any], event_id: str) -> Incoming | None:
    chat, sender = message["chat"], message.get("from")
    if chat["type"] != "private" or sender is None:
        return None
    kind, text, payload = EventKind.UNSUPPORTED, "", ""
    if (typed := message.get("text")) is not None:
        kind, text = EventKind.TEXT, _str(typed)
        first, _, rest = text.strip().partition(" ")
        if first.lower().split("@", 1)[0] == "/start":
            kind, text, payload = EventKind.START, "", rest.strip()  # deep-link payload
    event = InboundEvent(
        CHANNEL,
        _chat_id(chat),
        event_id,
        kind,
        _date(message["date"]),
        text=text,
        payload=payload,
        locale_hint=sender.get("language_code"),
    )
    return Incoming(event)


def _from_button(query: dict[str, Any], event_id: str, now: datetime) -> Incoming | None:
    data, sender = query.get("data"), query["from"]
    if data is None:  # game buttons; the bot sends none
        return None
    data = _str(data)
    message = query.get("message")
    if message is not None and not message.get("date"):  # inaccessible (date 0): no chat
        message = None
    if message is not None and message["chat"]["type"] != "private":
        return None
    chat_id = _chat_id(message["chat"] if message is not None else sender)
    answer = {"method": "answerCallbackQuery", "callback_query_id": _str(query["id"])}
    also = []
    if message is not None and message.get("reply_markup") is not None:
        also.append(_remove_keyboard(chat_id, message, data))
    event = InboundEvent(
        CHANNEL,
        chat_id,
        event_id,
        EventKind.BUTTON,
        now,
        payload=data,
        locale_hint=sender.get("language_code"),
    )
    return Incoming(event, tuple(also), answer)


def _from_member(member: dict[str, Any], event_id: str) -> Incoming | None:
    blocked = member["new_chat_member"]["status"] == "kicked"
    if blocked and member["chat"]["type"] == "private":  # the user blocked the bot
        chat_id = _chat_id(member["chat"])
        date = _date(member["date"])
        return Incoming(InboundEvent(CHANNEL, chat_id, event_id, EventKind.UNFOLLOW, date))
    return None


def _remove_keyboard(chat_id: str, message: dict[str, Any], data: str) -> NewMessage:
    """Show the chosen answer under the question and drop its keyboard."""
    rows = message["reply_markup"].get("inline_keyboard") or []
    label = next((b["text"] for row in rows for b in row if b.get("callback_data") == data), None)
    text = message.get("text")
    if text and label:
        text = f"{text}\n\n{CHOSEN}{label}"
        if utf16_len(text) <= MAX_TEXT:
            return call(chat_id, "editMessageText", message_id=message["message_id"], text=text)
    return call(chat_id, "editMessageReplyMarkup", message_id=message["message_id"])


def call(chat_id: str, method: str, **params: Any) -> NewMessage:
    """An outbox row holding one Bot API call (``chat_id`` added where the method takes it)."""
    if method != "answerCallbackQuery":
        params["chat_id"] = chat(chat_id)
    return NewMessage(CHANNEL, chat_id, {"calls": [{"method": method, "params": params}]})


def chat(chat_id: str) -> int | str:
    """A stored chat id as the Bot API takes it (an integer, or an @channel name)."""
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji may count as two)."""
    return len(text.encode("utf-16-le")) // 2


def _chat_id(chat: dict[str, Any]) -> str:
    value = chat["id"]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("chat id")
    return str(value)


def _date(value: Any) -> datetime:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError("date")
    return datetime.fromtimestamp(value, UTC)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("text")
    return value
