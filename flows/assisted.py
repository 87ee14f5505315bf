"""Assisted interviews (``/phieu``): a surveyor enters a citizen's phiếu on their behalf.

Steps (``state.step``) and the data they keep:

``unit``     choosing the unit (the surveyor's own subtree), by button or typed name.
``proc``     choosing the procedure (buttons, a typed part of its name, or none).
``q``        asking ``items[i]`` of the questionnaire; ``answers`` maps item → value.
``why``      after the first answer of 1 or 2: the reason (a button, or typed words).
``comment``  the citizen's comment, typed, or skipped.
``confirm``  "Lưu phiếu" stores everything at once (``SaveAssisted``); "Hủy" nothing.

Nothing is stored before "Lưu phiếu": a cancelled or abandoned phiếu leaves no trace.
Payloads: ``pq.u:<unit>``, ``pq.p:<procedure|0>``, ``pq.a:<i>:<1-5|s|b>``,
``pq.r:<reason|s>``, ``pq.m:s``, ``pq.k:y|n`` (all far below 64 bytes).
"""

from __future__ import annotations

from datetime import datetime

from flows import questionnaire as qn
from flows.assisted_contract import AssistedContext, SaveAssisted
from flows.common import FREE_TEXT_LIMIT, NO, YES, tr, yes_no
from flows.contract import (
    Audit,
    Button,
    Context,
    EventKind,
    InboundEvent,
    Reply,
    State,
    StepResult,
    UnitInfo,
)
from flows.i18n import N_, Translator
from flows.registry import Flow, command, flow
from flows.survey.base import SATISFACTION_LABELS
from flows.text import clean_free_text, fold
from flows.units import find_units

FLOW = "assisted"
SURVEYORS = frozenset({"surveyor", "official", "leader", "admin"})
MAX_CHOICES = 8
NEGATIVE = (1, 2)


# --- entry ---------------------------------------------------------------------------------


@command("/phieu", help=N_("enter a citizen's questionnaire on their behalf"), roles=SURVEYORS)
async def phieu_command(state: State, event: InboundEvent, ctx: AssistedContext) -> StepResult:
    """``/phieu [unit]``: start a new phiếu (an unsaved one is dropped)."""
    _ = tr(state, ctx).gettext
    scope = await _scope(ctx)
    if not scope:
        text = _("Sorry, your account is not linked to a unit. Please ask an administrator.")
        return StepResult(state.idle(), (Reply(text),))
    q = qn.get(ctx.assisted_questionnaire())
    fresh = State(
        state.locale,
        FLOW,
        "unit",
        {"q": q.code, "key": ctx.new_key(), "at": ctx.now.isoformat(), "answers": {}},
        state.updated_at,
    )
    args = event.text.strip().split(maxsplit=1)
    typed = args[1] if len(args) > 1 else ""
    if typed:
        return await _pick_unit_by_text(fresh, typed, ctx)
    if len(scope) == 1:
        return await _unit_chosen(fresh, scope[0], ctx)
    if len(scope) <= MAX_CHOICES:
        fresh = fresh.at("unit", choices=[[u.unit_id, f"{u.name} ({u.code})"] for u in scope])
    return StepResult(fresh, (prompt(fresh, ctx),))


async def step(state: State, event: InboundEvent, ctx: AssistedContext) -> StepResult:
    """Advance the phiếu by one event."""
    handler = _STEPS.get(state.step or "")
    if handler is None:
        return StepResult(state.idle())
    return await handler(state, event, ctx)


def expire(state: State) -> tuple:
    """Nothing to close: an unsaved phiếu was never stored."""
    return ()


