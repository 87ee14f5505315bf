"""Appliers of the admin flows' effects (flows/admin_feedback.py, flows/admin_flags.py)."""

from __future__ import annotations

from bot.core.context import DbContext
from bot.core.effects import applies
from bot.core.replies import reply_payload
from flows.admin_feedback import HandleFeedback
from flows.admin_flags import ResolveFlags
from flows.contract import Reply
from flows.i18n import translator
from storage import admin, feedback, outbox
from storage.outbox import NewMessage


@applies(HandleFeedback)
async def _handle_feedback(ctx: DbContext, e: HandleFeedback) -> None:
    assert ctx.person is not None
    contact = await feedback.mark_handled(
        ctx.session, e.feedback_id, ctx.person.person_id, e.note, e.handled_at
    )
    if contact is None or not e.send_to_citizen or not contact.contact_ref_enc:
        return
    chat_id = ctx.app.keys.decrypt(contact.contact_ref_enc)
    if chat_id is None or contact.channel is None:
        return  # the key changed since: nobody to answer
    user_hash = ctx.app.keys.user_hash(contact.channel, chat_id)
    locale = await admin.conversation_locale(ctx.session, contact.channel, user_hash)
    _ = translator(locale or ctx.app.settings.default_locale, ctx.app.settings.timezone).gettext
    text = _("{unit} answers your feedback:").format(unit=contact.unit_name) + "\n" + e.note
    message = NewMessage(contact.channel, chat_id, reply_payload(Reply(text)))
    await outbox.enqueue(ctx.session, [message], ctx.now)


@applies(ResolveFlags)
async def _resolve_flags(ctx: DbContext, e: ResolveFlags) -> None:
    await admin.resolve_flag_group(ctx.session, e.response_id, count=e.count, tz=ctx.app.tz)
