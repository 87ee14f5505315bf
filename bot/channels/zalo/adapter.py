"""The Zalo OA channel: signed webhooks in, outbox messages out.

In: ``POST /webhooks/zalo``. The signature is checked on the raw body before anything
is parsed (401, nothing stored, the reason logged without the body); then the event
becomes an ``InboundEvent`` and goes through ``bot.core.engine.handle``; the answer is 200
only after that committed (5xx otherwise, so Zalo delivers again and the dedupe key
makes that harmless). Event types we do not handle are acknowledged and ignored.

Out: ``ZaloTransport`` renders one neutral outbox payload into Zalo messages:

- text longer than Zalo takes is cut at line ends into several messages;
- buttons become ``oa.query.hide`` buttons, at most ``MAX_BUTTONS`` a message. A survey
  question (five levels, "Skip", "Back") is one message: the five levels are buttons,
  and "Skip" and "Back", which have a typed word, are named in the text instead
  (``typed_hint``). Other long button lists go on in short messages "…";
- Zalo shows nothing of a pressed button, so a payload's ``ack`` (the answer just
  recorded) begins its text: "✓ Hài lòng";
- an attachment is uploaded and then sent (an image for PNG/JPEG/GIF, a file otherwise).

Button payloads come back as text the user "sent". To tell them from typed text they
are wrapped as ``sipas:<payload>:<tag>``, the tag being a keyed hash of the payload: a
typed imitation is just text, so nobody can press a button they were never shown.
Payloads that are slash commands ("/start K7QM2XWD9RTE" on an invitation) are sent as
they are: pressing one is the same as typing it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.channels.zalo import facts
from bot.channels.zalo.client import (
    DEFAULT_TIMEOUT,
    ZaloAppInfo,
    ZaloButton,
    ZaloError,
    ZaloOAClient,
    ZaloOAuth,
)
from bot.channels.zalo.tokens import ZaloTokens
from bot.core.app import App
from bot.core.keys import Keyring
from bot.core.outbox_sender import Dead, Limits, Outcome, Retry, Sent
from bot.core.settings import Settings
from flows.contract import EventKind, InboundEvent

log = logging.getLogger(__name__)

CHANNEL = "zalo"
MAX_BODY = 256 * 1024  # bytes; Zalo's events are a few hundred
MAX_ID = 64  # characters of a user or message id we accept (Zalo's are about 20)
CONTINUATION = "…"  # the text of a message that only carries more buttons
ACK_MARK = "✓ "  # before the answer just recorded, at the top of the next message
BUTTON_MARK = "sipas:"
_TAG_LENGTH = 10
# The timestamp Zalo signs is the body's; it is read from the raw bytes so that nothing
# is parsed before the signature holds (an unescaped quote cannot occur inside a string).
_TIMESTAMP = re.compile(rb'"timestamp"\s*:\s*"?(\d{1,20})"?')
ZALO_LIMITS = Limits(per_second=facts.SEND_PER_SECOND, per_chat_interval=0.3)


# --- configuration -------------------------------------------------------------------


@dataclass
class ZaloChannel:
    """The client, its token source and the transport, sharing one HTTP connection pool."""

    http: httpx.AsyncClient
    oauth: ZaloOAuth
    tokens: ZaloTokens
    client: ZaloOAClient
    transport: ZaloTransport


@contextlib.asynccontextmanager
async def open_channel(app: App) -> AsyncIterator[ZaloChannel]:
    """Build the Zalo client for ``app``'s settings; closes its connections on exit."""
    s = app.settings
    info = ZaloAppInfo(
        s.zalo_app_id or "", s.zalo_app_secret.get_secret_value() if s.zalo_app_secret else ""
    )
    async with httpx.AsyncClient(timeout=DEFAULT_TIMEOUT) as http:
        oauth = ZaloOAuth(info, s.zalo_oauth_base, http)
        tokens = ZaloTokens(app, oauth)
        client = ZaloOAClient(tokens, s.zalo_api_base, http)
        yield ZaloChannel(http, oauth, tokens, client, ZaloTransport(client, app.keys))


# --- button payloads -------------------------------------------------------------------


def _tag(keys: Keyring, payload: str) -> str:
    # Keyed with the deployment secret through the code-hash key; survey codes never
    # contain a NUL, so the two uses cannot produce the same input.
    return keys.code_hash("zalo-button\x00" + payload)[:_TAG_LENGTH]


def encode_payload(keys: Keyring, payload: str) -> str:
    """What a button carries to Zalo for our neutral ``payload``."""
    if payload.startswith("/"):
        return payload
    return f"{BUTTON_MARK}{payload}:{_tag(keys, payload)}"


