"""The web chat channel (``/chat``): plain server-rendered pages, no JavaScript needed.

Anyone with a browser can rate a service here, on the cheapest phone. A respondent is a
random id kept in a signed session cookie (``itsdangerous``, keyed by the secret key).
A post (a typed line, a button, the survey-code form) becomes an ``InboundEvent`` of
channel ``web`` and runs through ``bot.core.engine.handle`` like every other channel; the
browser is then redirected to ``GET /chat`` (post/redirect/get: a reload sends nothing
twice, and a double tap reuses the page's event id, which the engine dedupes).

The page shows both sides: what the citizen sent (a typed line, the label of a pressed
button) is queued as their own bubble (``{"mine": true}``) in the same transaction as the
replies. A question's reply carries its progress, shown as a bar ("Câu 3/6"); questions
already answered fold away (``<details>``), so the page stays short on a phone. While a
survey is open a "Cancel" button sends /cancel. The language button keeps a prefilled code.

Replies travel through the outbox as on every channel. ``GET /chat`` delivers the
user's due rows with an ``OutboxSender`` whose transport is the page itself (a row is
marked sent when it is shown), then renders the last messages sent to that user.

``GET`` never changes a conversation: a link preview that fetches ``/chat?code=…`` (chat
apps do) only sees the code filled in, and cannot use up a single-use code; the
citizen's press of the start button does. Posts carry a CSRF token bound to the session;
the cookie is HttpOnly and SameSite=Lax; all text is HTML-escaped.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from html import escape
from typing import Any

from fastapi.responses import HTMLResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.core.app import App
from bot.core.outbox_sender import Limits, OutboxSender, Sent
from flows.contract import EventKind, InboundEvent
from flows.i18n import LOCALES, Translator, translator
from flows.text import extract_code, format_code
from storage.types import utcnow

log = logging.getLogger(__name__)

CHANNEL = "web"
COOKIE = "sipas_chat"
SESSION_AGE = 30 * 24 * 3600  # seconds; renewed on every page
HISTORY = 60  # messages shown (the citizen's and the bot's)
MAX_POST = 16 * 1024  # bytes: a comment is at most 1,000 characters
MAX_DELIVERIES = 200  # rows delivered per page view (a safety bound, never reached)
_UID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_NONCE = re.compile(r"[0-9a-f]{16,32}")
# Control characters never come from a keyboard, and PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LIMITS = Limits(per_second=1000, per_chat_interval=0)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class WebTransport:
    """Delivery to the page: the message is shown by the page view that delivers it."""

    channel = CHANNEL

    async def send(self, recipient: str, payload: dict[str, Any]) -> Sent:
        return Sent()


# --- session and CSRF --------------------------------------------------------------------


def signer(app: App) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app.keys.web_key, salt="sipas-web-chat")


def session_id(app: App, cookie: str | None) -> str | None:
    """The respondent id in a session cookie; None when absent, forged or expired."""
    if not cookie:
        return None
    try:
        uid = signer(app).loads(cookie, max_age=SESSION_AGE)
    except BadSignature:  # SignatureExpired is one too
        return None
    return uid if isinstance(uid, str) and _UID.fullmatch(uid) else None


def csrf_token(app: App, uid: str) -> str:
    """The token every form of this session carries."""
    return hmac.new(app.keys.web_key, f"csrf:{uid}".encode(), hashlib.sha256).hexdigest()


async def deliver(app: App, uid: str) -> int:
    """Mark the user's due outbox rows sent (they are about to be shown); returns how many."""
    sender = OutboxSender(app, WebTransport(), _LIMITS)
    delivered = 0
    # Each claim takes the head of the user's queue only, so order holds.
    while delivered < MAX_DELIVERIES and await sender.run_once(recipient=uid):
        delivered += 1
    return delivered