def prompt(state: State, ctx: Context, notice: str | None = None) -> Reply:
    """The message that asks for the current step (again)."""
    t = tr(state, ctx)
    _ = t.gettext
    d = state.data
    if state.step == "unit":
        choices = d.get("choices") or []
        text = _("New questionnaire. Which unit is it for? Type its name or code.")
        reply = Reply(text, tuple(Button(name, f"pq.u:{uid}") for uid, name in choices))
    elif state.step == "proc":
        choices = d.get("choices") or []
        buttons = [Button(name, f"pq.p:{pid}") for pid, name in choices]
        buttons.append(Button(_("Not known / other"), "pq.p:0"))
        text = _("{unit}. Which procedure did the citizen come for? Type part of its name.")
        reply = Reply(text.format(unit=d["unit_name"]), tuple(buttons))
    elif state.step == "q":
        reply = _question(state, t)
    elif state.step == "why":
        reasons = _q(state).negative_reasons
        buttons = tuple(Button(r.label(t.locale), f"pq.r:{r.code}") for r in reasons)
        text = _("What went wrong, in the citizen's words? Choose a reason or type it.")
        reply = Reply(text, (*buttons, Button(_("Skip"), "pq.r:s")))
    elif state.step == "comment":
        text = _("The citizen's comment, if any: type it (up to {limit} characters) or skip.")
        reply = Reply(text.format(limit=FREE_TEXT_LIMIT), (Button(_("Skip"), "pq.m:s"),))
    else:
        buttons = (Button(_("Save the questionnaire"), "pq.k:y"), Button(_("Discard it"), "pq.k:n"))
        reply = Reply(_summary(state, t), buttons)
    if notice:
        reply = Reply(notice + "\n\n" + reply.text, reply.buttons)
    return reply


flow(Flow(FLOW, step, prompt, expire))


# --- unit and procedure ----------------------------------------------------------------


async def _scope(ctx: Context) -> list[UnitInfo]:
    if ctx.person is None:
        return []
    units = await ctx.units()
    home = next((u for u in units if u.unit_id == ctx.person.unit_id), None)
    return [u for u in units if home is not None and home.contains(u)]


async def _on_unit(state: State, event: InboundEvent, ctx: AssistedContext) -> StepResult:
    if event.payload.startswith("pq.u:"):
        wanted = event.payload[5:]
        unit = next((u for u in await _scope(ctx) if str(u.unit_id) == wanted), None)
        if unit is not None:
            return await _unit_chosen(state, unit, ctx)
    if event.kind == EventKind.TEXT and event.text.strip():
        return await _pick_unit_by_text(state, event.text, ctx)
    return StepResult(state, (prompt(state, ctx),))


async def _pick_unit_by_text(state: State, text: str, ctx: AssistedContext) -> StepResult:
    _ = tr(state, ctx).gettext
    _quality, found = find_units(text, await _scope(ctx))
    if len(found) == 1:
        return await _unit_chosen(state, found[0], ctx)
    if not found or len(found) > MAX_CHOICES:
        notice = _("No single unit of yours matches “{text}”.").format(text=text.strip()[:60])
        nxt = state.at("unit", choices=[])
        return StepResult(nxt, (prompt(nxt, ctx, notice),))
    nxt = state.at("unit", choices=[[u.unit_id, f"{u.name} ({u.code})"] for u in found])
    return StepResult(nxt, (prompt(nxt, ctx),))


async def _unit_chosen(state: State, unit: UnitInfo, ctx: AssistedContext) -> StepResult:
    procedures = await ctx.procedures()
    nxt = state.at("proc", unit_id=unit.unit_id, unit_name=unit.name, choices=[])
    if not procedures:
        return _begin(nxt.at("q", procedure_id=None, procedure=None), ctx)
    if len(procedures) <= MAX_CHOICES:
        nxt = nxt.at("proc", choices=[[p.procedure_id, p.name] for p in procedures])
    return StepResult(nxt, (prompt(nxt, ctx),))


