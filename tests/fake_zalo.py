"""A fake Zalo: the OA API and the OAuth server on 127.0.0.1 (random ports), plus
webhook events signed the way Zalo signs them. For tests and benchmarks.

It behaves like the parts of Zalo the bot uses, as far as we know them:

- every API call needs a valid ``access_token`` header, else HTTP 200 with
  ``"error": -216``; ``expire_access_tokens()`` makes the current ones invalid;
- a refresh token works once (reuse: ``-14020``); the OAuth server checks the app id,
  the ``secret_key`` header and, for the first pair, the PKCE verifier;
- messages are checked against Zalo's limits (buttons per message, title, payload and
  text lengths) and refused with a negative ``error`` when they break one;
- ``user_errors`` makes sends to a user fail with a chosen code (outside the messaging
  window, blocked…); ``fail_next`` scripts failures of the next sends.

ZNS (template messages by phone number) is served too: see ``tests.fake_zns``.

It records every call (``calls``) and every accepted message (``delivered``). It is
written from the reference, not from the bot's code, so the two can disagree.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fake_zns import FakeZnsMixin

MAX_BUTTONS = 5
MAX_TITLE = 100
MAX_PAYLOAD = 1000
MAX_TEXT = 2000


@dataclass
class Call:
    server: str  # "api", "oauth" or "zns"
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any  # JSON body, form fields, or {"file": (filename, bytes, mime)}
    answer: dict[str, Any] = field(default_factory=dict)
    status: int = 200


@dataclass
class Delivered:
    """A message Zalo accepted, as the user would see it."""

    user_id: str
    message_id: str
    text: str
    buttons: list[dict[str, Any]]
    image: bytes | None = None
    file: tuple[str, bytes] | None = None


OA_ID = "1646000000000000001"


class ZaloEvents:
    """Webhook events as Zalo posts and signs them, for one app id and OA secret (used by
    the fake server's tests and by the synthetic citizens of tests/citizens.py)."""

    def __init__(self, app_id: str, oa_secret: str) -> None:
        self.app_id = app_id
        self.oa_secret = oa_secret
        self._ids = itertools.count(1)

    def signature(self, body: bytes, timestamp: str) -> str:
        """Zalo's event signature: hex SHA-256 of app id + raw body + timestamp + OA secret."""
        raw = self.app_id.encode() + body + timestamp.encode() + self.oa_secret.encode()
        return hashlib.sha256(raw).hexdigest()

    def event(self, name: str, user: str, **extra: Any) -> dict[str, Any]:
        """An event as Zalo posts it (the user is ``sender`` or ``follower``)."""
        event: dict[str, Any] = {"app_id": self.app_id, "event_name": name}
        if name in ("follow", "unfollow"):
            event["follower"] = {"id": user}
            event["oa_id"] = OA_ID
        else:
            event["sender"] = {"id": user}
            event["recipient"] = {"id": OA_ID}
        event.update(extra)
        event["user_id_by_app"] = f"app-{user}"
        event.setdefault("timestamp", str(int(time.time() * 1000)))
        return event

    def text_event(
        self, user: str, text: str, msg_id: str | None = None, timestamp_ms: int | None = None
    ) -> dict[str, Any]:
        """A ``user_send_text`` event (a typed text, or a press of a hidden-query button)."""
        msg_id = msg_id or f"msg{next(self._ids):012d}"
        extra: dict[str, Any] = {"message": {"text": text, "msg_id": msg_id}}
        if timestamp_ms is not None:
            extra["timestamp"] = str(timestamp_ms)
        return self.event("user_send_text", user, **extra)

    def signed(self, event: dict[str, Any], *, prefix: str = "") -> tuple[bytes, dict[str, str]]:
        """The raw body and headers of a delivery of ``event``, signed by Zalo."""
        body = json.dumps(event, ensure_ascii=False).encode()
        mac = prefix + self.signature(body, str(event["timestamp"]))
        return body, {"Content-Type": "application/json", "X-ZEvent-Signature": mac}


class FakeZalo(FakeZnsMixin, ZaloEvents):
    def __init__(
        self,
        *,
        app_id: str = "4411223344556677889",
        app_secret: str = "fake-app-secret",
        oa_secret: str = "fake-oa-secret",
        expires_in: int = 90000,
    ) -> None:
        super().__init__(app_id, oa_secret)
        self.app_secret = app_secret
        self.expires_in = expires_in
        self.calls: list[Call] = []
        self.delivered: list[Delivered] = []
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.spent_refresh_tokens: set[str] = set()
        self.codes: dict[str, str] = {}  # authorization code → PKCE challenge
        self.uploads: dict[str, tuple[str, bytes, str]] = {}
        self.user_errors: dict[str, tuple[int, str]] = {}
        self.oauth_delay = 0.0
        self._script: list[tuple[int, dict[str, Any]] | None] = []  # None: answer normally
        self._runners: list[web.AppRunner] = []
        self.api_base = ""
        self.oauth_base = ""
        self._init_zns()

    # --- life ----------------------------------------------------------------------

    async def start(self) -> FakeZalo:
        api = web.Application(client_max_size=10 * 1024 * 1024)
        api.router.add_post("/v3.0/oa/message/cs", self._message)
        api.router.add_post("/v2.0/oa/upload/image", self._upload)
        api.router.add_post("/v2.0/oa/upload/file", self._upload)
        api.router.add_get("/v3.0/oa/user/detail", self._profile)
        oauth = web.Application()
        oauth.router.add_post("/v4/oa/access_token", self._token)
        self.api_base = await self._serve(api)
        self.oauth_base = await self._serve(oauth)
        await self._start_zns()
        return self

    async def _serve(self, application: web.Application) -> str:
        runner = web.AppRunner(application, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> FakeZalo:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # --- controls ------------------------------------------------------------------

    def issue_pair(self) -> tuple[str, str]:
        """A valid (access token, refresh token) pair, as an admin's approval gives."""
        access, refresh = f"at-{secrets.token_hex(8)}", f"rt-{secrets.token_hex(8)}"
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return access, refresh

    def issue_code(self, code_challenge: str) -> str:
        """An authorization code, as Zalo redirects with after an admin approved."""
        code = f"code-{secrets.token_hex(6)}"
        self.codes[code] = code_challenge
        return code

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def fail_next(
        self, status: int = 200, error: int = -200, message: str = "failed", *, after: int = 0
    ) -> None:
        """A coming message send fails with this answer: the next one, or the one after
        ``after`` normal sends (call repeatedly to queue more)."""
        self._script += [None] * after + [(status, {"error": error, "message": message})]

    def messages_to(self, user_id: str) -> list[Delivered]:
        return [m for m in self.delivered if m.user_id == user_id]

    def api_calls(self, path: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.server == "api" and (path is None or c.path == path)]

    def oauth_calls(self) -> list[Call]:
        return [c for c in self.calls if c.server == "oauth"]

    # --- the API -------------------------------------------------------------------

    def _record(self, server: str, request: web.Request, body: Any) -> Call:
        call = Call(
            server, request.method, request.path, dict(request.headers), dict(request.query), body
        )
        self.calls.append(call)
        return call

    def _answer(self, call: Call, answer: dict[str, Any], status: int = 200) -> web.Response:
        call.answer, call.status = answer, status
        return web.json_response(answer, status=status)

    def _token_error(self, request: web.Request) -> dict[str, Any] | None:
        if request.headers.get("access_token") not in self.access_tokens:
            return {"error": -216, "message": "Access token is invalid"}
        return None

    async def _message(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        call = self._record("api", request, body)
        if (problem := self._token_error(request)) is not None:
            return self._answer(call, problem)
        scripted = self._script.pop(0) if self._script else None
        if scripted is not None:
            return self._answer(call, scripted[1], scripted[0])
        if not isinstance(body, dict):
            return self._answer(call, {"error": -201, "message": "body is not JSON"})
        user = str((body.get("recipient") or {}).get("user_id") or "")
        if not user:
            return self._answer(call, {"error": -201, "message": "recipient.user_id is invalid"})
        if user in self.user_errors:
            code, message = self.user_errors[user]
            return self._answer(call, {"error": code, "message": message})
        message = body.get("message") or {}
        delivered, problem = self._read_message(user, message)
        if problem:
            return self._answer(
                call, {"error": -210 if "limit" in problem else -201, "message": problem}
            )
        self.delivered.append(delivered)
        return self._answer(
            call,
            {
                "error": 0,
                "message": "Success",
                "data": {"message_id": delivered.message_id, "user_id": user},
            },
        )

    def _read_message(self, user: str, message: dict[str, Any]) -> tuple[Delivered, str | None]:
        text = str(message.get("text") or "")
        delivered = Delivered(user, f"mid{next(self._ids):010d}", text, [])
        attachment = message.get("attachment")
        if len(text) > MAX_TEXT:
            return delivered, f"text exceeds the limit of {MAX_TEXT} characters"
        if attachment is None:
            return delivered, None if text else "message.text is empty"
        kind = attachment.get("type")
        payload = attachment.get("payload") or {}
        if kind == "file":
            upload = self.uploads.get(str(payload.get("token")))
            if upload is None:
                return delivered, "file token is invalid"
            delivered.file = (upload[0], upload[1])
            return delivered, None
        if kind != "template":
            return delivered, "attachment.type is invalid"
        if payload.get("template_type") == "media":
            element = (payload.get("elements") or [{}])[0]
            upload = self.uploads.get(str(element.get("attachment_id")))
            if element.get("media_type") != "image" or upload is None:
                return delivered, "attachment_id is invalid"
            delivered.image = upload[1]
            return delivered, None
        buttons = payload.get("buttons") or []
        # The question may be in message.text or (another known form) in payload.text.
        delivered.text = text or str(payload.get("text") or "")
        if not delivered.text:
            return delivered, "message.text is empty"
        if not buttons or len(buttons) > MAX_BUTTONS:
            return delivered, f"buttons: {len(buttons)} exceeds the limit of {MAX_BUTTONS}"
        for button in buttons:
            title, value = str(button.get("title") or ""), button.get("payload")
            if button.get("type") not in ("oa.query.hide", "oa.query.show", "oa.open.url"):
                return delivered, "button.type is invalid"
            if not title or len(title) > MAX_TITLE:
                return delivered, f"button.title exceeds the limit of {MAX_TITLE}"
            if isinstance(value, str) and not 0 < len(value) <= MAX_PAYLOAD:
                return delivered, f"button.payload exceeds the limit of {MAX_PAYLOAD}"
        delivered.buttons = list(buttons)
        return delivered, None

    async def _upload(self, request: web.Request) -> web.Response:
        files: dict[str, tuple[str, bytes, str]] = {}
        if request.content_type == "multipart/form-data":
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files[name] = (value.filename, value.file.read(), value.content_type)
        call = self._record("api", request, files)
        if (problem := self._token_error(request)) is not None:
            return self._answer(call, problem)
        if "file" not in files:
            return self._answer(call, {"error": -201, "message": "file is missing"})
        ident = f"up{next(self._ids):010d}"
        self.uploads[ident] = files["file"]
        key = "attachment_id" if request.path.endswith("/image") else "token"
        return self._answer(call, {"error": 0, "message": "Success", "data": {key: ident}})

    async def _profile(self, request: web.Request) -> web.Response:
        call = self._record("api", request, None)
        if (problem := self._token_error(request)) is not None:
            return self._answer(call, problem)
        try:
            user = str(json.loads(request.query.get("data", "{}"))["user_id"])
        except (ValueError, KeyError):
            return self._answer(call, {"error": -201, "message": "data is invalid"})
        return self._answer(
            call,
            {
                "error": 0,
                "message": "Success",
                "data": {"user_id": user, "display_name": f"Người dùng {user[-4:]}"},
            },
        )

    # --- OAuth ---------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        call = self._record("oauth", request, form)
        if self.oauth_delay:
            await asyncio.sleep(self.oauth_delay)
        if request.headers.get("secret_key") != self.app_secret:
            return self._answer(call, {"error": -14002, "error_name": "Invalid secret key"})
        if form.get("app_id") != self.app_id:
            return self._answer(call, {"error": -14001, "error_name": "Invalid app id"})
        grant = form.get("grant_type")
        if grant == "refresh_token":
            token = str(form.get("refresh_token") or "")
            if token in self.spent_refresh_tokens:
                return self._answer(
                    call,
                    {
                        "error": -14020,
                        "error_name": "Refresh token has been used",
                        "error_description": "used",
                    },
                )
            if token not in self.refresh_tokens:
                return self._answer(call, {"error": -14014, "error_name": "Invalid refresh token"})
            self.refresh_tokens.discard(token)
            self.spent_refresh_tokens.add(token)
        elif grant == "authorization_code":
            challenge = self.codes.pop(str(form.get("code") or ""), None)
            verifier = str(form.get("code_verifier") or "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if (
                challenge is None
                or base64.urlsafe_b64encode(digest).decode().rstrip("=") != challenge
            ):
                return self._answer(
                    call, {"error": -14019, "error_name": "Invalid code or verifier"}
                )
        else:
            return self._answer(call, {"error": -14003, "error_name": "Invalid grant type"})
        access, refresh = self.issue_pair()
        return self._answer(
            call,
            {"access_token": access, "refresh_token": refresh, "expires_in": str(self.expires_in)},
        )
