"""``POST /webhooks/telegram``: Telegram updates in webhook mode.

The secret header is checked (constant time) before the body is even read; a wrong or
missing one gets 401 and nothing is stored or logged beyond the fact. The answer is 200
only after the engine committed the update; 5xx when processing failed, so Telegram
delivers it again (the engine recognises an update it already processed). aiogram's
stock webhook handler is not used: it answers before processing.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)
router = APIRouter()
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@functools.cache
def _telegram():
    # aiogram takes seconds to import: only deployments that use Telegram pay for it,
    # once (an import statement here ran the import machinery on every update).
    from aiogram.types import Update

    from bot.channels.telegram.service import bot_for, handle_update
    from bot.core.engine import BadEvent

    return Update, bot_for, handle_update, BadEvent


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

    Update, bot_for, handle_update, BadEvent = _telegram()
    try:
        data = json.loads(await request.body())
        update = Update.model_validate(data, context={"bot": bot_for(app)})
    except (ValueError, RecursionError):  # not JSON (or nested absurdly deep), not an update
        log.warning("Telegram webhook: malformed update refused")
        return JSONResponse({"detail": "malformed update"}, status_code=400)
    try:
        await handle_update(app, update)
    except BadEvent as exc:  # ids no Telegram update has: nothing was stored
        log.warning("Telegram webhook: update refused (%s)", exc)
        return JSONResponse({"detail": "malformed update"}, status_code=400)
    except Exception:
        log.exception("Telegram update %s failed; Telegram will deliver it again", update.update_id)
        return JSONResponse({"detail": "processing failed"}, status_code=500)
    return JSONResponse({"ok": True})


# A plain Starlette route: FastAPI's parameter machinery has nothing to do here and
# cost a measurable share of each update.
router.add_route("/webhooks/telegram", telegram_webhook, methods=["POST"], include_in_schema=False)
