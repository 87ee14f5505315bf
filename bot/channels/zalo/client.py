"""An async client for Zalo's Official Account API and its OAuth server, on httpx.

Shaped after the old official ``zalo-python-sdk``: an app-info object (``ZaloAppInfo``),
an OA client built from it with one generic call (``api``, plus ``get``/``post``) and
typed helpers (``send_text``, ``send_buttons``, ``send_image``, ``send_file``,
``upload_image``, ``upload_file``, ``get_profile``). Unlike that SDK it is async, reads
every answer's ``error`` (Zalo reports most failures with HTTP 200), and handles an
expired access token itself: it asks its token source for a fresh one once and retries
once. Where the tokens live and how concurrent refreshes are kept apart is the token
source's business (``bot.channels.zalo_tokens``).

Requests that failed to connect are retried at once (they never reached Zalo, so a
retry cannot send twice); everything else is reported to the caller, whose outbox
owns persistent retries.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from bot.channels.zalo import facts

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
# A refresh runs while the credential row is held (on SQLite: every writer of the
# process waits), so it gets less time than an ordinary call.
OAUTH_TIMEOUT = httpx.Timeout(8.0, connect=4.0)
# Errors raised before the request left this machine: safe to repeat.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ZaloError(Exception):
    """Zalo answered with a failure (``code`` is its ``error`` field, when there is one)."""

    def __init__(self, code: int | None, message: str, http_status: int = 200) -> None:
        self.code = code
        self.message = message
        self.http_status = http_status
        self.kind = facts.classify(code, http_status)
        info = facts.ERRORS.get(code) if code is not None else None
        label = f"zalo error {code}" if code is not None else f"zalo HTTP {http_status}"
        detail = f" ({info.meaning})" if info and info.meaning != message else ""
        super().__init__(f"{label}: {message}{detail}")


class ZaloAuthError(ZaloError):
    """No usable token: the OAuth server refused to issue one (a spent or unknown
    refresh token…), or there is none to begin with."""

    def __init__(self, code: int | None, message: str, http_status: int = 200) -> None:
        super().__init__(code, message, http_status)
        self.kind = facts.ErrorKind.TOKEN


@dataclass(frozen=True)
class ZaloAppInfo:
    """The Zalo app: its id and secret key (the secret signs OAuth token requests only)."""

    app_id: str
    secret_key: str


@dataclass(frozen=True)
class TokenGrant:
    """What the OAuth server hands out: a new access token and a new refresh token."""

    access_token: str
    refresh_token: str
    expires_in: int | None  # seconds


@dataclass(frozen=True)
class ZaloButton:
    """A button whose press sends ``payload`` back as a (hidden) message from the user."""

    title: str
    payload: str
    type: str = facts.BUTTON_TYPE

    def to_api(self) -> dict[str, str]:
        return {"title": self.title, "type": self.type, "payload": self.payload}


class TokenSource(Protocol):
    """Where the client gets its access token, and a fresh one after a rejection."""

    async def access_token(self) -> str: ...

    async def refresh(self, stale: str) -> str:
        """A working access token replacing ``stale`` (refreshing only if still needed)."""
        ...


def _retrying() -> AsyncRetrying:
    return AsyncRetrying(
        retry=retry_if_exception_type(_NOT_SENT),
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.2, max=2),
        reraise=True,
    )


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ZaloError(None, f"not JSON: {response.text[:200]!r}", response.status_code) from None
    if not isinstance(body, dict):
        raise ZaloError(None, "answer is not a JSON object", response.status_code)
    return body


def _int(value: Any) -> int | None:
    """Zalo sends numbers as numbers or as strings ("90000", "-14020")."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _field(body: dict[str, Any], name: str) -> str:
    value = (body.get("data") or {}).get(name)
    if not value:
        raise ZaloError(None, f"answer without data.{name}")
    return str(value)


def new_pkce() -> tuple[str, str]:
    """A PKCE pair for the permission flow: (code_verifier, code_challenge).

    The verifier is 43 letters and digits; the challenge is the unpadded base64url of
    its SHA-256.
    """
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    verifier = "".join(secrets.choice(alphabet) for _ in range(43))
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


class ZaloOAuth:
    """The OAuth server: the first token pair (from an admin's approval) and refreshes."""

    def __init__(self, app: ZaloAppInfo, base: str, http: httpx.AsyncClient) -> None:
        self.app = app
        self.base = base.rstrip("/")
        self.http = http

    def permission_url(self, redirect_uri: str, code_challenge: str, state: str) -> str:
        """Where an OA admin approves the app; Zalo then redirects with ``?code=…``."""
        query = urlencode(
            {
                "app_id": self.app.app_id,
                "redirect_uri": redirect_uri,
                "code_challenge": code_challenge,
                "state": state,
            }
        )
        return f"{self.base}{facts.PERMISSION_PATH}?{query}"

    async def exchange_code(self, code: str, code_verifier: str) -> TokenGrant:
        """The first token pair, for the code of an admin's approval."""
        return await self._token(
            {
                "code": code,
                "app_id": self.app.app_id,
                "grant_type": "authorization_code",
                "code_verifier": code_verifier,
            }
        )

    async def refresh(self, refresh_token: str) -> TokenGrant:
        """A new pair for a refresh token, which is spent by this call (even on a lost
        answer), so it is never retried here."""
        if not refresh_token:
            raise ZaloAuthError(None, "no refresh token to refresh with")
        return await self._token(
            {
                "refresh_token": refresh_token,
                "app_id": self.app.app_id,
                "grant_type": "refresh_token",
            }
        )

    async def _token(self, form: dict[str, str]) -> TokenGrant:
        response = await self.http.post(
            self.base + facts.TOKEN_PATH,
            data=form,
            headers={"secret_key": self.app.secret_key},
            timeout=OAUTH_TIMEOUT,
        )
        try:
            body = _body(response)
        except ZaloError as exc:
            raise ZaloAuthError(exc.code, exc.message, exc.http_status) from None
        code = _int(body.get("error"))
        if response.status_code != 200 or code or not body.get("access_token"):
            message = str(
                body.get("error_description") or body.get("error_name") or body.get("message") or ""
            )
            raise ZaloAuthError(code, message or "no token in the answer", response.status_code)
        return TokenGrant(
            access_token=str(body["access_token"]),
            refresh_token=str(body.get("refresh_token") or ""),
            expires_in=_int(body.get("expires_in")),
        )


