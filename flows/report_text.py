"""Reports as chat messages that fit a phone: short lines, the figure first (digits line
up even in a proportional font), Vietnamese number and date formats, units ranked.

The figures come from the storage layer's report objects (``SatisfactionReport``,
``QuotaProgress``, ``FeedbackRow``…); only their attributes are read here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flows import questionnaire as qn
from flows.i18n import N_, Translator
from flows.office_hours import Calendar, working_days_left
from flows.periods import Period, describe, infer
from flows.privacy import Privacy, restrict

RANKED_LIMIT = 10  # units shown at each end of a long ranking
ITEM_TEXT_LIMIT = 70

# How each channel a response can come by is called in reports, in display order. The
# one place to name a channel: a new channel only adds its label here.
CHANNEL_LABELS = {
    "telegram": N_("Telegram"),
    "zalo": N_("Zalo"),
    "zns": N_("Zalo ZNS"),
    "web": N_("web"),
    "kiosk": N_("counter tablet"),
    "assisted": N_("assisted interview"),
    "paper": N_("paper"),
    "console": N_("console"),
}


def channel_label(channel: str, t: Translator) -> str:
    """The reader's name for ``channel`` (the code itself for one without a label)."""
    label = CHANNEL_LABELS.get(channel)
    return t.gettext(label) if label else channel


def channel_order(channels: dict[str, int]) -> list[tuple[str, int]]:
    """(channel, count) of the channels present, in display order (unknown ones last)."""
    known = list(CHANNEL_LABELS)
    present = [(c, n) for c, n in channels.items() if n]
    return sorted(present, key=lambda cn: (known.index(cn[0]) if cn[0] in known else 99, cn[0]))


def channel_counts(channels: dict[str, int], t: Translator) -> str:
    """``Theo kênh: Zalo 120 · web 30 · phiếu giấy 99``: only the channels present."""
    parts = [f"{channel_label(c, t)} {t.number(n)}" for c, n in channel_order(channels)]
    return t.gettext("By channel: {channels}").format(channels=" · ".join(parts))


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


