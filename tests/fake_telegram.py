"""A fake Telegram Bot API server for tests and benchmarks.

It listens on 127.0.0.1 (a random port) and answers ``POST /bot<token>/<method>`` the way
the Bot API does, so aiogram's real HTTP code runs against it. It records every call
with the time it arrived, can be told to fail calls (429 with ``retry_after``, 5xx, 403…)
per method or per matching call, keeps the messages the bot sent per chat (with edits
applied), and plays the users' side: updates queued by ``FakeUser`` are handed out by
``getUpdates`` or, once ``setWebhook`` was called, POSTed to the webhook with the secret
header and redelivered until it answers 2xx, as Telegram does.

With ``flood_limit=True`` it also enforces Telegram's documented send limits (Bot FAQ):
at most ``rate`` new messages per bot in any one-second window (30) and one message per
``chat_interval`` seconds to one chat (1 s). A send beyond them gets 429 with
``parameters.retry_after`` (whole seconds, at least 1, as Telegram answers) and is
counted in ``flood_429s``. Off by default, so tests that do not ask for it never see it.

    async with FakeTelegram() as tg:
        bot = Bot(tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.url)))
        user = tg.user(1001)
        user.send("/start CODE")
        await tg.wait_for(lambda: user.messages)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijkl"
# Arguments the Bot API takes as JSON inside form fields.
_JSON_FIELDS = {
    "reply_markup",
    "allowed_updates",
    "commands",
    "scope",
    "entities",
    "caption_entities",
    "link_preview_options",
    "reply_parameters",
}
_INT_FIELDS = {"offset", "limit", "timeout", "message_id", "cache_time"}
# The calls that put a new message in a chat: the ones Telegram's flood limits count.
_SENDS = {"sendMessage", "sendPhoto", "sendDocument"}


@dataclass
class Call:
    """One request the bot made: method, decoded arguments, arrival time, our answer."""

    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when it arrived
    status: int = 200


@dataclass
class Rule:
    """Fail the next ``times`` calls of ``method`` (``"*"``: any) that ``when`` accepts."""

    method: str
    status: int
    description: str
    retry_after: int | None = None
    times: int = 1
    when: Callable[[dict[str, Any]], bool] | None = None


@dataclass
class FakeMessage:
    """A message in a chat: sent by the bot (or by the user), edits applied."""

    message_id: int
    chat_id: int
    text: str | None = None
    caption: str | None = None
    buttons: list[list[dict[str, Any]]] = field(default_factory=list)
    file: tuple[str, bytes] | None = None  # (filename, content) of a photo or document
    kind: str = "text"  # text | photo | document (from the bot) | user (typed by the user)
    edits: int = 0

    @property
    def labels(self) -> list[str]:
        return [b["text"] for row in self.buttons for b in row]

    def to_api(self, bot_user: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message_id": self.message_id,
            "date": int(time.time()),
            "chat": {"id": self.chat_id, "type": "private"},
            "from": bot_user,
        }
        if self.text is not None:
            out["text"] = self.text
        if self.caption is not None:
            out["caption"] = self.caption
        if self.buttons:
            out["reply_markup"] = {"inline_keyboard": self.buttons}
        if self.kind == "photo":
            out["photo"] = [
                {"file_id": f"p{self.message_id}", "file_unique_id": "u", "width": 1, "height": 1}
            ]
        if self.kind == "document":
            out["document"] = {
                "file_id": f"d{self.message_id}",
                "file_unique_id": "u",
                "file_name": self.file[0] if self.file else "file",
            }
        return out


class _Error(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


class FakeTelegram:
    """The fake server. Use as ``async with FakeTelegram() as tg`` or start()/stop()."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        username: str = "sipas_test_bot",
        webhook_retry_delay: float = 0.05,
        flood_limit: bool = False,
        rate: int = 30,
        chat_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.flood_limit = flood_limit
        self.rate, self.chat_interval = rate, chat_interval
        self.clock = clock  # what the flood limits are measured with (tests may fake it)
        self.flood_429s = 0
        self.flood_429s_chat = 0  # of which for the per-chat limit
        self.requests_begun = 0  # requests whose handling started (``calls``: body read)
        self._window: deque[float] = deque()  # times of the sends in the last second
        self._chat_last: dict[int, float] = {}  # chat → time of its last accepted send
        self.bot_id = int(token.split(":", 1)[0])
        self.username = username
        self.webhook_retry_delay = webhook_retry_delay
        self.calls: list[Call] = []
        self.rules: list[Rule] = []
        self.chats: dict[int, dict[int, FakeMessage]] = {}
        self.commands: dict[str, list[dict[str, str]]] = {}  # language code ("" default) → list
        self.webhook: dict[str, Any] | None = None
        self.deliveries: list[tuple[int, int]] = []  # (update_id, HTTP status or 0 on error)
        self.answered: set[str] = set()  # callback query ids answered
        self.webhook_calls: list[Call] = []  # calls made from webhook answers (also in calls)
        self.blocked: set[int] = set()  # chats whose user blocked the bot (403)
        self._pending: list[dict[str, Any]] = []  # updates not yet confirmed or delivered
        self._update_ids = itertools.count(1000)
        self._message_ids: dict[int, itertools.count] = {}
        self._callback_ids = itertools.count(1)
        self._queries: set[str] = set()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._delivery: asyncio.Task | None = None
        self._closing = False
        self._tasks: set[asyncio.Task] = set()
        self.url = ""

    # --- life cycle ------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on 127.0.0.1 (random port); returns the base URL for aiogram."""
        api = web.Application()
        api.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(api, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self._closing = True
        await self._notify()
        if self._delivery is not None:
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- test controls ---------------------------------------------------------------

    def inject(
        self,
        method: str,
        status: int,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Rule:
        """Answer the next ``times`` matching calls with an error instead of handling them."""
        default = {
            429: f"Too Many Requests: retry after {retry_after}",
            403: "Forbidden: bot was blocked by the user",
            400: "Bad Request",
        }.get(status, "Internal Server Error")
        rule = Rule(method, status, description or default, retry_after, times, when)
        self.rules.append(rule)
        return rule

    def user(self, chat_id: int, *, first_name: str = "Lan", language_code: str = "vi"):
        """A private-chat user who can send texts, press buttons and block the bot."""
        return FakeUser(self, chat_id, first_name, language_code)

    def queue(self, update: dict[str, Any]) -> int:
        """Add an update (its ``update_id`` is assigned here); returns the id."""
        update = {"update_id": next(self._update_ids), **update}
        self._pending.append(update)
        self._kick()
        return update["update_id"]

    def calls_of(self, *methods: str, ok: bool | None = None) -> list[Call]:
        """The recorded calls of these methods (all when none), optionally only ok/failed."""
        return [
            c
            for c in self.calls
            if (not methods or c.method in methods) and (ok is None or (c.status == 200) == ok)
        ]

    def messages(self, chat_id: int) -> list[FakeMessage]:
        """What the bot sent to a chat, oldest first, with later edits applied."""
        return [m for m in self.chats.get(chat_id, {}).values() if m.kind != "user"]

    @property
    def pending_updates(self) -> int:
        return len(self._pending)

    async def wait_for(self, predicate: Callable[[], Any], within: float = 10.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked after every call and delivery)."""
        deadline = time.monotonic() + within
        async with self._changed:
            while not (result := predicate()):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"condition not met within {within}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(left, 0.2))
            return result

    # --- the API ---------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.requests_begun += 1  # counted before the body is read (it may never be)
        params = await self._params(request)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        try:
            if request.match_info["token"] != self.token:
                raise _Error(401, "Unauthorized")
            self._apply_rules(method, params)
            if self.flood_limit and method in _SENDS:
                self._check_flood(int(params.get("chat_id") or 0))
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                raise _Error(404, "Not Found")
            result = await handler(params)
        except _Error as err:
            call.status = err.status
            body: dict[str, Any] = {
                "ok": False,
                "error_code": err.status,
                "description": err.description,
            }
            if err.retry_after is not None:
                body["parameters"] = {"retry_after": err.retry_after}
            await self._notify()
            return web.json_response(body, status=err.status)
        await self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _call_in_answer(self, answer: bytes) -> None:
        """A webhook's 2xx answer may carry one Bot API call ("method" and its parameters,
        as JSON): Telegram makes it, and nobody learns whether it worked."""
        try:
            params = json.loads(answer)
        except ValueError:
            return
        if not isinstance(params, dict) or not isinstance(params.get("method"), str):
            return
        method = params.pop("method")
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        self.webhook_calls.append(call)
        handler = getattr(self, f"_api_{method}", None)
        try:
            if handler is None:
                raise _Error(404, "Not Found")
            await handler(params)
        except _Error as err:
            call.status = err.status
        await self._notify()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        params: dict[str, Any] = {}
        form = await request.post()
        files = {
            k: (v.filename, v.file.read()) for k, v in form.items() if isinstance(v, web.FileField)
        }
        attached = {
            v.removeprefix("attach://")
            for v in form.values()
            if isinstance(v, str) and v.startswith("attach://")
        }
        for key, value in form.items():
            if isinstance(value, web.FileField):
                if key not in attached:  # a file uploaded as the argument itself (ptb)
                    params[key] = files[key]
            elif value.startswith("attach://"):  # a file uploaded in another part (aiogram)
                params[key] = files.get(value.removeprefix("attach://"))
            elif key in _JSON_FIELDS:
                params[key] = json.loads(value)
            elif key in _INT_FIELDS or key == "chat_id":
                params[key] = int(value)
            else:
                params[key] = value
        return params

    def _apply_rules(self, method: str, params: dict[str, Any]) -> None:
        for rule in self.rules:
            matches = rule.method in (method, "*") and (rule.when is None or rule.when(params))
            if rule.times > 0 and matches:
                rule.times -= 1
                raise _Error(rule.status, rule.description, rule.retry_after)

    def _check_flood(self, chat_id: int) -> None:
        """Count this send against the limits, or refuse it with 429 and ``retry_after``."""
        now = self.clock()
        while self._window and self._window[0] <= now - 1.0:
            self._window.popleft()
        wait = 0.0
        if len(self._window) >= self.rate:
            wait = self._window[0] + 1.0 - now
        last = self._chat_last.get(chat_id)
        if last is not None and now - last < self.chat_interval:
            wait = max(wait, last + self.chat_interval - now)
        if wait > 0:
            self.flood_429s += 1
            self.flood_429s_chat += wait > 0 and len(self._window) < self.rate
            retry_after = max(1, math.ceil(wait))
            raise _Error(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        self._window.append(now)
        self._chat_last[chat_id] = now

    @property
    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "SIPAS", "username": self.username}

    async def _api_getMe(self, _params: dict[str, Any]) -> dict[str, Any]:
        return self._bot_user

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise _Error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset")
        if offset:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        async with self._changed:
            while not self._pending and not self._closing and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
        return self._pending[: int(params.get("limit") or 100)]

    async def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token")}
        if params.get("drop_pending_updates") in (True, "true"):
            self._pending.clear()
        if self._delivery is None or self._delivery.done():
            self._delivery = asyncio.create_task(self._deliver())
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates") in (True, "true"):
            self._pending.clear()
        return True

    async def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands[params.get("language_code") or ""] = params["commands"]
        return True

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._reachable(params)
        text = params.get("text") or ""
        _check_length(text, 4096, "message text")
        message = self._store(chat_id, text=text, buttons=_keyboard(params))
        return message.to_api(self._bot_user)

    async def _api_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_file(params, "photo")

    async def _api_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_file(params, "document")

    def _send_file(self, params: dict[str, Any], kind: str) -> dict[str, Any]:
        chat_id = self._reachable(params)
        upload = params.get(kind)
        if not isinstance(upload, tuple) or not upload[1]:
            raise _Error(400, f"Bad Request: there is no {kind} in the request")
        caption = params.get("caption")
        if caption is not None:
            _check_length(caption, 1024, "message caption", allow_empty=True)
        message = self._store(
            chat_id, caption=caption, buttons=_keyboard(params), file=upload, kind=kind
        )
        return message.to_api(self._bot_user)

    async def _api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find(params)
        text = params.get("text") or ""
        _check_length(text, 4096, "message text")
        buttons = _keyboard(params)
        if text == message.text and buttons == message.buttons:
            raise _Error(400, "Bad Request: message is not modified")
        message.text, message.buttons = text, buttons
        message.edits += 1
        return message.to_api(self._bot_user)

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find(params)
        buttons = _keyboard(params)
        if buttons == message.buttons:
            raise _Error(400, "Bad Request: message is not modified")
        message.buttons = buttons
        message.edits += 1
        return message.to_api(self._bot_user)

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        query = params.get("callback_query_id")
        if query not in self._queries or query in self.answered:
            raise _Error(400, "Bad Request: query is too old and response timeout expired")
        self.answered.add(query)
        return True

    # --- helpers ---------------------------------------------------------------------

    def _reachable(self, params: dict[str, Any]) -> int:
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked:
            raise _Error(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _find(self, params: dict[str, Any]) -> FakeMessage:
        message = self.chats.get(int(params["chat_id"]), {}).get(int(params["message_id"]))
        if message is None or message.kind == "user":
            raise _Error(400, "Bad Request: message to edit not found")
        return message

    def _store(self, chat_id: int, **fields: Any) -> FakeMessage:
        ids = self._message_ids.setdefault(chat_id, itertools.count(1))
        message = FakeMessage(next(ids), chat_id, **fields)
        self.chats.setdefault(chat_id, {})[message.message_id] = message
        return message

    def _kick(self) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: nothing is waiting
            task = asyncio.get_running_loop().create_task(self._notify())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _deliver(self) -> None:
        """Telegram's side of a webhook: POST pending updates in order until each gets 2xx."""
        async with ClientSession(timeout=ClientTimeout(total=30)) as http:
            while not self._closing:
                if self.webhook is None or not self._pending:
                    async with self._changed:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._changed.wait(), 0.2)
                    continue
                update = self._pending[0]
                headers = {}
                if self.webhook.get("secret_token"):
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
                try:
                    async with http.post(self.webhook["url"], json=update, headers=headers) as r:
                        status = r.status
                        answer = await r.read()
                except (ClientError, TimeoutError):
                    status = 0
                self.deliveries.append((update["update_id"], status))
                if 200 <= status < 300:
                    if self._pending and self._pending[0] is update:
                        self._pending.pop(0)
                    await self._call_in_answer(answer)
                else:
                    await asyncio.sleep(self.webhook_retry_delay)
                await self._notify()


