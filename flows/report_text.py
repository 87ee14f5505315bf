"""Reports as chat messages that fit a phone: short lines, the figure first (digits line
up even in a proportional font), Vietnamese number and date formats, units ranked.

The figures come from the storage layer's report objects (``SatisfactionReport``,
``QuotaProgress``, ``FeedbackRow``…); only their attributes are read here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flows import questionnaire as qn
from flows.i18n import Translator
from flows.office_hours import working_days_left, working_hours_between
from flows.periods import Period, describe, infer
from flows.privacy import Privacy

RANKED_LIMIT = 10  # units shown at each end of a long ranking
ITEM_TEXT_LIMIT = 70


def element_names(locale: str) -> dict[str, str]:
    """Element code → name, from the questionnaires (the first that names it wins)."""
    names: dict[str, str] = {}
    for q in qn.catalogue().values():
        for element in q.elements:
            names.setdefault(element.code, element.name.get(locale))
    return names


def item_texts(locale: str) -> dict[str, str]:
    """Item code → its question text (items of earlier versions too)."""
    texts: dict[str, str] = {}
    for q in qn.catalogue().values():
        for item in (*q.items, *q.retired):
            texts.setdefault(item.code, item.text.get(locale))
    return texts


def reason_labels(locale: str) -> dict[str, str]:
    """Negative-rating reason code → its label."""
    return {r.code: r.label(locale) for q in qn.catalogue().values() for r in q.negative_reasons}


def headline(s: Any) -> float | None:
    """The one figure a unit is ranked by: SIPAS % when elements were rated, else the
    share satisfied on the overall question."""
    return s.percent if s.percent is not None else s.overall_question


def element_basis(s: Any, code: str) -> int:
    """How many answers an element's figure rests on (its best-answered item)."""
    return max((i.valid for i in s.items.values() if i.element_code == code), default=0)


def shorten(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",.;:") + "…"


# --- quotas -------------------------------------------------------------------------------


def quota_count(q: Any, t: Translator) -> str:
    """``249/300 phiếu (83,0%), còn thiếu 51``."""
    _ = t.gettext
    line = _("{collected}/{target} questionnaires ({percent})").format(
        collected=t.number(q.collected),
        target=t.number(q.target_count),
        percent=t.percent(q.percent),
    )
    if q.remaining:
        line += ", " + _("{n} to go").format(n=t.number(q.remaining))
    return line


def dossier_share(q: Any, t: Translator) -> str | None:
    """``khảo sát 12,3% số hồ sơ (chỉ tiêu 15,0%)`` when the quota has a target ratio."""
    if q.target_ratio is None or q.surveyed_share is None:
        return None
    return t.gettext("{share} of dossiers surveyed (target {target})").format(
        share=t.percent(q.surveyed_share), target=t.percent(q.target_ratio)
    )


