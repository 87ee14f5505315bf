"""``POST /webhooks/zalo``: Zalo OA events.

The body's size is checked before it is read, the signature before it is parsed; an
event for another app (its ``app_id``) or timestamped outside
``SIPAS_ZALO_EVENT_WINDOW_MINUTES`` of this machine's clock is refused with 403. The
answer is 200 only after the engine committed the event, 5xx when processing failed so
Zalo delivers it again (the engine recognises an event it already processed).
"""

from __future__ import annotations

import json
import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.channels.zalo import facts
from bot.channels.zalo.adapter import CHANNEL, MAX_BODY, refusal, to_event, verify
from bot.core import engine, metrics
from bot.core.app import App

log = logging.getLogger(__name__)
router = APIRouter()


def _refused(error: str, status: int) -> JSONResponse:
    metrics.inbound(CHANNEL, "refused")
    return JSONResponse({"error": error}, status_code=status)


async def webhook(request: Request) -> JSONResponse:
    """Verify, parse, process one Zalo event; 200 only once it is committed."""
    app: App = request.app.state.sipas
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        log.warning("zalo webhook refused: body of %s bytes", declared)
        return _refused("body too large", 413)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        log.warning("zalo webhook refused: body of %d bytes", len(raw))
        return _refused("body too large", 413)
    problem = verify(app.settings, raw, request.headers.get(facts.SIGNATURE_HEADER))
    if problem:
        log.warning("zalo webhook refused: %s", problem)
        return _refused("bad signature", 401)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        log.warning("zalo webhook refused: signed body is not JSON")
        return _refused("body is not JSON", 400)
    if not isinstance(data, dict):
        return _refused("body is not a JSON object", 400)
    problem = refusal(app.settings, data, int(time.time() * 1000))
    if problem:
        log.warning("zalo webhook refused: %s", problem)
        return _refused(problem, 403)
    if str(data.get("event_name") or "") in facts.ZNS_RATING_EVENTS:
        return await _rating(app, data)
    event = to_event(data, app.keys, app.now())
    if event is None:
        metrics.inbound(CHANNEL, "ignored")
        return JSONResponse({"ok": True, "ignored": True})
    try:
        await engine.handle(app, event)
    except engine.BadEvent as exc:
        log.warning("zalo webhook refused: %s", exc)
        return JSONResponse({"error": "malformed event"}, status_code=400)
    except Exception:
        log.exception("zalo event %s failed; Zalo will deliver it again", event.event_id)
        return JSONResponse({"error": "processing failed"}, status_code=500)
    return JSONResponse({"ok": True})


async def _rating(app: App, data: dict) -> JSONResponse:
    """A rating given on a ZNS rating template: stored once (deduplicated on Zalo's
    message id with the rating list), counted when it matches a dossier."""
    from bot.channels.zalo.zns import rating_from
    from bot.services import zns_ratings

    rating = rating_from(data)
    if rating is None:
        log.warning("zalo rating event without a message id: ignored")
        return JSONResponse({"ok": True, "ignored": True})
    try:
        await zns_ratings.ingest(app, [rating], "webhook")
    except Exception:
        log.exception("zns rating %s failed; Zalo will deliver it again", rating.msg_id)
        return JSONResponse({"error": "processing failed"}, status_code=500)
    return JSONResponse({"ok": True})


# A plain Starlette route, as for Telegram: no FastAPI parameter machinery per event.
router.add_route("/webhooks/zalo", webhook, methods=["POST"], include_in_schema=False)
