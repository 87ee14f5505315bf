"""The engine's entry point: which flow handles an event.

Order: an idle-expired flow is closed first (the user is told); then follows and
unsupported media; language buttons; registered buttons; slash commands (global ones
here, role-checked ones from the registry); survey or registration codes; finally the
current flow, or the welcome text when there is none.
"""

from __future__ import annotations

from datetime import timedelta

# The flow modules register their commands, buttons and flows when imported.
import flows.admin
import flows.admin_feedback
import flows.admin_flags
import flows.assisted  # noqa: F401  (/phieu and its flow)
from flows import officials as _officials  # noqa: F401  (registers its commands and buttons)
from flows import survey
from flows.common import command_args, is_command, tr
from flows.contract import (
    Audit,
    Button,
    Context,
    EventKind,
    InboundEvent,
    LinkPerson,
    MarkUnreachable,
    PersonInfo,
    Reply,
    State,
    StepResult,
)
from flows.i18n import LOCALES
from flows.registry import BUTTONS, COMMANDS, FLOWS, Flow, flow
from flows.text import extract_code

IDLE_TIMEOUT = timedelta(hours=24)
# Channels that cannot deliver reminders to staff: a web page they may never reopen.
NO_STAFF_CHANNELS = frozenset({"web"})

flow(Flow(survey.FLOW, survey.step, survey.prompt, survey.expire))


