"""``GET /qr/{code}.png``: the QR code of a survey link, for receipts and screens.

Drawn from the code alone, without a database lookup, so the answer (and its timing)
is the same for a code that exists and one that does not: the route tells nobody
whether a code is real. Only the format is checked.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from bot.render.qr import qr_png
from bot.services import invites
from flows.text import extract_code

router = APIRouter(tags=["integration"])


@router.get(
    "/qr/{code}.png",
    summary="QR code (PNG) of the survey link for a code",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "The QR code"},
        404: {"description": "Not a survey code (wrong format)"},
    },
)
async def qr_code(code: str, request: Request) -> Response:
    normalised = extract_code(code) if len(code) <= 64 else None
    if normalised is None:
        raise HTTPException(status_code=404, detail="not a survey code")
    app = request.app.state.sipas
    png = qr_png(invites.survey_link(app, normalised))
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})