def decode_payload(keys: Keyring, text: str) -> str | None:
    """Our payload if ``text`` is a button press we issued, else None."""
    if not text.startswith(BUTTON_MARK):
        return None
    payload, sep, tag = text[len(BUTTON_MARK) :].rpartition(":")
    if not sep or len(tag) != _TAG_LENGTH:
        return None
    return payload if hmac.compare_digest(tag, _tag(keys, payload)) else None


# --- webhook -------------------------------------------------------------------------


def verify(settings: Settings, raw: bytes, header: str | None) -> str | None:
    """None when ``header`` is Zalo's signature of ``raw``; else why not (for the log)."""
    if not header:
        return "no signature header"
    given = header.strip()
    for prefix in facts.SIGNATURE_PREFIXES:
        if given.lower().startswith(prefix):
            given = given[len(prefix) :]
    given = given.strip().lower()
    timestamps = [m.group(1).decode() for m in _TIMESTAMP.finditer(raw)][:4]
    if not timestamps:
        return "no timestamp in the body"
    app_id = settings.zalo_app_id or ""
    secret = settings.zalo_oa_secret.get_secret_value() if settings.zalo_oa_secret else ""
    matched = False
    for timestamp in timestamps:  # every candidate is compared: no early exit
        expected = facts.signature(app_id, raw, timestamp, secret)
        matched |= hmac.compare_digest(given.encode(), expected.encode())
    return None if matched else "signature does not match"


def refusal(settings: Settings, data: dict[str, Any], wall_ms: int) -> str | None:
    """Why a verified event is refused (another app's, or outside the time window), or
    None. ``wall_ms``: this machine's clock in epoch milliseconds."""
    if str(data.get(facts.APP_ID_FIELD) or "") != (settings.zalo_app_id or ""):
        return "event for another app"
    try:
        stamp = int(str(data.get(facts.TIMESTAMP_FIELD)))
    except ValueError:
        return "no readable timestamp"
    if abs(wall_ms - stamp) > settings.zalo_event_window_minutes * 60_000:
        return "timestamp outside the accepted window"
    return None


def _event_time(value: Any, fallback: datetime) -> datetime:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return fallback