async def _on_proc(state: State, event: InboundEvent, ctx: AssistedContext) -> StepResult:
    _ = tr(state, ctx).gettext
    procedures = await ctx.procedures()
    if event.payload.startswith("pq.p:"):
        wanted = event.payload[5:]
        chosen = next((p for p in procedures if str(p.procedure_id) == wanted), None)
        if chosen is not None or wanted == "0":
            name = chosen.name if chosen else None
            nxt = state.at(
                "q", procedure_id=chosen.procedure_id if chosen else None, procedure=name
            )
            return _begin(nxt, ctx)
    if event.kind == EventKind.TEXT and event.text.strip():
        words = fold(event.text).split()
        found = [p for p in procedures if all(w in fold(p.name) for w in words)]
        if found and len(found) <= MAX_CHOICES:
            nxt = state.at("proc", choices=[[p.procedure_id, p.name] for p in found])
            return StepResult(nxt, (prompt(nxt, ctx),))
        notice = _("No single procedure matches “{text}”.").format(text=event.text.strip()[:60])
        return StepResult(state, (prompt(state, ctx, notice),))
    return StepResult(state, (prompt(state, ctx),))


def _begin(state: State, ctx: Context) -> StepResult:
    nxt = state.at("q", i=0, trail=[], choices=[])
    return StepResult(nxt, (prompt(nxt, ctx),))


# --- questions ---------------------------------------------------------------------------


def _q(state: State) -> qn.Questionnaire:
    return qn.get(state.data["q"])


def _labels(t: Translator, item: qn.Item, q: qn.Questionnaire) -> list[tuple[int, str]]:
    if item.scale == qn.SATISFACTION:
        return [(v, t.gettext(label)) for v, label in SATISFACTION_LABELS.items()]
    return [(o.value, o.label(t.locale)) for o in q.scales[item.scale]]


def _question(state: State, t: Translator) -> Reply:
    _ = t.gettext
    q, i = _q(state), state.data["i"]
    item = q.items[i]
    element = q.element(item.element)
    header = _("Questionnaire for {unit} · question {n}/{total}").format(
        unit=state.data["unit_name"], n=i + 1, total=len(q.items)
    )
    if element is not None:
        header += " · " + element.name.get(t.locale)
    buttons = [Button(label, f"pq.a:{i}:{v}") for v, label in _labels(t, item, q)]
    buttons.append(Button(_("Skip"), f"pq.a:{i}:s"))
    if state.data.get("trail"):
        buttons.append(Button(_("Back"), f"pq.a:{i}:b"))
    return Reply(header + "\n" + item.text.get(t.locale), tuple(buttons))


def _read(event: InboundEvent, i: int, values: set[int]) -> str | None:
    if event.kind == EventKind.BUTTON:
        parts = event.payload.split(":")
        if len(parts) != 3 or parts[0] != "pq.a":
            return None
        if parts[1] != str(i):
            return "stale"
        choice = parts[2]
    else:
        typed = fold(event.text)
        choice = {"bo qua": "s", "skip": "s", "quay lai": "b", "back": "b"}.get(typed, typed)
    if choice in ("s", "b") or (choice.isdigit() and int(choice) in values):
        return choice
    return None