class ZaloOAClient:
    """The Official Account API for one OA, authenticated by a ``TokenSource``."""

    def __init__(self, tokens: TokenSource, base: str, http: httpx.AsyncClient) -> None:
        self.tokens = tokens
        self.base = base.rstrip("/")
        self.http = http

    # --- the generic call ----------------------------------------------------------

    async def api(
        self,
        endpoint: str,
        method: str = "GET",
        params: dict[str, Any] | None = None,
        *,
        json_body: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        """Call ``endpoint`` (e.g. ``/v3.0/oa/message/cs``) and return Zalo's answer.

        Raises ``ZaloError`` unless the answer is HTTP 200 with ``"error": 0``. An
        invalid or expired access token is refreshed once and the call repeated once.
        """
        token = await self.tokens.access_token()
        try:
            return await self._call(token, method, endpoint, params, json_body, files)
        except ZaloError as exc:
            if exc.kind is not facts.ErrorKind.TOKEN:
                raise
        token = await self.tokens.refresh(token)
        return await self._call(token, method, endpoint, params, json_body, files)

    async def get(self, endpoint: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.api(endpoint, "GET", params)

    async def post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.api(endpoint, "POST", json_body=body)

    async def _call(
        self,
        token: str,
        method: str,
        endpoint: str,
        params: dict[str, Any] | None,
        json_body: dict[str, Any] | None,
        files: dict[str, tuple[str, bytes, str]] | None,
    ) -> dict[str, Any]:
        async for attempt in _retrying():
            with attempt:
                response = await self.http.request(
                    method,
                    self.base + endpoint,
                    params=params,
                    json=json_body,
                    files=files,
                    headers={"access_token": token},
                )
        body = _body(response)
        code = _int(body.get("error"))
        if response.status_code != 200 or code != 0:
            raise ZaloError(code, str(body.get("message") or ""), response.status_code)
        return body

    # --- messages ------------------------------------------------------------------

    async def send_message(self, user_id: str, message: dict[str, Any]) -> str | None:
        """Send a customer-service message; returns Zalo's message id."""
        body = await self.post(
            facts.MESSAGE_CS_PATH, {"recipient": {"user_id": user_id}, "message": message}
        )
        data = body.get("data") or {}
        return str(data["message_id"]) if data.get("message_id") else None

    async def send_text(self, user_id: str, text: str) -> str | None:
        return await self.send_message(user_id, {"text": text})

    async def send_buttons(
        self, user_id: str, text: str, buttons: Sequence[ZaloButton]
    ) -> str | None:
        """A text with buttons (at most ``MAX_BUTTONS``)."""
        if not 0 < len(buttons) <= facts.MAX_BUTTONS:
            raise ValueError(f"a Zalo message takes 1 to {facts.MAX_BUTTONS} buttons")
        return await self.send_message(
            user_id, facts.button_message(text, [b.to_api() for b in buttons])
        )

    async def send_image(
        self, user_id: str, attachment_id: str, text: str | None = None
    ) -> str | None:
        """An image uploaded with ``upload_image``."""
        return await self.send_message(user_id, facts.image_message(attachment_id, text))

    async def send_file(self, user_id: str, token: str) -> str | None:
        """A file uploaded with ``upload_file``."""
        return await self.send_message(user_id, facts.file_message(token))

    # --- uploads and profiles ------------------------------------------------------

    async def upload_image(self, data: bytes, filename: str, mime: str) -> str:
        """Upload an image; returns the ``attachment_id`` to send it with."""
        body = await self.api(
            facts.UPLOAD_IMAGE_PATH, "POST", files={facts.UPLOAD_FIELD: (filename, data, mime)}
        )
        return _field(body, "attachment_id")

    async def upload_file(self, data: bytes, filename: str, mime: str) -> str:
        """Upload a file (PDF, DOC…); returns the ``token`` to send it with."""
        body = await self.api(
            facts.UPLOAD_FILE_PATH, "POST", files={facts.UPLOAD_FIELD: (filename, data, mime)}
        )
        return _field(body, "token")

    async def get_profile(self, user_id: str) -> dict[str, Any]:
        """A follower's profile (display name, avatar…) as Zalo returns it."""
        body = await self.get(facts.PROFILE_PATH, facts.profile_query(user_id))
        return dict(body.get("data") or {})