class FakeUser:
    """One person in a private chat with the bot."""

    def __init__(self, tg: FakeTelegram, chat_id: int, first_name: str, language_code: str):
        self.tg = tg
        self.chat_id = chat_id
        self.profile = {
            "id": chat_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }

    @property
    def messages(self) -> list[FakeMessage]:
        """What the bot sent this user, oldest first (edits applied)."""
        return self.tg.messages(self.chat_id)

    @property
    def texts(self) -> list[str]:
        return [m.text or m.caption or "" for m in self.messages]

    def send(self, text: str) -> int:
        """Type a message (``/start CODE`` is what a deep link sends)."""
        return self._message({"text": text})

    def send_sticker(self) -> int:
        sticker = {
            "file_id": "s1",
            "file_unique_id": "s1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self._message({"sticker": sticker})

    def send_photo(self) -> int:
        photo = [{"file_id": "p1", "file_unique_id": "p1", "width": 90, "height": 90}]
        return self._message({"photo": photo})

    def press(self, label: str) -> int:
        """Press the button ``label`` on the newest message that still shows it."""
        for message in reversed(self.messages):
            for row in message.buttons:
                for button in row:
                    if button["text"] == label:
                        return self.press_data(message, button["callback_data"])
        shown = [m.labels for m in self.messages if m.buttons]
        raise AssertionError(f"no button {label!r}; keyboards shown: {shown}")

    def press_data(self, message: FakeMessage, data: str) -> int:
        """Press a button with ``data`` on ``message`` (even one no longer shown)."""
        query_id = str(next(self.tg._callback_ids))
        self.tg._queries.add(query_id)
        return self.tg.queue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.profile,
                    "chat_instance": f"ci{self.chat_id}",
                    "message": message.to_api(self.tg._bot_user),
                    "data": data,
                }
            }
        )

    def block(self) -> int:
        """Block the bot: later sends get 403, and Telegram reports the change."""
        self.tg.blocked.add(self.chat_id)
        member = {"user": self.tg._bot_user}
        return self.tg.queue(
            {
                "my_chat_member": {
                    "chat": {"id": self.chat_id, "type": "private"},
                    "from": self.profile,
                    "date": int(time.time()),
                    "old_chat_member": {**member, "status": "member"},
                    "new_chat_member": {**member, "status": "kicked", "until_date": 0},
                }
            }
        )

    def _message(self, content: dict[str, Any]) -> int:
        ids = self.tg._message_ids.setdefault(self.chat_id, itertools.count(1))
        message_id = next(ids)
        self.tg.chats.setdefault(self.chat_id, {})[message_id] = FakeMessage(
            message_id, self.chat_id, text=content.get("text"), kind="user"
        )
        return self.tg.queue(
            {
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": self.chat_id, "type": "private", "first_name": "x"},
                    "from": self.profile,
                    **content,
                }
            }
        )


def _keyboard(params: dict[str, Any]) -> list[list[dict[str, Any]]]:
    markup = params.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or []
    for row in rows:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= 64:
                raise _Error(400, "Bad Request: BUTTON_DATA_INVALID")
    return rows


def _check_length(text: str, limit: int, what: str, *, allow_empty: bool = False) -> None:
    units = len(text.encode("utf-16-le")) // 2  # Telegram counts UTF-16 code units
    if not text.strip() and not allow_empty:
        raise _Error(400, f"Bad Request: {what} is empty")
    if units > limit:
        raise _Error(400, f"Bad Request: {what} is too long")