async def _on_q(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    t = tr(state, ctx)
    _ = t.gettext
    q, i = _q(state), state.data["i"]
    item = q.items[i]
    choice = _read(event, i, {v for v, _label in _labels(t, item, q)})
    if choice is None:
        hint = _("Sorry, I did not understand. Please press one of the buttons.")
        return StepResult(state, (prompt(state, ctx, hint),))
    if choice == "stale":
        notice = _("That button belongs to an earlier question. The current question is:")
        return StepResult(state, (prompt(state, ctx, notice),))
    trail = list(state.data["trail"])
    if choice == "b":
        if not trail:
            return StepResult(state, (prompt(state, ctx, _("This is the first question.")),))
        nxt = state.at("q", i=trail.pop(), trail=trail)
        return StepResult(nxt, (prompt(nxt, ctx),))
    value = None if choice == "s" else int(choice)
    answered = state.at("q", answers={**state.data["answers"], item.code: value}, trail=[*trail, i])
    if (
        value in NEGATIVE
        and item.scale == qn.SATISFACTION
        and q.negative_reasons
        and not state.data.get("why_item")
    ):
        nxt = answered.at("why", why_item=item.code)
        return StepResult(nxt, (prompt(nxt, ctx),))
    return _next(answered, ctx)


def _next(state: State, ctx: Context) -> StepResult:
    i = state.data["i"] + 1
    nxt = state.at("comment", i=i) if i >= len(_q(state).items) else state.at("q", i=i)
    return StepResult(nxt, (prompt(nxt, ctx),))


async def _on_why(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    codes = {r.code for r in _q(state).negative_reasons}
    if event.payload.startswith("pq.r:"):
        code = event.payload[5:]
        if code in codes or code == "s":
            reason = None if code == "s" else code
            return _next(state.at("q", why=reason, why_text=None), ctx)
    elif event.kind == EventKind.TEXT and event.text.strip():
        text = clean_free_text(event.text, FREE_TEXT_LIMIT)
        if text is None:
            notice = _("That is longer than {limit} characters. Please shorten it.")
            return StepResult(state, (prompt(state, ctx, notice.format(limit=FREE_TEXT_LIMIT)),))
        return _next(state.at("q", why="other", why_text=text), ctx)
    return StepResult(state, (prompt(state, ctx),))


async def _on_comment(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    if event.payload == "pq.m:s" or fold(event.text) in ("bo qua", "skip"):
        nxt = state.at("confirm", comment=None)
        return StepResult(nxt, (prompt(nxt, ctx),))
    if event.kind == EventKind.TEXT and event.text.strip():
        text = clean_free_text(event.text, FREE_TEXT_LIMIT)
        if text is None:
            notice = _("That is longer than {limit} characters. Please shorten it.")
            return StepResult(state, (prompt(state, ctx, notice.format(limit=FREE_TEXT_LIMIT)),))
        nxt = state.at("confirm", comment=text)
        return StepResult(nxt, (prompt(nxt, ctx),))
    return StepResult(state, (prompt(state, ctx),))


# --- saving ----------------------------------------------------------------------------


def _summary(state: State, t: Translator) -> str:
    _ = t.gettext
    d, q = state.data, _q(state)
    given = [v for v in d["answers"].values() if v is not None]
    lines = [
        _("Questionnaire for {unit}").format(unit=d["unit_name"]),
        _("Procedure: {procedure}.").format(procedure=d.get("procedure") or "–"),
        _("Answered: {answered} of {total} questions.").format(
            answered=len(given), total=len(q.items)
        ),
    ]
    if given:
        mean = t.number(round(sum(given) / len(given), 1), 1)
        lines.append(_("Average score: {score}/5.").format(score=mean))
    lines.append(_("Save this questionnaire?"))
    return "\n".join(lines)


async def _on_confirm(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    _ = tr(state, ctx).gettext
    answer = yes_no(event, "pq.k")
    if answer == NO or fold(event.text) in ("huy", "cancel"):
        text = _("Cancelled: nothing was saved. Send /phieu to start a new questionnaire.")
        return StepResult(state.idle(), (Reply(text),))
    if answer != YES and fold(event.text) not in ("luu", "luu phieu", "save"):
        return StepResult(state, (prompt(state, ctx),))
    d, q = state.data, _q(state)
    answers = tuple(
        (item.code, item.element, d["answers"][item.code])
        for item in q.items
        if item.code in d["answers"]
    )
    effect = SaveAssisted(
        response_key=d["key"],
        unit_id=d["unit_id"],
        procedure_id=d.get("procedure_id"),
        questionnaire_code=q.code,
        questionnaire_version=q.version,
        answers=answers,
        reason_item=d.get("why_item") if d.get("why") else None,
        reason=d.get("why"),
        reason_text=d.get("why_text"),
        comment=d.get("comment"),
        started_at=datetime.fromisoformat(d["at"]),
        saved_at=ctx.now,
    )
    audit = Audit("assisted.saved", str(d["unit_id"]), {"questionnaire": q.code})
    text = _("Saved. Send /phieu for the next citizen's questionnaire.")
    return StepResult(state.idle(), (Reply(text),), (effect, audit))


_STEPS = {
    "unit": _on_unit,
    "proc": _on_proc,
    "q": _on_q,
    "why": _on_why,
    "comment": _on_comment,
    "confirm": _on_confirm,
}
