"""The path of one message: dedupe → state → flow step → one transaction.

``handle`` is what every channel adapter calls once it has verified and parsed an
event. It returns only after the new state, the effects and the outbox rows are
committed together; a crash before that commits nothing, and the channel's redelivery
is processed as if new. A redelivery after the commit is recognised and changes nothing.

A button press of a citizen mid-survey (most updates) first tries the direct path
(storage/step_direct.py: read, the step with no database, one guarded write); whatever
that path does not serve, or a write whose guard finds the conversation moved, runs the
locked path (one transaction holding the conversation's row lock), which serves every
event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace

from bot.core import metrics
from bot.core.app import App
from bot.core.context import DbContext
from bot.core.effects import apply_all
from bot.core.replies import reply_payload
from flows import router, survey
from flows.contract import EventKind, InboundEvent, RecordAnswer, Reply, State, StepResult
from flows.i18n import normalise_locale, translator
from flows.text import extract_code
from storage import people, step_direct, steps
from storage.outbox import NewMessage
from storage.surveys import InviteTaken, NewAnswer

log = logging.getLogger(__name__)
_RACE_RETRIES = 3
MAX_ID = 128  # characters of a channel user id or event id (the columns' size)


class BadEvent(ValueError):
    """An event no channel would send (an id too long to be real): refused with a 4xx."""


def clean_text(text: str) -> str:
    """``text`` as it can be stored: without NUL characters (PostgreSQL refuses them in
    text) and with lone surrogates (not encodable as UTF-8) replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


def sanitise(event: InboundEvent) -> InboundEvent:
    """The event with storable texts; ``BadEvent`` when its ids cannot be real."""
    if not 0 < len(event.user_id) <= MAX_ID or not 0 < len(event.event_id) <= MAX_ID:
        raise BadEvent("user or event id of an impossible length")
    if clean_text(event.user_id) != event.user_id or clean_text(event.event_id) != event.event_id:
        raise BadEvent("user or event id with characters no channel sends")
    text, payload = clean_text(event.text), clean_text(event.payload)
    hint = clean_text(event.locale_hint) if event.locale_hint else event.locale_hint
    if (text, payload, hint) == (event.text, event.payload, event.locale_hint):
        return event
    return replace(event, text=text, payload=payload, locale_hint=hint)


async def handle(app: App, event: InboundEvent, also: Sequence[NewMessage] = ()) -> bool:
    """Process one inbound event; False when it was a duplicate delivery.

    ``also`` are extra outbox rows the adapter wants in the same transaction (for
    example Telegram's answer to a button press). Raises ``BadEvent`` (adapters answer
    4xx) for an event whose ids no channel would send.
    """
    started = time.perf_counter()
    try:
        event = sanitise(event)
    except BadEvent:
        metrics.inbound(event.channel, "refused")
        raise
    try:
        new = await _handle_racing(app, event, also)
    except Exception:
        metrics.inbound(event.channel, "failed")
        raise
    metrics.inbound(event.channel, "processed" if new else "duplicate")
    metrics.step_time(event.channel, time.perf_counter() - started)
    return new


async def _handle_racing(app: App, event: InboundEvent, also: Sequence[NewMessage]) -> bool:
    for attempt in range(_RACE_RETRIES):
        try:
            return await _handle_once(app, event, also)
        except InviteTaken:
            # Another citizen bound the same single-use code a moment earlier: run the
            # step again, and the code now reads as used.
            log.info("survey code race lost, retrying (attempt %d)", attempt + 1)
    return await _handle_once(app, event, also)


def _tries_code(state: State, event: InboundEvent) -> bool:
    """Whether the event enters a survey code (what the router would look up)."""
    if event.kind == EventKind.START:
        return bool(event.payload)
    if event.kind != EventKind.TEXT or state.flow not in (None, survey.FLOW):
        return False
    return state.step in (None, "code") and extract_code(event.text) is not None


def _too_many_codes(state: State, app: App) -> StepResult:
    metrics.THROTTLED.labels("code_chat").inc()
    _ = translator(state.locale, app.settings.timezone).gettext
    text = _(
        "You have entered many codes in a short time. Please wait a few minutes, then "
        "send the code printed on your receipt again."
    )
    return StepResult(state, (Reply(text),))


class _NeedsDatabase(Exception):
    """The step asked the database something: the direct path gives it up."""


class _NoSession:
    """The session of a step on the direct path: any use gives the step up."""

    def __getattr__(self, name: str):
        raise _NeedsDatabase(name)


