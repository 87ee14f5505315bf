"""``/kiosk``: the counter tablet's pages (the adapter is bot.channels.kiosk, the logic
bot.services.kiosk), and ``/kiosk/pair/{code}``, where a tablet is paired once.

``GET`` never changes anything (a link preview of the pairing link pairs nothing); each
``POST`` is answered with a redirect to the page of the next step.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.channels import kiosk as pages
from bot.channels.web import HEADERS
from bot.core.app import App
from bot.services import kiosk
from bot.services.kiosk import KioskStep
from flows import questionnaire as qn
from flows.i18n import translator
from storage.kiosks import DeviceRow

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


def _t(app: App):
    return translator(app.settings.default_locale, app.settings.timezone)


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def _not_paired(app: App) -> HTMLResponse:
    _ = _t(app).gettext
    body = pages.message_body(
        _("This tablet is not set up for surveys."),
        _(
            "It has not been paired, or it was revoked. Please ask the administrator for a "
            "new pairing link."
        ),
    )
    response = _html(pages.page(_t(app), body), 403)
    response.delete_cookie(pages.COOKIE, path="/kiosk")
    return response


async def _device(app: App, request: Request) -> tuple[DeviceRow, str] | None:
    found = pages.read_device_cookie(app, request.cookies.get(pages.COOKIE))
    if found is None:
        return None
    dev = await kiosk.device(app, *found)
    return (dev, found[1]) if dev is not None else None


def _see(step: KioskStep | None, app: App, dev: DeviceRow) -> RedirectResponse:
    if step is None:
        return RedirectResponse("/kiosk/thanks", status_code=303)
    return RedirectResponse(f"/kiosk?s={pages.step_token(app, dev.id, step)}", status_code=303)


@router.get("/kiosk", response_class=HTMLResponse)
async def kiosk_page(request: Request, s: str | None = None):
    app: App = request.app.state.sipas
    found = await _device(app, request)
    if found is None:
        return _not_paired(app)
    dev, token = found
    step = pages.read_step(app, dev.id, s)
    if step is None or not await kiosk.is_current(app, dev, step):
        step = kiosk.new_step()  # a new citizen: nothing of the last one is shown
        if s:
            return RedirectResponse("/kiosk", status_code=303)
    return _html(_render(app, dev, token, step, picker=s is None))


def _render(app: App, dev: DeviceRow, token: str, step: KioskStep, *, picker: bool) -> str:
    t = _t(app)
    _ = t.gettext
    csrf = pages.csrf_token(app, dev.id, token)
    signed = pages.step_token(app, dev.id, step)
    items = kiosk.kiosk_items(dev.questionnaire_code)
    idle = (app.settings.kiosk_idle_seconds, "/kiosk")
    if picker and dev.procedures:
        body = pages.choice_body(
            t,
            _("Which procedure did you come for today?"),
            [(str(pid), name) for pid, name in dev.procedures],
            field="p",
            csrf=csrf,
            step=signed,
            skip=_("Another procedure"),
        )
        refresh = None  # the start page waits for the next citizen
    elif step.follow_up:
        q = qn.get(dev.questionnaire_code)
        reasons = [(r.code, r.label(t.locale)) for r in q.negative_reasons]
        heading = _("We are sorry. What went wrong?")
        body = pages.choice_body(
            t, heading, reasons, field="r", csrf=csrf, step=signed, skip=_("Skip")
        )
        refresh = idle
    else:
        item = items[step.i]
        body = pages.question_body(
            t, item.text.get(t.locale), step.i + 1, len(items), csrf=csrf, step=signed
        )
        refresh = idle if (step.i or step.procedure_id) else None
    return pages.page(t, body, unit=dev.unit_name, counter=dev.counter, refresh=refresh)


@router.post("/kiosk")
async def kiosk_post(request: Request):
    app: App = request.app.state.sipas
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > pages.MAX_POST:
        return _html(pages.page(_t(app), ""), 413)
    found = await _device(app, request)
    if found is None:
        return _not_paired(app)
    dev, token = found
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    expected = pages.csrf_token(app, dev.id, token)
    if not hmac.compare_digest(fields.get("csrf", "").encode(), expected.encode()):
        return RedirectResponse("/kiosk", status_code=303)
    step = pages.read_step(app, dev.id, fields.get("s"))
    if step is None or not await kiosk.is_current(app, dev, step):
        return RedirectResponse("/kiosk", status_code=303)
    try:
        if "p" in fields:
            chosen = fields["p"]
            allowed = {str(pid): pid for pid, _name in dev.procedures}
            return _see(KioskStep(step.key, 0, allowed.get(chosen)), app, dev)
        if "r" in fields:
            return _see(await kiosk.reason(app, dev, step, fields["r"][:64]), app, dev)
        if "v" in fields:
            return _see(await kiosk.answer(app, dev, step, fields["v"][:2]), app, dev)
    except Exception:
        log.exception("kiosk post failed")
        _ = _t(app).gettext
        body = pages.message_body(_("Sorry, something went wrong. Please try again."))
        return _html(pages.page(_t(app), body, refresh=(5, "/kiosk")), 503)
    return _see(step, app, dev)


@router.get("/kiosk/thanks", response_class=HTMLResponse)
async def thanks_page(request: Request):
    app: App = request.app.state.sipas
    found = await _device(app, request)
    if found is None:
        return _not_paired(app)
    dev = found[0]
    t = _t(app)
    _ = t.gettext
    body = pages.message_body(
        _("Thank you!"), _("Your rating has been recorded. We wish you a good day!"), big=True
    )
    refresh = (app.settings.kiosk_thanks_seconds, "/kiosk")
    return _html(pages.page(t, body, unit=dev.unit_name, counter=dev.counter, refresh=refresh))


# --- pairing -------------------------------------------------------------------------------


def _pair_invalid(app: App) -> HTMLResponse:
    _ = _t(app).gettext
    body = pages.message_body(
        _("This pairing link cannot be used."),
        _(
            "It was used already, it has expired or the tablet was revoked. Please ask the "
            "administrator for a new one."
        ),
    )
    return _html(pages.page(_t(app), body), 404)


def _pair_csrf(app: App, code: str) -> str:
    return pages.csrf_token(app, 0, f"pair:{code}")


@router.get("/kiosk/pair/{code}", response_class=HTMLResponse)
async def pair_page(request: Request, code: str):
    app: App = request.app.state.sipas
    dev = await kiosk.pairing(app, code[:64])
    if dev is None:
        return _pair_invalid(app)
    t = _t(app)
    body = pages.pair_body(
        t, dev.unit_name, dev.counter, csrf=_pair_csrf(app, code), action=f"/kiosk/pair/{code}"
    )
    return _html(pages.page(t, body, unit=dev.unit_name, counter=dev.counter))


@router.post("/kiosk/pair/{code}")
async def pair_post(request: Request, code: str) -> Response:
    app: App = request.app.state.sipas
    form = await request.form()
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(
        sent.encode(), _pair_csrf(app, code).encode()
    ):
        return _pair_invalid(app)
    paired = await kiosk.pair(app, code[:64])
    if paired is None:
        return _pair_invalid(app)
    response = RedirectResponse("/kiosk", status_code=303)
    response.set_cookie(
        pages.COOKIE,
        pages.device_cookie(app, *paired),
        max_age=pages.DEVICE_AGE,
        path="/kiosk",
        httponly=True,
        samesite="lax",
        secure=(app.settings.public_url or "").startswith("https://"),
    )
    return response
