"""The counter tablet channel (``/kiosk``): big-button pages, no JavaScript, a few KB each.

The tablet keeps a signed device cookie (``itsdangerous``, keyed by the secret key): its
device id and secret token, checked against the database on every request, so a revoked
tablet stops at once. A citizen's progress is a signed step token in the page
(``bot.services.kiosk.KioskStep``); every post carries it with a CSRF token bound to the
device, and is answered by a redirect (post/redirect/get). Pages go back to the start by
themselves (a meta refresh): after "Cảm ơn" within seconds, and from an unfinished page
after ``SIPAS_KIOSK_IDLE_SECONDS``, so nothing of one citizen is left for the next.
All text is HTML-escaped; the headers are the web chat's (no script may run at all).
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape

from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.core.app import App
from bot.services.kiosk import KioskStep
from flows.i18n import Translator
from flows.survey.base import SATISFACTION_LABELS

COOKIE = "sipas_kiosk"
DEVICE_AGE = 5 * 365 * 24 * 3600  # seconds: a tablet stays paired until revoked
STEP_AGE = 30 * 60  # seconds a step token is accepted
MAX_POST = 4 * 1024

COLOURS = {1: "#c62828", 2: "#ef6c00", 3: "#f9a825", 4: "#7cb342", 5: "#2e7d32"}
MOUTH_Y = {1: 48, 2: 57, 3: 66, 4: 78, 5: 90}  # the control point of the mouth's curve


def _device_signer(app: App) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app.keys.web_key, salt="sipas-kiosk-device")


def _step_signer(app: App) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app.keys.web_key, salt="sipas-kiosk-step")


def device_cookie(app: App, device_id: int, token: str) -> str:
    """The cookie value a paired tablet keeps."""
    return _device_signer(app).dumps({"d": device_id, "t": token})


def read_device_cookie(app: App, cookie: str | None) -> tuple[int, str] | None:
    """(device id, token) from a device cookie; None when absent or forged."""
    if not cookie:
        return None
    try:
        raw = _device_signer(app).loads(cookie, max_age=DEVICE_AGE)
    except BadSignature:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("d"), int):
        return None
    token = raw.get("t")
    return (raw["d"], token) if isinstance(token, str) and 0 < len(token) <= 64 else None


def step_token(app: App, device_id: int, step: KioskStep) -> str:
    """A citizen's step, signed for this tablet only."""
    return _step_signer(app).dumps({"d": device_id, **step.to_json()})


def read_step(app: App, device_id: int, token: str | None) -> KioskStep | None:
    """The step of a token signed for this tablet (None: forged, stale or another's)."""
    if not token or len(token) > 512:
        return None
    try:
        raw = _step_signer(app).loads(token, max_age=STEP_AGE)
    except BadSignature:
        return None
    if not isinstance(raw, dict) or raw.get("d") != device_id:
        return None
    return KioskStep.from_json(raw)


def csrf_token(app: App, device_id: int, token: str) -> str:
    """The token every form of this tablet carries (pairing forms: of the link's code)."""
    msg = f"kiosk-csrf:{device_id}:{token}".encode()
    return hmac.new(app.keys.web_key, msg, hashlib.sha256).hexdigest()


# --- pages -------------------------------------------------------------------------------

_STYLE = """
body{margin:0;background:#f3f5f8;color:#17202a;text-align:center;
font:22px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",sans-serif}
header{background:#005493;color:#fff;padding:.5em 1em}
header h1{font-size:1.15em;margin:0}header p{margin:.2em 0 0;font-size:.85em;opacity:.9}
main{max-width:60em;margin:0 auto;padding:1em}
h2{font-size:1.6em;line-height:1.3;margin:.6em 0 .8em}
.n{color:#4a5a6a;font-size:.8em;margin:.6em 0 0}
form{margin:0}
.faces{display:flex;flex-wrap:wrap;justify-content:center;gap:.6em}
.faces button{flex:1 1 9em;max-width:11em;min-height:10.5em;font:inherit;font-weight:600;
background:#fff;border:3px solid #c9d2dc;border-radius:1em;padding:.6em .3em;color:#17202a;
display:flex;flex-direction:column;align-items:center}
.faces svg{display:block;width:5.2em;height:5.2em;margin:0 auto .4em}
.list button{display:block;width:100%;max-width:36em;margin:.5em auto;padding:.8em;
font:inherit;background:#fff;border:3px solid #005493;border-radius:.8em;color:#004170}
.skip{margin-top:1.4em}.skip button{font:inherit;font-size:.85em;background:none;border:0;
color:#004170;text-decoration:underline;padding:.6em}
.big{font-size:2.2em;margin:1.5em 0 .4em}
"""


