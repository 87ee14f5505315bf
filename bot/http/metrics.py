"""``GET /metrics``: the process's metrics in Prometheus's text format.

Access: with ``SIPAS_METRICS_TOKEN`` set, ``Authorization: Bearer <token>`` (compared in
constant time), from anywhere; without it, only clients on this machine (loopback, and
not forwarded by a proxy). The database figures are read here, at scrape time, in one
short read transaction (bot/core/metrics.py).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select

from bot.core import metrics
from bot.core.app import App
from storage import outbox_admin
from storage.models import Credential, Reminder

log = logging.getLogger(__name__)
router = APIRouter()
_PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def _local(request: Request) -> bool:
    if any(h in request.headers for h in _PROXY_HEADERS):
        return False  # came through a proxy: not this machine's own client
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed(request: Request) -> bool:
    """Whether this request may read the metrics (token, or a local client)."""
    token = request.app.state.sipas.settings.metrics_token
    if token is None:
        return _local(request)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


async def refresh(app: App) -> None:
    """Set the gauges that come from the database."""
    now = app.now()
    async with app.db.read() as session:
        depth = await outbox_admin.depth(session)
        dead = await outbox_admin.dead_letters(session)
        pruned = await outbox_admin.pruned_sent(session)
        due = (
            await session.exec(
                select(func.count())
                .select_from(Reminder)
                .where(Reminder.status == "pending", Reminder.due_at <= now)
            )
        ).scalar_one()
        zalo = await session.get(Credential, "zalo")
    metrics.OUTBOX_DEPTH.clear()
    for (channel, status), n in depth.items():
        metrics.OUTBOX_DEPTH.labels(channel, status).set(n)
    metrics.DEAD_LETTERS.clear()
    for channel, n in dead.items():
        metrics.DEAD_LETTERS.labels(channel).set(n)
    metrics.SENT_PRUNED.clear()
    for channel, n in pruned.items():
        metrics.SENT_PRUNED.labels(channel).set(n)
    metrics.REMINDERS_DUE.set(due)
    _zalo_token(app, zalo.data if zalo else None, now)


def _zalo_token(app: App, data: dict | None, now: datetime) -> None:
    if not app.settings.zalo_sends:
        return  # no Zalo sending here: the gauges stay absent from the page
    if not data or not data.get("access_token"):
        metrics.ZALO_TOKEN_VALID.labels("zalo").set(0)
        return
    expires = data.get("expires_at")
    if not expires:  # a pair given in the environment: validity unknown until used
        metrics.ZALO_TOKEN_VALID.labels("zalo").set(1)
        return
    left = (datetime.fromisoformat(expires) - now).total_seconds()
    metrics.ZALO_TOKEN_EXPIRES.labels("zalo").set(left)
    metrics.ZALO_TOKEN_VALID.labels("zalo").set(1 if left > 0 else 0)


async def metrics_page(request: Request) -> Response:
    """The metrics; 403 for a caller without the token (or not local)."""
    if not allowed(request):
        return JSONResponse({"detail": "metrics are not public"}, status_code=403)
    app: App = request.app.state.sipas
    try:
        await refresh(app)
    except Exception as exc:  # the process's own figures are still worth reading
        metrics.database_error(exc)
        log.warning("metrics: database figures not read (%s)", type(exc).__name__)
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


router.add_route("/metrics", metrics_page, methods=["GET"], include_in_schema=False)