def to_event(uid: str, fields: dict[str, str]) -> InboundEvent | None:
    """The event a posted form stands for (None for an empty line)."""
    nonce = fields.get("n", "")
    if not _NONCE.fullmatch(nonce):
        nonce = secrets.token_hex(16)
    kind, text, payload = EventKind.TEXT, "", ""
    if "cancel" in fields:
        text = "/cancel"
    elif fields.get("p"):
        kind, payload = EventKind.BUTTON, _CONTROL.sub("", fields["p"])[:64]
    elif "start" in fields:
        kind, payload = EventKind.START, _CONTROL.sub("", fields.get("code", "")).strip()[:64]
    else:
        text = _CONTROL.sub("", fields.get("text", "")).strip()
        if not text:
            return None
    return InboundEvent(
        channel=CHANNEL,
        user_id=uid,
        event_id=f"{uid}:{nonce}",
        kind=kind,
        timestamp=utcnow(),
        text=text,
        payload=payload,
    )


def echo(event: InboundEvent, t: Translator, shown: list[dict[str, Any]]) -> str | None:
    """The citizen's own bubble for ``event``: what they typed, the label of the button
    they pressed (looked up in the messages ``shown``), or None (a language switch)."""
    if event.kind == EventKind.BUTTON:
        if event.payload.startswith("l:"):
            return None
        for message in reversed(shown):
            for button in message.get("buttons") or []:
                if button.get("payload") == event.payload:
                    return str(button.get("label", ""))
        return None
    if event.kind == EventKind.START:
        code = extract_code(event.payload)
        return format_code(code) if code else event.payload or None
    if event.text == "/cancel":
        return t.gettext("Cancel")
    return event.text


# --- pages -------------------------------------------------------------------------------

_STYLE = """
body{margin:0;background:#eef1f5;color:#17202a;
font:17px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",sans-serif}
header{background:#005493;color:#fff;padding:.7em 1em}
header h1{font-size:1.1em;margin:0}
main,footer{max-width:36em;margin:0 auto;padding:.4em .8em}
.msg{background:#fff;border-radius:.8em;padding:.7em .9em;margin:.6em 0;white-space:pre-wrap;
overflow-wrap:anywhere;box-shadow:0 1px 2px rgba(0,0,0,.15)}
.notice{background:#fff4d6;border:1px solid #e0b84c}
.choices button{display:block;width:100%;margin:.4em 0;padding:.75em .9em;font:inherit;
text-align:left;color:#004170;background:#fff;border:1px solid #005493;border-radius:.6em}
form.say{display:flex;gap:.4em;margin:.6em 0}
form.say input{flex:1;min-width:0;font:inherit;padding:.6em;border:1px solid #8a98a8;
border-radius:.5em}
form.say button,.start button{font:inherit;padding:.6em 1em;color:#fff;background:#005493;
border:0;border-radius:.5em}
.start label{display:block;font-weight:600;margin:.3em 0}
.start input{font:inherit;font-size:1.15em;letter-spacing:.08em;width:100%;box-sizing:border-box;
padding:.55em;border:1px solid #8a98a8;border-radius:.5em;margin-bottom:.5em}
.mine{background:#d7ebff;margin-left:2.5em;text-align:right}
details.msg{padding:.4em .9em;color:#4a5866}
details.msg summary{cursor:pointer}
.progress{display:flex;align-items:center;gap:.6em;margin:.6em 0;font-weight:600}
.progress progress{flex:1;height:.8em}
.cancel{display:inline}
.cancel button{font:inherit;font-size:.9em;padding:.35em .9em;color:#8a1c1c;background:#fff;
border:1px solid #8a1c1c;border-radius:.5em}
.lang{text-align:right;margin:.8em 0}
.lang button{font:inherit;font-size:.9em;background:none;border:0;color:#004170;
text-decoration:underline;padding:0}
"""


def _hidden(csrf: str, nonce: str) -> str:
    return (
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<input type="hidden" name="n" value="{escape(nonce)}">'
    )


