"""Satisfaction and quota reports as text tables, CSV and JSON.

JSON and CSV carry percentages as numbers rounded to two decimals (83.94 means
83,94 %); the table is for people, in the chosen language with Vietnamese number and
date formats.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flows import questionnaire as qn
from flows.i18n import Translator
from flows.periods import Period, describe, infer
from storage.reports import LEVELS, QuotaProgress, Satisfaction, SatisfactionReport


def element_names(locale: str) -> dict[str, str]:
    """Element code → name, from the questionnaires (the first that names it wins)."""
    names: dict[str, str] = {}
    for q in qn.catalogue().values():
        for element in q.elements:
            names.setdefault(element.code, element.name.get(locale))
    return names


def item_texts(locale: str) -> dict[str, str]:
    """Item code → its question text."""
    return {item.code: item.text.get(locale) for q in qn.catalogue().values() for item in q.items}


def pct(value: float | None) -> float | None:
    """A ratio as a percentage with two decimals (None stays None)."""
    return None if value is None else round(value * 100, 2)


# --- satisfaction -----------------------------------------------------------------------


def satisfaction_dict(s: Satisfaction) -> dict[str, Any]:
    return {
        "unit_code": s.unit_code,
        "unit_name": s.unit_name,
        "respondents": s.respondents,
        "answers": s.answers,
        "percent": pct(s.percent),
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


def satisfaction_json(report: SatisfactionReport) -> str:
    data = {
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "total": satisfaction_dict(report.total),
        "units": [satisfaction_dict(u) for u in report.units],
    }
    return json.dumps(data, ensure_ascii=False, indent=2)


def satisfaction_csv(report: SatisfactionReport) -> str:
    """One row per unit (the total first): respondents, overall %, each element %."""
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
                s.unit_code,
                s.unit_name,
                s.respondents,
                s.answers,
                _csv_num(pct(s.percent)),
                _csv_num(pct(s.overall_question)),
                _csv_num(None if s.mean is None else round(s.mean, 3)),
            ]
            + [_csv_num(pct(s.elements.get(code))) for code in elements]
        )
    return buf.getvalue()


def satisfaction_table(report: SatisfactionReport, t: Translator, period: Period) -> str:
    _ = t.gettext
    total = report.total
    names = element_names(t.locale)
    lines = [
        _("Satisfaction – {unit}").format(unit=total.unit_name),
        _("Period: {period}").format(period=describe(period, t)),
    ]
    if total.respondents == 0:
        lines.append(_("No completed responses in this period."))
        return "\n".join(lines)
    lines.append(
        _("Overall: {percent} · {n} respondents · mean score {mean}/5").format(
            percent=t.percent(
                total.percent if total.percent is not None else total.overall_question
            ),
            n=t.number(total.respondents),
            mean=t.number(round(total.mean or 0, 2), 2),
        )
    )
    if total.overall_question is not None:
        lines.append(
            _("Satisfied overall (overall question): {percent}").format(
                percent=t.percent(total.overall_question)
            )
        )
    if total.elements:
        lines += ["", _("By element:")]
        width = max(len(names.get(c, c)) for c in total.elements)
        for code, value in total.elements.items():
            lines.append(f"  {names.get(code, code):<{width}}  {t.percent(value):>7}")
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
        ranked = sorted(report.units, key=lambda s: -(_headline(s) or -1))
        width = min(40, max(len(s.unit_name) for s in ranked))
        unit_h, resp_h, sat_h = _("Unit"), _("Resp."), _("Satisfied")
        lines.append(f"  {unit_h:<{width}}  {resp_h:>6}  {sat_h:>9}")
        for s in ranked:
            name, count, share = (
                s.unit_name[:width],
                t.number(s.respondents),
                t.percent(_headline(s)),
            )
            lines.append(f"  {name:<{width}}  {count:>6}  {share:>9}")
    return "\n".join(lines)


def _headline(s: Satisfaction) -> float | None:
    """The one figure a unit is ranked by: SIPAS % when elements were rated, else the
    overall question."""
    return s.percent if s.percent is not None else s.overall_question


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
    }


def quota_json(rows: list[QuotaProgress]) -> str:
    return json.dumps([quota_dict(q) for q in rows], ensure_ascii=False, indent=2)


def quota_csv(rows: list[QuotaProgress]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    columns = list(quota_dict(rows[0]).keys()) if rows else ["unit_code"]
    writer.writerow(columns)
    for q in rows:
        d = quota_dict(q)
        writer.writerow(["; ".join(d[c]) if c == "fields" else _csv_num(d[c]) for c in columns])
    return buf.getvalue()


def quota_line(q: QuotaProgress, t: Translator) -> str:
    """``249/300 phiếu (83,0%), còn 51``."""
    _ = t.gettext
    line = _("{collected}/{target} questionnaires ({percent})").format(
        collected=t.number(q.collected),
        target=t.number(q.target_count),
        percent=t.percent(q.percent),
    )
    if q.remaining:
        line += ", " + _("{n} to go").format(n=t.number(q.remaining))
    if q.target_ratio is not None and q.surveyed_share is not None:
        line += " · " + _("{share} of dossiers surveyed (target {target})").format(
            share=t.percent(q.surveyed_share), target=t.percent(q.target_ratio)
        )
    return line


def quota_table(rows: list[QuotaProgress], t: Translator, title_unit: str, period: Period) -> str:
    _ = t.gettext
    lines = [
        _("Survey quotas – {unit}").format(unit=title_unit),
        _("Period: {period}").format(period=describe(period, t)),
    ]
    if not rows:
        lines.append(_("No quota is set for this period."))
        return "\n".join(lines)
    for q in rows:
        scope = q.unit_name
        if q.fields:
            scope += " (" + ", ".join(q.fields) + ")"
        span = describe(infer(q.period_start, q.period_end), t)
        lines += ["", f"{scope}", f"  {span}: {quota_line(q, t)}"]
    return "\n".join(lines)


def _csv_num(value: Any) -> Any:
    return "" if value is None else value