def pace_line(q: Any, t: Translator, today: date) -> str:
    """What the quota needs from today: the daily pace, or that it is reached or over."""
    _ = t.gettext
    if q.remaining == 0:
        return _("Target reached.")
    if today < q.period_start:
        return _("Starts on {date}.").format(date=t.date(q.period_start))
    days = working_days_left(today, q.period_end)
    if days == 0:
        return _("The period ended on {date}.").format(date=t.date(q.period_end))
    per_day = -(-q.remaining // days)  # rounded up: a pace that actually gets there
    return t.ngettext(
        "Needs {per_day} a working day ({days} working day left).",
        "Needs {per_day} a working day ({days} working days left).",
        days,
    ).format(per_day=t.number(per_day), days=t.number(days))


def quota_text(rows: list[Any], t: Translator, unit_name: str, period: Period, today: date) -> str:
    """``/quota``: every quota of the subtree, best first, with what is left and the pace."""
    _ = t.gettext
    lines = [
        _("Survey quotas – {unit}").format(unit=unit_name),
        _("Period: {period}").format(period=describe(period, t)),
    ]
    if not rows:
        lines.append(_("No quota is set for this period."))
        return "\n".join(lines)
    ranked = sorted(rows, key=lambda q: (-q.percent, q.unit_name))
    for rank, q in enumerate(ranked, 1):
        scope = q.unit_name + (" – " + ", ".join(q.fields) if q.fields else "")
        lines += ["", f"{rank}. {scope}"]
        if (q.period_start, q.period_end) != (period.start, period.end):
            lines.append("   " + describe(infer(q.period_start, q.period_end), t))
        share = dossier_share(q, t)
        lines += [f"   {quota_count(q, t)}", *([f"   {share}"] if share else [])]
        lines.append(f"   {pace_line(q, t, today)}")
    return "\n".join(lines)


# --- satisfaction --------------------------------------------------------------------------


def satisfaction_text(
    report: Any,
    t: Translator,
    period: Period,
    privacy: Privacy,
    comments: list[Any] = (),  # type: ignore[assignment]
    flagged: int = 0,
) -> str:
    """``/report``: overall, per element, the weakest items, units ranked, comments."""
    _ = t.gettext
    total = report.total
    lines = [
        _("Satisfaction – {unit}").format(unit=total.unit_name),
        _("Period: {period}").format(period=describe(period, t)),
    ]
    if total.respondents == 0:
        lines.append(_("No completed responses in this period."))
    elif not privacy.shows(total.respondents):
        lines.append(not_enough(t, total.respondents, privacy))
    else:
        lines += _overall(total, t, privacy)
    if len(report.units) > 1 or (report.units and report.units[0].unit_id != total.unit_id):
        lines += ["", _("Units, best first:"), *_ranking(report.units, t, privacy)]
    if comments:
        lines += ["", _("Latest comments:")]
        for c in comments:
            text = shorten(privacy.comment(c.text), 200)
            lines.append(f"• {t.date(c.completed_at)}: “{text}”")
    if flagged:
        lines += [
            "",
            t.ngettext(
                "{n} response flagged as possible stuffing is left out: see /flags.",
                "{n} responses flagged as possible stuffing are left out: see /flags.",
                flagged,
            ).format(n=t.number(flagged)),
        ]
    return "\n".join(lines)


def not_enough(t: Translator, n: int, privacy: Privacy) -> str:
    """What a leader reads instead of a percentage based on too few responses."""
    return t.gettext(
        "Not enough responses for a percentage yet ({n}; at least {min} are needed)."
    ).format(n=t.number(n), min=t.number(privacy.min_responses))


def _overall(total: Any, t: Translator, privacy: Privacy) -> list[str]:
    _ = t.gettext
    lines = [
        _("Overall: {percent} · {n} respondents · mean score {mean}/5").format(
            percent=t.percent(headline(total)),
            n=t.number(total.respondents),
            mean=t.number(round(total.mean or 0, 2), 2),
        )
    ]
    if total.overall_question is not None and total.percent is not None:
        lines.append(
            _("Satisfied overall (overall question): {percent}").format(
                percent=t.percent(total.overall_question)
            )
        )
    names = element_names(t.locale)
    if total.elements:
        lines += ["", _("By element:")]
        for code, value in total.elements.items():
            shown = t.percent(value) if privacy.shows(element_basis(total, code)) else "…"
            lines.append(f"  {shown}  {names.get(code, code)}")
    rated = [i for i in total.weakest_items(len(total.items)) if privacy.shows(i.valid)]
    per_element = [i.element_code for i in total.items.values()]
    if rated and len(per_element) > len(set(per_element)):  # items finer than elements
        texts = item_texts(t.locale)
        lines += ["", _("Weakest items:")]
        for item in rated[:3]:
            text = shorten(texts.get(item.item_code, ""), ITEM_TEXT_LIMIT)
            lines.append(f"  {t.percent(item.percent)}  {item.item_code} {text}")
    return lines


def _ranking(units: list[Any], t: Translator, privacy: Privacy) -> list[str]:
    _ = t.gettext
    shown = [u for u in units if u.respondents and privacy.shows(u.respondents)]
    ranked = sorted(shown, key=lambda s: (-(headline(s) or 0), s.unit_name))
    lines = [
        f"  {rank}. {t.percent(headline(s))}  {s.unit_name} ({t.number(s.respondents)})"
        for rank, s in enumerate(ranked, 1)
    ]
    if len(lines) > 2 * RANKED_LIMIT:
        hidden = len(lines) - 2 * RANKED_LIMIT
        lines = [
            *lines[:RANKED_LIMIT],
            "  " + _("… {n} more (all of them in /export)").format(n=t.number(hidden)),
            *lines[-RANKED_LIMIT:],
        ]
    few = [u for u in units if u.respondents and not privacy.shows(u.respondents)]
    if few:
        names = ", ".join(f"{u.unit_name} ({t.number(u.respondents)})" for u in few)
        lines.append("  " + _("Not enough responses yet: {units}").format(units=names))
    silent = [u.unit_name for u in units if not u.respondents]
    if silent:
        lines.append("  " + _("No responses: {units}").format(units=", ".join(silent)))
    return lines


# --- feedback -----------------------------------------------------------------------------


def feedback_waited(item: Any, now: datetime, t: Translator) -> float:
    """Working hours an item has waited (open) or took (handled)."""
    return working_hours_between(item.created_at, item.handled_at or now, t.tz)


def feedback_entry(item: Any, t: Translator, privacy: Privacy, now: datetime, target: int) -> str:
    """One feedback item in a few lines."""
    _ = t.gettext
    reason = (
        reason_labels(t.locale).get(item.reason or "", _("Other reason"))
        if item.reason
        else _("No reason given")
    )
    head = f"#{item.id} · {t.date(item.created_at)} · {item.unit_name}"
    lines = [head, "   " + reason]
    if item.wants_contact:
        lines[-1] += " · " + _("asks to be contacted")
    if item.text:
        lines.append(f"   “{shorten(privacy.comment(item.text), 300)}”")
    hours = feedback_waited(item, now, t)
    if item.status == "open":
        waited = _("Waiting {hours} working hours").format(hours=t.number(round(hours, 1), 1))
        if hours > target:
            waited += " · " + _("over the {target}-hour target").format(target=target)
        lines.append("   " + waited)
    else:
        lines.append(
            "   "
            + _("Handled by {name} on {date} ({hours} working hours): {note}").format(
                name=item.handled_by_name or "–",
                date=t.date(item.handled_at),
                hours=t.number(round(hours, 1), 1),
                note=item.handled_note or "",
            )
        )
    return "\n".join(lines)


def handling_summary(items: list[Any], t: Translator, period: Period, target: int) -> str | None:
    """How fast the period's feedback was handled, against the working-hour target."""
    _ = t.gettext
    handled = [i for i in items if i.handled_at is not None]
    if not handled:
        return None
    hours = [working_hours_between(i.created_at, i.handled_at, t.tz) for i in handled]
    in_time = sum(1 for h in hours if h <= target)
    return _(
        "Handled in {period}: {n} of {total}, on average in {hours} working hours; "
        "{in_time} of {n} within {target} working hours."
    ).format(
        period=describe(period, t),
        n=t.number(len(handled)),
        total=t.number(len(items)),
        hours=t.number(round(sum(hours) / len(hours), 1), 1),
        in_time=t.number(in_time),
        target=target,
    )
