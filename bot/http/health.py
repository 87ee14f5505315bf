"""``GET /healthz``: the process is alive and the database answers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from storage import outbox

router = APIRouter()


@router.get("/healthz", tags=["operations"], summary="Liveness and database check")
async def healthz(request: Request) -> JSONResponse:
    app = request.app.state.sipas
    try:
        async with app.db.read() as session:
            queued = await outbox.counts(session)
    except Exception as exc:  # any database failure is "not healthy", with its kind
        return JSONResponse({"status": "error", "database": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok", "database": app.db.dialect, "outbox": queued})
