"""python-telegram-bot's request layer on aiohttp: what ``telegram.Bot`` sends its calls through.

ptb's own ``HTTPXRequest`` (httpx → httpcore → anyio) cost about two thirds of the
sender's CPU per Bot API call; the same call through aiohttp costs a third of that
(``bench/telegram_clients.py``). aiohttp is already pinned (aiogram runs on it), and
``BaseRequest`` is ptb's documented place for another HTTP library. Bodies are what ptb
gives ``HTTPXRequest``: form fields (values JSON-encoded by ptb), multipart when a photo
or document goes with them.

A status ptb has no exception class for (5xx, 413…) is raised here, told apart, so that
a 5xx is retried and a 413 is a dead letter (ptb alone calls both ``NetworkError``).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import aiohttp
from telegram.error import BadRequest, NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_KNOWN_4XX = {400, 401, 403, 404, 409, 429}  # statuses ptb has an exception class for


class ServerError(NetworkError):
    """A 5xx answer (ptb alone reports it as a ``NetworkError``, like a dropped line)."""


class ClientError(BadRequest):
    """A 4xx answer ptb has no class for (413 Request Entity Too Large…): not retried."""


class AiohttpRequest(BaseRequest):
    """One aiohttp session with up to ``pool_size`` connections, made on first use.

    aiohttp has no write timeout: a request's whole time is bounded by the sum of the
    four timeouts, so a stalled upload ends too.
    """

    def __init__(
        self,
        pool_size: int = 8,
        connect_timeout: float = 10.0,
        read_timeout: float = 10.0,
        write_timeout: float = 30.0,
        pool_timeout: float = 10.0,
    ) -> None:
        self._pool_size = pool_size
        self._timeouts = (connect_timeout, read_timeout, write_timeout, pool_timeout)
        self._default_timeout = _timeout(*self._timeouts)  # most calls give none of their own
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts[1]

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # A session belongs to the running loop, so it is made inside it, never in
            # ``__init__`` (a client is built before the server's loop runs).
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None:
            await self.initialize()
        assert self._session is not None
        given = (connect_timeout, read_timeout, write_timeout, pool_timeout)
        if all(t is BaseRequest.DEFAULT_NONE for t in given):
            timeout = self._default_timeout
        else:
            timeout = _timeout(
                *(
                    default if t is BaseRequest.DEFAULT_NONE else t
                    for t, default in zip(given, self._timeouts, strict=True)
                )
            )
        try:
            async with self._session.request(
                method, url, data=_body(request_data), timeout=timeout
            ) as response:
                code, payload = response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        if code >= 500 or (400 <= code < 500 and code not in _KNOWN_4XX):
            description = f"HTTP {code}"
            with contextlib.suppress(ValueError, KeyError, TypeError):
                description = f"{code} {json.loads(payload)['description']}"
            raise (ServerError if code >= 500 else ClientError)(description)
        return code, payload


def _timeout(
    connect: float | None, read: float | None, write: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    """ptb's four timeouts in aiohttp's terms (None: no limit). aiohttp's ``connect``
    includes waiting for a free connection of the pool."""
    bounded = None not in (connect, read, write, pool)
    return aiohttp.ClientTimeout(
        total=connect + read + write + pool if bounded else None,  # type: ignore[operator]
        connect=connect + pool if connect is not None and pool is not None else None,
        sock_connect=connect,
        sock_read=read,
    )


def _body(request_data: RequestData | None) -> dict[str, str] | aiohttp.FormData | None:
    """Form fields, or a multipart form when files go with them (as ptb gives httpx)."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    if not request_data.contains_files:
        return fields
    form = aiohttp.FormData(fields)
    for name, (filename, content, mime) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mime)
    return form