async def step(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Run one event through the right flow and return the new state, replies, effects."""
    expired: StepResult | None = None
    if state.flow and state.updated_at and ctx.now - state.updated_at > IDLE_TIMEOUT:
        _ = tr(state, ctx).gettext
        current = FLOWS.get(state.flow)
        notice = Reply(
            _(
                "Your previous session ended because there was no answer for 24 hours. "
                "The answers you gave are kept."
            )
        )
        effects = current.expire(state) if current else ()
        state = state.idle()
        expired = StepResult(state, (notice,), effects)
    result = await _route(state, event, ctx)
    if expired is None:
        return result
    return StepResult(
        result.state, expired.replies + result.replies, expired.effects + result.effects
    )


async def _route(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    if event.kind == EventKind.UNFOLLOW:
        return StepResult(state, (), (MarkUnreachable("unfollowed"),))
    if event.kind == EventKind.FOLLOW:
        return StepResult(state, (welcome(state, ctx),))
    if event.kind == EventKind.UNSUPPORTED:
        hint = _("Sorry, I can only read text and button presses.")
        return StepResult(state, (_reprompt(state, ctx, hint),))

    if event.kind == EventKind.BUTTON:
        if event.payload.startswith("l:"):
            return _set_language(state, event.payload[2:], ctx)
        for prefix, handler in BUTTONS.items():
            if event.payload.startswith(prefix):
                return await handler(state, event, ctx)
        if state.flow is None:
            return StepResult(state, (Reply(_("This button is no longer active.")),))

    if event.kind == EventKind.START:
        return await _start(state, event.payload, ctx)

    if event.kind == EventKind.TEXT and event.text.strip().startswith("/"):
        return await _command(state, event, ctx)

    if state.flow in (None, survey.FLOW):
        # A well-formed code is recognised at any step of a survey, not only at the start.
        code = extract_code(event.text) if event.kind == EventKind.TEXT else None
        if code:
            return await _try_code(state, code, ctx)
        if state.flow is None:
            return StepResult(state, (welcome(state, ctx),))

    current = FLOWS.get(state.flow or "")
    if current is None:
        return StepResult(state.idle(), (welcome(state, ctx),))
    return await current.step(state, event, ctx)


# --- commands ------------------------------------------------------------------------


async def _start(state: State, payload: str, ctx: Context) -> StepResult:
    """``/start`` with a deep-link code, or bare: citizens are asked for their code."""
    if payload:
        return await _try_code(state, payload, ctx)
    if state.flow:
        return StepResult(state, (_reprompt(state, ctx),))
    if ctx.person is not None:
        return StepResult(state, (welcome(state, ctx),))
    _ = tr(state, ctx).gettext
    intro = _("Hello! This is where citizens rate the service of public offices.")
    return survey.ask_code(state, ctx, intro)


async def _command(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    if is_command(event, "/start"):
        return await _start(state, command_args(event), ctx)
    if is_command(event, "/help"):
        return StepResult(state, (_help(state, ctx), *_current_prompt(state, ctx)))
    if is_command(event, "/lang"):
        wanted = command_args(event).lower()
        if wanted in LOCALES:
            return _set_language(state, wanted, ctx)
        return StepResult(state, (_language_choice(state, ctx),))
    if is_command(event, "/cancel"):
        current = FLOWS.get(state.flow or "")
        if current is None:
            return StepResult(state, (Reply(_("There is nothing to cancel.")),))
        text = _("Cancelled. Send your survey code again whenever you want to start over.")
        return StepResult(state.idle(), (Reply(text),), current.expire(state))

    name = event.text.strip().split(maxsplit=1)[0].lower().split("@", 1)[0]
    registered = COMMANDS.get(name)
    if registered is None:
        text = _("Unknown command {command}. Send /help to see what you can do.").format(
            command=name
        )
        return StepResult(state, (Reply(text),))
    if registered.roles is not None and (
        ctx.person is None or ctx.person.role not in registered.roles
    ):
        refusal = _("Sorry, the command {command} is only for authorised staff.").format(
            command=name
        )
        audit = Audit("command.refused", name, {"role": ctx.person.role if ctx.person else None})
        return StepResult(state, (Reply(refusal),), (audit,))
    return await registered.handler(state, event, ctx)


def _help(state: State, ctx: Context) -> Reply:
    _ = tr(state, ctx).gettext
    lines = [
        _("This bot collects citizens' ratings of public services."),
        _("To rate a service, send the survey code printed on your receipt or scan its QR code."),
        "",
        _("/start – begin"),
        _("/help – this help"),
        _("/lang – change language (Tiếng Việt / English)"),
        _("/cancel – stop what you are doing"),
    ]
    role = ctx.person.role if ctx.person else None
    staff = [
        f"{c.name} – {_(c.help)}"
        for c in sorted(COMMANDS.values(), key=lambda c: c.name)
        if c.roles is None or (role is not None and role in c.roles)
    ]
    if staff:
        lines += ["", *staff]
    return Reply("\n".join(lines))


def _language_choice(state: State, ctx: Context) -> Reply:
    t = tr(state, ctx)
    buttons = tuple(Button(t.language_name(loc), f"l:{loc}") for loc in LOCALES)
    return Reply(t.gettext("Choose your language:"), buttons)


def _set_language(state: State, locale: str, ctx: Context) -> StepResult:
    if locale not in LOCALES:
        return StepResult(state, (_language_choice(state, ctx),))
    new = State(locale, state.flow, state.step, state.data, state.updated_at)
    _ = tr(new, ctx).gettext
    return StepResult(new, (Reply(_("The language is now English.")), *_current_prompt(new, ctx)))


def _current_prompt(state: State, ctx: Context) -> tuple[Reply, ...]:
    current = FLOWS.get(state.flow or "")
    return (current.prompt(state, ctx),) if current else ()


def _reprompt(state: State, ctx: Context, notice: str | None = None) -> Reply:
    current = FLOWS.get(state.flow or "")
    if current is None:
        return welcome(state, ctx) if notice is None else Reply(notice)
    reply = current.prompt(state, ctx)
    if notice:
        return Reply(notice + "\n\n" + reply.text, reply.buttons)
    return reply


def welcome(state: State, ctx: Context) -> Reply:
    """What a user who is in no flow is told: what the bot does and how to start."""
    _ = tr(state, ctx).gettext
    if ctx.person is not None:
        return Reply(
            _("Hello {name}! Send /help to see the commands available to you.").format(
                name=ctx.person.name
            )
        )
    return Reply(
        _(
            "Hello! This is where citizens rate the service of public offices. To give your "
            "rating, please send the survey code printed on your receipt, or scan its QR "
            "code. Send /help for help."
        )
    )


# --- codes ---------------------------------------------------------------------------


async def _try_code(state: State, raw: str, ctx: Context) -> StepResult:
    code = extract_code(raw)
    if code is not None:
        invite = await ctx.find_invite(code)
        if invite is not None:
            if state.flow == survey.FLOW:  # continues, or closes the open survey clearly
                return await survey.code_received(state, invite, ctx)
            if state.flow:  # a survey code abandons whatever else was going on
                result = await survey.start(state.idle(), invite, ctx)
                return StepResult(result.state, result.replies, _expire(state) + result.effects)
            return await survey.start(state, invite, ctx)
        person = await ctx.find_registration(code)
        if person is not None:
            if ctx.channel in NO_STAFF_CHANNELS:
                _ = tr(state, ctx).gettext
                text = _(
                    "Staff registration codes work on Telegram or Zalo only. Please send "
                    "this code to the bot there; it has not been used."
                )
                return StepResult(state, (Reply(text),))
            return _registered(state, person, ctx)
    if state.flow not in (None, survey.FLOW):  # /start with an unknown code
        result = survey.unknown_code(state.idle(), ctx)
        return StepResult(result.state, result.replies, _expire(state))
    return survey.unknown_code(state, ctx)


def _expire(state: State) -> tuple:
    current = FLOWS.get(state.flow or "")
    return tuple(current.expire(state)) if current else ()


def _registered(state: State, person: PersonInfo, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    roles = {
        "official": _("official"),
        "leader": _("leader"),
        "admin": _("administrator"),
        "surveyor": _("surveyor"),
    }
    text = _(
        "Welcome, {name}! This account is now linked to {unit} as {role}. "
        "Send /help to see your commands."
    ).format(name=person.name, unit=person.unit_name, role=roles.get(person.role, person.role))
    effects = (LinkPerson(person.person_id, ctx.now), Audit("person.linked", str(person.person_id)))
    return StepResult(state.idle(), (Reply(text),), _expire(state) + effects)
