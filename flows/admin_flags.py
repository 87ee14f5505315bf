"""/flags: responses flagged as possible stuffing, which only admins count again or reject.

Button payload: ``ad.x:c|r:<response id>`` count or reject a flagged group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.admin_checks import (
    ADMINS,
    LIST_LIMIT,
    home_unit,
    inactive,
    out_of_scope,
    role_refusal,
)
from flows.common import tr
from flows.contract import (
    Audit,
    Button,
    Context,
    InboundEvent,
    Reply,
    State,
    StepResult,
)
from flows.i18n import N_, Translator
from flows.registry import button, command


@dataclass(frozen=True, slots=True)
class ResolveFlags:
    """Count a flagged group of responses again (``count``) or reject it for good."""

    response_id: int  # any response of the group
    count: bool


# --- flagged responses (admins only) -------------------------------------------------------


@command(
    "/flags", help=N_("responses flagged as possible stuffing: count or reject them"), roles=ADMINS
)
async def flags_command(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """``/flags``: each flagged group in the caller's scope, with count/reject buttons."""
    t = tr(state, ctx)
    _ = t.gettext
    units = await ctx.units()
    home = home_unit(units, ctx)
    if home is None:
        return out_of_scope(state, ctx, "x", None, None)
    groups = await ctx.flag_groups(home.unit_id)
    audit = Audit("admin.flags", home.code, {"groups": len(groups)})
    if not groups:
        text = _("No responses are flagged in {unit}.").format(unit=home.name)
        return StepResult(state, (Reply(text),), (audit,))
    replies = [
        Reply(
            _(
                "Flagged responses – {unit}. They are kept but left out of every figure "
                "until you count them again or reject them."
            ).format(unit=home.name)
        )
    ]
    for g in groups[:LIST_LIMIT]:
        replies.append(
            Reply(
                _flag_text(t, g),
                (
                    Button(_("Count them"), f"ad.x:c:{g.first_response_id}"),
                    Button(_("Reject them"), f"ad.x:r:{g.first_response_id}"),
                ),
            )
        )
    return StepResult(state, tuple(replies), (audit,))


@button("ad.x:")
async def flags_button(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Count a flagged group again, or reject it."""
    t = tr(state, ctx)
    _ = t.gettext
    parts = event.payload.split(":")
    if len(parts) != 3 or parts[1] not in ("c", "r") or not parts[2].isdigit():
        return inactive(state, ctx)
    refusal = role_refusal(state, ctx, ADMINS, "ad.x")
    if refusal:
        return refusal
    group = await ctx.flag_group(int(parts[2]))
    if group is None:
        return StepResult(state, (Reply(_("These responses are no longer flagged.")),))
    home = home_unit(await ctx.units(), ctx)
    if home is None or not group.unit_path.startswith(home.path):
        text = _("Sorry, these responses belong to a unit outside your area.")
        audit = Audit(
            "admin.refused", f"flags:{group.first_response_id}", {"unit": group.unit_code}
        )
        return StepResult(state, (Reply(text),), (audit,))
    count = parts[1] == "c"
    n = t.number(group.count)
    if count:
        text = _("{n} responses of {unit} count again from now on.").format(
            n=n, unit=group.unit_name
        )
    else:
        text = _(
            "{n} responses of {unit} are rejected; their answers are kept but never counted."
        ).format(n=n, unit=group.unit_name)
    effects = (
        ResolveFlags(group.first_response_id, count),
        Audit(
            "flags.counted" if count else "flags.rejected", group.reason, {"responses": group.count}
        ),
    )
    return StepResult(state, (Reply(text),), effects)


def _flag_text(t: Translator, g: Any) -> str:
    _ = t.gettext
    source = g.reason.split()[1] if g.reason and len(g.reason.split()) > 1 else ""
    kind = source.split(":", 1)[0]
    what = {
        "counter": _("from one counter code"),
        "respondent": _("from one respondent"),
    }.get(kind, _("flagged"))
    return _("{unit}: {n} responses {what}, {start} – {end}").format(
        unit=g.unit_name,
        n=t.number(g.count),
        what=what,
        start=t.datetime(g.first_at),
        end=t.datetime(g.last_at),
    )
