"""Limits every route shares: a cap on request bodies, and error answers that never
echo what was sent.

The cap is checked on the declared ``Content-Length`` before anything is read, and
again on the bytes as they arrive (a chunked body declares nothing): past it the answer
is 413 and the rest is not read. Caps (bytes), by path:

- ``/webhooks/telegram``, ``/webhooks/zalo``: 256 KiB (an update is a few KiB at most);
- ``/api/v1/``: 64 KiB (a dossier is well under 1 KiB);
- ``/chat``: 16 KiB (a comment is at most 1,000 characters);
- anything else: 16 KiB (the other routes take no body).

FastAPI's 422 answer quotes each invalid value back (``input``); a 10 MB field came back
as 42 MB of JSON. Here a 422 keeps FastAPI's shape (``loc``, ``msg``, ``type``) without
the input, with long names in ``loc`` cut and at most ``MAX_ERRORS`` errors.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

KIB = 1024
CAPS = (
    ("/webhooks/", 256 * KIB),
    ("/api/v1/", 64 * KIB),
    ("/chat", 16 * KIB),
)
DEFAULT_CAP = 16 * KIB
MAX_ERRORS = 20
MAX_LOC = 64  # characters of one part of an error's ``loc``


def cap_for(path: str) -> int:
    """The body cap of a path, in bytes."""
    for prefix, cap in CAPS:
        if path.startswith(prefix):
            return cap
    return DEFAULT_CAP


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes its cap (an HTTPException, so that
    FastAPI's body parsing lets it through as it is)."""

    def __init__(self, *, close: bool) -> None:
        headers = {"Connection": "close"} if close else None
        super().__init__(413, "request body too large", headers=headers)
        self.close = close


# Up to this many bytes (8 MiB), a refused body is left for the server to read and discard, so
# the client (which is still sending it) gets the 413 instead of a reset connection;
# past it the connection is closed rather than read for nothing.
DRAIN_LIMIT = 8 * 1024 * KIB


async def _too_large(send, *, close: bool = True) -> None:
    body = b'{"detail":"request body too large"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: 413 for a body over its path's cap."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = cap_for(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > cap:
                    await _too_large(send, close=not value.isdigit() or int(value) > DRAIN_LIMIT)
                    return
                break
        received = 0
        started = False

        async def limited():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                ended = not message.get("more_body", False)
                if received > cap:
                    # A body without a length (chunked) is drained as a declared one is,
                    # here, whichever layer turns the error into the 413 (FastAPI's own
                    # handler does on a route with a model): a 413 sent while the client
                    # still writes reaches it as a reset.
                    drained = ended or await _drain(receive, received)
                    raise BodyTooLarge(close=not drained)
            return message

        async def watched(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except BodyTooLarge as refused:
            if not started:
                await _too_large(send, close=refused.close)


async def _drain(receive, received: int) -> bool:
    """Read and drop the rest of a refused body, up to ``DRAIN_LIMIT`` bytes in all;
    whether it ended (False: too long to read for nothing, or the client left)."""
    while received <= DRAIN_LIMIT:
        message = await receive()
        if message["type"] != "http.request":
            return False
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            return True
    return False


def _short(part):
    if isinstance(part, str) and len(part) > MAX_LOC:
        return part[: MAX_LOC - 1] + "…"
    return part


async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    detail = [
        {
            "loc": [_short(p) for p in e.get("loc", ())][:10],
            "msg": str(e.get("msg", ""))[:300],
            "type": str(e.get("type", "")),
        }
        for e in errors[:MAX_ERRORS]
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def install(api: FastAPI) -> None:
    """Add the body cap and the quiet 422 to the application."""
    api.add_middleware(BodyLimit)
    api.add_exception_handler(RequestValidationError, _invalid)
