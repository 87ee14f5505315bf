"""``/a/{token}``: the one-tap answers of a reminder sent by ZNS (Đã xong / Nhắc lại sau).

A ZNS reminder cannot carry chat buttons; its button opens this page instead. The token
is signed with the secret key (``bot.services.zns.link_token``) and names one stored link
of one official's assignment. ``GET`` only shows the task and two buttons, so a link
preview cannot answer; the ``POST`` of a button spends the link (single use).
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bot.core.context import SNOOZE_DELAY
from bot.services.zns import link_of
from flows.i18n import translator
from scheduler.calendar import load_calendar
from storage import deadlines
from storage import tasks as task_store
from storage import zns as store
from storage.models import Person

router = APIRouter()
ACTIONS = ("done", "snooze")


def _page(locale: str, title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="{locale}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


async def _load(request: Request, token: str):
    app = request.app.state.sipas
    link_id = link_of(app, token)
    async with app.db.read() as session:
        link = await store.link(session, link_id) if link_id else None
        person = await session.get(Person, link.person_id) if link else None
        task = (
            await task_store.task(session, link.person_id, link.assignment_id)
            if link and person
            else None
        )
    locale = person.locale if person else app.settings.default_locale
    return app, link, person, task, translator(locale, app.settings.timezone)


def _gone(t, text: str) -> HTMLResponse:
    return _page(t.locale, t.gettext("Reminder"), f"<p>{escape(text)}</p>", 410)


@router.get("/a/{token}", response_class=HTMLResponse, include_in_schema=False)
async def show(request: Request, token: str) -> HTMLResponse:
    """The task and its two answers."""
    app, link, _person, task, t = await _load(request, token)
    _ = t.gettext
    if link is None or task is None:
        return _gone(t, _("This link is not valid."))
    if link.used_at is not None:
        return _gone(t, _("This link has been used already."))
    if link.expires_at <= app.now():
        return _gone(t, _("This link has expired: answer in the chat with the bot."))
    due = _("Due {date}").format(date=t.date(task.due_on))
    buttons = "".join(
        f'<form method="post" action="/a/{escape(token)}/{action}" style="display:inline">'
        f'<button type="submit" style="font-size:1.2em;margin:.5em">{escape(label)}</button>'
        "</form>"
        for action, label in (("done", _("Done")), ("snooze", _("Remind me later")))
    )
    body = f"<p><b>{escape(task.title)}</b><br>{escape(due)}</p>{buttons}"
    return _page(t.locale, _("Reminder"), body)


@router.post("/a/{token}/{action}", response_class=HTMLResponse, include_in_schema=False)
async def answer(request: Request, token: str, action: str) -> HTMLResponse:
    """Spend the link on "done" or "remind me later"."""
    app, link, _person, task, t = await _load(request, token)
    _ = t.gettext
    if link is None or task is None or action not in ACTIONS:
        return _gone(t, _("This link is not valid."))
    now = app.now()
    if link.expires_at <= now:
        return _gone(t, _("This link has expired: answer in the chat with the bot."))
    async with app.db.write() as session:
        if not await store.use_link(session, link.id, action, now):  # type: ignore[arg-type]
            return _gone(t, _("This link has been used already."))
        if task.status != deadlines.PENDING:
            text = _("This task was answered already: {title}.").format(title=task.title)
        elif action == "done":
            await task_store.answer(
                session, task.assignment_id, link.person_id, deadlines.DONE, now, "zns"
            )
            text = _("Noted: {title} is done ({time}). Thank you!").format(
                title=task.title, time=t.datetime(now)
            )
        else:
            cal = await load_calendar(session)
            until = app.settings.hours.later(now, cal, app.tz, SNOOZE_DELAY)
            await task_store.snooze(
                session, task.assignment_id, link.person_id, task.occurrence_id, until, now
            )
            text = _("All right, I will remind you again at {time}.").format(time=t.datetime(until))
    return _page(t.locale, _("Reminder"), f"<p>{escape(text)}</p>")
