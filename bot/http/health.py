"""``GET /healthz``: the process is alive and the database answers, reads and writes.

200 ``{"status": "ok", ...}`` with the outbox counts; 503 ``{"status": "error"}`` when
the database does not answer, and 503 ``{"status": "degraded", "writes": "failed"}``
when it answers reads but a write transaction cannot be had within
``WRITE_TIMEOUT`` seconds (locked by another process, read-only, full): webhooks would
fail, so load balancers and monitors must see it.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from storage import outbox
from storage.health import probe_write

# Seconds a write may wait (an import holds SQLite's write lock ~50 ms at a time; a busy
# 2-core machine can take a second or two to schedule the probe).
WRITE_TIMEOUT = 5.0

router = APIRouter()


@router.get("/healthz", tags=["operations"], summary="Liveness, database reads and writes")
async def healthz(request: Request) -> JSONResponse:
    app = request.app.state.sipas
    try:
        async with app.db.read() as session:
            queued = await outbox.counts(session)
    except Exception as exc:  # any database failure is "not healthy", with its kind
        return JSONResponse({"status": "error", "database": type(exc).__name__}, status_code=503)
    body = {"status": "ok", "database": app.db.dialect, "writes": "ok", "outbox": queued}
    try:
        await asyncio.wait_for(probe_write(app.db, WRITE_TIMEOUT), WRITE_TIMEOUT + 3)
    except Exception as exc:  # the kind is the answer
        body.update(status="degraded", writes="failed", error=type(exc).__name__)
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)
