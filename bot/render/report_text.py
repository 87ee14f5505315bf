"""Satisfaction and quota reports as text tables, CSV and JSON.

JSON and CSV carry percentages as numbers rounded to two decimals (83.94 means
83,94 %); the table is for people, in the chosen language with Vietnamese number and
date formats.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

from flows.i18n import N_, Problem, Translator
from flows.periods import Period, PeriodError, describe, quarter_of
from flows.periods import parse as parse_period
from flows.privacy import Privacy, restrict
from flows.report_text import (
    basis,
    channel_counts,
    channel_order,
    element_names,
    element_rows,
    headline,
    item_texts,
    not_enough_short,
    quota_text,
    sipas_elements,
)
from storage.quotas import QuotaProgress
from storage.reports import LEVELS, Satisfaction, SatisfactionReport


def pct(value: float | None) -> float | None:
    """A ratio as a percentage with two decimals (None stays None)."""
    return None if value is None else round(value * 100, 2)


# --- satisfaction -----------------------------------------------------------------------


def satisfaction_dict(s: Satisfaction) -> dict[str, Any]:
    """One unit's figures as plain data (as its viewer may see them: ``withheld_items``
    are left out of every figure)."""
    return {
        "unit_code": s.unit_code,
        "unit_name": s.unit_name,
        "respondents": s.respondents,
        "channels": dict(channel_order(s.channels)),
        "answers": s.answers,
        "percent": pct(s.percent),
        "elements_counted": len(s.elements),
        "elements_total": max(len(sipas_elements()), len(s.elements)),
        "withheld_items": sorted(s.withheld),
        "overall_question_percent": pct(s.overall_question),
        "mean_score": None if s.mean is None else round(s.mean, 3),
        "distribution": {str(v): n for v, n in s.distribution.items()},
        "elements": {code: pct(value) for code, value in s.elements.items()},
        "items": {
            code: {
                "element": item.element_code,
                "valid": item.valid,
                "skipped": item.skipped,
                "satisfied": item.satisfied,
                "percent": pct(item.percent),
                "mean_score": None if item.mean is None else round(item.mean, 3),
                "counts": {str(v): item.counts[v] for v in LEVELS},
            }
            for code, item in sorted(s.items.items())
        },
    }


def satisfaction_data(report: SatisfactionReport, privacy: Privacy | None = None) -> dict[str, Any]:
    """The report as plain data, as ``privacy`` may see it (everything by default): what
    ``--format json`` prints and (with the leaders' threshold) the API returns."""
    privacy = privacy or Privacy()
    report = restrict(report, privacy)
    return {
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "min_responses": privacy.min_responses,
        "total": satisfaction_dict(report.total),
        "units": [satisfaction_dict(u) for u in report.units],
    }


def satisfaction_json(report: SatisfactionReport, privacy: Privacy | None = None) -> str:
    return json.dumps(satisfaction_data(report, privacy), ensure_ascii=False, indent=2)


def satisfaction_csv(report: SatisfactionReport, privacy: Privacy | None = None) -> str:
    """One row per unit (the total first): respondents, overall %, each element %."""
    report = restrict(report, privacy or Privacy())
    elements = sorted({code for s in [report.total, *report.units] for code in s.elements})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        [
            "unit_code",
            "unit_name",
            "respondents",
            "answers",
            "percent",
            "overall_question_percent",
            "mean_score",
        ]
        + [f"element_{code}_percent" for code in elements]
    )
    for s in [report.total, *report.units]:
        writer.writerow(
            [
                _csv_text(s.unit_code),
                _csv_text(s.unit_name),
                s.respondents,
                s.answers,
                _csv_num(pct(s.percent)),
                _csv_num(pct(s.overall_question)),
                _csv_num(None if s.mean is None else round(s.mean, 3)),
            ]
            + [_csv_num(pct(s.elements.get(code))) for code in elements]
        )
    return buf.getvalue()


