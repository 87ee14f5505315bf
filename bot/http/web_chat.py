"""``GET /chat`` and ``POST /chat``: the web chat's pages (the adapter is bot.channels.web).

Post/redirect/get: a post becomes an event, then the browser is sent back to ``GET
/chat``, which delivers the user's due replies and shows the conversation.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.channels.web import (
    CHANNEL,
    COOKIE,
    HEADERS,
    HISTORY,
    MAX_POST,
    SESSION_AGE,
    csrf_token,
    deliver,
    echo,
    problem_page,
    render,
    session_id,
    signer,
    to_event,
)
from bot.core import engine, metrics
from bot.core.app import App
from flows import survey
from flows.i18n import normalise_locale, translator
from flows.text import extract_code
from storage import conversations, outbox
from storage.outbox import NewMessage

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


def _with_cookie(response: Response, app: App, uid: str) -> Response:
    response.set_cookie(
        COOKIE,
        signer(app).dumps(uid),
        max_age=SESSION_AGE,
        path="/chat",
        httponly=True,
        samesite="lax",
        secure=(app.settings.public_url or "").startswith("https://"),
    )
    return response


def _slow(app: App, limit: str, wait: int) -> Response:
    """429 with a polite page (bot.core.throttle says which limits hold)."""
    metrics.THROTTLED.labels(limit).inc()
    page = problem_page(app, 429, "slow")
    page.headers["Retry-After"] = str(wait)
    return page


@router.get("/chat", response_class=HTMLResponse)
async def chat_page(request: Request, code: str | None = None, e: str | None = None):
    app: App = request.app.state.sipas
    uid = session_id(app, request.cookies.get(COOKIE))
    messages: list[dict[str, Any]] = []
    locale = app.settings.default_locale
    in_survey = False
    if uid is None:
        uid = secrets.token_urlsafe(18)  # a new respondent: nothing stored until they post
    else:
        await deliver(app, uid)
        async with app.db.read() as session:
            messages = await outbox.recent_sent(session, CHANNEL, uid, HISTORY)
            state = await conversations.peek(session, CHANNEL, app.keys.user_hash(CHANNEL, uid))
        if state:
            locale = normalise_locale(state.get("locale"), locale)
            in_survey = state.get("flow") == survey.FLOW and state.get("step") != "code"
    prefill = extract_code(code) if code and len(code) <= 64 else None
    page = render(
        translator(locale, app.settings.timezone),
        messages,
        csrf=csrf_token(app, uid),
        nonce=secrets.token_hex(16),
        prefill=prefill,
        notice=e,
        in_survey=in_survey,
    )
    return _with_cookie(HTMLResponse(page, headers=HEADERS), app, uid)


@router.post("/chat")
async def chat_post(request: Request):
    app: App = request.app.state.sipas
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_POST:
        return problem_page(app, 413, "too_long")
    address = request.client.host if request.client else ""
    throttles = app.throttles
    if not throttles.web_address.allow(address):
        return _slow(app, "web_address", throttles.web_address.retry_after(address))
    uid = session_id(app, request.cookies.get(COOKIE))
    if uid is None:  # expired, or cookies are off: start again, with a word why
        return RedirectResponse("/chat?e=session", status_code=303)
    if not throttles.web_session.allow(uid):
        return _slow(app, "web_session", throttles.web_session.retry_after(uid))
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not hmac.compare_digest(fields.get("csrf", "").encode(), csrf_token(app, uid).encode()):
        return problem_page(app, 403, "csrf")
    if "start" in fields and not throttles.code_address.allow(address):
        return _slow(app, "code_address", throttles.code_address.retry_after(address))
    event = to_event(uid, fields)
    if event is not None:
        try:
            await engine.handle(app, event, await _own_bubble(app, uid, event))
        except Exception:
            log.exception("web chat event failed")
            return problem_page(app, 503, "busy")
    code = extract_code(fields.get("code", "")) if event and event.payload[:2] == "l:" else None
    if code:  # the language changed before the survey began: keep the code filled in
        return RedirectResponse(f"/chat?code={code}#latest", status_code=303)
    return RedirectResponse("/chat#latest", status_code=303)


async def _own_bubble(app: App, uid: str, event) -> list[NewMessage]:
    """The citizen's own message, queued before the replies in the same transaction."""
    async with app.db.read() as session:
        shown = await outbox.recent_sent(session, CHANNEL, uid, 3)
        state = await conversations.peek(session, CHANNEL, app.keys.user_hash(CHANNEL, uid))
    locale = normalise_locale((state or {}).get("locale"), app.settings.default_locale)
    text = echo(event, translator(locale, app.settings.timezone), shown)
    return [NewMessage(CHANNEL, uid, {"text": text, "mine": True})] if text else []
