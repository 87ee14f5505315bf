"""``POST /webhooks/telegram``: Telegram updates in webhook mode.

The secret header is checked (constant time) before the body is even read; a wrong or
missing one gets 401 and nothing is stored or logged beyond the fact. The answer is 200
only after the engine committed the update; 5xx when processing failed, so Telegram
delivers it again (the engine recognises an update it already processed). The update's
JSON is parsed by the channel's own parser: no Bot API library is involved here (the
libraries' stock webhook handlers answer before processing).
"""

from __future__ import annotations

import functools
import hmac
import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

log = logging.getLogger(__name__)
router = APIRouter()
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@functools.cache
def _telegram():
    # Imported on the first update: deployments without Telegram never load the channel.
    from bot.channels.telegram.inbound import MalformedUpdate, update_id
    from bot.channels.telegram.service import handle_update
    from bot.core.engine import BadEvent

    return MalformedUpdate, update_id, handle_update, BadEvent


async def telegram_webhook(request: Request) -> JSONResponse:
    """Verify, parse, process one update; 200 only once it is committed."""
    app = request.app.state.sipas
    settings = app.settings
    if settings.telegram_webhook_url is None:
        return JSONResponse({"detail": "Telegram webhook is not configured"}, status_code=404)
    expected = settings.telegram_webhook_secret.get_secret_value().encode()
    given = request.headers.get(SECRET_HEADER, "").encode()
    if not hmac.compare_digest(given, expected):
        log.warning("Telegram webhook: wrong or missing secret token (request refused)")
        return JSONResponse({"detail": "wrong or missing secret token"}, status_code=401)

    MalformedUpdate, update_id, handle_update, BadEvent = _telegram()
    try:
        update = json.loads(await request.body())
        uid = update_id(update)
    except (ValueError, RecursionError):  # not JSON (or nested absurdly deep), not an update
        log.warning("Telegram webhook: malformed update refused")
        return JSONResponse({"detail": "malformed update"}, status_code=400)
    try:
        answer = await handle_update(app, update, webhook=True)
    except (BadEvent, MalformedUpdate) as exc:  # nothing was stored
        log.warning("Telegram webhook: update refused (%s)", exc)
        return JSONResponse({"detail": "malformed update"}, status_code=400)
    except Exception:
        log.exception("Telegram update %s failed; Telegram will deliver it again", uid)
        return JSONResponse({"detail": "processing failed"}, status_code=500)
    if answer is None:
        return JSONResponse({"ok": True})
    # A button press's answerCallbackQuery rides in the 200 (Telegram makes the call).
    # ASCII JSON: an id is the sender's text, and a lone surrogate in it (valid JSON,
    # not UTF-8) must not turn the committed update's 200 into a 500.
    return Response(json.dumps(answer), media_type="application/json")


# A plain Starlette route: FastAPI's parameter machinery has nothing to do here and
# cost a measurable share of each update.
router.add_route("/webhooks/telegram", telegram_webhook, methods=["POST"], include_in_schema=False)
