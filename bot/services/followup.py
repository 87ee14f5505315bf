"""What happens right after a citizen's rating, in the same transaction:

- a feedback item whose author asks to be contacted is sent at once to the unit's
  leader (the nearest leader up the tree; an admin when the branch has no leader);
- suspected stuffing (many ratings from one counter code, one respondent or one counter
  tablet within minutes, a surveyor entering too many phiếu an hour or the same answers
  again and again) is flagged: the responses stay, visible to admins, and are left out
  of every figure until an admin counts them again or rejects them (/flags); the
  nearest admin is told once per burst;
- a burst of negative ratings at a unit or a counter (by default at least half of at
  least 4 ratings within 15 minutes) alerts the unit's leader once per burst.
"""

from __future__ import annotations

from datetime import timedelta

from bot.core.context import DbContext
from bot.services import inperson_checks
from bot.services.notify import notify_person
from flows.contract import Button, OpenFeedback, Reply
from flows.i18n import translator
from flows.privacy import for_role
from flows.report_text import reason_labels
from storage import admin, alerts, feedback

NEGATIVE_BELOW = 2.5  # a rating (1–5) under this is dissatisfied


async def on_feedback(ctx: DbContext, feedback_id: int, e: OpenFeedback) -> None:
    """Tell the unit's leadership about a feedback item that asks for contact."""
    if not e.wants_contact:
        return

    def lines(item, t, privacy) -> list[str]:
        _ = t.gettext
        reason = reason_labels(t.locale).get(item.reason or "", "") or _("Other reason")
        out = [
            _("{unit}: a dissatisfied citizen asks to be contacted (feedback #{id}).").format(
                unit=item.unit_name, id=item.id
            ),
            _("Reason: {reason}").format(reason=reason),
        ]
        if item.text:
            out.append(f"“{privacy.comment(item.text)}”")
        out.append(_("You can answer them in this chat: press the button, or send /feedback."))
        return out

    await tell_leaders(ctx, feedback_id, lines)


async def tell_leaders(ctx: DbContext, feedback_id: int, lines_of) -> None:
    """Message a feedback item to its unit's nearest leaders (else admins), each in their
    language, with a button to handle it; ``lines_of(item, translator, privacy)`` says
    what. Sent once per person; the item records who was told."""
    item = await feedback.feedback_by_id(ctx.session, feedback_id)
    if item is None:
        return
    role, people = await admin.leaders_or_admins(ctx.session, item.unit_path)
    privacy = for_role(role, ctx.app.settings.privacy_min_responses)
    told = None
    for person in people:
        t = translator(person.locale, ctx.app.settings.timezone)
        button = Button(t.gettext("Handle #{id}").format(id=item.id), f"ad.f:h:{item.id}")
        reply = Reply("\n".join(lines_of(item, t, privacy)), (button,))
        if await notify_person(
            ctx.session,
            person.person_id,
            reply,
            ctx.now,
            dedupe_key=f"feedback:{item.id}:{person.person_id}",
        ):
            told = told or person.person_id
    if told is not None:
        await feedback.note_notified(ctx.session, item.id, told, ctx.now)


async def on_completed(ctx: DbContext, response_id: int) -> None:
    """Check a just-completed response for stuffing, then for a burst of negatives."""
    done = await alerts.completed(ctx.session, response_id)
    if done is None:
        return
    if not await _stuffing(ctx, done):
        await _negative_burst(ctx, done)


