"""Counter tablets (kiosk): pairing, and one citizen's ratings on a paired tablet.

A citizen's progress travels in a signed token (``KioskStep``) carried by the page, so
the server keeps nothing per tablet between two taps but the response itself. The
response is completed as soon as its last question is answered, so a citizen who walks
away from the follow-up question still counts; the follow-up then adds a feedback item.
Every completed response runs the same follow-up as a chat survey (rollups, stuffing
checks, negative bursts), with the tablet's own burst check (``inperson_checks``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import timedelta

from bot.core.app import App
from bot.core.context import DbContext
from bot.services import followup
from bot.services.invites import base_url
from flows import questionnaire as qn
from storage import kiosks, procedures, rollups, surveys
from storage.kiosks import DeviceRow

CHANNEL = "kiosk"
NEGATIVE = (1, 2)
SKIP = "s"


@dataclass(frozen=True)
class KioskStep:
    """Where one citizen is: question ``i`` of the unit's questionnaire, or the follow-up
    after a negative answer to it (``follow_up``); ``done`` once the response is completed."""

    key: str
    i: int = 0
    procedure_id: int | None = None
    follow_up: bool = False
    asked_why: bool = False  # the follow-up was shown once already
    done: bool = False

    def to_json(self) -> dict:
        """The step as signed into the page."""
        return {
            "k": self.key,
            "i": self.i,
            "p": self.procedure_id,
            "f": self.follow_up,
            "w": self.asked_why,
            "c": self.done,
        }

    @classmethod
    def from_json(cls, raw: object) -> KioskStep | None:
        """A step read back from a verified token (None when malformed)."""
        if not isinstance(raw, dict) or not isinstance(raw.get("k"), str):
            return None
        i, p = raw.get("i"), raw.get("p")
        if not isinstance(i, int) or not (p is None or isinstance(p, int)):
            return None
        flags = [bool(raw.get(name)) for name in ("f", "w", "c")]
        return cls(raw["k"][:32], i, p, *flags)


def kiosk_items(code: str) -> tuple[qn.Item, ...]:
    """What a tablet asks: the items of the sections that are not optional (for ``quick``,
    the overall question); a long questionnaire is asked whole."""
    q = qn.get(code)
    return tuple(item for s in q.sections if s.offer is None for item in s.items)


def new_step() -> KioskStep:
    """A new citizen: a fresh response key, nothing of the previous one."""
    return KioskStep(secrets.token_hex(16))


# --- registering and pairing -------------------------------------------------------------


def _pair_hash(app: App, code: str) -> str:
    return app.keys.code_hash(f"kiosk-pair:{code}")


def token_hash(app: App, token: str) -> str:
    """What is stored for a tablet's device token."""
    return app.keys.code_hash(f"kiosk-token:{token}")


async def register(
    app: App, session, unit, counter: str | None, procedure_codes: list[str]
) -> tuple[int, str]:
    """Register a tablet for ``unit``; returns its id and its one-time pairing link."""
    ids = []
    for code in procedure_codes:
        found = await procedures.by_code(session, code)
        if found is None:
            raise LookupError(code)
        ids.append(found)
    code = secrets.token_urlsafe(18)
    expires = app.now() + timedelta(hours=app.settings.kiosk_pairing_hours)
    device_id = await kiosks.add_device(
        session, unit.id, counter, ids, _pair_hash(app, code), expires
    )
    return device_id, f"{base_url(app)}/kiosk/pair/{code}"


async def pairing(app: App, code: str) -> DeviceRow | None:
    """The tablet a pairing link would pair (None: unknown, used, expired or revoked)."""
    async with app.db.read() as session:
        return await kiosks.waiting_for_pairing(session, _pair_hash(app, code), app.now())


async def pair(app: App, code: str) -> tuple[int, str] | None:
    """Spend a pairing link: returns the device id and its new secret token."""
    token = secrets.token_urlsafe(24)
    async with app.db.write() as session:
        device_id = await kiosks.pair(
            session, _pair_hash(app, code), token_hash(app, token), app.now()
        )
    return (device_id, token) if device_id is not None else None


