"""Synthetic citizens: the webhook requests that complete the ``quick`` questionnaire.

Each citizen has a survey code and a chat id, and yields the exact HTTP requests a
channel would POST to our webhooks, in order: ``/start CODE``, then one button press per
step, ending with "Skip" on the last comment. Telegram presses carry the callback data
the bot renders (``flows/survey.py``: ``a:<item>:<value>``, ``o:y``, ``m:s``); Zalo
presses carry the payload wrapped and keyed the way our Zalo renderer sends it (so the
load needs the deployment's secret key), and every Zalo body is signed as Zalo signs it.

Used by tests/test_reliability.py and bench/inbound.py. Nothing here talks to the
network: a request is (path, body bytes, headers).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.channels.zalo.adapter import encode_payload
from bot.core.app import App
from bot.core.keys import Keyring
from bot.services.invites import issue_invite
from tests.fake_zalo import ZaloEvents

TELEGRAM_PATH = "/webhooks/telegram"
ZALO_PATH = "/webhooks/zalo"
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
BOT_ID = 123456789  # the id in tests/fake_telegram.py's token

# The presses that complete the quick questionnaire after /start, and what they store.
# No rating of 1 or 2, so no "what went wrong" follow-up: every citizen takes 9 steps.
PRESSES = ("a:0:5", "o:y", "a:1:4", "a:2:4", "a:3:3", "a:4:5", "a:5:4", "m:s")
ANSWERS = {"overall": 5, "E1": 4, "E2": 4, "E3": 3, "E4": 5, "E5": 4}
STEPS = 1 + len(PRESSES)  # updates per citizen


@dataclass(frozen=True)
class Request:
    """One webhook delivery: where, what, with which headers; ``key`` names the update."""

    path: str
    body: bytes
    headers: dict[str, str]
    key: str  # telegram: "tg:<update_id>"; zalo: "zl:<msg_id>"


@dataclass
class Citizen:
    """One person completing a survey; ``requests`` are to be sent in order."""

    channel: str
    user_id: str
    code: str
    requests: list[Request] = field(default_factory=list)


async def issue_codes(app: App, unit, procedure, n: int) -> list[str]:
    """``n`` single-use dossier survey codes for ``unit`` (one transaction)."""
    async with app.db.write() as session:
        return [
            (await issue_invite(app, session, unit, procedure=procedure)).code for _ in range(n)
        ]


# --- Telegram ------------------------------------------------------------------------


def _tg_user(chat_id: int) -> dict:
    return {"id": chat_id, "is_bot": False, "first_name": "Dân", "language_code": "vi"}


def telegram_message(update_id: int, chat_id: int, message_id: int, text: str) -> dict:
    """A private text message update, as Telegram sends it."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Dân"},
            "from": _tg_user(chat_id),
            "text": text,
        },
    }


def telegram_press(
    update_id: int, chat_id: int, query_id: str, data: str, message_id: int | None = None
) -> dict:
    """A callback query (button press). With ``message_id`` it carries the bot's message
    with its keyboard, as Telegram does; the bot then also edits that message."""
    query: dict = {
        "id": query_id,
        "from": _tg_user(chat_id),
        "chat_instance": f"ci{chat_id}",
        "data": data,
    }
    if message_id is not None:
        query["message"] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Dân"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "SIPAS"},
            "text": "Câu hỏi",
            "reply_markup": {"inline_keyboard": [[{"text": "Chọn", "callback_data": data}]]},
        }
    return {"update_id": update_id, "callback_query": query}


def telegram_citizen(
    chat_id: int, code: str, secret: str, update_ids: Iterator[int], *, with_message: bool = True
) -> Citizen:
    """The updates of one Telegram citizen; ``update_ids`` hands out unique update ids."""
    headers = {"Content-Type": "application/json", TELEGRAM_SECRET_HEADER: secret}
    citizen = Citizen("telegram", str(chat_id), code)
    updates = [telegram_message(next(update_ids), chat_id, 1, f"/start {code}")]
    for n, data in enumerate(PRESSES, start=1):
        message_id = n + 1 if with_message else None
        updates.append(
            telegram_press(next(update_ids), chat_id, f"q{chat_id}-{n}", data, message_id)
        )
    for update in updates:
        body = json.dumps(update, ensure_ascii=False).encode()
        citizen.requests.append(Request(TELEGRAM_PATH, body, headers, f"tg:{update['update_id']}"))
    return citizen


# --- Zalo ----------------------------------------------------------------------------


def zalo_request(events: ZaloEvents, event: dict, key: str) -> Request:
    """The delivery of ``event``: its raw body and the headers Zalo signs it with."""
    body, headers = events.signed(event)
    return Request(ZALO_PATH, body, headers, key)


_zalo_msg_ids = itertools.count(1)


def zalo_citizen(user: str, code: str, events: ZaloEvents, keys: Keyring) -> Citizen:
    """The events of one Zalo citizen: ``/start CODE``, then button presses.

    A press of one of our buttons arrives as the text the button carried, which our
    renderer wraps with a tag keyed by the deployment's secret (``keys``).
    """
    citizen = Citizen("zalo", user, code)
    texts = [f"/start {code}", *(encode_payload(keys, p) for p in PRESSES)]
    base = int(time.time() * 1000)
    for n, text in enumerate(texts):
        msg_id = f"bench{next(_zalo_msg_ids):014d}"
        event = events.text_event(user, text, msg_id, base + n)
        citizen.requests.append(zalo_request(events, event, f"zl:{msg_id}"))
    return citizen