def satisfaction_table(
    report: SatisfactionReport, t: Translator, period: Period, privacy: Privacy | None = None
) -> str:
    """The report for people: overall with what it rests on, elements, weakest items,
    channels, units."""
    _ = t.gettext
    report = restrict(report, privacy or Privacy())
    total = report.total
    names = element_names(t.locale)
    lines = [
        _("Satisfaction – {unit}").format(unit=total.unit_name),
        _("Period: {period}").format(period=describe(period, t)),
    ]
    if total.respondents == 0:
        lines.append(_("No completed responses in this period."))
        return "\n".join(lines)
    overall = headline(total)
    lines.append(
        _("Overall: {percent} · {n} respondents").format(
            percent=t.percent(overall) if overall is not None else not_enough_short(t),
            n=t.number(total.respondents),
        )
        + (
            " · " + _("mean score {mean}/5").format(mean=t.number(round(total.mean, 2), 2))
            if total.mean is not None
            else ""
        )
    )
    note = basis(total, t)
    if note:
        lines.append(f"({note})")
    if total.channels:
        lines.append(channel_counts(total.channels, t))
    if total.overall_question is not None:
        lines.append(
            _("Satisfied overall (overall question): {percent}").format(
                percent=t.percent(total.overall_question)
            )
        )
    rows = element_rows(total)
    if rows:
        lines += ["", _("By element:")]
        width = max(len(names.get(c, c)) for c, _v in rows)
        for code, value in rows:
            shown = t.percent(value) if value is not None else not_enough_short(t)
            lines.append(f"  {names.get(code, code):<{width}}  {shown:>7}")
    weakest = total.weakest_items(3)
    if weakest and len(total.items) > 3:
        texts = item_texts(t.locale)
        lines += ["", _("Weakest items:")]
        for item in weakest:
            lines.append(
                f"  {t.percent(item.percent):>7}  {item.item_code} {texts.get(item.item_code, '')}"
            )
    if len(report.units) > 1 or (report.units and report.units[0].unit_id != total.unit_id):
        lines += ["", _("By unit:")]
        ranked = sorted(report.units, key=lambda s: -(headline(s) or -1))
        width = min(40, max(len(s.unit_name) for s in ranked))
        unit_h, resp_h, sat_h = _("Unit"), _("Resp."), _("Satisfied")
        lines.append(f"  {unit_h:<{width}}  {resp_h:>6}  {sat_h:>9}")
        for s in ranked:
            name, count, share = (
                _fit(s.unit_name, width),
                t.number(s.respondents),
                t.percent(headline(s)) if headline(s) is not None else not_enough_short(t),
            )
            lines.append(f"  {name:<{width}}  {count:>6}  {share:>9}")
    return "\n".join(lines)


def _fit(name: str, width: int) -> str:
    """``name`` in a column ``width`` wide: cut with "…" when it is longer."""
    return name if len(name) <= width else name[: width - 1].rstrip() + "…"


# --- quotas ---------------------------------------------------------------------------------


def quota_dict(q: QuotaProgress) -> dict[str, Any]:
    return {
        "unit_code": q.unit_code,
        "unit_name": q.unit_name,
        "label": q.label,
        "period_start": q.period_start.isoformat(),
        "period_end": q.period_end.isoformat(),
        "fields": q.fields,
        "target": q.target_count,
        "collected": q.collected,
        "remaining": q.remaining,
        "percent": pct(q.percent),
        "dossiers": q.dossiers,
        "surveyed_share_percent": pct(q.surveyed_share),
        "target_ratio_percent": pct(q.target_ratio),
        "channels": dict(channel_order(q.channels)),
    }


def quota_data(rows: list[QuotaProgress]) -> list[dict[str, Any]]:
    """Quota progress as plain data: what ``--format json`` prints and the API returns."""
    return [quota_dict(q) for q in rows]


def quota_json(rows: list[QuotaProgress]) -> str:
    return json.dumps(quota_data(rows), ensure_ascii=False, indent=2)


def quota_table(
    rows: list[QuotaProgress], t: Translator, title_unit: str, period: Period, today: date
) -> str:
    """The quota report for people: the same text as the chat's ``/quota``."""
    return quota_text(rows, t, title_unit, period, today)


def choose_period(text: str | None, start: date | None, end: date | None, today: date) -> Period:
    """The period a report asks for: typed (``10/2023``, ``quý này``…) or first/last day
    (a missing first day is 1 January, a missing last day today); by default this
    quarter. ``ValueError`` says what is wrong."""
    if text and (start or end):
        raise Problem(N_("give a period or from/to dates, not both"))
    if start or end:
        first, last = start or date(today.year, 1, 1), end or today
        if last < first:
            raise Problem(N_("the last day is before the first"))
        return Period(first, last, "range")
    if not text:
        return quarter_of(today)
    try:
        return parse_period(text, today)
    except PeriodError:
        raise Problem(
            N_("unknown period {text}: try 10/2023, Q4/2023, 2023 or 01/10/2023-31/10/2023"),
            text=repr(text),
        ) from None


def quota_csv(rows: list[QuotaProgress]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    columns = list(quota_dict(rows[0]).keys()) if rows else ["unit_code"]
    writer.writerow(columns)
    for q in rows:
        d = quota_dict(q)
        writer.writerow([_csv_cell(c, d[c]) for c in columns])
    return buf.getvalue()


def _csv_cell(column: str, value: Any) -> Any:
    if column == "fields":
        return _csv_text("; ".join(value))
    if column == "channels":
        return "; ".join(f"{channel}={n}" for channel, n in value.items())
    return _csv_text(_csv_num(value))


def _csv_num(value: Any) -> Any:
    return "" if value is None else value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: Any) -> Any:
    """A text cell a spreadsheet will not run: one starting like a formula gets a leading
    apostrophe (as the XLSX stores such text as text)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