async def device(app: App, device_id: int, token: str) -> DeviceRow | None:
    """The paired, unrevoked tablet behind a device cookie."""
    async with app.db.read() as session:
        return await kiosks.paired_device(session, device_id, token_hash(app, token))


async def is_current(app: App, dev: DeviceRow, step: KioskStep) -> bool:
    """Whether ``step`` may still be shown: its response is open, or (the follow-up after
    the last question) completed moments ago with no reason given yet. The page of a
    citizen who has finished is never shown again, not even by the back button."""
    async with app.db.read() as session:
        found = await kiosks.response_state(session, step.key, dev.id)
        if found is None:
            return not step.done and step.i == 0 and not step.follow_up
        status, completed_at = found
        if status == surveys.IN_PROGRESS:
            return not step.done
        recent = completed_at is not None and app.now() - completed_at < timedelta(
            seconds=app.settings.kiosk_idle_seconds
        )
        return (
            status == surveys.COMPLETED
            and step.done
            and step.follow_up
            and recent
            and not await kiosks.has_feedback(session, step.key)
        )


# --- one tap -------------------------------------------------------------------------------


async def answer(app: App, dev: DeviceRow, step: KioskStep, value: str) -> KioskStep | None:
    """Record the answer to question ``step.i`` (1–5 or ``SKIP``); returns the next step,
    None when the citizen is finished (the thanks page)."""
    items = kiosk_items(dev.questionnaire_code)
    if step.follow_up or step.done or not 0 <= step.i < len(items):
        return step
    if value != SKIP and not (value.isdigit() and 1 <= int(value) <= 5):
        return step
    item = items[step.i]
    rating = None if value == SKIP else int(value)
    q = qn.get(dev.questionnaire_code)
    last = step.i == len(items) - 1
    async with app.db.write() as session:
        now = app.now()
        status = await kiosks.response_status(session, step.key, dev.id)
        if status not in (None, surveys.IN_PROGRESS):
            return None  # a second tap after the end: nothing more to do
        qid = await app.questionnaire_id(session, q.code, q.version)
        await kiosks.open_response(
            session,
            key=step.key,
            device_id=dev.id,
            unit_id=dev.unit_id,
            procedure_id=step.procedure_id,
            questionnaire_id=qid,
            respondent_hash=app.keys.user_hash(CHANNEL, step.key),
            at=now,
        )
        await surveys.record_answer(session, step.key, item.code, item.element, rating, now)
        await kiosks.touch(session, dev.id, now)
        if last:
            await _complete(app, session, dev, step, now)
    why = rating in NEGATIVE and not step.asked_why and bool(q.negative_reasons)
    if why:
        return replace(step, follow_up=True, asked_why=True, done=last)
    return None if last else replace(step, i=step.i + 1)


async def reason(app: App, dev: DeviceRow, step: KioskStep, code: str) -> KioskStep | None:
    """The follow-up answer (a reason code, or ``SKIP``); returns the next step."""
    q = qn.get(dev.questionnaire_code)
    items = kiosk_items(dev.questionnaire_code)
    if not step.follow_up or not 0 <= step.i < len(items):
        return step
    if code != SKIP and code not in {r.code for r in q.negative_reasons}:
        return step
    if code != SKIP:
        async with app.db.write() as session:
            if not await kiosks.has_feedback(session, step.key):
                await surveys.open_feedback(
                    session,
                    response_key=step.key,
                    unit_id=dev.unit_id,
                    item_code=items[step.i].code,
                    reason=code,
                    text=None,
                    wants_contact=False,  # a tablet has no chat to answer in
                    contact_channel=None,
                    contact_ref_enc=None,
                    at=app.now(),
                )
    if step.done:
        return None
    return replace(step, i=step.i + 1, follow_up=False)


async def _complete(app: App, session, dev: DeviceRow, step: KioskStep, now) -> None:
    response_id = await surveys.complete_response(session, step.key, None, now)
    if response_id is None:
        return
    await rollups.apply_response(session, response_id, app.tz)
    ctx = DbContext(
        app,
        session,
        channel=CHANNEL,
        user_id=f"device:{dev.id}",
        user_hash=app.keys.user_hash(CHANNEL, step.key),
        person=None,
        now=now,
    )
    await followup.on_completed(ctx, response_id)  # stuffing per tablet, negative bursts