def _user(event: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        part = event.get(key)
        if isinstance(part, dict) and _is_id(part.get("id")):
            return str(part["id"])
    return None


def _is_id(value: Any) -> bool:
    """Whether ``value`` can be a Zalo id (digits as a string or a number; not a bool)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    return 0 < len(str(value)) <= MAX_ID


def to_event(data: dict[str, Any], keys: Keyring, now: datetime) -> InboundEvent | None:
    """The ``InboundEvent`` for a verified Zalo event, or None when it is to be ignored."""
    name = str(data.get("event_name") or "")
    message = data.get("message") if isinstance(data.get("message"), dict) else {}
    text, payload = "", ""
    if name in facts.TEXT_EVENTS:
        user = _user(data, "sender")
        text = str(message.get("text") or "")
        decoded = decode_payload(keys, text)
        kind = EventKind.TEXT if decoded is None else EventKind.BUTTON
        if decoded is not None:
            text, payload = "", decoded
    elif name in facts.FOLLOW_EVENTS:
        kind, user = EventKind.FOLLOW, _user(data, "follower", "sender")
    elif name in facts.UNFOLLOW_EVENTS:
        kind, user = EventKind.UNFOLLOW, _user(data, "follower", "sender")
    elif name in facts.UNSUPPORTED_EVENTS:
        kind, user = EventKind.UNSUPPORTED, _user(data, "sender")
    else:
        return None
    if user is None:
        log.warning("zalo %s event without a user id: ignored", name)
        return None
    msg_id = message.get("msg_id")
    if _is_id(msg_id):
        event_id = f"m:{msg_id}"
    else:
        raw = f"{name}\x00{user}\x00{data.get('timestamp')}".encode()
        event_id = "h:" + hashlib.sha256(raw).hexdigest()[:40]
    return InboundEvent(
        channel=CHANNEL,
        user_id=user,
        event_id=event_id[:128],
        kind=kind,
        timestamp=_event_time(data.get("timestamp"), now),
        text=text,
        payload=payload,
    )


# --- rendering ---------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One Zalo message of a rendered payload."""

    text: str = ""
    buttons: tuple[ZaloButton, ...] = ()
    upload: dict[str, Any] | None = None  # {"filename", "mime", "data"} (base64)


def split_text(text: str, limit: int = facts.MAX_TEXT) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at line ends when possible."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _title(label: str) -> str:
    label = " ".join(label.split())
    if len(label) <= facts.MAX_BUTTON_TITLE:
        return label
    return label[: facts.MAX_BUTTON_TITLE - 1].rstrip() + "…"


def _fitted(payload: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The text and buttons to send: the recorded answer on top, and buttons that have a
    typed word named in the text when all of them would not fit one message."""
    text = str(payload.get("text") or "")
    if payload.get("ack"):
        text = f"{ACK_MARK}{payload['ack']}\n\n{text}"
    buttons = list(payload.get("buttons") or [])
    tapped = [b for b in buttons if not b.get("word")]
    if len(buttons) > facts.MAX_BUTTONS >= len(tapped) and payload.get("typed_hint"):
        text = f"{text}\n{payload['typed_hint']}"
        buttons = tapped
    return text, buttons


def render(payload: dict[str, Any], keys: Keyring) -> list[Part]:
    """The Zalo messages for one outbox payload, in sending order."""
    text, shown = _fitted(payload)
    texts = split_text(text)
    buttons = []
    for b in shown:
        encoded = encode_payload(keys, str(b["payload"]))
        if len(encoded) > facts.MAX_BUTTON_PAYLOAD:
            raise ValueError(f"button payload too long for Zalo: {b['payload']!r}")
        buttons.append(ZaloButton(_title(str(b["label"])), encoded))
    groups = [
        tuple(buttons[i : i + facts.MAX_BUTTONS]) for i in range(0, len(buttons), facts.MAX_BUTTONS)
    ]
    parts = [Part(text) for text in texts[:-1]]
    last = texts[-1]
    if groups:
        parts.append(Part(last or CONTINUATION, groups[0]))
        parts += [Part(CONTINUATION, group) for group in groups[1:]]
    elif last:
        parts.append(Part(last))
    if payload.get("attachment"):
        parts.append(Part(upload=payload["attachment"]))
    return parts


# --- sending -----------------------------------------------------------------------


def outcome_of(error: ZaloError) -> Outcome:
    """What the outbox should do after Zalo's ``error``."""
    kind = error.kind
    text = str(error)
    if kind in (facts.ErrorKind.WINDOW, facts.ErrorKind.UNREACHABLE):
        return Dead(text, unreachable=True, kind=kind.value)
    if kind in (facts.ErrorKind.SETUP, facts.ErrorKind.REJECTED):
        return Dead(text)
    if kind is facts.ErrorKind.TOKEN:
        # Refreshed once and still refused, or no refresh possible: the app's approval
        # is gone or the token chain broke. Keep the message while an admin reconnects.
        log.error("Zalo refuses our tokens (%s); run 'sipas-bot zalo connect' if it lasts", text)
        return Retry(text, after=300.0, rate_limited=False)
    if kind is facts.ErrorKind.QUOTA:
        return Retry(text, after=3600.0)
    if kind is facts.ErrorKind.RATE:
        return Retry(text, after=60.0)
    return Retry(text)


@dataclass
class ZaloTransport:
    """Sends outbox payloads through a ``ZaloOAClient`` (the ``Transport`` protocol).

    A payload that needs several Zalo messages remembers (in memory) how far it got,
    so a retry after a failure in the middle does not repeat what was delivered. The
    outbox sends one message per recipient at a time, so the recipient is the key.
    """

    client: ZaloOAClient
    keys: Keyring
    channel: str = CHANNEL
    _progress: dict[str, tuple[str, int]] = field(default_factory=dict)

    async def send(self, recipient: str, payload: dict[str, Any]) -> Outcome:
        try:
            parts = render(payload, self.keys)
        except (KeyError, TypeError, ValueError) as exc:
            return Dead(f"cannot render for Zalo: {exc}")
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        done_digest, done = self._progress.get(recipient, ("", 0))
        start = done if done_digest == digest else 0
        first_id: str | None = None
        for index in range(start, len(parts)):
            try:
                message_id = await self._send_part(recipient, parts[index])
            except ZaloError as exc:
                outcome = outcome_of(exc)
                if isinstance(outcome, Retry):
                    self._progress[recipient] = (digest, index)
                else:
                    self._progress.pop(recipient, None)
                return outcome
            except httpx.HTTPError as exc:
                self._progress[recipient] = (digest, index)
                return Retry(f"zalo {type(exc).__name__}: {exc}")
            first_id = first_id or message_id
        self._progress.pop(recipient, None)
        return Sent(first_id)

    async def _send_part(self, recipient: str, part: Part) -> str | None:
        if part.upload is not None:
            data = base64.b64decode(part.upload["data"])
            filename = str(part.upload.get("filename") or "file")
            mime = str(part.upload.get("mime") or "application/octet-stream")
            if mime in facts.IMAGE_TYPES:
                attachment_id = await self.client.upload_image(data, filename, mime)
                return await self.client.send_image(recipient, attachment_id)
            token = await self.client.upload_file(data, filename, mime)
            return await self.client.send_file(recipient, token)
        if part.buttons:
            return await self.client.send_buttons(recipient, part.text, part.buttons)
        return await self.client.send_text(recipient, part.text)
