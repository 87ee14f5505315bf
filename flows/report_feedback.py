"""Feedback items and how fast they were handled, in working hours, as chat text.

Working hours are counted on the caller's calendar (``flows.office_hours``): the
reminders' calendar, with public holidays and swap days.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flows.i18n import Translator
from flows.office_hours import Calendar, working_hours_between
from flows.periods import Period, describe
from flows.privacy import Privacy
from flows.report_text import reason_labels, shorten


def feedback_waited(
    item: Any, now: datetime, t: Translator, calendar: Calendar | None = None
) -> float:
    """Working hours (on ``calendar``: holidays and swaps count) an item has waited
    (open) or took (handled)."""
    return working_hours_between(item.created_at, item.handled_at or now, t.tz, calendar)


def feedback_entry(
    item: Any,
    t: Translator,
    privacy: Privacy,
    now: datetime,
    target: int,
    calendar: Calendar | None = None,
) -> str:
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
    hours = feedback_waited(item, now, t, calendar)
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


def handling_summary(
    items: list[Any],
    t: Translator,
    period: Period,
    target: int,
    calendar: Calendar | None = None,
) -> str | None:
    """How fast the period's feedback was handled, against the working-hour target."""
    _ = t.gettext
    handled = [i for i in items if i.handled_at is not None]
    if not handled:
        return None
    hours = [working_hours_between(i.created_at, i.handled_at, t.tz, calendar) for i in handled]
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
