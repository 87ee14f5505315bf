"""What every admin and leader command checks: the caller's role, their scope (the
subtree of their own unit), and the audit of what they were shown or refused."""

from __future__ import annotations

from datetime import date

from flows.common import tr
from flows.contract import (
    Audit,
    Context,
    Reply,
    State,
    StepResult,
    UnitInfo,
)
from flows.i18n import Translator
from flows.periods import Period
from flows.privacy import Privacy, for_role

ADMINS = frozenset({"admin"})
MAX_BUTTONS = 5  # Zalo shows about five buttons under a message
LIST_LIMIT = 5  # feedback items or flag groups per answer, one message each

COMMAND_NAMES = {"q": "/quota", "r": "/report", "c": "/chart", "e": "/export"}


# --- shared checks -------------------------------------------------------------------------


def home_unit(units: list[UnitInfo], ctx: Context) -> UnitInfo | None:
    """The caller's own unit: the root of their scope."""
    if ctx.person is None:
        return None
    return next((u for u in units if u.unit_id == ctx.person.unit_id), None)


def role_refusal(state: State, ctx: Context, roles: frozenset[str], what: str) -> StepResult | None:
    """Buttons bypass the router's role check: the same refusal, audited."""
    if ctx.person is not None and ctx.person.role in roles:
        return None
    _ = tr(state, ctx).gettext
    text = _("Sorry, this is only for authorised staff.")
    audit = Audit("command.refused", what, {"role": ctx.person.role if ctx.person else None})
    return StepResult(state, (Reply(text),), (audit,))


def out_of_scope(
    state: State, ctx: Context, cmd: str, home: UnitInfo | None, unit: UnitInfo | None
) -> StepResult:
    _ = tr(state, ctx).gettext
    if home is None:
        text = _("Sorry, your account is not linked to a unit. Please ask an administrator.")
    else:
        text = _(
            "Sorry, {unit} is outside your area. You can ask about {home} and the units below it."
        ).format(unit=unit.name if unit else "?", home=home.name)
    detail = {"command": COMMAND_NAMES.get(cmd, cmd), "home": home.code if home else None}
    audit = Audit("admin.refused", unit.code if unit else None, detail)
    return StepResult(state, (Reply(text),), (audit,))


def inactive(state: State, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    return StepResult(state, (Reply(_("This button is no longer active.")),))


def allowed(name: str, unit: UnitInfo, period: Period) -> Audit:
    return Audit(
        f"admin.{name}", unit.code, {"from": period.start.isoformat(), "to": period.end.isoformat()}
    )


def privacy_of(ctx: Context) -> Privacy:
    assert ctx.person is not None
    return for_role(ctx.person.role, ctx.report_settings().min_responses)


def today(ctx: Context, t: Translator) -> date:
    return ctx.now.astimezone(t.tz).date()


def day(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
