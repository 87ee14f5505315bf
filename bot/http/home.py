"""``GET /``: a short page telling a newcomer where to go."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from flows.i18n import translator

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(request: Request) -> HTMLResponse:
    app = request.app.state.sipas
    _ = translator(app.settings.default_locale, app.settings.timezone).gettext
    links = [
        ("/chat", _("Web chat: rate a service with your survey code")),
        ("/docs", _("Integration API (OpenAPI)")),
        ("/healthz", _("Health check")),
    ]
    items = "".join(f'<li><a href="{href}">{escape(label)}</a></li>' for href, label in links)
    title = escape(_("SIPAS survey bot"))
    intro = escape(_("Citizens rate public services here; officials get their reminders."))
    body = (
        f'<!doctype html><html lang="{app.settings.default_locale}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head><body><h1>{title}</h1><p>{intro}</p>"
        f"<ul>{items}</ul></body></html>"
    )
    return HTMLResponse(body)