def pace_line(q: Any, t: Translator, today: date, calendar: Calendar | None = None) -> str:
    """What the quota needs from today: the daily pace (working days on ``calendar``),
    or that it is reached or over."""
    _ = t.gettext
    if q.remaining == 0:
        return _("Target reached.")
    if today < q.period_start:
        return _("Starts on {date}.").format(date=t.date(q.period_start))
    days = working_days_left(today, q.period_end, calendar)
    if days == 0:
        return _("The period ended on {date}.").format(date=t.date(q.period_end))
    per_day = -(-q.remaining // days)  # rounded up: a pace that actually gets there
    return t.ngettext(
        "Needs {per_day} a working day ({days} working day left).",
        "Needs {per_day} a working day ({days} working days left).",
        days,
    ).format(per_day=t.number(per_day), days=t.number(days))


def quota_text(
    rows: list[Any],
    t: Translator,
    unit_name: str,
    period: Period,
    today: date,
    calendar: Calendar | None = None,
) -> str:
    """``/quota``: every quota of the subtree, best first, with what is left, the count
    per channel and the pace."""
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
        if getattr(q, "channels", None):
            lines.append(f"   {channel_counts(q.channels, t)}")
        lines.append(f"   {pace_line(q, t, today, calendar)}")
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
    """``/report``: overall (with what it rests on), per element, the weakest items,
    responses per channel, units ranked, comments. Figures are the viewer's
    (``flows.privacy.restrict``): nothing withheld can be worked out from them."""
    _ = t.gettext
    report = restrict(report, privacy)
    total = report.total
    lines = [
        _("Satisfaction – {unit}").format(unit=total.unit_name),
        _("Period: {period}").format(period=describe(period, t)),
    ]
    if total.respondents == 0:
        lines.append(_("No completed responses in this period."))
    elif not privacy.shows(total.respondents) or headline(total) is None:
        lines.append(not_enough(t, total.respondents, privacy))
        lines.append(channel_counts(total.channels, t))
    else:
        lines += _overall(total, t)
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


def not_enough_short(t: Translator) -> str:
    """The words in a table cell or a list where a figure is withheld."""
    return t.gettext("not enough responses")


def sipas_elements() -> list[str]:
    """The SIPAS element codes (E1–E5), from the questionnaires."""
    return sorted(element_names("en"))


def element_rows(s: Any) -> list[tuple[str, float | None]]:
    """(element code, its % or None when withheld) for every element with answers or
    withheld answers, in code order."""
    shown = s.elements
    withheld = {e for e in s.withheld.values() if e != qn.OVERALL}
    return [(code, shown.get(code)) for code in sorted(set(shown) | withheld)]


def withheld_elements(s: Any) -> list[str]:
    """Elements whose every answered item is withheld for this viewer."""
    return [code for code, value in element_rows(s) if value is None]


def basis(s: Any, t: Translator) -> str | None:
    """``dựa trên 4/5 yếu tố`` and which elements are left out and why; None when the
    figure is not the mean of the elements (no element answered)."""
    _ = t.gettext
    if s.percent is None:
        return None
    names = element_names(t.locale)
    every = sipas_elements()
    counted = list(s.elements)
    text = _("based on {n}/{total} elements").format(
        n=t.number(len(counted)), total=t.number(max(len(every), len(counted)))
    )
    few = withheld_elements(s)
    silent = [c for c in every if c not in counted and c not in few]
    if few:
        text += "; " + _("not enough responses: {names}").format(
            names=", ".join(names.get(c, c) for c in few)
        )
    if silent:
        text += "; " + _("no answers: {names}").format(
            names=", ".join(names.get(c, c) for c in silent)
        )
    return text


def _overall(total: Any, t: Translator) -> list[str]:
    _ = t.gettext
    figure = _("Overall: {percent} · {n} respondents").format(
        percent=t.percent(headline(total)), n=t.number(total.respondents)
    )
    if total.mean is not None:
        figure += " · " + _("mean score {mean}/5").format(mean=t.number(round(total.mean, 2), 2))
    lines = [figure]
    note = basis(total, t)
    if note:
        lines.append(f"({note})")
    lines.append(channel_counts(total.channels, t))
    if total.overall_question is not None and total.percent is not None:
        lines.append(
            _("Satisfied overall (overall question): {percent}").format(
                percent=t.percent(total.overall_question)
            )
        )
    names = element_names(t.locale)
    rows = element_rows(total)
    if rows:
        lines += ["", _("By element:")]
        for code, value in rows:
            shown = t.percent(value) if value is not None else not_enough_short(t)
            lines.append(f"  {shown}  {names.get(code, code)}")
    rated = total.weakest_items(len(total.items))
    per_element = [i.element_code for i in total.items.values()]
    if rated and len(per_element) > len(set(per_element)):  # items finer than elements
        texts = item_texts(t.locale)
        lines += ["", _("Weakest items:")]
        for item in rated[:3]:
            text = shorten(texts.get(item.item_code, ""), ITEM_TEXT_LIMIT)
            lines.append(f"  {t.percent(item.percent)}  {item.item_code} {text}")
    partial = sorted(c for c, e in total.withheld.items() if e in total.elements)
    if partial:
        lines.append(
            _("Left out of the figures, too few answers: {items}").format(items=", ".join(partial))
        )
    return lines


def _ranking(units: list[Any], t: Translator, privacy: Privacy) -> list[str]:
    _ = t.gettext
    shown = [u for u in units if u.respondents and headline(u) is not None]
    shown = [u for u in shown if privacy.shows(u.respondents)]
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
    few = [u for u in units if u.respondents and u not in shown]
    if few:
        names = ", ".join(f"{u.unit_name} ({t.number(u.respondents)})" for u in few)
        lines.append("  " + _("Not enough responses yet: {units}").format(units=names))
    silent = [u.unit_name for u in units if not u.respondents]
    if silent:
        lines.append("  " + _("No responses: {units}").format(units=", ".join(silent)))
    return lines