def render(
    t: Translator,
    messages: list[dict[str, Any]],
    *,
    csrf: str,
    nonce: str,
    prefill: str | None = None,
    notice: str | None = None,
    in_survey: bool = False,
) -> str:
    """The chat page: the messages so far (the citizen's own as their bubbles, answered
    questions folded), the progress, the last message's buttons, and a form."""
    _ = t.gettext
    hidden = _hidden(csrf, nonce)
    parts: list[str] = []
    notices = {
        "session": _(
            "Your session had ended, so your last message was not received. Please send it "
            "again (your browser must accept cookies)."
        )
    }
    if notice in notices:
        parts.append(f'<div class="msg notice">{escape(notices[notice])}</div>')
    if not messages:
        intro = _(
            "Hello! Here you can rate the service of a public office. Enter the survey code "
            "printed on your receipt to begin."
        )
        parts.append(f'<div class="msg">{escape(intro)}</div>')
    latest = max((n for n, m in enumerate(messages) if not m.get("mine")), default=-1)
    for n, message in enumerate(messages):
        last = n == latest
        text = escape(message.get("text", ""))
        if message.get("mine"):
            parts.append(f'<div class="msg mine">{text}</div>')
            continue
        progress = message.get("progress")
        if last and progress:
            parts.append(_progress(t, progress))
        elif progress:  # an answered question folds away
            summary = escape(_("Question {n}/{total}").format(n=progress[0], total=progress[1]))
            parts.append(
                f'<details class="msg"><summary>{summary}</summary><div>{text}</div></details>'
            )
            continue
        anchor = ' id="latest"' if last else ""
        if message.get("attachment"):
            name = escape(message["attachment"].get("filename", ""))
            text += f"\n[{name}]"
        parts.append(f'<div class="msg"{anchor}>{text}</div>')
        if last and message.get("buttons"):
            buttons = "".join(
                f'<button name="p" value="{escape(b["payload"])}">{escape(b["label"])}</button>'
                for b in message["buttons"]
            )
            parts.append(
                f'<form method="post" action="/chat" class="choices">{hidden}{buttons}</form>'
            )

    if prefill or not messages:
        value = escape(format_code(prefill)) if prefill else ""
        label, start = escape(_("Survey code")), escape(_("Start the survey"))
        form = (
            f'<form method="post" action="/chat" class="start">{hidden}'
            f'<label for="code">{label}</label>'
            f'<input id="code" name="code" value="{value}" placeholder="K7QM-2XWD-9RTE" '
            'autocomplete="off" autocapitalize="characters" maxlength="40">'
            f'<button name="start" value="1">{start}</button></form>'
        )
    else:
        label, hint, send = (
            escape(_("Your message")),
            escape(_("Type a message…")),
            escape(_("Send")),
        )
        form = (
            f'<form method="post" action="/chat" class="say">{hidden}'
            f'<input name="text" aria-label="{label}" placeholder="{hint}" '
            f'autocomplete="off" maxlength="1000"><button>{send}</button></form>'
        )
    if in_survey:
        form += (
            f'<form method="post" action="/chat" class="cancel">{hidden}'
            f'<button name="cancel" value="1">{escape(_("Cancel"))}</button></form>'
        )
    other = next(loc for loc in LOCALES if loc != t.locale)
    keep = f'<input type="hidden" name="code" value="{escape(prefill)}">' if prefill else ""
    lang = (
        f'<form method="post" action="/chat" class="lang">{hidden}{keep}'
        f'<button name="p" value="l:{other}">{escape(t.language_name(other))}</button></form>'
    )
    title = escape(_("Satisfaction survey"))
    return (
        f'<!doctype html><html lang="{t.locale}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{title}</h1></header><main>{''.join(parts)}</main>"
        f"<footer>{form}{lang}</footer></body></html>"
    )


def _progress(t: Translator, progress: list[int]) -> str:
    n, total = int(progress[0]), int(progress[1])
    label = escape(t.gettext("Question {n}/{total}").format(n=n, total=total))
    return (
        f'<div class="progress"><span>{label}</span>'
        f'<progress value="{n}" max="{total}">{label}</progress></div>'
    )


def problem_page(app: App, status: int, kind: str) -> HTMLResponse:
    _ = translator(app.settings.default_locale, app.settings.timezone).gettext
    texts = {
        "too_long": _("That message is too long."),
        "csrf": _("This form has expired. Please open the chat again."),
        "busy": _("Sorry, something went wrong on our side. Please try again in a moment."),
        "slow": _(
            "You are sending messages faster than we can take them. Please wait a moment, "
            "then go back to the chat and try again."
        ),
    }
    link = escape(_("Back to the chat"))
    body = (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{status}</title></head><body><p>{escape(texts[kind])}</p>"
        f'<p><a href="/chat">{link}</a></p></body></html>'
    )
    return HTMLResponse(body, status_code=status, headers=HEADERS)