_PATH_DIRECT = metrics.STEP_PATH.labels("direct")
_PATH_LOCKED = metrics.STEP_PATH.labels("locked")


async def _handle_direct(app: App, event: InboundEvent, also: Sequence[NewMessage]) -> bool | None:
    """The step on the direct path (module doc): True or False as ``_handle_once``,
    None when it is the locked path's to run (nothing was written)."""
    direct = step_direct.for_database(app.db)
    if direct is None:
        return None
    now = app.now()
    user_hash = app.keys.user_hash(event.channel, event.user_id)
    try:
        seen = await direct.read(event.channel, event.event_id, user_hash)
    except step_direct.Unavailable:
        return None  # the locked path has its own waits and error handling
    if seen is None:
        return None
    if seen is False:
        _PATH_DIRECT.inc()
        return False  # a redelivery
    state = State.from_json(seen.data, app.settings.default_locale, seen.updated_at)
    ctx = DbContext(
        app,
        _NoSession(),  # type: ignore[arg-type]
        channel=event.channel,
        user_id=event.user_id,
        user_hash=user_hash,
        person=None,
        now=now,
    )
    try:
        result = await router.step(state, event, ctx)
    except _NeedsDatabase:
        return None
    effects, answers = _last_answers(result.effects)
    if effects or len({a.item_code for a in answers}) < len(answers):
        return None  # effects that need a transaction; an item twice (one upsert a row)
    messages = [NewMessage(event.channel, event.user_id, reply_payload(r)) for r in result.replies]
    rows = [*also, *messages]
    if any(m.dedupe_key for m in rows):
        return None
    try:
        outcome = await direct.write(
            seen, event.channel, event.event_id, result.state.to_json(), rows, answers, now
        )
    except step_direct.Unavailable:
        # Nothing was stored, or (a lost answer to a commit) all of it: the locked path
        # then finds the event recorded.
        return None
    if outcome is step_direct.Outcome.CHANGED:
        return None
    _PATH_DIRECT.inc()
    return outcome is step_direct.Outcome.DONE


async def _handle_once(app: App, event: InboundEvent, also: Sequence[NewMessage]) -> bool:
    if event.kind == EventKind.BUTTON and app.settings.direct_steps:
        done = await _handle_direct(app, event, also)
        if done is not None:
            return done
    _PATH_LOCKED.inc()
    # A step is a handful of statements on a few rows: short (storage/sqlite_inline.py).
    async with app.db.write(short=True) as session:
        now = app.now()
        user_hash = app.keys.user_hash(event.channel, event.user_id)
        start = await steps.begin(session, event.channel, event.event_id, user_hash, now)
        if start is None:
            return False  # a redelivery
        conv, person = start.conversation, start.person
        if person is not None:
            await people.touch(session, event.channel, user_hash, now)
        default = app.settings.default_locale
        if conv.updated_at is None:  # a new user: the client's language, or a staff member's
            default = person.locale if person else normalise_locale(event.locale_hint, default)
        state = State.from_json(conv.data, default, conv.updated_at)
        ctx = DbContext(
            app,
            session,
            channel=event.channel,
            user_id=event.user_id,
            user_hash=user_hash,
            person=person,
            now=now,
        )
        if _tries_code(state, event) and not app.throttles.code_chat.allow(
            (event.channel, user_hash)
        ):
            result = _too_many_codes(state, app)
        else:
            result = await router.step(state, event, ctx)
        effects, answers = _last_answers(result.effects)
        await apply_all(ctx, effects)
        messages = [
            NewMessage(event.channel, event.user_id, reply_payload(r)) for r in result.replies
        ]
        state = result.state.to_json()
        await steps.finish(session, conv.id, state, [*also, *messages], now, answers)
    return True


def _last_answers(effects: tuple) -> tuple[tuple, list[NewAnswer]]:
    """The effects to apply one by one, and the answers that end them: those are stored
    by ``steps.finish`` (on PostgreSQL in its one statement: a press is then begin,
    finish and commit). Only answers after every other effect move, so nothing applied
    later can miss them."""
    cut = len(effects)
    while cut and type(effects[cut - 1]) is RecordAnswer:
        cut -= 1
    answers = [
        NewAnswer(e.response_key, e.item_code, e.element_code, e.value, e.answered_at, e.scale)
        for e in effects[cut:]
    ]
    return effects[:cut], answers