def _face(level: int) -> str:
    y = MOUTH_Y[level]
    return (
        '<svg viewBox="0 0 100 100" aria-hidden="true">'
        f'<circle cx="50" cy="50" r="46" fill="{COLOURS[level]}"/>'
        '<circle cx="34" cy="40" r="6" fill="#fff"/><circle cx="66" cy="40" r="6" fill="#fff"/>'
        f'<path d="M28 68 Q50 {y} 72 68" stroke="#fff" stroke-width="7" fill="none" '
        'stroke-linecap="round"/></svg>'
    )


def page(
    t: Translator,
    body: str,
    *,
    unit: str | None = None,
    counter: str | None = None,
    refresh: tuple[int, str] | None = None,
) -> str:
    """A whole kiosk page around ``body`` (already escaped HTML)."""
    _ = t.gettext
    title = escape(unit or _("Satisfaction survey"))
    sub = f"<p>{escape(counter)}</p>" if counter else ""
    meta = ""
    if refresh:
        meta = f'<meta http-equiv="refresh" content="{refresh[0]};url={escape(refresh[1])}">'
    return (
        f'<!doctype html><html lang="{t.locale}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{meta}<title>{title}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{title}</h1>{sub}</header><main>{body}</main></body></html>"
    )


def _hidden(csrf: str, step: str) -> str:
    return (
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<input type="hidden" name="s" value="{escape(step)}">'
    )


def question_body(t: Translator, text: str, n: int, total: int, *, csrf: str, step: str) -> str:
    """The question in large type and five face buttons (1–5), with a small Skip."""
    _ = t.gettext
    faces = "".join(
        f'<button name="v" value="{level}">{_face(level)}{escape(_(label))}</button>'
        for level, label in SATISFACTION_LABELS.items()
    )
    counter = (
        f'<p class="n">{escape(_("Question {n}/{total}").format(n=n, total=total))}</p>'
        if total > 1
        else ""
    )
    skip = escape(_("Skip"))
    return (
        f"{counter}<h2>{escape(text)}</h2>"
        f'<form method="post" action="/kiosk">{_hidden(csrf, step)}'
        f'<div class="faces">{faces}</div>'
        f'<div class="skip"><button name="v" value="s">{skip}</button></div></form>'
    )


def choice_body(
    t: Translator,
    heading: str,
    choices: list[tuple[str, str]],
    *,
    field: str,
    csrf: str,
    step: str,
    skip: str,
) -> str:
    """A heading and one big button per (value, label); a small last choice ``skip``."""
    buttons = "".join(
        f'<button name="{field}" value="{escape(value)}">{escape(label)}</button>'
        for value, label in choices
    )
    return (
        f"<h2>{escape(heading)}</h2>"
        f'<form method="post" action="/kiosk">{_hidden(csrf, step)}'
        f'<div class="list">{buttons}</div>'
        f'<div class="skip"><button name="{field}" value="s">{escape(skip)}</button></div>'
        "</form>"
    )


def message_body(heading: str, text: str = "", *, big: bool = False) -> str:
    """A heading (large on the thanks page) and a line of text."""
    cls = ' class="big"' if big else ""
    line = f"<p>{escape(text)}</p>" if text else ""
    return f"<h2{cls}>{escape(heading)}</h2>{line}"


def pair_body(t: Translator, unit: str, counter: str | None, *, csrf: str, action: str) -> str:
    """The confirmation before a tablet is paired (a link preview must not pair it)."""
    _ = t.gettext
    where = unit + (f" – {counter}" if counter else "")
    text = _("Pair this tablet as the survey tablet of {where}?").format(where=where)
    button = escape(_("Pair this tablet"))
    return (
        f"<h2>{escape(text)}</h2>"
        f'<form method="post" action="{escape(action)}" class="list">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f"<button>{button}</button></form>"
    )