async def _stuffing(ctx: DbContext, done: alerts.Completed) -> bool:
    s = ctx.app.settings
    window = timedelta(minutes=s.stuffing_window_minutes)
    sources = [("respondent", done.respondent_hash, s.stuffing_respondent_ratings, window)]
    if done.counter_invite_id is not None:
        sources.insert(
            0, ("counter", str(done.counter_invite_id), s.stuffing_counter_ratings, window)
        )
    sources += await inperson_checks.sources(ctx, done)  # tablets and surveyors
    flagged = False
    for kind, key, threshold, span in sources:
        since = done.completed_at - span
        if kind in inperson_checks.KINDS:
            ids = await inperson_checks.window(ctx, kind, key, since, done.completed_at)
        else:
            where = {"invite_id": int(key)} if kind == "counter" else {"respondent_hash": key}
            ids = await alerts.window(ctx.session, since, done.completed_at, **where)
        if len(ids) < threshold:
            continue
        scope = f"{kind}:{key}"
        started, new = await alerts.note_burst(
            ctx.session, "stuffing", scope, done.unit_id, ctx.now, span
        )
        reason = f"stuffing {scope} {started:%Y-%m-%dT%H:%MZ}"
        # A new burst flags the whole window; a burst that goes on flags only the new
        # rating, so ratings an admin has counted again stay counted.
        await alerts.flag(ctx.session, ids if new else [done.id], reason, ctx.now, ctx.app.tz)
        flagged = True
        if new:
            await _tell(
                ctx,
                done,
                "admin",
                f"stuffing:{scope}:{started:%Y%m%dT%H%M%S}",
                lambda t, n=len(ids), kind=kind, span=span: _stuffing_text(t, done, kind, n, span),
            )
    return flagged


def _stuffing_text(t, done: alerts.Completed, kind: str, n: int, window: timedelta) -> str:
    _ = t.gettext
    if kind in inperson_checks.KINDS:
        return inperson_checks.stuffing_text(t, done.unit_name, kind, n, window)
    source = _("one counter code") if kind == "counter" else _("one respondent")
    return _(
        "{unit}: {n} ratings from {source} within {minutes} minutes are flagged as possible "
        "stuffing. They are left out of the figures until you decide: send /flags."
    ).format(
        unit=done.unit_name, n=t.number(n), source=source, minutes=int(window.total_seconds() // 60)
    )


async def _negative_burst(ctx: DbContext, done: alerts.Completed) -> None:
    s = ctx.app.settings
    window = timedelta(minutes=s.alert_window_minutes)
    since = done.completed_at - window
    scopes = [("unit", str(done.unit_id), {"unit_id": done.unit_id})]
    if done.counter_invite_id is not None:
        scopes.insert(
            0, ("counter", str(done.counter_invite_id), {"invite_id": done.counter_invite_id})
        )
    alerted = False
    for kind, key, where in scopes:
        rated, negative = await alerts.dissatisfied(
            ctx.session, since, done.completed_at, below=NEGATIVE_BELOW, **where
        )
        if rated < s.alert_min_ratings or negative < s.alert_negative_share * rated:
            continue
        scope = f"{kind}:{key}"
        started, new = await alerts.note_burst(
            ctx.session, "negative", scope, done.unit_id, ctx.now, window
        )
        if new and not alerted:  # a counter's burst is its unit's too: one message
            alerted = True
            label = done.counter_label if kind == "counter" else None
            await _tell(
                ctx,
                done,
                "leader",
                f"negative:{scope}:{started:%Y%m%dT%H%M%S}",
                lambda t, n=rated, neg=negative, label=label: _burst_text(
                    t, done, neg, n, window, label
                ),
            )


def _burst_text(t, done, negative: int, n: int, window: timedelta, label: str | None) -> str:
    _ = t.gettext
    text = _(
        "Alert: {unit} received {negative} dissatisfied ratings out of {n} in the last "
        "{minutes} minutes."
    ).format(
        unit=done.unit_name,
        negative=t.number(negative),
        n=t.number(n),
        minutes=int(window.total_seconds() // 60),
    )
    if label:
        text += " " + _("At the counter “{label}”.").format(label=label)
    return text + " " + _("Send /report for the details.")


async def _tell(ctx: DbContext, done: alerts.Completed, role: str, key: str, text) -> None:
    """Message the nearest people with ``role`` once (the outbox dedupe key holds)."""
    for person in await admin.nearest_with_role(ctx.session, done.unit_path, role):
        t = translator(person.locale, ctx.app.settings.timezone)
        await notify_person(
            ctx.session,
            person.person_id,
            Reply(text(t)),
            ctx.now,
            dedupe_key=f"alert:{key}:{person.person_id}"[:128],
        )
